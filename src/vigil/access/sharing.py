"""Sharing records with other teams and organisations, under data-sharing agreements.

Inside the owning organisation a record may be shared with any team. Outside it, only
where an agreement between the two organisations is in force, covers the kind of record and
reaches its classification. Every share and revocation is a disclosure in the audit log,
with its recipients and purpose; revoking takes effect on the very next read.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from vigil.access.markings import Classification
from vigil.access.models import Organisation, RecordShare, SharingAgreement, Team
from vigil.access.permissions import Role
from vigil.access.services import StaffUser
from vigil.audit.services import Actor, record_event
from vigil.db import utcnow
from vigil.web.problems import Problem, field_error
from vigil.web.said import said


class ShareOut(BaseModel):
    id: int
    record_type: str
    organisation: str | None
    team: str | None
    agreement_id: int | None
    purpose: str
    shared_at: datetime
    revoked_at: datetime | None


def agreements_in_force(
    session: Session, one_org: int, other_org: int, at: datetime | None = None
) -> list[SharingAgreement]:
    """Every agreement in force between the two organisations (either way round)."""
    at = at or utcnow()
    return list(
        session.scalars(
            select(SharingAgreement).where(
                or_(
                    and_(
                        SharingAgreement.org_a_id == one_org,
                        SharingAgreement.org_b_id == other_org,
                    ),
                    and_(
                        SharingAgreement.org_a_id == other_org,
                        SharingAgreement.org_b_id == one_org,
                    ),
                ),
                SharingAgreement.starts_at <= at,
                or_(SharingAgreement.ends_at.is_(None), SharingAgreement.ends_at > at),
            )
        )
    )


def agreement_covering(
    session: Session,
    owner_org: int,
    target_org: int,
    record_type: str,
    marking: Classification,
    at: datetime | None = None,
) -> SharingAgreement | None:
    """An agreement in force between the two organisations that covers this record."""
    for agreement in agreements_in_force(session, owner_org, target_org, at):
        if record_type in agreement.record_types and (
            Classification(agreement.max_classification).rank >= marking.rank
        ):
            return agreement
    return None


def partners_for(
    session: Session, record: Any, record_type: str, at: datetime | None = None
) -> list[str]:
    """Organisations an agreement in force lets ``record`` be shared with: one covering
    ``record_type`` up to the record's classification (as :func:`share` checks), by name."""
    owner, at = record.owning_org_id, at or utcnow()
    marking = Classification(record.classification)
    found: set[int] = set()
    for agreement in session.scalars(
        select(SharingAgreement).where(
            or_(SharingAgreement.org_a_id == owner, SharingAgreement.org_b_id == owner),
            SharingAgreement.starts_at <= at,
            or_(SharingAgreement.ends_at.is_(None), SharingAgreement.ends_at > at),
        )
    ):
        reaches = Classification(agreement.max_classification).rank >= marking.rank
        if record_type in agreement.record_types and reaches:
            other = agreement.org_b_id if agreement.org_a_id == owner else agreement.org_a_id
            found.add(other)
    if not found:
        return []
    query = select(Organisation.name).where(Organisation.id.in_(sorted(found)))
    return list(session.scalars(query.order_by(Organisation.name)))


def other_teams(session: Session, record: Any) -> list[str]:
    """Teams of the owning organisation other than the one that owns ``record``: they see it
    only when it is shared with them (need to know inside an organisation too)."""
    query = select(Team.name).where(Team.organisation_id == record.owning_org_id)
    if record.owning_team_id is not None:
        query = query.where(Team.id != record.owning_team_id)
    return list(session.scalars(query.order_by(Team.name)))


def still_to_offer(
    session: Session, record: Any, record_type: str, shares: Iterable[ShareOut]
) -> tuple[list[str], list[str]]:
    """The sharing form's choices for ``record``: the partners (:func:`partners_for`) and the
    owning organisation's other teams (:func:`other_teams`) it is not live-shared with yet."""
    live = [s for s in shares if s.revoked_at is None]
    live_orgs = {s.organisation for s in live if s.team is None}
    live_teams = {s.team for s in live if s.team is not None}
    partners = [n for n in partners_for(session, record, record_type) if n not in live_orgs]
    teams = [n for n in other_teams(session, record) if n not in live_teams]
    return partners, teams


def _conditions_apply(record_type: str, conditions: str | None) -> str:
    """Whole sentences for each kind of record, so that each can be said in its own words."""
    if record_type == "case":
        return said(
            "This case may only be shared on these conditions: %(conditions)s. "
            "Confirm the recipients will follow them.",
            conditions=conditions,
        )
    if record_type == "report":
        return said(
            "This report may only be shared on these conditions: %(conditions)s. "
            "Confirm the recipients will follow them.",
            conditions=conditions,
        )
    return said(
        "This %(kind)s may only be shared on these conditions: %(conditions)s. "
        "Confirm the recipients will follow them.",
        kind=record_type,
        conditions=conditions,
    )


def _no_agreement(record_type: str, owner: str, target: str, marking: str) -> str:
    """As :func:`_conditions_apply`: one sentence for each kind of record."""
    if record_type == "case":
        return said(
            "No data-sharing agreement between %(owner)s and %(target)s covers "
            "a case marked %(marking)s.",
            owner=owner,
            target=target,
            marking=marking,
        )
    if record_type == "report":
        return said(
            "No data-sharing agreement between %(owner)s and %(target)s covers "
            "a report marked %(marking)s.",
            owner=owner,
            target=target,
            marking=marking,
        )
    return said(
        "No data-sharing agreement between %(owner)s and %(target)s covers "
        "a %(kind)s marked %(marking)s.",
        owner=owner,
        target=target,
        kind=record_type,
        marking=marking,
    )


def share(
    session: Session,
    user: StaffUser,
    record: Any,
    record_type: str,
    *,
    org_name: str | None,
    team_name: str | None,
    purpose: str,
    client: str | None,
    conditions_accepted: bool = False,
) -> ShareOut:
    """Share ``record`` (already fetched through the policy filter) and audit the disclosure.

    Intelligence graded with handling code C may only be shared once the sharer confirms the
    recipients will follow its recorded conditions.
    """
    purpose = purpose.strip()
    if getattr(record, "handling_code", None) == "C" and not conditions_accepted:
        raise Problem(
            422,
            said("Handling conditions apply"),
            _conditions_apply(record_type, record.handling_conditions),
            errors=[field_error("#/conditions_accepted", said("must be true for handling code C"))],
            kind="handling-conditions",
        )
    if len(purpose) < 5:
        raise Problem(
            422,
            said("Invalid request"),
            said("Say why you are sharing it."),
            errors=[field_error("#/purpose", said("at least 5 characters"))],
        )
    owner = session.get(Organisation, record.owning_org_id)
    target_org = (
        owner
        if not org_name
        else session.scalar(select(Organisation).where(Organisation.name == org_name))
    )
    if target_org is None or owner is None:
        raise Problem(
            422,
            said("Invalid request"),
            said("No organisation by that name."),
            errors=[field_error("#/organisation", said("unknown organisation"))],
        )
    team = None
    if team_name:
        team = session.scalar(
            select(Team).where(Team.organisation_id == target_org.id, Team.name == team_name)
        )
        if team is None:
            raise Problem(
                422,
                said("Invalid request"),
                said("No team by that name in that organisation."),
                errors=[field_error("#/team", said("unknown team"))],
            )
    if target_org.id == owner.id and team is None:
        # Records start with the team that received them; the owner opens one to another of
        # its teams by name, never to all of them at once.
        raise Problem(
            422,
            said("Invalid request"),
            said("Name the team of your own organisation to share it with."),
            errors=[field_error("#/team", said("required when sharing within the organisation"))],
        )
    agreement = None
    if target_org.id != owner.id:
        marking = Classification(record.classification)
        agreement = agreement_covering(session, owner.id, target_org.id, record_type, marking)
        if agreement is None:
            raise Problem(
                403,
                said("No sharing agreement"),
                _no_agreement(record_type, owner.name, target_org.name, marking.value),
                kind="no-sharing-agreement",
            )
    row = RecordShare(
        record_type=record_type,
        record_id=record.id,
        org_id=None if team is not None else target_org.id,
        team_id=team.id if team is not None else None,
        agreement_id=agreement.id if agreement else None,
        purpose=purpose,
        shared_by=user.id,
    )
    session.add(row)
    session.flush()
    recipient = (
        f"team {team.name} of {target_org.name}" if team else f"organisation {target_org.name}"
    )
    record_event(
        session,
        user.actor(client),
        "record.disclosed",
        record_type=record_type,
        record_ids=[getattr(record, "reference", record.id)],
        purpose=f"to {recipient}; agreement {row.agreement_id}; purpose: {purpose}"[:500],
    )
    return share_out(row, target_org.name, team.name if team else None)


class ShareAsked(Protocol):
    """What a request to share names: the API's ``ShareIn`` and ``CaseShareIn``, which the
    console's share forms are parsed as too."""

    @property
    def organisation(self) -> str | None: ...
    @property
    def team(self) -> str | None: ...
    @property
    def purpose(self) -> str: ...
    @property
    def conditions_accepted(self) -> bool: ...


def share_as_asked(
    session: Session,
    user: StaffUser,
    record: Any,
    record_type: str,
    asked: ShareAsked,
    client: str | None,
) -> ShareOut:
    """:func:`share` with the recipient, purpose and confirmation the request names."""
    return share(
        session,
        user,
        record,
        record_type,
        org_name=asked.organisation,
        team_name=asked.team,
        purpose=asked.purpose,
        client=client,
        conditions_accepted=asked.conditions_accepted,
    )


def revoke(
    session: Session,
    user: StaffUser,
    record: Any,
    record_type: str,
    share_id: int,
    client: str | None,
) -> ShareOut:
    row = session.get(RecordShare, share_id)
    if row is None or row.record_type != record_type or row.record_id != record.id:
        raise Problem(
            404, said("Not found"), said("No such share of this record."), kind="not-found"
        )
    if row.revoked_at is None:
        _end(session, user, record, record_type, row, client, f"share {row.id} revoked")
    return _named(session, row)


def _end(
    session: Session,
    user: StaffUser,
    record: Any,
    record_type: str,
    row: RecordShare,
    client: str | None,
    purpose: str,
) -> None:
    """End one live share, with its audit event."""
    row.revoked_at, row.revoked_by = utcnow(), user.id
    record_event(
        session,
        user.actor(client),
        "record.share_revoked",
        record_type=record_type,
        record_ids=[getattr(record, "reference", record.id)],
        purpose=purpose,
    )


def end_shares_beyond(
    session: Session, user: StaffUser, record: Any, record_type: str, marking: Classification
) -> list[ShareOut]:
    """End the live shares of ``record`` with other organisations that no agreement in force
    covers at ``marking`` (the record was marked higher since it was shared), each audited;
    the shares ended. Shares within the owning organisation need no agreement and stay."""
    rows = session.scalars(
        select(RecordShare)
        .where(
            RecordShare.record_type == record_type,
            RecordShare.record_id == record.id,
            RecordShare.revoked_at.is_(None),
            RecordShare.agreement_id.is_not(None),
        )
        .order_by(RecordShare.id)
    ).all()
    ended = []
    for row in rows:
        target = row.org_id
        if target is None and row.team_id is not None:
            target = session.scalar(select(Team.organisation_id).where(Team.id == row.team_id))
        if target is None or agreement_covering(
            session, record.owning_org_id, target, record_type, marking
        ):
            continue
        purpose = f"share {row.id} ended: marked {marking.value}, above its agreement"
        _end(session, user, record, record_type, row, None, purpose)
        ended.append(_named(session, row))
    return ended


def shares_of(session: Session, record: Any, record_type: str) -> list[ShareOut]:
    rows = session.scalars(
        select(RecordShare)
        .where(RecordShare.record_type == record_type, RecordShare.record_id == record.id)
        .order_by(RecordShare.id)
    )
    return [_named(session, row) for row in rows]


def _named(session: Session, row: RecordShare) -> ShareOut:
    team = session.get(Team, row.team_id) if row.team_id else None
    org_id = team.organisation_id if team else row.org_id
    org = session.get(Organisation, org_id) if org_id else None
    return share_out(row, org.name if org else None, team.name if team else None)


def share_out(row: RecordShare, org: str | None, team: str | None) -> ShareOut:
    return ShareOut(
        id=row.id,
        record_type=row.record_type,
        organisation=org,
        team=team,
        agreement_id=row.agreement_id,
        purpose=row.purpose,
        shared_at=row.shared_at,
        revoked_at=row.revoked_at,
    )


def create_agreement(
    session: Session,
    actor: Actor,
    org_a: str,
    org_b: str,
    record_types: list[str],
    max_classification: Classification,
    purpose: str,
    ends_at: datetime | None = None,
    sensitive_roles: Iterable[Role] = (),
) -> SharingAgreement:
    """Record an agreement. ``sensitive_roles`` names the roles of either side that are
    shown the other side's health and social-care details (``vigil.access.fields``)."""
    orgs = {
        name: session.scalar(select(Organisation).where(Organisation.name == name))
        for name in (org_a, org_b)
    }
    missing = [name for name, org in orgs.items() if org is None]
    if missing:
        raise ValueError(f"unknown organisation: {', '.join(missing)}")
    a, b = orgs[org_a], orgs[org_b]
    assert a is not None and b is not None
    if a.id == b.id:
        raise ValueError("an agreement needs two different organisations")
    agreement = SharingAgreement(
        org_a_id=a.id,
        org_b_id=b.id,
        record_types=sorted(set(record_types)),
        max_classification=max_classification.value,
        purpose=purpose,
        ends_at=ends_at,
        created_by=actor.label,
        sensitive_roles=sorted({role.value for role in sensitive_roles}),
    )
    session.add(agreement)
    session.flush()
    record_event(
        session,
        actor,
        "agreement.created",
        record_type="sharing_agreement",
        record_ids=[agreement.id],
        purpose=purpose[:500],
    )
    return agreement
