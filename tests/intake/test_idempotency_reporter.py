"""An Idempotency-Key's retry must be the same report, reporter included, on both databases:
a retry naming someone else, or no one, is refused with 409 instead of being handed the first
reporter's follow-up code, while a true retry still gets the same answer; and the stored
fingerprint does not let anyone test guesses of who reported."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import minimal_report
from vigil.intake.models import IdempotencyRecord, Report
from vigil.intake.schemas import ReportIn
from vigil.intake.services import canonical_content
from vigil.web.runtime import Runtime

JO = {"anonymous": False, "name": "Jo Bloggs", "phone": "07700 900111"}


def send(client: TestClient, reporter: dict[str, Any] | None) -> Any:
    body = minimal_report(description="Man photographing the station gates")
    if reporter is not None:
        body["reporter"] = reporter
    return client.post("/api/v1/reports", json=body, headers={"Idempotency-Key": "idtest-1"})


def stored(rt: Runtime) -> int:
    with rt.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Report)) or 0)


def test_a_retry_from_the_same_reporter_gets_the_same_answer(
    client: TestClient, rt: Runtime
) -> None:
    first, again = send(client, JO), send(client, JO)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert stored(rt) == 1


def test_a_retry_naming_someone_else_or_no_one_is_refused_and_learns_no_code(
    client: TestClient, rt: Runtime
) -> None:
    first = send(client, JO)
    assert first.status_code == 201
    for other in (None, {"anonymous": True}, {**JO, "name": "Sam Sample"}):
        refused = send(client, other)
        assert refused.status_code == 409, refused.text
        assert first.json()["followup_code"] not in refused.text
    assert stored(rt) == 1


def test_the_fingerprint_cannot_confirm_a_guess_of_the_reporter(
    client: TestClient, rt: Runtime
) -> None:
    assert send(client, JO).status_code == 201
    with rt.db.session() as session:
        kept = session.scalar(select(IdempotencyRecord.request_sha256))
    body = ReportIn.model_validate(
        {**minimal_report(description="Man photographing the station gates"), "reporter": JO}
    )
    content = canonical_content(body)
    guesses = [
        content,
        content + orjson.dumps(JO, option=orjson.OPT_SORT_KEYS),
        content + orjson.dumps(body.reporter.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
        if body.reporter
        else content,
    ]
    assert kept not in {hashlib.sha256(g).hexdigest() for g in guesses}
