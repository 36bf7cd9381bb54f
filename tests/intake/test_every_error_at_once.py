"""A refused report names every invalid field in one answer, on both databases: the
configured list limits (people, vehicles, online items) are reported beside the schema's own
errors, not only once those are put right."""

from __future__ import annotations

from fastapi.testclient import TestClient

from vigil.web.runtime import Runtime


def test_a_bad_kind_and_too_many_people_are_both_named(client: TestClient, rt: Runtime) -> None:
    people = [{"age": "30s"}] * (rt.settings.max_people + 1)
    vehicles = [{"colour": "white"}] * (rt.settings.max_vehicles + 1)
    refused = client.post(
        "/api/v1/reports",
        json={
            "kind": "zz",
            "description": "hello world ok",
            "people": people,
            "vehicles": vehicles,
        },
    )
    assert refused.status_code == 422
    pointers = [e["pointer"] for e in refused.json()["errors"]]
    assert "#/kind" in pointers
    assert "#/people" in pointers and "#/vehicles" in pointers
    assert len(pointers) == len(set(pointers))


def test_a_list_over_its_limit_alone_is_still_refused_with_its_limit(
    client: TestClient, rt: Runtime
) -> None:
    people = [{"age": "30s"}] * (rt.settings.max_people + 1)
    refused = client.post(
        "/api/v1/reports",
        json={"kind": "other", "description": "hello world ok", "people": people},
    )
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"pointer": "#/people", "detail": f"at most {rt.settings.max_people} items"}
    ]
