"""A case as its reader may see it: only the links, actions and timeline they may see.

Sharing a case does not share what it links: each linked report, entity or subject is shown
only when the policy lets this reader see it, and nothing is counted or hinted at otherwise.
Agencies meet on a case through its actions: the managing organisation (and the case's lead)
sees them all, a partner organisation only its own. The same rules are the PostgreSQL
row-level security of migration 0012, so the database agrees with what is shown here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, exists, or_, select, true
from sqlalchemy.orm import Session

from vigil.access import policy
from vigil.access.fields import SensitiveDetail
from vigil.access.models import Organisation, Team, User
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.cases.models import (
    Case,
    CaseAction,
    CaseActionUpdate,
    CaseDecision,
    CaseEvent,
    CaseLink,
    CaseMeeting,
)
from vigil.cases.schemas import (
    ActionOut,
    ActionUpdateOut,
    CaseOut,
    CaseSummary,
    DecisionOut,
    EventOut,
    LinkedEntity,
    LinkedReport,
    LinkedSubject,
    MeetingOut,
)
from vigil.intake.models import Report
from vigil.linkage.models import Entity, Subject
from vigil.web.said import Gettext

EXCERPT = 160
OPEN_ACTION_STATES = ("open", "in_progress")


def english(message: str, **values: Any) -> str:
    """The untranslated text, for callers without a reader's language (the JSON API)."""
    return message % values if values else message


def level_meaning(level: int, _: Gettext = english) -> str:
    """MAPPA management levels (domain-facts §8), in the reader's words."""
    meanings = {
        1: _("Ordinary single-agency management"),
        2: _("Active multi-agency management"),
        3: _("Senior multi-agency management"),
    }
    return meanings.get(level, "")


def today() -> date:
    return datetime.now(UTC).date()


def visible_cases(user: StaffUser) -> ColumnElement[bool]:
    return policy.visible(user, Case, "case")


def is_insider(user: StaffUser, case: Case) -> bool:
    """The managing organisation's staff and the lead see every action and every share."""
    return case.owning_org_id == user.org_id or case.lead_user_id == user.id


def manages(user: StaffUser, case: Case) -> bool:
    return Permission.cases_write in user.permissions and is_insider(user, case)


def actions_seen(user: StaffUser, case: Case) -> ColumnElement[bool]:
    """The actions of ``case`` this reader may see (the case is already visible to them)."""
    mine = true() if is_insider(user, case) else CaseAction.owning_org_id == user.org_id
    return and_(CaseAction.case_id == case.id, mine)


def may_update_action(user: StaffUser, case: Case, action: CaseAction) -> bool:
    """The case's managers update any action; an agency updates its own (its team's, when
    the action names a team)."""
    if manages(user, case):
        return True
    allowed = {Permission.case_actions_update, Permission.cases_write} & user.permissions
    in_team = action.owning_team_id is None or action.owning_team_id in user.team_ids
    return bool(allowed) and action.owning_org_id == user.org_id and in_team


def _linked_visible(
    user: StaffUser, kind: SQLColumnExpression[str | None], rid: SQLColumnExpression[int | None]
) -> list[ColumnElement[bool]]:
    return [
        and_(
            kind == "report",
            exists(select(Report.id).where(Report.id == rid, policy.reports(user))),
        ),
        and_(
            kind == "entity",
            exists(
                select(Entity.id).where(Entity.id == rid, policy.visible(user, Entity, "entity"))
            ),
        ),
        and_(
            kind == "subject",
            exists(
                select(Subject.id).where(
                    Subject.id == rid, policy.visible(user, Subject, "subject")
                )
            ),
        ),
    ]


def events_seen(user: StaffUser, case: Case) -> ColumnElement[bool]:
    """Timeline events of ``case`` this reader may see: none about an action, a linked record
    or a share they may not see."""
    about = CaseEvent.about_type
    clauses: list[ColumnElement[bool]] = [
        CaseEvent.case_id == case.id,
        or_(
            about.is_(None),
            about == "share",
            *_linked_visible(user, about, CaseEvent.about_id),
        ),
    ]
    if not is_insider(user, case):
        own = select(CaseAction.id).where(
            CaseAction.case_id == case.id, CaseAction.owning_org_id == user.org_id
        )
        clauses.append(or_(CaseEvent.action_id.is_(None), CaseEvent.action_id.in_(own)))
        clauses.append(or_(about.is_(None), about != "share"))
    return and_(*clauses)


class Names:
    """E-mails, organisation and team names for one answer, fetched once each."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self.emails: dict[int, str] = {}
        self.orgs: dict[int, str] = {}
        self.teams: dict[int, str] = {}

    def load(
        self,
        users: Iterable[int | None] = (),
        orgs: Iterable[int | None] = (),
        teams: Iterable[int | None] = (),
    ) -> Names:
        s = self._session
        want_users = sorted({u for u in users if u is not None} - self.emails.keys())
        if want_users:
            query = select(User.id, User.email).where(User.id.in_(want_users))
            self.emails.update({uid: email for uid, email in s.execute(query)})
        want_orgs = sorted({o for o in orgs if o is not None} - self.orgs.keys())
        if want_orgs:
            query = select(Organisation.id, Organisation.name).where(Organisation.id.in_(want_orgs))
            self.orgs.update({oid: name for oid, name in s.execute(query)})
        want_teams = sorted({t for t in teams if t is not None} - self.teams.keys())
        if want_teams:
            query = select(Team.id, Team.name).where(Team.id.in_(want_teams))
            self.teams.update({tid: name for tid, name in s.execute(query)})
        return self

    def email(self, user_id: int | None) -> str | None:
        return self.emails.get(user_id) if user_id is not None else None

    def team(self, team_id: int | None) -> str | None:
        return self.teams.get(team_id) if team_id is not None else None


def case_summary(case: Case, names: Names) -> CaseSummary:
    return CaseSummary(
        reference=case.reference,
        title=case.title,
        status=case.status,
        level=case.level,
        lead=names.email(case.lead_user_id),
        review_date=case.review_date,
        review_overdue=review_overdue(case),
        classification=case.classification,
        organisation=names.orgs.get(case.owning_org_id, ""),
        created_at=case.created_at,
        updated_at=case.updated_at,
    )


def review_overdue(case: Case) -> bool:
    return case.status == "open" and case.review_date is not None and case.review_date < today()


def summaries(session: Session, cases: list[Case]) -> list[CaseSummary]:
    names = Names(session).load(
        users=[c.lead_user_id for c in cases], orgs=[c.owning_org_id for c in cases]
    )
    return [case_summary(c, names) for c in cases]


def records_shown(found: CaseOut) -> list[str]:
    """Every record a case's page or pack shows, as the audit log names them: consulting a
    case consults what it shows of its linked records (a report's text, an entity's name),
    so an auditor asking who read a report finds the case pages that showed it."""
    return [
        found.reference,
        *(r.reference for r in found.reports),
        *(f"entity:{e.id}" for e in found.entities),
        *(s.reference for s in found.subjects),
    ]


def linked_reports(session: Session, user: StaffUser, case: Case) -> list[LinkedReport]:
    rows = session.execute(
        select(
            Report.reference,
            Report.kind,
            Report.received_at,
            Report.classification,
            Report.handling_code,
            Report.handling_conditions,
            Report.description,
            CaseLink.linked_at,
        )
        .join(CaseLink, and_(CaseLink.record_type == "report", CaseLink.record_id == Report.id))
        .where(CaseLink.case_id == case.id, policy.reports(user))
        .order_by(CaseLink.linked_at, CaseLink.id)
    )
    return [
        LinkedReport(
            reference=ref,
            kind=kind,
            received_at=received,
            classification=marking,
            handling_code=code,
            handling_conditions=conditions,
            excerpt=text[:EXCERPT],
            linked_at=linked,
        )
        for ref, kind, received, marking, code, conditions, text, linked in rows
    ]


def linked_entities(session: Session, user: StaffUser, case: Case) -> list[LinkedEntity]:
    rows = session.execute(
        select(Entity.id, Entity.kind, Entity.label, Entity.classification, CaseLink.linked_at)
        .join(CaseLink, and_(CaseLink.record_type == "entity", CaseLink.record_id == Entity.id))
        .where(CaseLink.case_id == case.id, policy.visible(user, Entity, "entity"))
        .order_by(CaseLink.linked_at, CaseLink.id)
    )
    return [
        LinkedEntity(id=eid, kind=kind, label=label, classification=marking, linked_at=linked)
        for eid, kind, label, marking, linked in rows
    ]


def linked_subjects(session: Session, user: StaffUser, case: Case) -> list[LinkedSubject]:
    rows = session.execute(
        select(
            Subject.reference,
            Subject.name,
            Subject.status,
            Subject.classification,
            CaseLink.linked_at,
        )
        .join(CaseLink, and_(CaseLink.record_type == "subject", CaseLink.record_id == Subject.id))
        .where(CaseLink.case_id == case.id, policy.visible(user, Subject, "subject"))
        .order_by(CaseLink.linked_at, CaseLink.id)
    )
    return [
        LinkedSubject(reference=ref, name=name, status=status, classification=mark, linked_at=at)
        for ref, name, status, mark, at in rows
    ]


def action_out(
    user: StaffUser,
    case: Case,
    action: CaseAction,
    updates: list[CaseActionUpdate],
    names: Names,
    sensitive: SensitiveDetail,
) -> ActionOut:
    shown = sensitive.shown(action.created_by_user_id)
    overdue = (
        action.state in OPEN_ACTION_STATES
        and action.due_date is not None
        and action.due_date < today()
    )
    return ActionOut(
        id=action.id,
        title=action.title,
        detail=action.detail if shown else "",
        due_date=action.due_date,
        overdue=overdue,
        state=action.state,
        organisation=names.orgs.get(action.owning_org_id, ""),
        team=names.team(action.owning_team_id),
        created_by=names.email(action.created_by_user_id),
        created_at=action.created_at,
        updated_at=action.updated_at,
        may_update=may_update_action(user, case, action),
        updates=[update_out(u, names, sensitive.shown(u.user_id)) for u in updates],
        detail_withheld=bool(action.detail) and not shown,
    )


def update_out(row: CaseActionUpdate, names: Names, shown: bool) -> ActionUpdateOut:
    """An action's update; its note only when ``shown`` (health and social-care rule)."""
    return ActionUpdateOut(
        by=names.email(row.user_id),
        at=row.made_at,
        state=row.state,
        text=row.text if shown else None,
        text_withheld=bool(row.text) and not shown,
    )


def actions_out(
    session: Session, user: StaffUser, case: Case, names: Names, only: int | None = None
) -> list[ActionOut]:
    query = select(CaseAction).where(actions_seen(user, case)).order_by(CaseAction.id)
    if only is not None:
        query = query.where(CaseAction.id == only)
    actions = list(session.scalars(query))
    updates: dict[int, list[CaseActionUpdate]] = {a.id: [] for a in actions}
    if actions:
        for row in session.scalars(
            select(CaseActionUpdate)
            .where(CaseActionUpdate.action_id.in_(sorted(updates)))
            .order_by(CaseActionUpdate.made_at, CaseActionUpdate.id)
        ):
            updates[row.action_id].append(row)
    names.load(
        users=[a.created_by_user_id for a in actions]
        + [u.user_id for rows in updates.values() for u in rows],
        orgs=[a.owning_org_id for a in actions],
        teams=[a.owning_team_id for a in actions],
    )
    sensitive = SensitiveDetail(session, user.org_id, user.role)
    return [action_out(user, case, a, updates[a.id], names, sensitive) for a in actions]


def meeting_out(row: CaseMeeting, names: Names) -> MeetingOut:
    return MeetingOut(
        id=row.id,
        held_on=row.held_on,
        attendees=row.attendees,
        minutes=row.minutes,
        recorded_by=names.email(row.recorded_by_user_id),
        recorded_at=row.recorded_at,
    )


def decision_out(row: CaseDecision, names: Names) -> DecisionOut:
    return DecisionOut(
        id=row.id,
        decision=row.decision,
        reason=row.reason,
        decided_by=names.email(row.decided_by_user_id),
        decided_at=row.decided_at,
    )


def case_out(session: Session, user: StaffUser, case: Case) -> CaseOut:
    """The whole case for a reader who has already found it through the policy."""
    meetings = list(
        session.scalars(
            select(CaseMeeting)
            .where(CaseMeeting.case_id == case.id)
            .order_by(CaseMeeting.held_on.desc(), CaseMeeting.id.desc())
        )
    )
    decisions = list(
        session.scalars(
            select(CaseDecision)
            .where(CaseDecision.case_id == case.id)
            .order_by(CaseDecision.decided_at.desc(), CaseDecision.id.desc())
        )
    )
    events = list(
        session.scalars(
            select(CaseEvent)
            .where(events_seen(user, case))
            .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
        )
    )
    names = Names(session).load(
        users=[case.lead_user_id, case.created_by_user_id]
        + [m.recorded_by_user_id for m in meetings]
        + [d.decided_by_user_id for d in decisions]
        + [e.user_id for e in events],
        orgs=[case.owning_org_id],
        teams=[case.owning_team_id],
    )
    actions = actions_out(session, user, case, names)
    head = case_summary(case, names)
    return CaseOut(
        **head.model_dump(),
        summary=case.summary,
        team=names.team(case.owning_team_id),
        handling_code=case.handling_code,
        handling_conditions=case.handling_conditions,
        created_by=names.email(case.created_by_user_id),
        closed_at=case.closed_at,
        may_manage=manages(user, case),
        reports=linked_reports(session, user, case),
        entities=linked_entities(session, user, case),
        subjects=linked_subjects(session, user, case),
        actions=actions,
        meetings=[meeting_out(m, names) for m in meetings],
        decisions=[decision_out(d, names) for d in decisions],
        timeline=[
            EventOut(at=e.at, by=names.email(e.user_id), kind=e.kind, summary=e.summary)
            for e in events
        ],
    )
