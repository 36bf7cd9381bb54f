"""Combining records takes the most restrictive marking (domain-facts §4), on both databases:
a case opened from, or later linked to, a more restrictively marked record is raised to that
record's classification (and handling code C over P, with every condition carried), whether
the records are linked on opening, linked later or added by a triage outcome. The raise is in
the case's timeline and in the audit event of the linking, and the answer shows it; a case
already as restrictive is left alone, and a raise above the linker's clearance is refused."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tests.cases.world import CONDITIONS, HEALTH, World, build_world
from tests.factories import auth, staff_token
from tests.triage.test_triage_api import run_pipeline
from vigil.access.markings import Classification
from vigil.access.models import User
from vigil.access.permissions import OrganisationKind, Role
from vigil.access.services import staff_user
from vigil.audit.models import AuditEvent
from vigil.cases.models import Case, CaseLink
from vigil.cases.services import Linkable, link
from vigil.intake.models import Report
from vigil.web.problems import Problem
from vigil.web.runtime import Runtime

OTHER_CONDITIONS = "Not to be used in evidence without the source handler's agreement"


def mark(rt: Runtime, reference: str, classification: Classification, **more: Any) -> None:
    """Mark a report directly (as grading or a re-marking would have)."""
    rt.db.write_sync(
        lambda s: s.execute(
            update(Report)
            .where(Report.reference == reference)
            .values(classification=classification.value, **more)
        )
    )


def linked_events(rt: Runtime, case: str) -> list[tuple[list[str], str | None]]:
    """Each ``case.linked`` audit event of ``case``: the records it names and its purpose."""
    rows = rt.db.write_sync(
        lambda s: s.execute(
            select(AuditEvent.record_ids, AuditEvent.purpose)
            .where(AuditEvent.action == "case.linked")
            .order_by(AuditEvent.seq)
        ).all()
    )
    return [(list(ids), purpose) for ids, purpose in rows if ids[0] == case]


def raised_in_timeline(case: dict[str, Any]) -> list[str]:
    return [e["summary"] for e in case["timeline"] if e["kind"] == "marking_raised"]


def test_opening_a_case_from_a_more_restrictive_report_raises_the_case_to_it(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    report = world.submit()  # OFFICIAL-SENSITIVE, as every report starts

    case = world.open_case(classification="OFFICIAL", reports=[report])

    assert case["classification"] == "OFFICIAL-SENSITIVE"
    assert world.case(case["reference"])["classification"] == "OFFICIAL-SENSITIVE"
    assert raised_in_timeline(case) == [
        "Marking raised from OFFICIAL handling none to OFFICIAL-SENSITIVE handling none "
        "by the records combined into the case"
    ]
    assert linked_events(rt, case["reference"]) == [
        (
            [case["reference"], report],
            "marking raised: OFFICIAL handling none -> OFFICIAL-SENSITIVE handling none",
        )
    ]


def test_linking_a_more_restrictive_record_raises_an_existing_case(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    official, sensitive = world.submit(), world.submit("A drone over the depot at dusk.")
    mark(rt, official, Classification.official)
    ref = world.open_case(classification="OFFICIAL", reports=[official])["reference"]
    assert world.case(ref)["classification"] == "OFFICIAL"  # nothing more restrictive yet
    assert linked_events(rt, ref) == [([ref, official], None)]

    answer = world.post(f"/{ref}/links", world.analyst, {"reports": [sensitive]})

    assert answer.status_code == 200, answer.text
    assert answer.json()["classification"] == "OFFICIAL-SENSITIVE"
    assert len(raised_in_timeline(answer.json())) == 1
    assert linked_events(rt, ref)[-1] == (
        [ref, sensitive],
        "marking raised: OFFICIAL handling none -> OFFICIAL-SENSITIVE handling none",
    )

    # Linking it again, or linking a less restrictive record, changes nothing.
    again = world.post(f"/{ref}/links", world.analyst, {"reports": [sensitive, official]})
    assert again.status_code == 200, again.text
    assert again.json()["classification"] == "OFFICIAL-SENSITIVE"
    assert len(raised_in_timeline(again.json())) == 1
    assert linked_events(rt, ref)[-1] == ([ref], None)


def test_handling_code_c_wins_over_p_and_every_condition_is_carried(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    first, second, third = (world.submit(f"Report number {n} about the depot.") for n in range(3))
    world.grade_handling_c(first)  # CONDITIONS
    world.grade_handling_c(second, OTHER_CONDITIONS)
    world.grade_handling_c(third)  # the same conditions as the first: carried once
    ref = world.open_case(handling_code="P")["reference"]

    one = world.post(f"/{ref}/links", world.analyst, {"reports": [first]}).json()
    assert (one["handling_code"], one["handling_conditions"]) == ("C", CONDITIONS)
    assert linked_events(rt, ref)[-1][1] == (
        "marking raised: OFFICIAL-SENSITIVE handling P -> OFFICIAL-SENSITIVE handling C"
    )

    both = world.post(f"/{ref}/links", world.analyst, {"reports": [second, third]}).json()
    assert both["handling_code"] == "C"
    assert both["handling_conditions"] == f"{CONDITIONS}\n{OTHER_CONDITIONS}"
    assert len(raised_in_timeline(both)) == 2  # the conditions grew: the marking changed

    # A case with no handling code takes P from a record graded P.
    graded = world.submit("A man measuring the depot gates.")
    rt.db.write_sync(
        lambda s: s.execute(
            update(Report).where(Report.reference == graded).values(handling_code="P")
        )
    )
    plain = world.open_case(reports=[graded])
    assert (plain["handling_code"], plain["handling_conditions"]) == ("P", None)


def test_a_case_already_as_restrictive_keeps_its_marking(client: TestClient, rt: Runtime) -> None:
    world = build_world(client, rt)
    cleared = staff_token(
        rt, "cleared@example.org", role=Role.investigator, clearance=Classification.secret
    )
    report = world.submit()

    case = world.open_case(cleared, classification="SECRET", reports=[report])

    assert case["classification"] == "SECRET"
    assert raised_in_timeline(case) == []
    assert linked_events(rt, case["reference"]) == [([case["reference"], report], None)]


def test_a_triage_outcome_adding_a_report_to_a_case_raises_it(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    report = world.submit()
    ref = world.open_case(classification="OFFICIAL")["reference"]
    run_pipeline(rt)

    done = client.post(
        f"/api/v1/triage/reports/{report}/outcome",
        json={"outcome": "add_to_case", "detail": ref, "reason": "Same depot, same people"},
        headers=auth(world.analyst),
    )

    assert done.status_code == 200, done.text
    assert world.case(ref)["classification"] == "OFFICIAL-SENSITIVE"
    assert linked_events(rt, ref)[-1] == (
        [ref, report],
        "marking raised: OFFICIAL handling none -> OFFICIAL-SENSITIVE handling none",
    )


def test_a_lead_who_could_not_see_the_raised_case_is_refused(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    staff_token(rt, "official.lead@example.org", clearance=Classification.official)
    report = world.submit()

    refused = world.post(
        "",
        world.analyst,
        {
            "title": "Depot watchers",
            "classification": "OFFICIAL",
            "lead": "official.lead@example.org",
            "reports": [report],
        },
    )

    assert refused.status_code == 422, refused.text
    assert [e["pointer"] for e in refused.json()["errors"]] == ["#/lead"]
    assert rt.db.write_sync(lambda s: s.scalar(select(func.count()).select_from(Case))) == 0


def test_a_raise_above_the_linkers_clearance_is_refused_and_nothing_is_linked(
    client: TestClient, rt: Runtime
) -> None:
    """Belt and braces: the policy keeps such a record from the linker in the first place,
    so this calls the linking service as a path that forgot to look would."""
    world: World = build_world(client, rt)
    report = world.submit()
    mark(rt, report, Classification.secret)
    ref = world.open_case()["reference"]

    def work(session: Session) -> None:
        row = session.scalar(select(User).where(User.email == "analyst@example.org"))
        assert row is not None
        case = session.scalar(select(Case).where(Case.reference == ref))
        rid = session.scalar(select(Report.id).where(Report.reference == report))
        assert case is not None and rid is not None
        with pytest.raises(Problem) as refused:
            link(session, staff_user(session, row), case, [Linkable("report", rid, report)])
        assert refused.value.status == 403
        assert "SECRET, above your own clearance" in str(refused.value.detail)
        assert case.classification == "OFFICIAL-SENSITIVE"
        assert session.scalar(select(func.count()).select_from(CaseLink)) == 0

    rt.db.write_sync(work)
    assert world.case(ref)["classification"] == "OFFICIAL-SENSITIVE"


def test_a_raise_above_a_partners_agreement_ends_that_share(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    report, secret = world.submit(), world.submit("A drone over the depot at dusk.")
    ref = world.open_case(reports=[report])["reference"]
    assert world.share(ref, HEALTH).status_code == 201  # agreement: up to OFFICIAL-SENSITIVE
    cleared = staff_token(
        rt,
        "cleared.partner@example.org",
        role=Role.partner_practitioner,
        org=HEALTH,
        org_kind=OrganisationKind.health,
        clearance=Classification.secret,
    )
    assert world.get(f"/{ref}", cleared).status_code == 200
    mark(rt, secret, Classification.secret)
    linker = staff_token(rt, "secret.analyst@example.org", clearance=Classification.secret)

    answer = world.post(f"/{ref}/links", linker, {"reports": [secret]})

    assert answer.status_code == 200, answer.text
    assert answer.json()["classification"] == "SECRET"
    ended = [e["summary"] for e in answer.json()["timeline"] if e["kind"] == "share_ended"]
    assert ended == [f"Sharing with {HEALTH} ended: no agreement covers a SECRET case"]
    assert world.get(f"/{ref}", cleared).status_code == 404  # cleared, but no agreement now
    shares = world.get(f"/{ref}/shares", linker).json()
    assert [s["revoked_at"] is not None for s in shares] == [True]
