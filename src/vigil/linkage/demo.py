"""Synthetic linkage demo: a regional unit's known people and subjects, some of whom the
demo reports will touch, so the first run of Vigil shows alerts (never real people).

The regional unit cannot see the hub's reports, so its alerts show the need-to-know rule at
work: a record exists, ask the hub. Known people come from ``vigil.linkage.synthetic``.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.markings import Classification
from vigil.access.models import User
from vigil.access.permissions import OrganisationKind, Role
from vigil.access.services import (
    create_user,
    ensure_organisation,
    ensure_team,
    issue_token,
)
from vigil.audit.services import Actor, record_event
from vigil.db import utcnow
from vigil.intake.models import ReportVehicle
from vigil.linkage.entities import Marking
from vigil.linkage.models import Subject, SubjectEntity
from vigil.linkage.online import index_people, insert_entities, scorer_for
from vigil.linkage.records import EntityKind, EntityRecord
from vigil.linkage.services import subject_reference
from vigil.linkage.synthetic import generate_population
from vigil.web.runtime import Runtime

DEMO_ACTOR = Actor(label="demo-seed")
UNIT = "Regional CT Unit North"
TEAM = "Subjects Desk"
INVESTIGATOR = "investigator@example.org"


def seed_linkage_demo(rt: Runtime, *, seed: int, known_people: int = 2_000) -> list[str]:
    scorer = scorer_for(rt.settings.linkage_model_path)

    def work(session: Session) -> list[str]:
        org = ensure_organisation(session, UNIT, OrganisationKind.ct_policing)
        team = ensure_team(session, org, TEAM)
        if session.scalar(select(Subject.id).where(Subject.owning_org_id == org.id)):
            return ["Linkage demo data already present."]
        marking = Marking(org.id, team.id, Classification.secret.value)
        population = generate_population(known_people, seed=seed, resighting_rate=0.0)
        loaded = index_people(
            session.connection(),
            population.records,
            scorer=scorer,
            owning_org_id=org.id,
            owning_team_id=team.id,
            classification=marking.classification,
        )
        plates = list(
            session.scalars(
                select(ReportVehicle.registration_normalised)
                .where(ReportVehicle.registration_normalised.is_not(None))
                .order_by(ReportVehicle.id)
                .limit(2)
            )
        )
        lines = [f"Loaded {loaded} synthetic known people for {UNIT}."]
        for number, plate in enumerate(p for p in plates if p):
            status = "closed" if number == 0 else "open"
            subject = Subject(
                reference=subject_reference(),
                external_ref=f"DEMO-{number + 1}",
                name=f"Operation {('Birch', 'Rowan')[number]} subject (synthetic)",
                status=status,
                owning_org_id=org.id,
                owning_team_id=team.id,
                classification=marking.classification,
                alert_threshold=rt.settings.linkage_alert_threshold,
                created_at=utcnow(),
                closed_at=utcnow() if status == "closed" else None,
            )
            session.add(subject)
            session.flush()
            (vehicle,) = insert_entities(
                session.connection(),
                [
                    EntityRecord(
                        EntityKind.vehicle, f"demo-vehicle-{number}", {"registration": (plate,)}
                    )
                ],
                scorer=scorer,
                marking=marking,
                source_type="analyst",
                source_id=subject.id,
            )
            session.add(SubjectEntity(subject_id=subject.id, entity_id=vehicle))
            lines.append(f"Demo {status} subject {subject.reference} uses vehicle {plate}.")
        if rt.settings.environment.value in {"development", "test"}:
            user = session.scalar(select(User).where(User.email == INVESTIGATOR))
            if user is None:
                user = create_user(
                    session,
                    DEMO_ACTOR,
                    INVESTIGATOR,
                    UNIT,
                    Role.investigator,
                    OrganisationKind.ct_policing,
                    teams=(TEAM,),
                    clearance=Classification.secret,
                )
            lines.append(
                f"Demo investigator token (dev only): {issue_token(session, DEMO_ACTOR, user)}"
            )
        record_event(session, DEMO_ACTOR, "demo.linkage_seeded", record_type="subject")
        return lines

    return rt.db.write_sync(work)
