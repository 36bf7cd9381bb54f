"""A search index with many matches and mixed visibility, written straight into the tables.

Several hundred reports, person entities and cases across four organisations and their
teams, some owned by a team and some organisation-wide, marked OFFICIAL, OFFICIAL-SENSITIVE
or SECRET, some shared with another force or team (some of those shares revoked), with
triage priorities and categories, places and ages spread over two years. Every record
mentions "lantern", so one word matches them all; fewer mention "harbour gate" or name
Ines Varga. Records are written as the system would have left them (these tests are about
search, not intake) in a seeded random order, then indexed. Synthetic names only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import staff_token
from vigil.access.markings import Classification
from vigil.access.models import Organisation, RecordShare, Team
from vigil.access.permissions import OrganisationKind, Role
from vigil.access.services import StaffUser, ensure_organisation, ensure_team, user_for_token
from vigil.cases.models import Case
from vigil.db import utcnow
from vigil.intake.models import Report, ReportPerson
from vigil.linkage.models import Entity, Identity
from vigil.search import index
from vigil.triage.models import TriageResult
from vigil.web.runtime import Runtime

NORTH, EAST, WEST, HEALTH = (
    "Northern CT Unit",
    "Eastern CT Unit",
    "Western CT Unit",
    "Riverside Health Trust",
)
MARKINGS = [Classification.official, Classification.official_sensitive, Classification.secret]
NAMES = ["Ines Varga", "Inez Varga", "Agnes Varga", "Tomas Brell", "Dara Quill"]
PLACES = ["LS6 2QT", "M14 5RT", "BD7 1AA", None]
CATEGORIES = ["photography", "drones", "hostile_reconnaissance", "weapons"]


@dataclass(frozen=True)
class MixedWorld:
    readers: dict[str, StaffUser]  # who searches, by a short name
    records: int  # documents in the index, every one matching "lantern"


def _owners(rt: Runtime, session: Session) -> list[tuple[int, int | None]]:
    """(organisation, team) pairs that own records: each team, and each force org-wide."""
    kinds = {HEALTH: OrganisationKind.health}
    out: list[tuple[int, int | None]] = []
    for name, teams in (
        (rt.settings.receiving_org, (rt.settings.receiving_team, "Investigations")),
        (NORTH, ("North",)),
        (EAST, ("East",)),
        (HEALTH, ()),
    ):
        org = ensure_organisation(session, name, kinds.get(name, OrganisationKind.ct_policing))
        out += [(org.id, ensure_team(session, org, t).id) for t in teams]
        out.append((org.id, None))
    return out


def _share(session: Session, rng: random.Random, record_type: str, record_id: int) -> None:
    """Maybe share a record with another organisation or team; a few shares are revoked."""
    if rng.random() >= 0.3:
        return
    orgs = list(session.scalars(select(Organisation.id)))
    teams = list(session.scalars(select(Team.id)))
    to_team = rng.random() < 0.4
    session.add(
        RecordShare(
            record_type=record_type,
            record_id=record_id,
            org_id=None if to_team else rng.choice(orgs),
            team_id=rng.choice(teams) if to_team else None,
            purpose="Regional counter-terrorism",
            revoked_at=utcnow() if rng.random() < 0.2 else None,
        )
    )


def _text(rng: random.Random, n: int) -> str:
    extra = rng.choice(
        [
            "",
            " by the harbour gate",
            " near the harbour, by the gate",
            " who left an e-mail address at example.org/gate",
        ]
    )
    return f"Man with a lantern{extra} at night, number {n}."


def _report(session: Session, rng: random.Random, n: int, owner: tuple[int, int | None]) -> None:
    received = utcnow() - timedelta(days=rng.choice([0, 3, 12, 100, 500]), hours=rng.random())
    report = Report(
        reference=f"VGL-MIX-{n:04d}",
        received_at=received,
        channel="web",
        kind="behaviour",
        description=_text(rng, n),
        owning_org_id=owner[0],
        owning_team_id=owner[1],
        classification=rng.choices(MARKINGS, weights=[2, 6, 1])[0].value,
        where_postcode=rng.choice(PLACES),
        anonymous=True,
        content_sha256="0" * 64,
    )
    session.add(report)
    session.flush()
    if rng.random() < 0.4:
        session.add(ReportPerson(report_id=report.id, position=0, name=rng.choice(NAMES)))
    if rng.random() < 0.8:
        priority = rng.choice(["P1", "P2", "P3", "P4", None])
        codes = rng.sample(CATEGORIES, rng.randint(0, 2))
        session.add(
            TriageResult(
                report_id=report.id,
                received_at=received,
                priority=priority,
                priority_rank=int(priority[1]) if priority else 5,
                category_codes="," + "".join(f"{c}," for c in codes),
            )
        )
    _share(session, rng, "report", report.id)


def _entity(session: Session, rng: random.Random, n: int, owner: tuple[int, int | None]) -> None:
    identity = Identity(kind="person")
    session.add(identity)
    session.flush()
    label = rng.choice(NAMES)
    entity = Entity(
        kind="person",
        identity_id=identity.id,
        label=label,
        properties={"name": [label], "note": [_text(rng, n)], "postcode": [PLACES[n % 3]]},
        source_type="analyst",
        owning_org_id=owner[0],
        owning_team_id=owner[1],
        classification=rng.choices(MARKINGS, weights=[2, 6, 1])[0].value,
        created_at=utcnow() - timedelta(days=rng.choice([0, 5, 40, 400]), hours=rng.random()),
    )
    session.add(entity)
    session.flush()
    _share(session, rng, "entity", entity.id)


def _case(session: Session, rng: random.Random, n: int, owner: tuple[int, int | None]) -> None:
    case = Case(
        reference=f"CASE-MIX-{n:04d}",
        title=f"Lantern watch {n}",
        summary=_text(rng, n),
        owning_org_id=owner[0],
        owning_team_id=owner[1],
        classification=rng.choices(MARKINGS, weights=[2, 6, 1])[0].value,
    )
    session.add(case)
    session.flush()
    _share(session, rng, "case", case.id)


def build(rt: Runtime, *, reports: int = 240, entities: int = 60, cases: int = 30) -> MixedWorld:
    def write(session: Session) -> int:
        rng = random.Random(20261128)
        owners = _owners(rt, session)
        makers = [_report] * reports + [_entity] * entities + [_case] * cases
        rng.shuffle(makers)
        for n, make in enumerate(makers):
            make(session, rng, n, rng.choice(owners))
        return len(makers)

    records = rt.db.write_sync(write)
    while rt.db.write_sync(index.catch_up) == index.CATCH_UP_BATCH:
        pass
    tokens = {
        "hub": staff_token(rt),
        "hub-secret": staff_token(
            rt,
            "cleared@example.org",
            teams=(rt.settings.receiving_team, "Investigations"),
            clearance=Classification.secret,
        ),
        "north": staff_token(rt, "north@example.org", org=NORTH, teams=("North",)),
        "east-org": staff_token(rt, "east@example.org", org=EAST, teams=()),
        "west": staff_token(rt, "west@example.org", org=WEST, teams=()),
        "partner": staff_token(
            rt,
            "nurse@example.org",
            role=Role.partner_practitioner,
            org=HEALTH,
            org_kind=OrganisationKind.health,
        ),
    }

    def readers(session: Session) -> dict[str, StaffUser]:
        found = {name: user_for_token(session, token) for name, token in tokens.items()}
        return {name: user for name, user in found.items() if user is not None}

    return MixedWorld(readers=rt.db.write_sync(readers), records=records)
