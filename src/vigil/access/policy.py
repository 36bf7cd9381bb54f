"""The one place that answers "may this user see this record?" and builds the query filter.

Every read path (get, list, export, threads, attachments, and later search, counts and
graphs) filters with these clauses, so a record a user may not see is indistinguishable from
one that does not exist. The rules:

- a record above the user's clearance is invisible;
- a record is visible to its owning team; a record with no owning team, to its owning
  organisation;
- otherwise only through a live share with the user's organisation or one of their teams
  (revoking the share takes effect on the very next query).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select

from vigil.access.markings import Classification
from vigil.access.models import RecordShare
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser


def may(user: StaffUser, permission: Permission) -> bool:
    return permission in user.permissions


@dataclass(frozen=True)
class _Reader:
    """The parts of a reader that decide visibility (what the filter cache is keyed by)."""

    org_id: int
    team_ids: frozenset[int]
    clearance: Classification


def cleared_for(reader: _Reader) -> list[str]:
    return [c.value for c in Classification if c.rank <= reader.clearance.rank]


def shared_with(reader: _Reader, record_type: str, record_id: Any) -> ColumnElement[bool]:
    audience = [RecordShare.org_id == reader.org_id]
    if reader.team_ids:
        audience.append(RecordShare.team_id.in_(sorted(reader.team_ids)))
    return exists(
        select(RecordShare.id).where(
            RecordShare.record_type == record_type,
            RecordShare.record_id == record_id,
            RecordShare.revoked_at.is_(None),
            or_(*audience),
        )
    )


def visible(user: StaffUser, model: Any, record_type: str) -> ColumnElement[bool]:
    """The filter for any marked record (a model with owning_org_id, owning_team_id,
    classification and id)."""
    return _visible(_Reader(user.org_id, user.team_ids, user.clearance), model, record_type)


@lru_cache(maxsize=4096)
def _visible(reader: _Reader, model: Any, record_type: str) -> ColumnElement[bool]:
    """Built once per reader's organisation, teams and clearance, and record type: a page
    applies the filter to dozens of statements, and building the expression costs more
    Python time than SQLite takes to run most of them. SQL expressions are immutable, so one
    may serve every statement and thread; whether a share is live is still read from the
    database by each statement, so revoking one takes effect on the very next query."""
    teams = sorted(reader.team_ids)
    owned = model.owning_team_id.in_(teams) if teams else false()
    org_wide = and_(model.owning_team_id.is_(None), model.owning_org_id == reader.org_id)
    return and_(
        model.classification.in_(cleared_for(reader)),
        or_(owned, org_wide, shared_with(reader, record_type, model.id)),
    )


def reports(user: StaffUser) -> ColumnElement[bool]:
    from vigil.intake.models import Report

    return visible(user, Report, "report")
