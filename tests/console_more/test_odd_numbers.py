"""Numbers typed into console addresses and forms are read as plain decimal digits, on both
databases: a superscript digit (which Python's ``isdigit`` accepts but ``int`` refuses) or a
number too large for the database is a refusal or an ignored value, never a server error."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.console_more import page, post_form, staff
from tests.console_more import web as web  # fixture
from vigil.web.runtime import Runtime

TOO_BIG = "9" * 30


def test_a_superscript_or_huge_number_in_an_address_is_ignored(
    web: TestClient, rt: Runtime
) -> None:
    analyst = staff(rt, "analyst@example.org")
    assert page(web, analyst, "/console/queue", cluster="²").status_code == 200
    assert page(web, analyst, "/console/queue", cluster=TOO_BIG).status_code == 200
    for to in ("²", TOO_BIG):
        answer = page(web, analyst, "/console/entities/1/path", to=to)
        assert answer.status_code in {400, 404}, (to, answer.status_code)


def test_a_superscript_or_huge_entity_number_in_the_case_form_is_refused_on_its_field(
    web: TestClient, rt: Runtime
) -> None:
    analyst = staff(rt, "analyst@example.org")
    new = "/console/cases/new"
    for typed in ("²", TOO_BIG):
        refused = post_form(web, analyst, new, new, {"title": "Depot", "entities": typed})
        assert refused.status_code == 400, (typed, refused.status_code)
        assert "an entity id is a number" in refused.text


def test_a_huge_cluster_number_in_the_queue_api_is_refused_by_name(
    web: TestClient, rt: Runtime
) -> None:
    analyst = staff(rt, "analyst@example.org")
    answer = web.get(
        "/api/v1/triage/queue",
        params={"cluster": TOO_BIG},
        headers={"Authorization": f"Bearer {analyst.token}"},
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["pointer"] == "#/query/cluster"
