"""A service's refusal reads in Welsh on a Welsh page and stays English in the JSON API.

Services refuse in English (the API's words), marked with ``said(...)``; a page translates the
refusal it catches into its own language. This walks refusals of triage (the report page's
forms and the queue's filters), linkage (a subject's form) and intake (a file refused on the
reporter's follow-up page) with ``?lang=cy``, then asks the API the same thing in English, on
both databases.

The Welsh here is the translation handed in with the change; until it is merged into the
catalogue the Welsh assertions fail, showing the English the page said instead.
"""

from __future__ import annotations

import html
import json
import re

from fastapi.testclient import TestClient

from tests.console.test_console_pages import (
    VAGUE,
    add_subject,
    investigator_token,
    post,
    report_path,
    signed_in,
    submit,
)
from tests.console.test_console_pages import web as web  # fixture
from tests.factories import auth, minimal_report, png_bytes, staff_token
from tests.intake.test_thread import new_report, reply, sign_in
from tests.linkage.test_subject_pages import lead, subject_path
from vigil.web.runtime import Runtime

NEEDS_DETAIL_EN = "the outcome add_to_case needs detail: the case reference"
NEEDS_DETAIL_SHOWN_EN = "The outcome add_to_case needs detail: the case reference"
NEEDS_DETAIL_CY = "Mae angen manylion ar gyfer y deilliant add_to_case: cyfeirnod yr achos"
NOT_CLAIMED_EN = "This report is not claimed."
NOT_CLAIMED_CY = "Nid yw'r adroddiad hwn wedi'i hawlio."
ADD_OR_REMOVE_EN = "choose whether to add or remove the category"
ADD_OR_REMOVE_CY = "dewiswch a ydych am ychwanegu neu ddileu'r categori"
STATES_EN = "must be one of claimed, decided, new, open"
STATES_CY = "rhaid iddo fod yn un o claimed, decided, new, open"
NO_NUMBER_EN = "enter the entity's number, like 1234"
NO_NUMBER_CY = "Rhif adnabod yr endid: rhowch rif yr endid, fel 1234"
UNSEEN_EN = "no entity you may see has that number"
UNSEEN_CY = "nid oes endid y cewch ei weld sydd â'r rhif hwnnw"
WRONG_NAME_EN = "The file name ends .jpg but the file is a PNG image."
WRONG_NAME_CY = "Mae enw'r ffeil yn gorffen â .jpg ond llun PNG yw'r ffeil."


def text_of(page: str) -> str:
    """The page's words as a reader sees them (entities undone, spacing folded)."""
    return re.sub(r"\s+", " ", html.unescape(page))


def says_in_welsh(page: str, welsh: str, english: str) -> None:
    shown = text_of(page)
    assert english not in shown, f"English shown on a Welsh page: {english!r}"
    assert welsh in shown, f"not shown in Welsh: {welsh!r}"


def test_the_report_pages_refusals_are_welsh_and_the_apis_stay_english(
    rt: Runtime, web: TestClient
) -> None:
    reference = submit(web, VAGUE)
    signed_in(web, rt)
    page = report_path(reference)
    assert web.get(page + "?lang=cy").status_code == 200  # the session now speaks Welsh
    graded = web.get(page).text  # the grading's meanings, in Welsh too
    assert "1 – Dibynadwy" in graded and "1 – Reliable" not in graded

    refused = post(web, f"{page}/outcome", {"outcome": "add_to_case", "reason": "Depot"}, page)
    assert refused.headers["location"] == f"{page}#errors"
    says_in_welsh(web.get(page).text, NEEDS_DETAIL_CY, NEEDS_DETAIL_SHOWN_EN)

    post(web, f"{page}/release", {}, page)  # a service's refusal: nobody has claimed it
    says_in_welsh(web.get(page).text, NOT_CLAIMED_CY, NOT_CLAIMED_EN)

    post(web, f"{page}/categories", {"category": "x", "reason": "Not this"}, page)
    says_in_welsh(web.get(page).text, ADD_OR_REMOVE_CY, ADD_OR_REMOVE_EN)

    token = auth(staff_token(rt, "api@example.org"))
    api = f"/api/v1/triage/reports/{reference}"
    body = {"outcome": "add_to_case", "reason": "Depot"}
    answer = web.post(f"{api}/outcome", json=body, headers=token)
    assert answer.status_code == 422
    assert [e["detail"] for e in answer.json()["errors"]] == [NEEDS_DETAIL_EN]
    released = web.post(f"{api}/release", headers=token)
    assert (released.status_code, released.json()["detail"]) == (409, NOT_CLAIMED_EN)
    assert released.json()["title"] == "Conflict"


def test_the_queues_filter_refusal_is_welsh_and_the_apis_stays_english(
    rt: Runtime, web: TestClient
) -> None:
    signed_in(web, rt)
    shown = web.get("/console/queue?state=bogus&lang=cy")
    assert shown.status_code == 400
    says_in_welsh(shown.text, STATES_CY, STATES_EN)

    answer = web.get("/api/v1/triage/queue?state=bogus", headers=auth(staff_token(rt, "q@x.org")))
    assert answer.status_code == 422
    assert [e["detail"] for e in answer.json()["errors"]] == [STATES_EN]
    assert answer.json()["title"] == "Invalid request"


def test_a_subjects_form_refusals_are_welsh_and_the_apis_stay_english(
    rt: Runtime, web: TestClient
) -> None:
    token = investigator_token(rt)
    known = add_subject(web, token, name="Operation Alder subject")
    lead(web, rt)
    page = subject_path(known["reference"])
    assert web.get(page + "?lang=cy").status_code == 200

    post(web, page + "/entities", {"entity_id": "twelve"}, page)
    says_in_welsh(web.get(page).text, NO_NUMBER_CY, NO_NUMBER_EN)
    post(web, page + "/entities", {"entity_id": "999999"}, page)
    says_in_welsh(web.get(page).text, UNSEEN_CY, UNSEEN_EN)

    api = f"/api/v1/linkage/subjects/{known['reference']}/entities"
    answer = web.post(api, json={"entity_id": 999999}, headers=auth(token))
    assert answer.status_code == 404
    assert answer.json()["detail"] == "No entity with that id, or not one you may see."


def test_a_file_refused_on_the_follow_up_page_is_welsh_and_in_the_api_english(
    client: TestClient,
) -> None:
    reference, code = new_report(client)
    assert sign_in(client, reference, code).status_code == 303
    assert client.get("/follow-up/thread?lang=cy").status_code == 200
    answer = reply(client, "Llun o'r fan", [("photo.jpg", png_bytes(), "image/jpeg")])
    assert answer.status_code == 400
    says_in_welsh(answer.text, WRONG_NAME_CY, WRONG_NAME_EN)

    refused = client.post(
        "/api/v1/reports",
        data={"report": json.dumps(minimal_report())},
        files=[("files", ("photo.jpg", png_bytes(), "image/jpeg"))],
    )
    assert refused.status_code == 422
    assert (refused.json()["title"], refused.json()["detail"]) == (
        "File not accepted",
        WRONG_NAME_EN,
    )
