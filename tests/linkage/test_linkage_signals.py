"""What counts as a signal when linking: known-benign values are put aside but the rest of an
entity still matches; an item an analyst rejects stops being a signal (score, link, alert);
explanations read in plain words; exports carry subjects and markings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests import scratch
from tests.access.test_sign_in import cheap_hashing as cheap_hashing  # autouse fixture
from tests.console.test_console_pages import SECRET, signed_in
from tests.console.test_console_pages import web as web  # the console's client fixture
from tests.factories import auth, minimal_report, staff_token
from tests.scratch import fresh_database
from vigil import migrate
from vigil.access.markings import Classification
from vigil.access.permissions import Role
from vigil.audit.models import AuditEvent
from vigil.intake.services import ensure_receiving_org
from vigil.jobs.worker import Worker
from vigil.linkage.linking import BENIGN_IGNORED
from vigil.linkage.matching.model import PersonModel
from vigil.linkage.matching.normalise import prepare_person
from vigil.linkage.matching.scorer import PersonScorer
from vigil.linkage.models import Alert, Entity, Match
from vigil.linkage.records import PersonRecord
from vigil.linkage.tasks import ALERT_WITHDRAWN
from vigil.linkage.views import readable_explanation
from vigil.settings import Settings
from vigil.triage.tasks import default_registry
from vigil.web.app import create_app
from vigil.web.runtime import Runtime

CONTROL_ROOM = "07700 900999"
KNOWN = {
    "first_name": "Idris",
    "last_name": "Pellow",
    "date_of_birth": "1979-08-14",
    "postcode": "ZQ4 7TX",
}
LEAFLET = (
    "Leaflet pushed through every door on Mill Lane: call 07700 900123 to book a place "
    "at a 'training weekend'. Nothing else on it."
)


def run_pipeline(rt: Runtime) -> int:
    return Worker(rt, default_registry(), poll_s=0.01).run_until_idle()


def investigator(rt: Runtime, email: str = "inv@example.org") -> str:
    return staff_token(rt, email, role=Role.investigator, clearance=Classification.secret)


def subject(client: TestClient, token: str, **body: Any) -> dict[str, Any]:
    payload = {"name": "Operation Alder subject", "classification": "SECRET", **body}
    response = client.post("/api/v1/linkage/subjects", json=payload, headers=auth(token))
    assert response.status_code == 201, response.text
    return dict(response.json())


def benign(client: TestClient, rt: Runtime, kind: str, value: str, reason: str) -> None:
    admin = staff_token(rt, "admin@example.org", role=Role.administrator)
    body = {"kind": kind, "value": value, "reason": reason}
    response = client.post("/api/v1/linkage/benign", json=body, headers=auth(admin))
    assert response.status_code == 201, response.text


def refer(client: TestClient, token: str, **person: str) -> dict[str, Any]:
    body = {"person": person, "reason": "Referred by a partner after worrying remarks."}
    response = client.post("/api/v1/linkage/referrals", json=body, headers=auth(token))
    assert response.status_code == 201, response.text
    return dict(response.json())


def alerts(client: TestClient, token: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/linkage/alerts", headers=auth(token))
    assert response.status_code == 200, response.text
    return list(response.json())


def step(match: dict[str, Any], comparison: str) -> dict[str, Any]:
    return next(s for s in match["explanation"] if s.get("comparison") == comparison)


# --- 1. a known-benign value is put aside, the rest still matches --------------------------


def test_a_closed_subject_giving_the_control_room_number_is_still_matched_and_alerted(
    client: TestClient, rt: Runtime
) -> None:
    benign(client, rt, "phone", CONTROL_ROOM, "Force control room number")
    token = investigator(rt)
    known = subject(client, token, status="closed", person=KNOWN)

    referral = refer(client, token, **KNOWN, phone=CONTROL_ROOM)

    assert referral["entity"]["benign"] is False
    (match,) = referral["matches"]
    assert match["other"]["id"] in known["entity_ids"] and match["method"] == "model"
    assert referral["alerts_raised"] == 1
    (alert,) = alerts(client, token)
    assert alert["reappeared"] is True
    # The explanation says the number was there and was put aside, not that it was missing.
    phone = step(match, "phone")
    assert phone["level"] == BENIGN_IGNORED and phone["match_weight"] == 0.0
    assert phone["left"] == phone["benign_ignored"][0] == "+447700900999"


def test_a_benign_number_both_records_share_counts_for_nothing_in_the_model(
    client: TestClient, rt: Runtime
) -> None:
    benign(client, rt, "phone", CONTROL_ROOM, "Force control room number")
    token = investigator(rt)
    known = subject(client, token, person={**KNOWN, "phone": CONTROL_ROOM})
    near = {"first_name": "Idris", "last_name": "Pellow", "postcode": "ZQ4 7TX"}

    with_number = refer(client, token, **near, phone=CONTROL_ROOM)["matches"]
    without = refer(client, token, **near)["matches"]  # (matches the first referral too)

    (shared,), (alone,) = (
        [m for m in found if m["other"]["id"] in known["entity_ids"]]
        for found in (with_number, without)
    )
    assert step(shared, "phone")["level"] == BENIGN_IGNORED
    assert shared["match_weight"] == pytest.approx(alone["match_weight"])
    # Neither is an exact link on the number: the benign value links nothing by itself.
    assert {m["method"] for m in (shared, alone)} == {"model"}


def test_an_entity_that_is_only_a_benign_number_links_nothing(
    client: TestClient, rt: Runtime
) -> None:
    benign(client, rt, "phone", CONTROL_ROOM, "Force control room number")
    token = investigator(rt)
    subject(client, token, status="closed", person={**KNOWN, "phone": CONTROL_ROOM})

    referral = refer(client, token, phone=CONTROL_ROOM)

    assert referral["entity"]["benign"] is True
    assert referral["matches"] == [] and referral["alerts_raised"] == 0
    assert alerts(client, token) == []


def test_a_person_at_a_landmark_address_still_matches_on_who_they_are(
    client: TestClient, rt: Runtime
) -> None:
    benign(client, rt, "address", "1 Castle Parade", "The castle's visitor centre")
    token = investigator(rt)
    subject(client, token, status="closed", person={**KNOWN, "address": "1 Castle Parade"})

    referral = refer(client, token, **KNOWN, address="1 Castle Parade")

    assert referral["entity"]["benign"] is False
    (match,) = referral["matches"]
    location = step(match, "location")
    assert location["benign_ignored"] == ["1 Castle Parade"]
    assert BENIGN_IGNORED in location["level"] and "same postcode" in location["level"]


# --- 2. a rejected item stops being a signal ------------------------------------------------


def _leaflet_alerted(client: TestClient, rt: Runtime) -> tuple[str, str, str, dict[str, Any]]:
    """A leaflet report whose phone is a subject's: alerted, and scored as a known subject."""
    token = investigator(rt)
    subject(client, token, person={"first_name": "Karl", "phone": "07700900123"})
    response = client.post("/api/v1/reports", json=minimal_report(description=LEAFLET))
    assert response.status_code == 201, response.text
    ref = str(response.json()["reference"])
    run_pipeline(rt)
    analyst = staff_token(rt)
    triage = triage_of(client, analyst, ref)
    factors = {f["code"]: f for f in triage["factors"]}
    assert factors["known_subject"]["weight"] > 0
    assert "07700 900123" in factors["specifics"]["evidence"]
    (alert,) = alerts(client, token)
    assert alert["state"] == "new"
    return token, analyst, ref, triage


def triage_of(client: TestClient, token: str, ref: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/reports/{ref}", headers=auth(token))
    assert response.status_code == 200, response.text
    return dict(response.json()["triage"])


def reject_phone(client: TestClient, analyst: str, ref: str, triage: dict[str, Any]) -> None:
    phone = next(e for e in triage["entities"] if e["kind"] == "phone")
    response = client.patch(
        f"/api/v1/triage/reports/{ref}/items/{phone['id']}",
        json={"action": "reject", "reason": "Advertised business number"},
        headers=auth(analyst),
    )
    assert response.status_code == 200, response.text


def test_rejecting_the_phone_rescores_the_report_and_withdraws_the_alert_it_raised(
    client: TestClient, rt: Runtime
) -> None:
    token, analyst, ref, before = _leaflet_alerted(client, rt)

    reject_phone(client, analyst, ref, before)
    run_pipeline(rt)

    after = triage_of(client, analyst, ref)
    factors = {f["code"]: f for f in after["factors"]}
    assert "known_subject" not in factors
    assert "07700 900123" not in str(factors.get("specifics", {}).get("evidence", ""))
    assert after["score"] < before["score"]
    actions = [h["action"] for h in after["history"]]
    assert "triaged" in actions[actions.index("item_corrected") :]
    # The alert is kept, dismissed by the system with the reason; its evidence is marked.
    (alert,) = alerts(client, token)
    assert alert["state"] == "dismissed" and alert["reason"] == ALERT_WITHDRAWN
    assert all(e["withdrawn"] == ALERT_WITHDRAWN for e in alert["evidence"])
    with rt.db.session() as session:
        # The link from the rejected item is gone: the report holds no phone, no match.
        kinds = session.scalars(select(Entity.kind).where(Entity.source_type == "report"))
        assert "phone" not in set(kinds)
        assert session.scalar(select(func.count()).select_from(Match)) == 0
        row = session.scalar(select(Alert))
        assert row is not None and row.decided_by_user_id is None
        # Recorded in the audit chain as the system's decision, with its reason.
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "alert.dismissed"))
        assert event is not None and event.actor_user_id is None
        assert event.record_ids == [str(row.id)] and event.purpose == ALERT_WITHDRAWN


def test_a_reviewed_alert_keeps_the_teams_decision_and_shows_its_evidence_withdrawn(
    client: TestClient, rt: Runtime
) -> None:
    token, analyst, ref, before = _leaflet_alerted(client, rt)
    (alert,) = alerts(client, token)
    reviewed = client.post(
        f"/api/v1/linkage/alerts/{alert['id']}/decision",
        json={"state": "reviewed", "reason": "Looking into it"},
        headers=auth(token),
    )
    assert reviewed.status_code == 200, reviewed.text
    run_pipeline(rt)

    reject_phone(client, analyst, ref, before)
    run_pipeline(rt)

    (alert,) = alerts(client, token)
    assert alert["state"] == "reviewed" and alert["reason"] == "Looking into it"
    assert [e["withdrawn"] for e in alert["evidence"]] == [ALERT_WITHDRAWN]


def test_a_rejected_field_the_reporter_filled_in_is_not_linked(
    client: TestClient, rt: Runtime
) -> None:
    token = investigator(rt)
    subject(client, token, person={"first_name": "Karl", "last_name": "Brandt"})
    body = minimal_report(description=LEAFLET, people=[{"name": "Karl Brandt"}])
    response = client.post("/api/v1/reports", json=body)
    assert response.status_code == 201, response.text
    ref = response.json()["reference"]
    run_pipeline(rt)
    analyst = staff_token(rt)
    person = next(e for e in triage_of(client, analyst, ref)["entities"] if e["kind"] == "person")
    assert person["source"] == "reporter"

    response = client.patch(
        f"/api/v1/triage/reports/{ref}/items/{person['id']}",
        json={"action": "reject", "reason": "The name printed on the leaflet, not a person seen"},
        headers=auth(analyst),
    )
    assert response.status_code == 200, response.text
    run_pipeline(rt)

    with rt.db.session() as session:
        kinds = session.scalars(select(Entity.kind).where(Entity.source_type == "report"))
        assert "person" not in set(kinds)


# --- 3. explanations in plain words, against bars told apart -------------------------------


def test_missing_values_are_explained_as_one_side_having_none() -> None:
    scorer = PersonScorer(PersonModel.default())
    left = prepare_person(PersonRecord("1", "Idris", None, "Pellow", phone="07700 900456"))
    right = prepare_person(PersonRecord("2", "Idris", None, "Pellow", postcode="ZQ4 7TX"))

    steps = {s["comparison"]: s["level"] for s in scorer.score(left, right).explanation()}

    assert steps["location"] == "one side has no location"
    assert steps["phone"] == "one side has no phone"
    assert steps["email"] == "one side has no e-mail"
    assert steps["dob"] == "one side has no date of birth"
    assert not any("NULL" in level for level in steps.values())


def test_explanations_stored_with_splinks_sql_are_shown_in_plain_words() -> None:
    stored = [
        {"step": "prior", "comparison": "prior", "level": "two records chosen at random"},
        {
            "step": "comparison",
            "comparison": "location",
            "level": "(address_l IS NULL AND postcode_l IS NULL AND town_l IS NULL) OR "
            "(address_r IS NULL AND postcode_r IS NULL AND town_r IS NULL)",
        },
        {"step": "comparison", "comparison": "phone", "level": "phone is NULL"},
        {"step": "comparison", "comparison": "last_name", "level": "exact"},
    ]
    levels = [s["level"] for s in readable_explanation(stored)]
    assert levels == [
        "two records chosen at random",
        "one side has no location",
        "one side has no phone",
        "exact",
    ]


def test_the_waterfall_tells_bars_against_a_match_apart_by_more_than_colour(
    web: TestClient, rt: Runtime
) -> None:
    token = investigator(rt)
    subject(web, token, person=KNOWN)
    referral = refer(web, token, first_name="Idris", last_name="Pellow", date_of_birth="14/8/1979")
    (match,) = referral["matches"]
    against = sum(
        1
        for s in match["explanation"]
        if s["step"] != "final" and (s["match_weight"] + (s.get("tf_adjustment_weight") or 0.0)) < 0
    )
    assert against  # the prior at least

    signed_in(web, rt, "reviewer@example.org", role=Role.investigator, clearance=SECRET)
    page = web.get(f"/console/entities/{match['entity']['id']}")
    assert page.status_code == 200, page.text
    html = page.text

    assert "NULL" not in html and "one side has no" in html
    assert html.count('class="vigil-waterfall__bar vigil-waterfall__bar--against"') == against
    assert html.count('<span class="vigil-waterfall__sign">−</span>') == against
    css = web.get("/static/vigil.css").text
    assert "flex-direction:row-reverse" in rule(css, ".vigil-waterfall__track--against")
    assert "scaleX(-1)" in rule(css, ".vigil-waterfall__bar--against")  # grows from the right
    for part in ("::-webkit-meter-optimum-value", "::-moz-meter-bar"):  # hatched, not solid
        assert "repeating-linear-gradient" in rule(css, ".vigil-waterfall__bar--against" + part)
        assert "repeating" not in rule(css, ".vigil-waterfall__bar--for" + part)


def rule(css: str, selector: str) -> str:
    """The declarations of the compiled stylesheet's rule for exactly ``selector``."""
    found = re.search(r"(?:^|[}\s])" + re.escape(selector) + r"\{([^}]*)\}", css)
    assert found, selector
    return found.group(1)


# --- 4. exports carry subjects and markings, and import again ------------------------------


def test_an_export_names_each_persons_subject_and_marking_for_those_the_reader_may_see(
    client: TestClient, rt: Runtime
) -> None:
    token = investigator(rt)
    closed = subject(client, token, name="Operation Birch", status="closed", person=KNOWN)
    csv = client.get("/api/v1/linkage/exports?format=csv", headers=auth(token)).text
    header, row = csv.splitlines()[:2]
    assert header.endswith("subject_ref,subject_status,subject_name,team,marking")
    # Made through the API for the whole organisation: no team.
    assert row.endswith(f"{closed['reference']},closed,Operation Birch,,SECRET")
    ftm = client.get("/api/v1/linkage/exports?format=ftm", headers=auth(token)).text
    assert f'"subject_ref":"{closed["reference"]}"' in ftm and '"marking":"SECRET"' in ftm

    # A person referred at OFFICIAL-SENSITIVE and put on the SECRET subject: a colleague
    # cleared only to OFFICIAL-SENSITIVE exports the person, but not the subject.
    referred = refer(client, token, first_name="Tamsin", last_name="Quarrie")["entity"]
    assert referred["classification"] == "OFFICIAL-SENSITIVE"
    attached = client.post(
        f"/api/v1/linkage/subjects/{closed['reference']}/entities",
        json={"entity_id": referred["id"]},
        headers=auth(token),
    )
    assert attached.status_code == 200, attached.text
    mine = client.get("/api/v1/linkage/exports?format=csv", headers=auth(token)).text
    (row,) = [line for line in mine.splitlines() if "Quarrie" in line]
    assert row.endswith(f"{closed['reference']},closed,Operation Birch,,SECRET")
    low = staff_token(
        rt, "low@example.org", role=Role.investigator, clearance=Classification.official_sensitive
    )
    for fmt in ("csv", "ftm"):
        seen = client.get(f"/api/v1/linkage/exports?format={fmt}", headers=auth(low)).text
        assert "Quarrie" in seen and "Pellow" not in seen
        assert closed["reference"] not in seen and "Operation Birch" not in seen


def test_an_export_imported_into_a_fresh_database_gives_the_same_subjects_and_markings(
    db_url: str, tmp_path: Path, client: TestClient, rt: Runtime
) -> None:
    engine_name = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    token = investigator(rt)
    subject(client, token, name="Operation Birch", status="closed", person=KNOWN)
    subject(
        client,
        token,
        name="Operation Rowan",
        external_ref="ROWAN-7",
        classification="OFFICIAL-SENSITIVE",
        person={"first_name": "Tamsin", "last_name": "Quarrie", "phone": "07700 900321"},
    )
    exported = {
        fmt: client.get(f"/api/v1/linkage/exports?format={fmt}", headers=auth(token)).content
        for fmt in ("csv", "ftm")
    }
    expected = subjects_seen(client, token)

    for fmt, data in exported.items():
        with fresh_database(engine_name, tmp_path, f"roundtrip_{fmt}") as owner_url:
            migrate.upgrade(owner_url)
            settings = Settings(
                environment="test",
                database_url=scratch.app_url(owner_url),
                data_dir=tmp_path / f"var-{fmt}",
                log_level="warning",
                jobs_in_process=False,
            )
            fresh = Runtime.build(settings)
            try:
                ensure_receiving_org(fresh)
                with TestClient(create_app(rt=fresh)) as other:
                    there = investigator(fresh)
                    response = other.post(
                        "/api/v1/linkage/imports",
                        params={"format": fmt},
                        files={"file": (f"export.{fmt}", data, "text/plain")},
                        headers=auth(there),
                    )
                    assert response.status_code == 201, response.text
                    assert response.json()["subjects"] == 2
                    assert subjects_seen(other, there) == expected, fmt
            finally:
                fresh.db.close()


def subjects_seen(client: TestClient, token: str) -> list[tuple[Any, ...]]:
    """(name, status, marking, team, member labels) of each subject the reader sees."""
    response = client.get("/api/v1/linkage/subjects", headers=auth(token))
    assert response.status_code == 200, response.text
    found = []
    for row in response.json()["items"]:
        one = client.get(f"/api/v1/linkage/subjects/{row['reference']}", headers=auth(token))
        labels = sorted(
            client.get(f"/api/v1/linkage/entities/{i}", headers=auth(token)).json()["entity"][
                "label"
            ]
            for i in one.json()["entity_ids"]
        )
        found.append((row["name"], row["status"], row["classification"], row["team"], labels))
    return sorted(found)
