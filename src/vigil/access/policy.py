"""The one place that answers "may this user see this record?" and builds the query filter.

Every read path (get, list, export, threads, attachments, and later search, counts and
graphs) filters with these clauses, so a record a user may not see is indistinguishable from
one that does not exist. The rules:

- a record above the user's clearance is invisible;
- a record is visible to its owning team; a record with no owning team, to its owning
  organisation;
- otherwise only through a live share with the user's organisation or one of their teams
  (revoking the share takes effect on the very next query).

The audit log is read on the same need-to-know (:func:`audit_events`): an auditor sees what
their own organisation's staff did, and the receiving organisation's auditors also see the
events no organisation did (the public, the system, the command line).
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
from vigil.audit.models import AuditEvent


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
    ways = [owned, org_wide, shared_with(reader, record_type, model.id)]
    if record_type == "entity":
        # A person, phone or vehicle taken from a report holds nothing the report does not:
        # whoever may read the report may see it (so a report shared with a partner brings
        # its entities, and an alert's evidence on them, along).
        from vigil.intake.models import Report

        source = select(Report.id).where(
            Report.id == model.source_id, _visible(reader, Report, "report")
        )
        ways.append(and_(model.source_type == "report", exists(source)))
    return and_(model.classification.in_(cleared_for(reader)), or_(*ways))


def reports(user: StaffUser) -> ColumnElement[bool]:
    from vigil.intake.models import Report

    return visible(user, Report, "report")


@lru_cache(maxsize=1)
def _match_sides() -> tuple[Any, Any]:
    """The two entities of a match, aliased once (the visibility cache is keyed by them)."""
    from sqlalchemy.orm import aliased

    from vigil.linkage.models import Entity

    return aliased(Entity, name="match_entity"), aliased(Entity, name="match_other")


def linkage_matches(user: StaffUser) -> ColumnElement[bool]:
    """The filter for every read of linkage matches (the review list, counts): a match is
    seen only by someone who may see both of its entities, as the views show them."""
    from vigil.linkage.models import Match

    one, other = _match_sides()
    return and_(
        exists(select(one.id).where(one.id == Match.entity_id, visible(user, one, "entity"))),
        exists(
            select(other.id).where(
                other.id == Match.other_entity_id, visible(user, other, "entity")
            )
        ),
    )


def audit_events(user: StaffUser, receiving_org_id: int | None) -> ColumnElement[bool]:
    """The filter for every read of the audit log (search, the console's pages, export).

    An auditor sees the events recorded against their own organisation: what its staff did
    (the acting user's organisation, as stored in the event when it was written). Events
    recorded against no organisation (a public submission, a system job, the CLI, a sign-in
    attempt by nobody yet) are the platform's own: only auditors of the organisation that
    receives public reports (``receiving_org_id``, ``VIGIL_RECEIVING_ORG``) see them.

    What staff of *other* organisations did to this organisation's records is not included:
    events name their records in a JSON list whose entries differ by record type
    (references, numeric ids, ``entity:5``, ``VGL-…/attachments/7``), so matching them to
    owning organisations would need per-type parsing and JSON unnesting on both databases,
    and on PostgreSQL the owning tables are read under the auditor's own row-level security.
    Chain verification (``vigil audit verify``) reads the whole chain and is not filtered.
    """
    own = AuditEvent.actor_org_id == user.org_id
    if receiving_org_id is None or user.org_id != receiving_org_id:
        return own
    return or_(own, AuditEvent.actor_org_id.is_(None))
