"""An investigator's link graph page in a real Chromium under the real CSP: Cytoscape.js
(a vendored static file) draws the network on a canvas inside #graph, with no console
errors and no CSP violation; the tables stay on the page; a node expands in place from the
keyboard (its Expand link) or the pointer (the drawing), fetching one step more; the
subject, subject-network and connection pages pass axe. Screenshots go to test-artifacts/.
The server-side rules of the pages are in tests/console/test_graph_page.py and
tests/linkage/test_subject_pages.py, test_path_page.py.
"""

from __future__ import annotations

import time

import httpx
from playwright.sync_api import ConsoleMessage, Page, expect
from sqlalchemy import select

from tests.browser.axe import assert_accessible
from tests.browser.conftest import Shot
from tests.browser.live import LiveServer
from tests.browser.test_console_walkthrough import make_staff, sign_in
from tests.factories import auth, minimal_report, staff_token
from vigil.access.markings import Classification
from vigil.access.permissions import Role
from vigil.linkage.models import Subject, SubjectEntity

PHONE_REPORT = (
    "A man keeps photographing the gates of the water treatment works at night and "
    "told the guard to call him on 07700 900123 if anyone asked questions."
)


def linked_subject(
    server: LiveServer,
    email: str = "graph.lead@example.org",
    name: str = "Operation Rowan subject",
    phone: str = "07700 900123",
) -> int:
    """A subject's person entity, once the worker has linked a report through its phone
    (each test its own lead, subject and phone: the live server's database is shared)."""
    token = staff_token(server.rt, email, role=Role.investigator, clearance=Classification.secret)
    body = {
        "name": name,
        "classification": "SECRET",
        "person": {"first_name": "Karl", "phone": phone.replace(" ", "")},
    }
    created = httpx.post(server.url("/api/v1/linkage/subjects"), json=body, headers=auth(token))
    assert created.status_code == 201, created.text
    (person,) = created.json()["entity_ids"]
    sent = httpx.post(
        server.url("/api/v1/reports"),
        json=minimal_report(description=PHONE_REPORT.replace("07700 900123", phone)),
    )
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


def subject_reference(server: LiveServer, person: int) -> str:
    with server.rt.db.session() as session:
        found = session.scalar(
            select(Subject.reference)
            .join(SubjectEntity, SubjectEntity.subject_id == Subject.id)
            .where(SubjectEntity.entity_id == person)
        )
    assert found is not None
    return found


def test_expanding_a_node_by_keyboard_and_by_pointer_adds_its_neighbours_in_place(
    page: Page, live_server: LiveServer, shot: Shot
) -> None:
    person = linked_subject(
        live_server, "expand.lead@example.org", "Operation Hazel", "07700 900311"
    )
    email = "graph.expander@example.org"
    sign_in(page, email, make_staff(live_server, email, Role.investigator))
    page.goto(f"/console/entities/{person}/graph?depth=1")
    expect(page.locator("#graph canvas").first).to_be_attached()
    before = page.evaluate("() => window.vigilGraph.nodes().length")
    nodes = page.evaluate("() => window.vigilGraph.nodes().map((n) => n.id())")
    assert not any(n.startswith("report:") for n in nodes)  # one step out: no report yet
    phone = next(n for n in nodes if n.startswith("entity:") and n != f"entity:{person}")

    expand = page.locator(f'a[data-expand="{phone}"]')
    expand.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#graph-status")).to_contain_text("Records added: 1.")
    assert page.url.endswith(f"/console/entities/{person}/graph?depth=1")  # stayed in place
    after = page.evaluate("() => window.vigilGraph.nodes().map((n) => n.id())")
    assert len(after) == before + 1
    report = next(n for n in after if n.startswith("report:"))
    expect(
        page.get_by_role("table", name="Records").get_by_role("link", name=report.split(":")[1])
    ).to_be_visible()

    # Selecting the report in the drawing asks for its neighbours: nothing new to add.
    page.locator("#graph").scroll_into_view_if_needed()  # the click is in viewport pixels
    # Cytoscape caches where its canvas is on screen and forgets it on the page's next scroll
    # event, which the browser sends at the next frame: wait for two frames, then have it
    # measure again, so the click cannot be mapped through the position before the scroll.
    position = page.evaluate(
        """async (id) => {
            await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
            window.vigilGraph.resize();
            return window.vigilGraph.getElementById(id).renderedPosition();
        }""",
        report,
    )
    box = page.locator("#graph").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + position["x"], box["y"] + position["y"])
    expect(page.locator("#graph-status")).to_have_text("Nothing more you can see is linked to it.")
    assert_accessible(page, "graph page after expanding")
    shot(page, "graph-expanded")


def test_the_subject_network_and_connection_pages_are_accessible(
    page: Page, live_server: LiveServer, shot: Shot
) -> None:
    person = linked_subject(
        live_server, "subject.lead@example.org", "Operation Birch", "07700 900322"
    )
    reference = subject_reference(live_server, person)
    email = "graph.subjects@example.org"
    sign_in(page, email, make_staff(live_server, email, Role.investigator))

    page.goto("/console/subjects")
    assert_accessible(page, "subjects list")
    page.get_by_role("link", name="Operation Birch").click()
    page.wait_for_url(f"**/console/subjects/{reference}")
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    assert_accessible(page, "subject page")
    shot(page, "subject")
    page.get_by_role("link", name="Network").click()
    page.wait_for_url(f"**/console/subjects/{reference}/graph")
    expect(page.locator("#graph canvas").first).to_be_attached()
    assert_accessible(page, "subject network")

    page.goto(f"/console/entities/{person}")
    field = page.get_by_label("Shortest connection to another entity")
    field.fill(str(person))
    field.press("Enter")
    page.wait_for_url(f"**/console/entities/{person}/path?to={person}")
    expect(page.locator("#path-steps")).to_be_visible()
    assert_accessible(page, "connection page")
