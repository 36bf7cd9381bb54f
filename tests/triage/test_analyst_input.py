"""What analysts type into triage: identifiers normalised as the extractors normalise theirs,
staff text held to the public's rule, and a claim that protects the claimant's work."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import auth, staff_token
from tests.triage.test_triage_api import THREAT, VAGUE, report, run_pipeline, submit
from vigil.access.permissions import Role
from vigil.audit.models import AuditEvent
from vigil.intake.models import Report
from vigil.triage.models import TriageDecision, TriageItem
from vigil.web.runtime import Runtime

GRADE = {"source": "2", "intelligence": "B", "handling": "P"}


def items(rt: Runtime, reference: str) -> list[tuple[str, str, str, str]]:
    with rt.db.session() as session:
        rows = session.scalars(
            select(TriageItem)
            .join(Report, Report.id == TriageItem.report_id)
            .where(Report.reference == reference)
            .order_by(TriageItem.id)
        ).all()
        return [(r.kind, r.value, r.status, r.source) for r in rows]


def actions(rt: Runtime, reference: str) -> list[str]:
    with rt.db.session() as session:
        return list(
            session.scalars(
                select(TriageDecision.action)
                .join(Report, Report.id == TriageDecision.report_id)
                .where(Report.reference == reference)
                .order_by(TriageDecision.id)
            ).all()
        )


def audited(rt: Runtime, action: str) -> int:
    with rt.db.session() as session:
        return len(session.scalars(select(AuditEvent.id).where(AuditEvent.action == action)).all())


def pointers(response: Any) -> set[str]:
    return {e["pointer"] for e in response.json()["errors"]}


# --- identifiers an analyst adds or corrects -----------------------------------------------


@pytest.mark.parametrize(
    ("kind", "typed", "stored"),
    [
        ("vrm", "ab12 cde", "AB12CDE"),
        ("email", "Jo.Bloggs@Example.ORG", "jo.bloggs@example.org"),
        ("phone", "07700 900999", "+447700900999"),
        ("postcode", "sw1a1aa", "SW1A 1AA"),
        ("url", "HTTPS://Example.ORG/page?utm_source=mail#top", "https://example.org/page"),
    ],
)
def test_an_added_identifier_is_stored_normalised_as_the_extractors_store_theirs(
    client: TestClient, rt: Runtime, kind: str, typed: str, stored: str
) -> None:
    token = staff_token(rt)
    ref = submit(client, VAGUE)
    added = client.post(
        f"/api/v1/triage/reports/{ref}/items",
        json={"kind": kind, "value": typed, "reason": "read from the photo"},
        headers=auth(token),
    )
    assert added.status_code == 201, added.text
    assert (added.json()["value"], added.json()["text"]) == (stored, typed)
    assert items(rt, ref) == [(kind, stored, "active", "analyst")]
    history = report(client, token, ref)["triage"]["history"]
    assert history[-1]["detail"] == {"after": {"kind": kind, "value": stored}}


def test_an_added_web_address_names_its_platform_as_an_extracted_one_does(
    client: TestClient, rt: Runtime
) -> None:
    token = staff_token(rt)
    ref = submit(client, VAGUE)
    added = client.post(
        f"/api/v1/triage/reports/{ref}/items",
        json={"kind": "url", "value": "t.me/SomeChannel", "reason": "seen on the phone"},
        headers=auth(token),
    )
    assert added.status_code == 201, added.text
    assert (added.json()["value"], added.json()["detail"]) == (
        "https://t.me/SomeChannel",
        "Telegram",
    )


@pytest.mark.parametrize(
    ("kind", "typed", "said"),
    [
        ("postcode", "not a postcode", "is not a UK postcode"),
        ("phone", "12345", "is not a phone number"),
        ("email", "jo bloggs at home", "is not an e-mail address"),
        ("vrm", "NOT A PLATE", "is not a UK registration mark"),
        ("url", "not a web address", "is not a web address"),
    ],
)
def test_an_added_value_that_is_no_such_identifier_is_refused_at_value_and_changes_nothing(
    client: TestClient, rt: Runtime, kind: str, typed: str, said: str
) -> None:
    token = staff_token(rt)
    ref = submit(client, VAGUE)
    refused = client.post(
        f"/api/v1/triage/reports/{ref}/items",
        json={"kind": kind, "value": typed, "reason": "read from the photo"},
        headers=auth(token),
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"] == [
        {"pointer": "#/value", "detail": refused.json()["errors"][0]["detail"]}
    ]
    assert said in refused.json()["errors"][0]["detail"]
    assert items(rt, ref) == []
    assert actions(rt, ref) == []
    assert audited(rt, "triage.item.added") == 0


def test_a_replacement_is_normalised_and_a_bad_one_leaves_the_extracted_item_alone(
    client: TestClient, rt: Runtime
) -> None:
    token = staff_token(rt)
    ref = submit(client, THREAT)
    run_pipeline(rt)
    phone = next(
        e for e in report(client, token, ref)["triage"]["entities"] if e["kind"] == "phone"
    )
    url = f"/api/v1/triage/reports/{ref}/items/{phone['id']}"
    before = items(rt, ref)

    bad = client.patch(
        url, json={"action": "replace", "value": "07700", "reason": "misheard"}, headers=auth(token)
    )
    assert bad.status_code == 422 and pointers(bad) == {"#/value"}
    wrong_kind = client.patch(
        url,
        json={"action": "replace", "kind": "postcode", "value": "07700 900124", "reason": "oops"},
        headers=auth(token),
    )
    assert wrong_kind.status_code == 422 and pointers(wrong_kind) == {"#/value"}
    assert items(rt, ref) == before
    assert "item_corrected" not in actions(rt, ref)
    assert audited(rt, "triage.item.corrected") == 0

    fixed = client.patch(
        url,
        json={"action": "replace", "value": "07700 900124", "reason": "misheard"},
        headers=auth(token),
    )
    assert fixed.status_code == 200, fixed.text
    assert (fixed.json()["kind"], fixed.json()["value"]) == ("phone", "+447700900124")
    history = report(client, token, ref)["triage"]["history"][-1]
    assert history["detail"]["after"] == {"kind": "phone", "value": "+447700900124"}


def test_a_replacement_of_another_kind_is_normalised_as_that_kind(
    client: TestClient, rt: Runtime
) -> None:
    token = staff_token(rt)
    ref = submit(client, THREAT)
    run_pipeline(rt)
    phone = next(
        e for e in report(client, token, ref)["triage"]["entities"] if e["kind"] == "phone"
    )
    fixed = client.patch(
        f"/api/v1/triage/reports/{ref}/items/{phone['id']}",
        json={
            "action": "replace",
            "kind": "email",
            "value": " Jo.Bloggs@Example.ORG ",
            "reason": "it was an address",
        },
        headers=auth(token),
    )
    assert fixed.status_code == 200, fixed.text
    assert (fixed.json()["kind"], fixed.json()["value"]) == ("email", "jo.bloggs@example.org")
    assert fixed.json()["detail"] is None


# --- staff text ----------------------------------------------------------------------------


def test_a_reason_is_nfc_normalised_and_stripped_and_keeps_its_line_breaks(
    client: TestClient, rt: Runtime
) -> None:
    token = staff_token(rt)
    ref = submit(client, VAGUE)
    typed = "  Cafe\u0301 owner corroborates it.\nSecond source agrees.  "
    graded = client.post(
        f"/api/v1/triage/reports/{ref}/grade", json={**GRADE, "reason": typed}, headers=auth(token)
    )
    assert graded.status_code == 200, graded.text
    history = report(client, token, ref)["triage"]["history"]
    assert history[-1]["reason"] == "Caf\u00e9 owner corroborates it.\nSecond source agrees."


@pytest.mark.parametrize(
    ("path", "body", "pointer"),
    [
        ("grade", {**GRADE, "reason": "   "}, "#/body/reason"),
        ("grade", {**GRADE, "reason": " a  b "}, "#/body/reason"),
        ("grade", {**GRADE, "reason": "seen\x00it"}, "#/body/reason"),
        (
            "grade",
            {**GRADE, "reason": "fine reason", "conditions": "no\x1bpe"},
            "#/body/conditions",
        ),
        ("assign", {"assignee": "colleague@example.org", "reason": "\t \n "}, "#/body/reason"),
        ("items", {"kind": "vrm", "value": "AB12\x07CDE", "reason": "from photo"}, "#/body/value"),
        ("items", {"kind": "person", "value": "   ", "reason": "from photo"}, "#/body/value"),
        (
            "items",
            {"kind": "person", "value": "Jo\nBloggs", "reason": "from photo"},
            "#/body/value",
        ),
        (
            "items",
            {"kind": "vrm", "value": "AB12CDE", "reason": "ok", "text": "\x7f"},
            "#/body/text",
        ),
        ("categories", {"add": ["photography"], "reason": "\u00a0 x \u00a0"}, "#/body/reason"),
        ("categories", {"add": ["photo\x00graphy"], "reason": "photos"}, "#/body/add/0"),
    ],
)
def test_staff_text_with_control_characters_or_nothing_to_say_is_refused_and_changes_nothing(
    client: TestClient, rt: Runtime, path: str, body: dict[str, Any], pointer: str
) -> None:
    token = staff_token(rt)
    staff_token(rt, "colleague@example.org")
    ref = submit(client, VAGUE)
    url = f"/api/v1/triage/reports/{ref}/{path}"
    send = client.patch if path == "categories" else client.post
    refused = send(url, json=body, headers=auth(token))
    assert refused.status_code == 422, refused.text
    assert pointer in pointers(refused)
    assert actions(rt, ref) == [] and items(rt, ref) == []
    with rt.db.session() as session:
        row = session.scalar(select(Report).where(Report.reference == ref))
        assert row is not None and row.source_evaluation is None


def test_an_item_value_is_nfc_normalised_and_stripped(client: TestClient, rt: Runtime) -> None:
    token = staff_token(rt)
    ref = submit(client, VAGUE)
    added = client.post(
        f"/api/v1/triage/reports/{ref}/items",
        json={"kind": "person", "value": "  Zoe\u0308 Example ", "reason": "named in the call"},
        headers=auth(token),
    )
    assert added.status_code == 201, added.text
    assert added.json()["value"] == "Zo\u00eb Example"


# --- claims --------------------------------------------------------------------------------


def test_another_analysts_claim_blocks_grading_deciding_and_releasing(
    client: TestClient, rt: Runtime
) -> None:
    holder = staff_token(rt)
    other = staff_token(rt, "second@example.org")
    ref = submit(client, VAGUE)
    url = f"/api/v1/triage/reports/{ref}"
    assert client.post(f"{url}/claim", headers=auth(holder)).status_code == 200

    graded = client.post(
        f"{url}/grade", json={**GRADE, "reason": "corroborated"}, headers=auth(other)
    )
    released = client.post(f"{url}/release", headers=auth(other))
    decided = client.post(
        f"{url}/outcome", json={"outcome": "escalate", "reason": "urgent"}, headers=auth(other)
    )
    for refused in (graded, released, decided):
        assert refused.status_code == 409, refused.text
        assert "claimed by another analyst" in refused.json()["detail"]
        assert "supervisor can release it" in refused.json()["detail"]
    triage = report(client, holder, ref)["triage"]
    assert (triage["state"], triage["claimed_by"]) == ("claimed", "analyst@example.org")
    assert actions(rt, ref) == ["claimed"]
    with rt.db.session() as session:
        row = session.scalar(select(Report).where(Report.reference == ref))
        assert row is not None and row.source_evaluation is None

    own = client.post(
        f"{url}/grade", json={**GRADE, "reason": "corroborated"}, headers=auth(holder)
    )
    assert own.status_code == 200, own.text
    assert client.post(f"{url}/release", headers=auth(holder)).status_code == 200
    assert actions(rt, ref) == ["claimed", "graded", "released"]


def test_an_unclaimed_report_may_be_graded_by_any_analyst(client: TestClient, rt: Runtime) -> None:
    staff_token(rt)
    other = staff_token(rt, "second@example.org")
    ref = submit(client, VAGUE)
    graded = client.post(
        f"/api/v1/triage/reports/{ref}/grade",
        json={**GRADE, "reason": "corroborated"},
        headers=auth(other),
    )
    assert graded.status_code == 200, graded.text


def test_a_supervisor_may_grade_and_release_an_analysts_claim(
    client: TestClient, rt: Runtime
) -> None:
    holder = staff_token(rt)
    supervisor = staff_token(rt, "supervisor@example.org", role=Role.supervisor)
    ref = submit(client, VAGUE)
    url = f"/api/v1/triage/reports/{ref}"
    assert client.post(f"{url}/claim", headers=auth(holder)).status_code == 200
    graded = client.post(
        f"{url}/grade", json={**GRADE, "reason": "taking over"}, headers=auth(supervisor)
    )
    assert graded.status_code == 200, graded.text
    released = client.post(f"{url}/release", headers=auth(supervisor))
    assert released.status_code == 200 and released.json()["state"] == "new"
    history = report(client, supervisor, ref)["triage"]["history"]
    assert [(h["action"], h["by"]) for h in history] == [
        ("claimed", "analyst@example.org"),
        ("graded", "supervisor@example.org"),
        ("released", "supervisor@example.org"),
    ]


def test_claiming_a_report_you_already_hold_writes_no_second_history_entry(
    client: TestClient, rt: Runtime
) -> None:
    token = staff_token(rt)
    ref = submit(client, VAGUE)
    url = f"/api/v1/triage/reports/{ref}/claim"
    first = client.post(url, headers=auth(token))
    again = client.post(url, headers=auth(token))
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == {"references": [ref], "state": "claimed"}
    assert actions(rt, ref) == ["claimed"]
    triage = report(client, token, ref)["triage"]
    assert (triage["state"], triage["claimed_by"]) == ("claimed", "analyst@example.org")
