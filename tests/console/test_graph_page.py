"""The console's link graph page: the neighbourhood as tables (the page works without
JavaScript) and as JSON for the drawing, only through records the reader may see, read
and audited as the graph API reads it."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.console.test_console_pages import (
    PHONE_REPORT,
    SECRET,
    add_subject,
    investigator_token,
    run_pipeline,
    signed_in,
    submit,
)
from tests.console.test_console_pages import web as web  # fixture
from tests.factories import auth
from vigil.access.permissions import Role
from vigil.audit.models import AuditEvent
from vigil.web.runtime import Runtime

OTHER_ORG = "Security Service North"


def graph_data(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="graph-data">(.*?)</script>', html)
    assert found, "no graph data on the page"
    return dict(json.loads(found.group(1)))


def shared_phone(web: TestClient, rt: Runtime, token: str) -> tuple[int, str, str]:
    """A subject with a phone, and a report that mentions the same phone."""
    known = add_subject(web, token, person={"first_name": "Karl", "phone": "07700900123"})
    reference = submit(web, PHONE_REPORT)
    run_pipeline(rt)
    (person,) = known["entity_ids"]
    return int(person), str(known["reference"]), reference


def test_the_graph_page_lists_the_same_records_and_links_as_the_api(
    rt: Runtime, web: TestClient
) -> None:
    token = investigator_token(rt)
    person, subject, reference = shared_phone(web, rt, token)
    api = web.get(f"/api/v1/entities/{person}/graph?depth=2", headers=auth(token)).json()
    signed_in(web, rt, "reader@example.org", role=Role.investigator, clearance=SECRET)

    page = web.get(f"/console/entities/{person}/graph")
    assert page.status_code == 200, page.text
    html = page.text
    drawn = graph_data(html)
    assert {n["id"] for n in drawn["nodes"]} == {n["id"] for n in api["nodes"]}
    assert len(drawn["edges"]) == len(api["edges"]) > 0
    assert f'href="/console/reports/{reference}"' in html and subject in html
    assert 'id="graph-nodes"' in html and 'id="graph-edges"' in html
    assert html.count('<tr class="govuk-table__row">') >= len(api["nodes"]) + len(api["edges"])
    phone = next(n for n in drawn["nodes"] if n["type"] == "entity" and n["kind"] == "phone")
    phone_id = phone["id"].split(":")[1]
    assert phone["url"] == f"/console/entities/{phone_id}"
    assert f'href="/console/entities/{phone_id}/graph?depth=2"' in html  # Expand
    assert (
        "needs JavaScript" in html and '<script type="module" src="/static/js/graph.mjs">' in html
    )
    assert f'href="/console/entities/{person}/graph"' in web.get(f"/console/entities/{person}").text
    with rt.db.session() as session:
        purposes = session.scalars(
            select(AuditEvent.purpose).where(AuditEvent.action == "entity.graph_viewed")
        ).all()
    assert purposes == ["depth=2", "depth=2"]  # the API's read and the page's


def test_another_agency_never_sees_the_hubs_report_in_its_graph(
    rt: Runtime, web: TestClient
) -> None:
    token = investigator_token(rt, "svc@example.org", org=OTHER_ORG, teams=("Desk 4",))
    person, subject, reference = shared_phone(web, rt, token)
    signed_in(web, rt, "svc2@example.org", role=Role.investigator, org=OTHER_ORG, clearance=SECRET)

    html = web.get(f"/console/entities/{person}/graph?depth=4").text
    assert subject in html
    assert reference not in html and "report:" not in html
    assert {n["type"] for n in graph_data(html)["nodes"]} == {"entity", "subject"}


def test_an_invisible_entity_answers_not_found_and_a_bad_depth_a_problem(
    rt: Runtime, web: TestClient
) -> None:
    token = investigator_token(rt, "svc@example.org", org=OTHER_ORG, teams=("Desk 4",))
    person, _, _ = shared_phone(web, rt, token)
    signed_in(web, rt, "reader@example.org", role=Role.investigator, clearance=SECRET)

    hidden = web.get(f"/console/entities/{person}/graph")
    assert hidden.status_code == 404 and "Karl" not in hidden.text
    assert "Page not found" in hidden.text
    for depth in ("0", "5", "two", "-1"):
        bad = web.get(f"/console/entities/{person}/graph?depth={depth}")
        assert bad.status_code == 400, depth
        assert "Depth must be a whole number from 1 to 4" in bad.text and "Karl" not in bad.text
