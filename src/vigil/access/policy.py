"""The one place that answers "may this user see this record?" and builds the query filter.

Every read path (get, list, export, and later search, counts and graphs) filters with these
clauses, so a record a user may not see is indistinguishable from one that does not exist.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute

from vigil.access.permissions import Permission
from vigil.access.services import StaffUser


def may(user: StaffUser, permission: Permission) -> bool:
    return permission in user.permissions


def visible(user: StaffUser, owning_org: InstrumentedAttribute[int]) -> ColumnElement[bool]:
    """Records are visible inside their owning organisation (sharing comes with issue 4)."""
    return owning_org == user.org_id
