"""A service's refusal on a Welsh page is said in Welsh, on both databases; the JSON API keeps
answering in English.

Services refuse in English (the API's words), marked with ``said(...)``; a page translates
the refusal, and the field label in front of it, into its own language before showing it.
Each test below provokes one refusal on a page opened with ``?lang=cy`` and checks the Welsh
words (and that the English ones are gone), then the same refusal through the API, in English.
Refusals of cases, sharing (access), the search and the statistics are covered.
"""

from __future__ import annotations

import html as htmllib
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from tests.cases.world import HEALTH, World, build_world
from tests.console_more import Staff, be, csrf, html, page, session_cookie, staff
from tests.console_more import web as web  # fixture
from tests.factories import auth
from vigil.access.markings import Classification
from vigil.access.permissions import Role
from vigil.web.runtime import Runtime

CASES = "/console/cases"
WELSH = {"lang": "cy"}


def world_and_analyst(web: TestClient, rt: Runtime) -> tuple[World, Staff]:
    world = build_world(web, rt)
    analyst = Staff("analyst@example.org", world.analyst, session_cookie(rt, "analyst@example.org"))
    return world, analyst


def post_in_welsh(
    web: TestClient, who: Staff, form_page: str, action: str, data: dict[str, str]
) -> Response:
    """Fill in a form on its Welsh page (``?lang=cy`` is then remembered) and post it."""
    token = csrf(html(web, who, form_page, **WELSH))
    response: Response = be(web, who).post(action, params=WELSH, data={"csrf_token": token, **data})
    return response


def shown(response: Response) -> str:
    """The page's text as a person reads it (Welsh apostrophes are escaped in the HTML)."""
    assert response.status_code == 400, response.text[:500]
    assert 'lang="cy"' in response.text  # the page itself is the Welsh one
    return htmllib.unescape(response.text)


def says_in_welsh(text: str, welsh: str, english: str) -> None:
    assert welsh in text, f"not said in Welsh: {welsh!r} (English shown: {english in text})"
    assert english not in text


def refused_in_english(response: Response, pointer: str, detail: str) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    body: dict[str, Any] = response.json()
    assert body["title"] == "Invalid request"
    assert {"pointer": pointer, "detail": detail} in body["errors"]
    return body


def test_a_report_that_cannot_be_linked_is_refused_in_welsh(web: TestClient, rt: Runtime) -> None:
    world, analyst = world_and_analyst(web, rt)
    missing = "VGL-2222-2222"
    new = f"{CASES}/new"
    text = shown(post_in_welsh(web, analyst, new, new, {"title": "Depot", "reports": missing}))
    english = "no report with that reference that you may see"
    says_in_welsh(
        text,
        f"Cyfeirnodau adroddiadau: {missing}: "
        "nid oes adroddiad â'r cyfeirnod hwnnw y cewch ei weld",
        english,
    )

    api = world.post("", world.analyst, {"title": "Depot", "reports": [missing]})
    body = refused_in_english(api, "#/reports/0", english)
    assert body["detail"] == "Some records cannot be linked; nothing was linked."


def test_a_change_of_status_without_a_reason_is_refused_in_welsh(
    web: TestClient, rt: Runtime
) -> None:
    world, analyst = world_and_analyst(web, rt)
    ref = world.open_case()["reference"]
    path = f"{CASES}/{ref}/change"
    case = world.case(ref)
    was = {
        "level": str(case["level"]),
        "lead": case["lead"] or "",
        "review_date": case["review_date"] or "",
        "status": case["status"],
    }
    data = {**was, **{f"was_{k}": v for k, v in was.items()}, "status": "closed", "reason": ""}
    text = shown(post_in_welsh(web, analyst, path, path, data))
    english = "a change of status or level needs a reason"
    says_in_welsh(text, "Rheswm: mae angen rheswm dros newid y statws neu'r lefel", english)
    assert world.case(ref)["status"] == "open"

    api = world.patch(f"/{ref}", world.analyst, {"status": "closed"})
    body = refused_in_english(api, "#/reason", english)
    assert body["detail"] == "Check the highlighted fields."


def test_an_action_already_in_that_state_is_refused_in_welsh(web: TestClient, rt: Runtime) -> None:
    world, analyst = world_and_analyst(web, rt)
    ref = world.open_case()["reference"]
    action = world.add_action(ref, "Review the CCTV footage")
    case_page = f"{CASES}/{ref}"
    response = post_in_welsh(
        web, analyst, case_page, f"{case_page}/actions/{action}", {"state": "open", "text": ""}
    )
    english = "the action is already open"
    says_in_welsh(shown(response), "Cyflwr: mae'r cam gweithredu eisoes ar agor", english)

    api = world.patch(f"/{ref}/actions/{action}", world.analyst, {"state": "open"})
    refused_in_english(api, "#/state", english)


def test_sharing_without_saying_why_is_refused_in_welsh(web: TestClient, rt: Runtime) -> None:
    world, analyst = world_and_analyst(web, rt)
    ref = world.open_case()["reference"]
    sharing = f"{CASES}/{ref}/sharing"
    data = {"organisation": HEALTH, "purpose": "abc"}
    text = shown(post_in_welsh(web, analyst, sharing, sharing, data))
    says_in_welsh(text, "Diben: o leiaf 5 nod", "at least 5 characters")
    assert world.get(f"/{ref}/shares", world.analyst).json() == []

    api = world.post(f"/{ref}/shares", world.analyst, {"organisation": HEALTH, "purpose": "abc"})
    body = refused_in_english(api, "#/purpose", "at least 5 characters")
    assert body["detail"] == "Say why you are sharing it."


def test_a_search_that_cannot_run_is_refused_in_welsh(web: TestClient, rt: Runtime) -> None:
    analyst = staff(rt, "analyst@example.org")
    text = shown(page(web, analyst, "/console/search", q="depot", priority="P9", **WELSH))
    says_in_welsh(
        text,
        "Blaenoriaeth: blaenoriaeth anhysbys 'P9'",
        "Priority: unknown priority 'P9'",
    )
    empty = shown(page(web, analyst, "/console/search", q="", type="case", **WELSH))
    says_in_welsh(empty, "Rhowch eiriau i chwilio amdanynt", "Enter words to search for")

    api = web.get(
        "/api/v1/search", params={"q": "depot", "priority": "P9"}, headers=auth(analyst.token)
    )
    body = refused_in_english(api, "#/query/priority", "unknown priority 'P9'")
    assert body["detail"] == "Check the search."


def test_a_dashboard_period_that_ends_before_it_starts_is_refused_in_welsh(
    web: TestClient, rt: Runtime
) -> None:
    boss = staff(rt, "sup@example.org", Role.supervisor, clearance=Classification.secret)
    period = {"since": "2026-01-10", "until": "2026-01-01"}
    text = shown(page(web, boss, "/console/dashboard", **period, **WELSH))
    says_in_welsh(
        text,
        "Rhaid i'r dyddiad gorffen fod yr un peth â'r dyddiad dechrau neu ar ei ôl",
        "The end date must be the same as or after the start date",
    )

    api = web.get("/api/v1/stats/summary", params=period, headers=auth(boss.token))
    body = refused_in_english(api, "#/query/until", "must be later than since")
    assert body["detail"] == "Check the period and bucket."
