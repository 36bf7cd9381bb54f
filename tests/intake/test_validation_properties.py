"""Property tests: whatever arrives, the answer is 201 or a problem+json error, never a 500."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.web.text import clean_text

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
ANY_JSON = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)

KINDS = st.sampled_from(
    ["behaviour", "item", "vehicle", "purchase", "threat", "online", "other", "x"]
)
PLAUSIBLE = st.fixed_dictionaries(
    {"kind": KINDS, "description": st.text(min_size=0, max_size=60)},
    optional={
        "when": st.fixed_dictionaries(
            {},
            optional={
                "start": st.sampled_from(["2026-11-26T02:00:00Z", "2026-13-01", "yesterday", None]),
                "end": st.sampled_from(["2026-11-25T02:00:00Z", "2026-11-27T02:00:00+01:00", None]),
                "ongoing": ANY_JSON,
                "unsure": st.booleans(),
                "description": st.text(max_size=30),
            },
        ),
        "where": st.fixed_dictionaries(
            {},
            optional={
                "postcode": st.text(max_size=10) | st.sampled_from(["SW1A 1AA", "ls62qt", "ZZ"]),
                "lat": st.floats(allow_nan=False, allow_infinity=False) | st.integers(),
                "lon": st.floats(allow_nan=False, allow_infinity=False),
                "address": st.text(max_size=30),
            },
        ),
        "people": st.lists(
            st.dictionaries(
                st.sampled_from(["name", "age", "clothing", "bogus"]), JSON_SCALARS, max_size=3
            ),
            max_size=3,
        ),
        "vehicles": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "registration": st.text(max_size=12) | st.sampled_from(["AB12 CDE", "A123 BCD"])
                },
            ),
            max_size=3,
        ),
        "online": st.lists(
            st.fixed_dictionaries({"url": st.text(max_size=30) | st.just("https://example.org/x")}),
            max_size=2,
        ),
        "reporter": st.fixed_dictionaries(
            {},
            optional={
                "anonymous": ANY_JSON,
                "name": st.text(max_size=20),
                "phone": st.text(max_size=15) | st.just("07700 900123"),
                "email": st.text(max_size=20) | st.just("jo@example.org"),
            },
        ),
    },
)
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def assert_answered_properly(response: Any) -> None:
    assert response.status_code != 500, response.text
    if response.status_code == 201:
        assert set(response.json()) == {"reference", "followup_code", "received_at"}
    else:
        assert response.status_code in {409, 413, 415, 422}
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["status"] == response.status_code and body["title"]


@SETTINGS
@given(document=ANY_JSON)
def test_any_json_document_is_accepted_or_refused_cleanly(
    client: TestClient, document: Any
) -> None:
    assert_answered_properly(client.post("/api/v1/reports", json=document))


@SETTINGS
@given(document=PLAUSIBLE)
def test_plausible_reports_are_accepted_or_refused_cleanly(
    client: TestClient, document: Any
) -> None:
    assert_answered_properly(client.post("/api/v1/reports", json=document))


@SETTINGS
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_are_refused_cleanly(client: TestClient, raw: bytes) -> None:
    response = client.post(
        "/api/v1/reports", content=raw, headers={"content-type": "application/json"}
    )
    assert_answered_properly(response)


@SETTINGS
@given(raw=st.binary(max_size=300))
def test_arbitrary_multipart_bodies_are_refused_cleanly(client: TestClient, raw: bytes) -> None:
    body = b'--b\r\nContent-Disposition: form-data; name="report"\r\n\r\n' + raw
    response = client.post(
        "/api/v1/reports", content=body, headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert_answered_properly(response)


@settings(max_examples=300, deadline=None)
@given(text=st.text())
def test_clean_text_accepts_or_names_the_bad_character(text: str) -> None:
    try:
        cleaned = clean_text(text)
    except ValueError as exc:
        assert "U+" in str(exc)
    else:
        assert cleaned == cleaned.strip()
        assert orjson.loads(orjson.dumps(cleaned)) == cleaned
