"""The field allow-list on every read path, on both databases: the reporter-contact custodian,
never shown what a report says or where, is not shown it through the map (API or page, points
or count) or through the report's thread either; the roles shown whole reports still are.
The rule lives once in ``vigil.access.fields`` and is checked against the responses' models.
"""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.console_more import Staff, html, staff
from tests.console_more import web as web  # fixture
from tests.factories import auth, jpeg_bytes, report_payload
from vigil.access.fields import MAP_POINT, REPORT_FIELDS, THREAD_MESSAGE, report_fields
from vigil.access.models import User
from vigil.access.permissions import Role
from vigil.audit.models import AuditEvent
from vigil.intake.thread import MessageOut
from vigil.triage.map import MapPoint
from vigil.web.runtime import Runtime

FOLLOWUP = "The van came back at dawn with a second quokkavan behind it."
QUESTION = "Which way did the quokkavan drive off?"
PLACE = "Mill Lane"  # the report's address (tests.factories.report_payload)


def reported(web: TestClient) -> tuple[str, str]:
    """A located report (address, postcode and pin); its reference and follow-up code."""
    accepted = web.post("/api/v1/reports", json=report_payload())
    assert accepted.status_code == 201, accepted.text
    return accepted.json()["reference"], accepted.json()["followup_code"]


def with_thread(web: TestClient, analyst: Staff, reference: str, code: str) -> None:
    """An analyst's question, and the reporter's follow-up with a photo."""
    asked = web.post(
        f"/api/v1/reports/{reference}/messages",
        json={"text": QUESTION},
        headers=auth(analyst.token),
    )
    assert asked.status_code == 201, asked.text
    sent = web.post(
        f"/api/v1/reports/{reference}/followups",
        data={"followup": json.dumps({"code": code, "text": FOLLOWUP})},
        files=[("files", ("second-van.jpg", jpeg_bytes(), "image/jpeg"))],
    )
    assert sent.status_code == 201, sent.text


def audited(rt: Runtime, action: str, email: str) -> list[list[str]]:
    """The records named by each ``action`` event of the user ``email``, oldest first."""
    with rt.db.session() as session:
        return [
            list(e.record_ids)
            for e in session.scalars(
                select(AuditEvent)
                .join(User, User.id == AuditEvent.actor_user_id)
                .where(AuditEvent.action == action, User.email == email)
                .order_by(AuditEvent.seq)
            )
        ]


def test_the_derived_responses_name_each_field_under_the_report_field_it_comes_from() -> None:
    assert set(MAP_POINT.sources) == set(MapPoint.model_fields)
    assert set(THREAD_MESSAGE.sources) == set(MessageOut.model_fields) - {"withheld"}
    for derived in (MAP_POINT, THREAD_MESSAGE):
        assert set(derived.sources.values()) <= REPORT_FIELDS
        assert derived.essential <= set(derived.sources)


def test_the_custodian_is_shown_no_point_and_no_count_on_the_map(
    web: TestClient, rt: Runtime
) -> None:
    reference, _ = reported(web)
    analyst = staff(rt, "analyst@example.org")
    custodian = staff(rt, "custodian@example.org", Role.reporter_custodian)

    seen = web.get("/api/v1/map", headers=auth(analyst.token)).json()
    assert [f["id"] for f in seen["features"]] == [reference] and seen["total"] == 1
    assert PLACE in seen["features"][0]["properties"]["place"]

    for params in ({}, {"priority": "pending"}):
        answer = web.get("/api/v1/map", params=params, headers=auth(custodian.token))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["features"] == [] and body["total"] == 0 and body["truncated"] is False
        assert reference not in answer.text and PLACE not in answer.text

    page = html(web, custodian, "/console/map")
    assert reference not in page and PLACE not in page and "53.82" not in page
    assert "Reports with a place that you may see: 0." in page
    assert PLACE in html(web, analyst, "/console/map")

    # Every look is still audited, naming the reports shown: none to the custodian.
    assert audited(rt, "triage.map.listed", custodian.email) == [[], [], []]
    assert audited(rt, "triage.map.listed", analyst.email) == [[reference], [reference]]


def test_the_custodian_is_told_messages_exist_but_not_what_they_say_or_carry(
    web: TestClient, rt: Runtime
) -> None:
    reference, code = reported(web)
    analyst = staff(rt, "analyst@example.org")
    custodian = staff(rt, "custodian@example.org", Role.reporter_custodian)
    with_thread(web, analyst, reference, code)
    path = f"/api/v1/reports/{reference}/messages"

    whole = web.get(path, headers=auth(analyst.token)).json()
    assert [(m["author"], m["text"]) for m in whole] == [
        ("staff", QUESTION),
        ("reporter", FOLLOWUP),
    ]
    assert [len(m["attachments"]) for m in whole] == [0, 1]

    answer = web.get(path, headers=auth(custodian.token))
    assert answer.status_code == 200, answer.text
    assert "quokkavan" not in answer.text and "second-van" not in answer.text
    shown = answer.json()
    assert [(m["id"], m["author"], m["received_at"]) for m in shown] == [
        (m["id"], m["author"], m["received_at"]) for m in whole
    ]
    for message in shown:
        assert message["withheld"] == ["attachments", "text"]
        assert message["text"] is None and message["attachments"] == []
    assert all(m["withheld"] == [] for m in whole)  # the analyst was shown all of it

    # The report itself agrees: a count of follow-ups, not their words.
    report = web.get(f"/api/v1/reports/{reference}", headers=auth(custodian.token)).json()
    assert report["followups"] == 2 and "description" in report["withheld"]
    assert "description" not in report_fields(Role.reporter_custodian)

    # The console's report page shows the custodian no thread at all.
    page = html(web, custodian, f"/console/reports/{reference}")
    assert "quokkavan" not in page and "second-van" not in page

    # The custodian's reading of the thread is audited as anyone's is.
    assert audited(rt, "report.thread_viewed", custodian.email) == [[reference]]
