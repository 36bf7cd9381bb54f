"""The queue in the order an analyst chooses, on both databases: most urgent first (the
default), waiting longest first, newest first and due soonest first; each paged by its own
cursor without a row lost or repeated, a cursor of one order refused in another, an unknown
order refused by name, and the console's filter form offering the orders and keeping the
chosen one on the next-page link."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.console_more import page, staff, web_client
from tests.factories import auth, staff_token
from tests.triage.test_triage_api import THREAT, VAGUE, run_pipeline, submit
from vigil.db import utcnow
from vigil.intake.models import Report
from vigil.triage import pages as triage_pages
from vigil.triage.models import TriageResult
from vigil.web.runtime import Runtime

CALM = [
    "A van has been parked outside the flats for a week with its engine running at night.",
    "Two people keep photographing the entrances of the shopping centre from a car.",
    "Someone left a rucksack by the bus station benches and walked off quickly.",
]


def queue(client: TestClient, token: str, **params: Any) -> list[str]:
    """Every reference the queue lists in this order, two to a page, following cursors."""
    seen: list[str] = []
    cursor = None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/triage/queue", params=query, headers=auth(token))
        assert page.status_code == 200, page.text
        body = page.json()
        seen += [item["reference"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen


@pytest.fixture
def world(client: TestClient, rt: Runtime) -> tuple[str, dict[str, str]]:
    """Five reports received a minute apart (the threat last), triaged."""
    token = staff_token(rt)
    refs = {text: submit(client, text) for text in [VAGUE, *CALM, THREAT]}
    run_pipeline(rt)
    start = utcnow() - timedelta(hours=1)

    def spread(session: Any) -> None:
        for minute, ref in enumerate(refs.values()):
            at = start + timedelta(minutes=minute)
            rid = session.scalar(select(Report.id).where(Report.reference == ref))
            session.execute(update(Report).where(Report.id == rid).values(received_at=at))
            session.execute(
                update(TriageResult).where(TriageResult.report_id == rid).values(received_at=at)
            )

    rt.db.write_sync(spread)
    return token, refs


def test_each_order_pages_through_every_report_once(
    client: TestClient, world: tuple[str, dict[str, str]]
) -> None:
    token, refs = world
    arrival = list(refs.values())
    assert queue(client, token, sort="oldest") == arrival
    assert queue(client, token, sort="newest") == arrival[::-1]
    urgent = queue(client, token)
    assert urgent == queue(client, token, sort="priority")
    assert urgent[0] == refs[THREAT] and sorted(urgent) == sorted(arrival)
    due = queue(client, token, sort="due")
    assert sorted(due) == sorted(arrival) and due[0] == refs[THREAT]  # P1's service level


def test_an_unknown_order_and_a_cursor_of_another_order_are_refused(
    client: TestClient, world: tuple[str, dict[str, str]]
) -> None:
    token, _ = world
    bad = client.get("/api/v1/triage/queue", params={"sort": "loudest"}, headers=auth(token))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "#/sort"
    first = client.get(
        "/api/v1/triage/queue", params={"sort": "newest", "limit": 2}, headers=auth(token)
    ).json()
    mixed = client.get(
        "/api/v1/triage/queue",
        params={"sort": "oldest", "cursor": first["next_cursor"]},
        headers=auth(token),
    )
    assert mixed.status_code == 422 and mixed.json()["errors"][0]["pointer"] == "#/cursor"


def test_the_console_queue_offers_the_orders_and_keeps_the_chosen_one_across_pages(
    rt: Runtime, world: tuple[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, refs = world
    monkeypatch.setattr(triage_pages, "QUEUE_PAGE_SIZE", 3)
    analyst = staff(rt, "sorter@example.org")
    for web in web_client(rt):
        shown = page(web, analyst, "/console/queue", sort="newest").text
        assert '<option value="newest" selected>Newest first</option>' in shown
        order = [ref for ref in refs.values() if ref in shown]
        rows = sorted(order, key=shown.index)
        assert rows == list(refs.values())[::-1][:3]
        assert "sort=newest" in shown.split('rel="next"')[0].rsplit("href=", 1)[-1]
        welsh = page(web, analyst, "/console/queue", lang="cy").text
        assert 'for="sort"' in welsh and "Sort by" not in welsh


def test_an_unknown_category_filter_is_refused_by_name_not_answered_with_nothing(
    client: TestClient, world: tuple[str, dict[str, str]]
) -> None:
    token, _ = world
    bad = client.get(
        "/api/v1/triage/queue", params={"category": "nonexistent"}, headers=auth(token)
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        {"pointer": "#/category", "detail": "unknown category 'nonexistent'"}
    ]
    known = client.get(
        "/api/v1/triage/queue", params={"category": "expressed_threat"}, headers=auth(token)
    )
    assert known.status_code == 200, known.text
