"""An investigator's link graph page in a real Chromium under the real CSP: Cytoscape.js
(a vendored static file) draws the network on a canvas inside #graph, with no console
errors and no CSP violation; the tables stay on the page. A screenshot goes to
test-artifacts/. The server-side rules of the page are in tests/console/test_graph_page.py.
"""

from __future__ import annotations

import time

import httpx
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.browser.axe import assert_accessible
from tests.browser.conftest import Shot
from tests.browser.live import LiveServer
from tests.browser.test_console_walkthrough import make_staff, sign_in
from tests.factories import auth, minimal_report, staff_token
from vigil.access.markings import Classification
from vigil.access.permissions import Role

PHONE_REPORT = (
    "A man keeps photographing the gates of the water treatment works at night and "
    "told the guard to call him on 07700 900123 if anyone asked questions."
)


def linked_subject(server: LiveServer) -> int:
    """A subject's person entity, once the worker has linked a report through its phone."""
    token = staff_token(
        server.rt, "graph.lead@example.org", role=Role.investigator, clearance=Classification.secret
    )
    body = {
        "name": "Operation Rowan subject",
        "classification": "SECRET",
        "person": {"first_name": "Karl", "phone": "07700900123"},
    }
    created = httpx.post(server.url("/api/v1/linkage/subjects"), json=body, headers=auth(token))
    assert created.status_code == 201, created.text
    (person,) = created.json()["entity_ids"]
    sent = httpx.post(server.url("/api/v1/reports"), json=minimal_report(description=PHONE_REPORT))
    assert sent.status_code == 201, sent.text
    reference = sent.json()["reference"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        graph = httpx.get(
            server.url(f"/api/v1/entities/{person}/graph?depth=2"), headers=auth(token)
        ).json()
        if f"report:{reference}" in {n["id"] for n in graph["nodes"]}:
            return int(person)
        time.sleep(0.2)
    raise AssertionError(f"{reference} was not linked to the subject in time")


def test_the_graph_page_draws_the_network_on_a_canvas_under_the_csp(
    page: Page, live_server: LiveServer, shot: Shot
) -> None:
    person = linked_subject(live_server)
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    email = "graph.reader@example.org"
    sign_in(page, email, make_staff(live_server, email, Role.investigator))

    page.goto(f"/console/entities/{person}")
    page.get_by_role("link", name="Network").click()
    page.wait_for_url(f"**/console/entities/{person}/graph")
    expect(page.locator("#graph canvas").first).to_be_attached()
    box = page.locator("#graph").bounding_box()
    assert box is not None and box["height"] > 200
    expect(page.get_by_text("The drawing needs JavaScript")).to_have_count(0)
    expect(page.get_by_role("table", name="Records")).to_be_visible()
    expect(page.get_by_role("table", name="Links")).to_be_visible()
    drawn = page.evaluate(
        "() => Array.from(document.querySelectorAll('#graph canvas'))"
        ".some((c) => c.width > 0 && c.height > 0)"
    )
    assert drawn, "no canvas with a size inside #graph"
    assert_accessible(page, "graph page")
    shot(page, "graph")
    assert not errors, errors
