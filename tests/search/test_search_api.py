"""The search API: limits and clear errors, escaped snippets, paging, filters, the audit
trail, and what each kind of record contributes to the index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.cases.world import build_world
from tests.factories import auth, staff_token
from tests.search import facet, find, found, ids, person_entity, submit, submit_with_code
from vigil.audit.models import AuditEvent
from vigil.search import query
from vigil.web.runtime import Runtime


@pytest.mark.parametrize(
    ("params", "pointer"),
    [
        ({}, "#/query/q"),
        ({"q": ""}, "#/query/q"),
        ({"q": "x" * 201}, "#/query/q"),
        ({"q": '""'}, "#/query/q"),
        ({"q": "van", "type": "subject"}, "#/query/type/0"),
        ({"q": "van", "priority": "urgent"}, "#/query/priority"),
        ({"q": "van", "category": "Drones!"}, "#/query/category"),
        ({"q": "van", "cursor": "not-a-cursor"}, "#/query/cursor"),
        ({"q": "van", "limit": 0}, "#/query/limit"),
        ({"q": "van", "limit": 101}, "#/query/limit"),
        ({"q": "van", "since": "yesterday"}, "#/query/since"),
        ({"q": "van", "since": "2026-02-01T00:00:00Z", "until": "2026-01-01"}, "#/query/until"),
    ],
)
def test_bad_requests_get_a_422_naming_the_field(
    client: TestClient, rt: Runtime, params: dict[str, object], pointer: str
) -> None:
    token = staff_token(rt)
    response = client.get("/api/v1/search", params=params, headers=auth(token))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert pointer in [e["pointer"] for e in response.json()["errors"]]


def test_q_of_exactly_200_characters_is_accepted(client: TestClient, rt: Runtime) -> None:
    token = staff_token(rt)
    assert find(client, token, "v" * 200).status_code == 200


def test_engine_syntax_in_a_query_is_just_text(client: TestClient, rt: Runtime) -> None:
    token = staff_token(rt)
    ref = submit(client, "Note said: meet at NEAR(gate 4) or col:val; don't be late*")
    for q in ["NEAR(gate", "col:val", "late*", '"don\'t be"', 'depot" OR "x', "a & b | !c"]:
        assert find(client, token, q).status_code == 200, q
    assert ids(found(client, token, "col:val late*")) == [ref]


def test_snippets_mark_the_match_and_escape_everything_else(
    client: TestClient, rt: Runtime
) -> None:
    token = staff_token(rt)
    submit(client, "Flyer read <script>alert('x')</script> & photographing the <b>dam</b>.")

    hit = found(client, token, "photograph")["hits"][0]
    assert "<mark>photographing</mark>" in hit["snippet"]
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp;" in hit["snippet"]
    assert "<script" not in hit["snippet"] and "<b>" not in hit["snippet"]
    # Text shaped like a tag is still text: it is found, and shown as written.
    tagged = found(client, token, "script")["hits"][0]["snippet"]
    assert "&lt;<mark>script</mark>&gt;" in tagged


def test_words_are_stemmed_and_phrases_keep_their_order(client: TestClient, rt: Runtime) -> None:
    token = staff_token(rt)
    ref = submit(client, "Two men were photographing the community centre cameras.")
    assert ids(found(client, token, "photograph camera")) == [ref]
    assert ids(found(client, token, '"community centre"')) == [ref]
    assert found(client, token, '"centre community"')["total"] == 0
    assert found(client, token, "photograph helicopter")["total"] == 0


def test_pages_come_newest_first_and_never_repeat(client: TestClient, rt: Runtime) -> None:
    token = staff_token(rt)
    refs = [submit(client, f"Lorry number {n} idling by the substation.") for n in range(5)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = found(client, token, "substation", **params)
        assert page["total"] == 5
        seen += ids(page)
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(refs))
    assert pages == 3


def test_type_and_time_filters(client: TestClient, rt: Runtime) -> None:
    token = staff_token(rt)
    ref = submit(client, "Person called Orla Finnegan photographed the barracks.")
    entity_id = person_entity(rt, "Orla Finnegan")
    both = found(client, token, "finnegan")
    assert sorted(ids(both)) == sorted([ref, str(entity_id)])
    assert facet(both, "type") == {"report": 1, "entity": 1}
    assert ids(found(client, token, "finnegan", type="entity")) == [str(entity_id)]
    assert ids(found(client, token, "finnegan", type=["report", "case"])) == [ref]
    # Category and priority belong to reports: asking for them leaves only reports.
    assert ids(found(client, token, "finnegan", priority="pending")) == [ref]

    now = datetime.now(UTC)
    hour = timedelta(hours=1)
    assert found(client, token, "finnegan", since=(now - hour).isoformat())["total"] == 2
    assert found(client, token, "finnegan", since=(now + hour).isoformat())["total"] == 0
    assert found(client, token, "finnegan", until=(now - hour).isoformat())["total"] == 0


def test_each_search_is_audited_with_its_query_and_what_it_returned(
    client: TestClient, rt: Runtime
) -> None:
    token = staff_token(rt)
    ref = submit(client, "Crates moved into the lock-up at night.")
    entity_id = person_entity(rt, "Crates Lockup Owner")
    found(client, token, "crates")

    events = rt.db.write_sync(
        lambda s: list(s.scalars(select(AuditEvent).where(AuditEvent.action == "search.performed")))
    )
    assert len(events) == 1
    event = events[0]
    assert event.actor_label.startswith("user:")
    assert event.purpose == "q=crates"
    assert sorted(event.record_ids) == sorted([ref, f"entity:{entity_id}"])


def test_a_follow_up_is_searchable_as_soon_as_it_arrives(client: TestClient, rt: Runtime) -> None:
    token = staff_token(rt)
    ref, code = submit_with_code(client, "Man left a bag by the platform bench.")
    assert found(client, token, "holdall")["total"] == 0
    added = client.post(
        f"/api/v1/reports/{ref}/followups",
        json={"code": code, "text": "It was a blue holdall with a padlock."},
    )
    assert added.status_code == 201, added.text
    assert ids(found(client, token, "holdall padlock")) == [ref]


def test_case_titles_summaries_minutes_and_decisions_are_searchable(
    client: TestClient, rt: Runtime
) -> None:
    world = build_world(client, rt)
    ref = world.open_case(title="Orchard estate", summary="Concerns raised by the school.")[
        "reference"
    ]
    minuted = world.post(
        f"/{ref}/meetings",
        world.analyst,
        {"held_on": "2026-11-20", "attendees": "Hub, Health", "minutes": "Agreed a tenancy check."},
    )
    assert minuted.status_code == 201, minuted.text
    decided = world.post(
        f"/{ref}/decisions",
        world.analyst,
        {"decision": "Refer to Channel panel", "reason": "Vulnerability indicators present"},
    )
    assert decided.status_code == 201, decided.text

    for q in ("orchard", "school", "tenancy", "channel panel", "vulnerability", ref):
        page = found(client, world.analyst, q)
        assert ids(page) == [ref], q
    hit = found(client, world.analyst, "tenancy")["hits"][0]
    assert hit["type"] == "case" and hit["kind"] == "open"
    assert "<mark>tenancy</mark>" in hit["snippet"]


def test_a_report_is_found_by_its_reference(client: TestClient, rt: Runtime) -> None:
    token = staff_token(rt)
    ref = submit(client, "Suspicious purchase of large amounts of hydrogen peroxide.")
    submit(client, "Another report about peroxide.")
    assert ids(found(client, token, ref)) == [ref]
    assert ids(found(client, token, ref.lower())) == [ref]


def test_counting_stops_at_the_limit_and_says_so(
    client: TestClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = staff_token(rt)
    refs = [submit(client, f"Scooter number {n} parked at the embassy.") for n in range(5)]
    exact = found(client, token, "embassy")
    assert (exact["total"], exact["total_exact"]) == (5, True)

    monkeypatch.setattr(query, "COUNT_LIMIT", 3)
    capped = found(client, token, "embassy", limit=2)
    assert (capped["total"], capped["total_exact"]) == (3, False)
    assert facet(capped, "type") == {"report": 3}
    assert ids(capped) == [refs[4], refs[3]]
    rest = found(client, token, "embassy", cursor=capped["next_cursor"])
    assert ids(rest) == [refs[2], refs[1], refs[0]]
