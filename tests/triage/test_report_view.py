"""The report page reads everything in one reading session and records every reading in one
write. On both databases it must show each reader exactly what the one-at-a-time readers
show (the API's report and thread readers, and ``entity_page`` for each entity taken from the
report): the same report, follow-up count and thread, the same entities with the same matches
(strongest first, cut at ``MATCHES_SHOWN``) and subjects, and nothing the policy hides. A
page view writes its three audit events in one commit; a report the reader may not see
answers "not found" and records nothing."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import minimal_report, staff_token
from tests.linkage.test_graph_levels import REPORTS, reader
from tests.linkage.test_linkage_flow import investigator, run_pipeline, subject
from vigil.access import policy
from vigil.access.fields import report_fields
from vigil.access.models import Organisation, RecordShare
from vigil.access.permissions import Permission, Role
from vigil.access.services import StaffUser
from vigil.audit.models import AuditEvent
from vigil.intake.models import Report
from vigil.intake.reading import read_report, visible_report
from vigil.intake.thread import list_messages
from vigil.linkage import views
from vigil.linkage.models import Entity, Match, Subject, SubjectEntity
from vigil.triage.report_view import read_report_page
from vigil.web.problems import Problem
from vigil.web.runtime import Runtime

PARTNER = "Partner Constabulary"


def submit(client: TestClient, description: str) -> tuple[str, str]:
    response = client.post("/api/v1/reports", json=minimal_report(description=description))
    assert response.status_code == 201, response.text
    body = response.json()
    return str(body["reference"]), str(body["followup_code"])


def world(client: TestClient, rt: Runtime) -> tuple[list[str], dict[str, str]]:
    """Four reports sharing phones and a van (so their entities match one another), two
    subjects (one SECRET, one the analyst may see) holding every phone taken from them, a
    reply from the first reporter, distinct match probabilities (so "strongest first" has one
    answer), and the first report with its entities shared with a partner organisation,
    whose analyst sees none of the others."""
    tokens = {"investigator": investigator(rt)}
    subject(client, tokens["investigator"], person={"first_name": "Karl", "phone": "07700900123"})
    subject(
        client,
        tokens["investigator"],
        name="Operation Alder subject",
        classification="OFFICIAL-SENSITIVE",
        person={"first_name": "Jon", "phone": "07700900789"},
    )
    sent = [submit(client, text) for text in REPORTS]
    first, code = sent[0]
    reply = client.post(
        f"/api/v1/reports/{first}/followups",
        json={"code": code, "text": "The van came back at six."},
    )
    assert reply.status_code == 201, reply.text
    run_pipeline(rt)
    tokens["analyst"] = staff_token(rt)
    tokens["partner"] = staff_token(rt, "partner@example.org", org=PARTNER)
    # Shown the report's bare facts and its count of follow-ups only: no thread, no entities.
    tokens["custodian"] = staff_token(rt, "custodian@example.org", role=Role.reporter_custodian)

    def arrange(session: Session) -> None:
        for match in session.scalars(select(Match).order_by(Match.id)):
            match.match_probability = 0.5 + match.id / 1000
        phones = session.scalars(
            select(Entity.id).where(Entity.source_type == "report", Entity.kind == "phone")
        ).all()
        for subject_id in session.scalars(select(Subject.id)):
            session.add_all(SubjectEntity(subject_id=subject_id, entity_id=e) for e in phones)
        report_id = session.scalar(select(Report.id).where(Report.reference == first))
        org_id = session.scalar(select(Organisation.id).where(Organisation.name == PARTNER))
        entity_ids = session.scalars(
            select(Entity.id).where(Entity.source_type == "report", Entity.source_id == report_id)
        )
        shared = [("report", report_id), *(("entity", e) for e in entity_ids)]
        for record_type, record_id in shared:
            session.add(
                RecordShare(
                    record_type=record_type, record_id=record_id, org_id=org_id, purpose="test"
                )
            )

    rt.db.write_sync(arrange)
    return [ref for ref, _code in sent], tokens


def one_at_a_time(rt: Runtime, user: StaffUser, reference: str) -> dict[str, Any]:
    """What the API's readers and ``entity_page`` give this reader, each on its own."""

    def work(session: Session) -> dict[str, Any]:
        row = visible_report(session, user, reference)
        entities = session.scalars(
            select(Entity)
            .where(Entity.source_type == "report", Entity.source_id == row.id)
            .where(policy.visible(user, Entity, "entity"))
            .order_by(Entity.id)
        )
        pages = [views.entity_page(session, user, e, with_identity=False) for e in entities]
        linked = Permission.linkage_read in user.permissions
        return {
            "report": read_report(session, user, row).model_dump(),
            "entities": [p.model_dump() for p in pages] if linked else [],
        }

    shown = rt.db.write_sync(work, as_user=user.id)
    thread = list_messages(rt, user, reference) if "description" in report_fields(user.role) else []
    shown["messages"] = [m.model_dump() for m in thread]
    return shown


def users(rt: Runtime, tokens: dict[str, str]) -> dict[str, StaffUser]:
    with rt.db.session() as session:
        return {name: reader(session, token) for name, token in tokens.items()}


@pytest.mark.parametrize("shown", [views.MATCHES_SHOWN, 1])
def test_the_page_shows_each_reader_what_the_one_at_a_time_reads_show(
    client: TestClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch, shown: int
) -> None:
    references, tokens = world(client, rt)
    monkeypatch.setattr(views, "MATCHES_SHOWN", shown)  # 1: every entity's list is cut
    matches_seen: dict[str, int] = {}
    subjects_seen: dict[str, int] = {}
    viewed: dict[str, int] = {}
    for name, user in users(rt, tokens).items():
        matches_seen[name] = subjects_seen[name] = viewed[name] = 0
        for reference in references:
            try:
                expected = one_at_a_time(rt, user, reference)
            except Problem as hidden:
                assert hidden.status == 404
                with pytest.raises(Problem) as refused:
                    read_report_page(rt, user, reference, None)
                assert refused.value.status == 404
                continue
            view = read_report_page(rt, user, reference, None)
            viewed[name] += 1
            assert view.report.model_dump() == expected["report"], (name, reference)
            assert [e.model_dump() for e in view.entities] == expected["entities"]
            assert [m.model_dump() for m in view.messages] == expected["messages"]
            assert view.followup_possible  # every reporter here was given a code
            for page in view.entities:
                assert len(page.matches) <= shown
                strengths = [m.match_probability or 0 for m in page.matches]
                assert strengths == sorted(strengths, reverse=True)
                matches_seen[name] += len(page.matches)
                subjects_seen[name] += len(page.subjects)
    # Something to compare for each reader, and what the policy hides stays hidden: only the
    # investigator is cleared for the SECRET subject; the partner sees one report and none
    # of the matches to the others' entities.
    assert matches_seen["investigator"] > 0 and matches_seen["analyst"] > 0
    assert subjects_seen["investigator"] > subjects_seen["analyst"] > subjects_seen["partner"] == 0
    assert matches_seen["partner"] < matches_seen["analyst"]
    assert matches_seen["custodian"] == 0
    assert viewed == {"investigator": 4, "analyst": 4, "partner": 1, "custodian": 4}


def audit_events(rt: Runtime) -> list[AuditEvent]:
    with rt.db.session() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def test_a_page_view_records_its_readings_in_one_commit_and_a_hidden_report_none(
    client: TestClient, rt: Runtime
) -> None:
    references, tokens = world(client, rt)
    readers = users(rt, tokens)
    analyst, partner = readers["analyst"], readers["partner"]
    first = references[0]
    before, commits = len(audit_events(rt)), rt.db.writer.batches

    view = read_report_page(rt, analyst, first, "198.51.100.7")

    assert rt.db.writer.batches == commits + 1
    events = audit_events(rt)[before:]
    assert [(e.action, e.record_ids, e.purpose) for e in events] == [
        ("report.viewed", [first], None),
        ("entity.viewed", [str(e.entity.id) for e in view.entities], f"report {first}"),
        ("report.thread_viewed", [first], None),
    ]
    assert view.entities and view.messages
    assert {e.actor_user_id for e in events} == {analyst.id}
    assert {e.client_address for e in events} == {"198.51.100.7"}

    before, commits = len(events) + before, rt.db.writer.batches
    with pytest.raises(Problem) as refused:
        read_report_page(rt, partner, references[1], None)
    assert refused.value.status == 404
    assert (len(audit_events(rt)), rt.db.writer.batches) == (before, commits)
    with rt.db.session() as session:  # the partner does see the shared one
        assert session.scalar(select(func.count()).select_from(RecordShare)) > 1
    assert read_report_page(rt, partner, first, None).report.reference == first


def test_matches_are_read_for_all_entities_in_one_statement(
    client: TestClient, rt: Runtime
) -> None:
    """``strongest_matches`` equals each entity's own strongest-first list (either side of
    the pair), for entities with several matches, one, or none."""
    world(client, rt)
    with rt.db.session() as session:
        ids = list(session.scalars(select(Entity.id).order_by(Entity.id)))
        together = views.strongest_matches(session, ids)
        for entity_id in ids:
            alone = list(
                session.scalars(
                    select(Match.id)
                    .where((Match.entity_id == entity_id) | (Match.other_entity_id == entity_id))
                    .order_by(Match.match_probability.desc())
                    .limit(views.MATCHES_SHOWN)
                )
            )
            assert together.get(entity_id, []) == alone, entity_id
        assert max(len(v) for v in together.values()) > 1
        assert len(together) < len(ids)  # some entity has no match at all
