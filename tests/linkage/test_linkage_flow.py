"""Linkage end to end: reports and referrals linked to known subjects, alerts to the owners,
need-to-know on every answer, and people's decisions remembered."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import auth, minimal_report, staff_token
from vigil.access.markings import Classification
from vigil.access.permissions import OrganisationKind, Role
from vigil.access.services import ensure_organisation
from vigil.access.sharing import create_agreement
from vigil.audit.services import SYSTEM
from vigil.jobs.worker import Worker
from vigil.linkage.models import Entity, Match
from vigil.triage.tasks import default_registry
from vigil.web.runtime import Runtime

PHONE_REPORT = (
    "A man keeps photographing the gates of the water treatment works at night and "
    "told the guard to call him on 07700 900123 if anyone asked questions."
)


def run_pipeline(rt: Runtime) -> int:
    return Worker(rt, default_registry(), poll_s=0.01).run_until_idle()


def investigator(rt: Runtime, email: str = "inv@example.org", **kw: Any) -> str:
    return staff_token(rt, email, role=Role.investigator, clearance=Classification.secret, **kw)


def subject(client: TestClient, token: str, **body: Any) -> dict[str, Any]:
    payload = {"name": "Operation Larch subject", "classification": "SECRET", **body}
    response = client.post("/api/v1/linkage/subjects", json=payload, headers=auth(token))
    assert response.status_code == 201, response.text
    return dict(response.json())


def submit(client: TestClient, description: str) -> str:
    response = client.post("/api/v1/reports", json=minimal_report(description=description))
    assert response.status_code == 201, response.text
    return str(response.json()["reference"])


def alerts(client: TestClient, token: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/linkage/alerts", headers=auth(token))
    assert response.status_code == 200, response.text
    return list(response.json())


def test_a_report_sharing_a_closed_subjects_phone_alerts_its_team_as_a_reappearance(
    client: TestClient, rt: Runtime
) -> None:
    token = investigator(rt)
    known = subject(
        client, token, status="closed", person={"first_name": "Karl", "phone": "07700900123"}
    )
    ref = submit(client, PHONE_REPORT)
    run_pipeline(rt)

    (alert,) = alerts(client, token)
    assert alert["subject"]["reference"] == known["reference"]
    assert alert["reappeared"] is True and alert["subject_status"] == "closed"
    assert alert["record_visible"] is True and alert["record_reference"] == ref
    assert [e["method"] for e in alert["evidence"]] == ["exact"]
    # The alert fed the report's priority, with its reason shown.
    analyst = staff_token(rt)
    triage = client.get(f"/api/v1/reports/{ref}", headers=auth(analyst)).json()["triage"]
    assert "known_subject" in {f["code"] for f in triage["factors"]}
    # The alert re-triaged the report, which linked it again: still one alert, not two.
    assert len(alerts(client, token)) == 1


def test_a_team_that_may_not_see_the_report_learns_only_that_it_exists_whom_to_ask_and_for_what(
    client: TestClient, rt: Runtime
) -> None:
    other = investigator(rt, "svc@example.org", org="Security Service North", teams=("Desk 4",))
    subject(client, other, person={"first_name": "Karl", "phone": "+447700900123"})
    reference = submit(client, PHONE_REPORT)
    run_pipeline(rt)

    (alert,) = alerts(client, other)
    assert alert["record_visible"] is False
    assert alert["record_reference"] is None and alert["evidence"] == []
    assert rt.settings.receiving_org in alert["ask"]
    # what to ask for: the reference its holder knows it by, and nothing of what it holds
    assert alert["ask_for"] == reference and reference in alert["ask"]
    # The receiving unit, for its part, sees neither the other agency's subject nor alert.
    mine = investigator(rt)
    assert alerts(client, mine) == []
    entity_id = alert["subject"]["entity_ids"][0]
    assert client.get(f"/api/v1/linkage/entities/{entity_id}", headers=auth(mine)).status_code == (
        404
    )


def test_a_referral_with_a_nickname_is_matched_by_the_model_with_its_reasons(
    client: TestClient, rt: Runtime
) -> None:
    token = investigator(rt)
    known = subject(
        client,
        token,
        alert_threshold=0.8,
        person={
            "first_name": "Robert",
            "last_name": "Hargreaves",
            "date_of_birth": "1984-03-12",
            "address": "12 Mill Lane",
            "postcode": "LS1 4AB",
            "town": "Leeds",
        },
    )
    body = {
        "person": {
            "first_name": "Bob",
            "last_name": "Hargreaves",
            "date_of_birth": "12/03/1984",
            "postcode": "LS1 4AB",
            "town": "Leeds",
        },
        "reason": "Referred by the college safeguarding lead after repeated worrying remarks.",
    }
    response = client.post("/api/v1/linkage/referrals", json=body, headers=auth(token))
    assert response.status_code == 201, response.text
    referral = response.json()
    (match,) = referral["matches"]
    assert match["method"] == "model" and match["match_probability"] >= 0.8
    assert match["other"]["id"] in known["entity_ids"]
    assert match["model_version"]
    steps = match["explanation"]
    assert steps and all("match_weight" in step for step in steps)
    assert referral["alerts_raised"] == 1
    (alert,) = alerts(client, token)
    assert alert["record_type"] == "entity" and alert["reappeared"] is False


def test_a_rejected_pair_is_never_raised_again_and_a_confirmed_one_merges_identities(
    client: TestClient, rt: Runtime
) -> None:
    token = investigator(rt)
    person = {"first_name": "Karl", "last_name": "Brandt", "phone": "07700900456"}
    subject(client, token, person=person)
    refer = {"person": person, "reason": "Second referral of the same person by a partner."}
    first = client.post("/api/v1/linkage/referrals", json=refer, headers=auth(token)).json()
    (match,) = first["matches"]
    assert first["entity"]["matchable"] == ["first_name", "last_name", "phone"]
    no = {"label": "negative", "reason": "Different people: the phone was reassigned."}
    reviewed = client.post(
        f"/api/v1/linkage/matches/{match['id']}/review", json=no, headers=auth(token)
    )
    assert reviewed.status_code == 200 and reviewed.json()["state"] == "negative"

    # Linking the same entity again does not raise the rejected pair.
    from vigil.linkage.tasks import link_entity_jobs

    link_entity_jobs(rt, [{"ids": [first["entity"]["id"]]}])
    with rt.db.session() as session:
        states = session.scalars(select(Match.state).where(Match.id == match["id"])).all()
        assert states == ["negative"]
        assert session.scalar(select(func.count()).select_from(Match)) == 1

    second = client.post("/api/v1/linkage/referrals", json=refer, headers=auth(token)).json()
    (other_match,) = [m for m in second["matches"] if m["other"]["id"] != first["entity"]["id"]]
    yes = {"label": "positive", "reason": "Same person: phone and name confirmed by a call."}
    assert (
        client.post(
            f"/api/v1/linkage/matches/{other_match['id']}/review", json=yes, headers=auth(token)
        ).status_code
        == 200
    )
    with rt.db.session() as session:
        ids = [second["entity"]["id"], other_match["other"]["id"]]
        identities = set(session.scalars(select(Entity.identity_id).where(Entity.id.in_(ids))))
        assert len(identities) == 1 and identities == {min(identities)}


def test_blind_review_hides_every_number(client: TestClient, rt: Runtime) -> None:
    token = investigator(rt)
    person = {"first_name": "Karl", "phone": "07700900456"}
    subject(client, token, person=person)
    client.post(
        "/api/v1/linkage/referrals",
        json={"person": person, "reason": "A partner's referral of the same person."},
        headers=auth(token),
    )
    (blind,) = client.get("/api/v1/linkage/matches?blind=true", headers=auth(token)).json()["items"]
    assert blind["match_probability"] is None and blind["explanation"] is None
    assert blind["is_match"] is None and blind["match_weight"] is None


def test_a_known_benign_number_never_links(client: TestClient, rt: Runtime) -> None:
    admin = staff_token(rt, "admin@example.org", role=Role.administrator)
    added = client.post(
        "/api/v1/linkage/benign",
        json={"kind": "phone", "value": "07700 900123", "reason": "The force's own control room"},
        headers=auth(admin),
    )
    assert added.status_code == 201 and added.json()["value"] == "+447700900123"
    token = investigator(rt)
    subject(client, token, person={"first_name": "Karl", "phone": "07700900123"})
    submit(client, PHONE_REPORT)
    run_pipeline(rt)
    assert alerts(client, token) == []


def test_bad_input_is_refused_with_specific_errors(client: TestClient, rt: Runtime) -> None:
    token = investigator(rt)
    empty = {"person": {}, "reason": "Nothing at all about the person is given here."}
    response = client.post("/api/v1/linkage/referrals", json=empty, headers=auth(token))
    assert response.status_code == 422
    dismissal = client.post(
        "/api/v1/linkage/alerts/1/decision", json={"state": "dismissed"}, headers=auth(token)
    )
    assert dismissal.status_code == 422
    assert "reason" in dismissal.text
    analyst = staff_token(rt)
    forbidden = client.post("/api/v1/linkage/subjects", json={"name": "x"}, headers=auth(analyst))
    assert forbidden.status_code == 403


def test_the_reporters_own_number_in_the_text_is_never_linked(
    client: TestClient, rt: Runtime
) -> None:
    token = investigator(rt)
    subject(client, token, person={"first_name": "Karl", "phone": "07700900123"})
    body = minimal_report(
        description=PHONE_REPORT,
        reporter={"anonymous": False, "name": "Tess Ormond", "phone": "07700 900123"},
    )
    assert client.post("/api/v1/reports", json=body).status_code == 201
    run_pipeline(rt)
    assert alerts(client, token) == []
    with rt.db.session() as session:
        kinds = session.scalars(select(Entity.kind).where(Entity.source_type == "report")).all()
    assert "phone" not in kinds


def test_a_public_figures_name_on_the_benign_list_is_not_matched(
    client: TestClient, rt: Runtime
) -> None:
    admin = staff_token(rt, "admin@example.org", role=Role.administrator)
    added = client.post(
        "/api/v1/linkage/benign",
        json={"kind": "name", "value": "  Robert   HARGREAVES ", "reason": "A well-known MP"},
        headers=auth(admin),
    )
    assert added.status_code == 201 and added.json()["value"] == "robert hargreaves"
    token = investigator(rt)
    person = {"first_name": "Robert", "last_name": "Hargreaves", "date_of_birth": "1984-03-12"}
    subject(client, token, alert_threshold=0.5, person=person)
    refer = {"person": person, "reason": "Mentioned by name in a partner's referral."}
    response = client.post("/api/v1/linkage/referrals", json=refer, headers=auth(token))
    assert response.status_code == 201
    assert response.json()["matches"] == [] and response.json()["alerts_raised"] == 0


def test_a_report_that_fails_to_link_fails_alone_and_its_batch_neighbours_are_linked(
    client: TestClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vigil.intake.models import Report
    from vigil.jobs.registry import PartialFailure
    from vigil.linkage import tasks

    refs = []
    for n in range(3):
        body = minimal_report(description=PHONE_REPORT, people=[{"name": f"Karl Testperson{n}"}])
        response = client.post("/api/v1/reports", json=body)
        assert response.status_code == 201, response.text
        refs.append(response.json()["reference"])
    with rt.db.session() as session:
        ids = [session.scalar(select(Report.id).where(Report.reference == r)) for r in refs]
    real = tasks.report_entities

    def broken_for_the_second(session: Any, report_id: int) -> Any:
        if report_id == ids[1]:
            raise ValueError(f"report {report_id} cannot be read")
        return real(session, report_id)

    monkeypatch.setattr(tasks, "report_entities", broken_for_the_second)
    monkeypatch.setattr(tasks, "LINK_CHUNK", 2)  # the failure shares a chunk with a neighbour
    with pytest.raises(PartialFailure) as failed:
        tasks.link_report_jobs(rt, [{"report_id": i} for i in ids])
    assert list(failed.value.failures) == [1]
    with rt.db.session() as session:
        linked = set(
            session.scalars(select(Entity.source_id).where(Entity.source_type == "report"))
        )
    assert linked == {ids[0], ids[2]}


def test_once_the_report_is_shared_the_alerted_team_follows_its_evidence_to_the_entities(
    client: TestClient, rt: Runtime
) -> None:
    other_org = "Security Service North"
    other = investigator(rt, "svc@example.org", org=other_org, teams=("Desk 4",))
    subject(client, other, person={"first_name": "Karl", "phone": "+447700900123"})
    ref = submit(client, PHONE_REPORT)
    run_pipeline(rt)
    (hidden,) = alerts(client, other)
    assert hidden["record_visible"] is False

    def agree(session: Session) -> None:
        ensure_organisation(session, other_org, OrganisationKind.security_service)
        create_agreement(
            session,
            SYSTEM,
            rt.settings.receiving_org,
            other_org,
            ["report"],
            Classification.secret,
            "Joint work on known subjects",
        )

    rt.db.write_sync(agree)
    sharer = staff_token(rt, "sup@example.org", role=Role.supervisor)
    shared = client.post(
        f"/api/v1/reports/{ref}/shares",
        json={"organisation": other_org, "purpose": "They asked, after their alert"},
        headers=auth(sharer),
    )
    assert shared.status_code == 201, shared.text

    (alert,) = alerts(client, other)
    assert alert["record_visible"] is True and alert["record_reference"] == ref
    assert alert["evidence"], "the evidence comes with the shared report"
    with rt.db.session() as session:
        from_report = session.scalars(select(Entity.id).where(Entity.source_type == "report")).all()
    assert from_report
    for entity_id in from_report:
        page = client.get(f"/api/v1/linkage/entities/{entity_id}", headers=auth(other))
        assert page.status_code == 200, page.text
    unrelated = investigator(rt, "prob@example.org", org="Synthetic Probation", teams=("P",))
    for entity_id in from_report:  # still hidden from anyone the report is not shared with
        page = client.get(f"/api/v1/linkage/entities/{entity_id}", headers=auth(unrelated))
        assert page.status_code == 404
