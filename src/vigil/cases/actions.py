"""Work on a case: links, agency-owned actions and their updates, minuted meetings,
decisions, and sharing it with partner agencies.

An action belongs to one agency. The managing organisation sets actions for itself or for
a partner the case is shared with (a partner that cannot read the case could not work on
it); the partner then sees and updates only its own actions. Every change is audited in
its transaction and written to the case's timeline.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from vigil.access import sharing
from vigil.access.models import Organisation, RecordShare, Team
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.access.sharing import ShareOut
from vigil.audit.services import record_event
from vigil.cases import views
from vigil.cases.models import Case, CaseAction, CaseActionUpdate, CaseDecision, CaseMeeting
from vigil.cases.schemas import (
    ActionIn,
    ActionOut,
    ActionUpdateIn,
    CaseOut,
    CaseShareIn,
    CaseSharing,
    CaseStatus,
    DecisionIn,
    DecisionOut,
    LinkIn,
    MeetingIn,
    MeetingOut,
)
from vigil.cases.services import (
    add_event,
    audit_links,
    conflict,
    invalid,
    link,
    managed_case,
    on_case,
    resolve_links,
    visible_case,
)
from vigil.db import utcnow
from vigil.web.problems import Problem
from vigil.web.runtime import Runtime
from vigil.web.said import said

_NO_ACTION = Problem(404, said("Not found"), said("No such action on this case."), kind="not-found")
# Whole sentences, one a state, so that each can be said in a language with its own word order.
_ALREADY = {
    "open": said("the action is already open"),
    "in_progress": said("the action is already in_progress"),
    "done": said("the action is already done"),
    "cancelled": said("the action is already cancelled"),
}


def link_records(
    rt: Runtime, user: StaffUser, reference: str, body: LinkIn, client: str | None
) -> CaseOut:
    def work(session: Session) -> CaseOut:
        case = managed_case(session, user, reference, open_only=True)
        added = link(session, user, case, resolve_links(session, user, body))
        audit_links(session, user, case, added, client, always=True)
        return views.case_out(session, user, case)

    return rt.db.write_sync(work, as_user=user.id)


def _shared_with_org(session: Session, case: Case, org_id: int) -> bool:
    """A live share of the case reaches this organisation (itself or one of its teams)."""
    return (
        session.scalar(
            select(RecordShare.id)
            .outerjoin(Team, Team.id == RecordShare.team_id)
            .where(
                RecordShare.record_type == "case",
                RecordShare.record_id == case.id,
                RecordShare.revoked_at.is_(None),
                or_(RecordShare.org_id == org_id, Team.organisation_id == org_id),
            )
            .limit(1)
        )
        is not None
    )


def _owner(session: Session, case: Case, body: ActionIn) -> tuple[Organisation, Team | None]:
    org = (
        session.get(Organisation, case.owning_org_id)
        if body.organisation is None
        else session.scalar(select(Organisation).where(Organisation.name == body.organisation))
    )
    if org is None:
        raise invalid(("organisation", said("no organisation by that name")))
    if org.id != case.owning_org_id and not _shared_with_org(session, case, org.id):
        raise invalid(
            (
                "organisation",
                said("the case is not shared with that organisation; share it first"),
            )
        )
    team = None
    if body.team is not None:
        team = session.scalar(
            select(Team).where(Team.organisation_id == org.id, Team.name == body.team)
        )
        if team is None:
            raise invalid(("team", said("no team by that name in that organisation")))
    return org, team


def add_action(
    rt: Runtime, user: StaffUser, reference: str, body: ActionIn, client: str | None
) -> ActionOut:
    def change(session: Session, case: Case) -> ActionOut:
        org, team = _owner(session, case, body)
        now = utcnow()
        action = CaseAction(
            case_id=case.id,
            title=body.title,
            detail=body.detail,
            due_date=body.due_date,
            state="open",
            owning_org_id=org.id,
            owning_team_id=team.id if team else None,
            created_by_user_id=user.id,
            created_at=now,
            updated_at=now,
        )
        session.add(action)
        session.flush()
        add_event(
            session,
            case,
            user,
            "action_added",
            f"Action for {org.name}: {action.title}",
            action_id=action.id,
        )
        return _one(session, user, case, action.id)

    return on_case(rt, user, reference, client, "case.action.added", change)


def _one(session: Session, user: StaffUser, case: Case, action_id: int) -> ActionOut:
    (out,) = views.actions_out(session, user, case, views.Names(session), only=action_id)
    return out


def update_action(
    rt: Runtime,
    user: StaffUser,
    reference: str,
    action_id: int,
    body: ActionUpdateIn,
    client: str | None,
) -> ActionOut:
    """Change an action's state and/or add to its history. An action the reader may not see
    (another agency's) answers 404, exactly like one that does not exist."""

    def work(session: Session) -> ActionOut:
        case = visible_case(session, user, reference)
        action = session.scalar(
            select(CaseAction).where(CaseAction.id == action_id, views.actions_seen(user, case))
        )
        if action is None:
            raise _NO_ACTION
        if not views.may_update_action(user, case, action):
            raise Problem(
                403,
                said("Forbidden"),
                said("You may update only your own agency's (or team's) actions."),
            )
        if case.status != CaseStatus.open:
            raise conflict(said("This case is closed; its actions can no longer change."))
        new_state = body.state.value if body.state and body.state != action.state else None
        if new_state is None and body.text is None:
            already = _ALREADY.get(action.state)
            raise invalid(
                ("state", already or said("the action is already %(state)s", state=action.state))
            )
        now = utcnow()
        session.add(
            CaseActionUpdate(
                action_id=action.id, user_id=user.id, state=new_state, text=body.text, made_at=now
            )
        )
        # Stored as plain English (the API's timeline and the PDF pack read it as it is): the
        # state in words, not its code. The case page says these entries in its own language
        # (cases/case.html), older ones ("now in_progress") too.
        what = f"now {new_state.replace('_', ' ')}" if new_state else "updated"
        # The note itself stays with the action, where the field-level rule on health and
        # social-care details applies to it; the timeline only says there was one.
        note = ", with a note" if body.text else ""
        if new_state:
            action.state = new_state
        action.updated_at = now
        add_event(
            session,
            case,
            user,
            "action_updated",
            f"Action '{action.title}' {what}{note}",
            action_id=action.id,
        )
        record_event(
            session,
            user.actor(client),
            "case.action.updated",
            record_type="case",
            record_ids=[case.reference, f"action:{action.id}"],
        )
        return _one(session, user, case, action.id)

    return rt.db.write_sync(work, as_user=user.id)


def record_meeting(
    rt: Runtime, user: StaffUser, reference: str, body: MeetingIn, client: str | None
) -> MeetingOut:
    # A day's grace: the recorder's local date may be ahead of UTC.
    if body.held_on > views.today() + timedelta(days=1):
        raise invalid(("held_on", said("a meeting record is of a meeting already held")))

    def change(session: Session, case: Case) -> MeetingOut:
        meeting = CaseMeeting(
            case_id=case.id,
            held_on=body.held_on,
            attendees=body.attendees,
            minutes=body.minutes,
            recorded_by_user_id=user.id,
            recorded_at=utcnow(),
        )
        session.add(meeting)
        session.flush()
        add_event(session, case, user, "meeting_recorded", f"Meeting of {body.held_on.isoformat()}")
        return views.meeting_out(meeting, views.Names(session).load(users=[user.id]))

    return on_case(rt, user, reference, client, "case.meeting.recorded", change)


def record_decision(
    rt: Runtime, user: StaffUser, reference: str, body: DecisionIn, client: str | None
) -> DecisionOut:
    """A named person's decision with its reason (domain-facts §6)."""

    def change(session: Session, case: Case) -> DecisionOut:
        decision = CaseDecision(
            case_id=case.id,
            decision=body.decision,
            reason=body.reason,
            decided_by_user_id=user.id,
            decided_at=utcnow(),
        )
        session.add(decision)
        session.flush()
        add_event(session, case, user, "decided", f"{body.decision}: {body.reason}")
        return views.decision_out(decision, views.Names(session).load(users=[user.id]))

    return on_case(rt, user, reference, client, "case.decision.recorded", change)


# --- sharing --------------------------------------------------------------------------------


def share_case(
    rt: Runtime, user: StaffUser, reference: str, body: CaseShareIn, client: str | None
) -> ShareOut:
    """Share under the agreements, exactly as reports are shared (record type ``case``).
    The linked records are not shared with it: each is shared, or not, on its own."""

    def work(session: Session) -> ShareOut:
        case = managed_case(session, user, reference, open_only=False)
        out = sharing.share_as_asked(session, user, case, "case", body, client)
        recipient = f"team {out.team} of {out.organisation}" if out.team else out.organisation
        add_event(
            session,
            case,
            user,
            "shared",
            f"Shared with {recipient}: {body.purpose}",
            about=("share", out.id),
        )
        return out

    return rt.db.write_sync(work, as_user=user.id)


def revoke_case_share(
    rt: Runtime, user: StaffUser, reference: str, share_id: int, client: str | None
) -> ShareOut:
    def work(session: Session) -> ShareOut:
        case = managed_case(session, user, reference, open_only=False)
        was_live = any(s.id == share_id and s.revoked_at is None for s in _shares(session, case))
        out = sharing.revoke(session, user, case, "case", share_id, client)
        if was_live:
            who = f"team {out.team} of {out.organisation}" if out.team else out.organisation
            add_event(
                session,
                case,
                user,
                "share_revoked",
                f"No longer shared with {who}",
                about=("share", out.id),
            )
        return out

    return rt.db.write_sync(work, as_user=user.id)


def _shares(session: Session, case: Case) -> list[ShareOut]:
    return sharing.shares_of(session, case, "case")


def case_shares(rt: Runtime, user: StaffUser, reference: str, client: str | None) -> list[ShareOut]:
    """Whom the case is shared with: for the managing organisation and the lead only (a
    partner does not learn which other agencies are involved)."""

    def change(session: Session, case: Case) -> list[ShareOut]:
        if not views.is_insider(user, case):
            raise Problem(
                403,
                said("Forbidden"),
                said("Only the organisation managing this case sees its shares."),
            )
        return _shares(session, case)

    return on_case(rt, user, reference, client, "case.shares_viewed", change, manage=False)


def case_sharing(rt: Runtime, user: StaffUser, reference: str, client: str | None) -> CaseSharing:
    """The sharing controls' data: current and past shares, and the partners the agreements
    allow that the case is not shared with yet. Managing organisation and lead only."""

    def change(session: Session, case: Case) -> CaseSharing:
        if not views.is_insider(user, case):
            raise Problem(
                403,
                said("Forbidden"),
                said("Only the organisation managing this case sees its shares."),
            )
        shares = _shares(session, case)
        partners, teams = sharing.still_to_offer(session, case, "case", shares)
        return CaseSharing(
            case=views.summaries(session, [case])[0],
            handling_code=case.handling_code,
            handling_conditions=case.handling_conditions,
            shares=shares,
            partners=partners,
            teams=teams,
            may_share=views.manages(user, case) and Permission.record_share in user.permissions,
        )

    return on_case(rt, user, reference, client, "case.shares_viewed", change, manage=False)
