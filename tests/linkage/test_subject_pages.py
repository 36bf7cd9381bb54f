"""The subject pages of the console (the list, one subject, its forms, its network), the
entity page's sources, alerts and timeline, and the subject list and record-network APIs,
on both databases: only records the reader may see are shown or counted, every form is a
CSRF-checked POST answered by a redirect, and a refused form changes nothing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.console.test_console_pages import (
    PHONE_REPORT,
    SECRET,
    add_subject,
    investigator_token,
    post,
    run_pipeline,
    signed_in,
    submit,
)
from tests.console.test_console_pages import web as web  # fixture
from tests.factories import auth
from vigil.access.permissions import Role
from vigil.audit.models import AuditEvent
from vigil.linkage import subject_pages
from vigil.linkage.models import Subject, SubjectEntity
from vigil.web.runtime import Runtime

OTHER_ORG = "Security Service North"
KARL = {"first_name": "Karl", "phone": "07700900123"}


def lead(web: TestClient, rt: Runtime) -> None:
    signed_in(web, rt, "lead@example.org", role=Role.investigator, clearance=SECRET)


def subject_path(reference: str) -> str:
    return f"/console/subjects/{reference}"


def alerted_subject(web: TestClient, rt: Runtime, **body: Any) -> tuple[dict[str, Any], str]:
    """Our subject with Karl's phone, and a report mentioning it (which alerts the subject)."""
    known = add_subject(web, investigator_token(rt), person=KARL, **body)
    reference = submit(web, PHONE_REPORT)
    run_pipeline(rt)
    return known, reference


def other_agencys_subject(web: TestClient, rt: Runtime, **body: Any) -> dict[str, Any]:
    token = investigator_token(rt, "svc@example.org", org=OTHER_ORG, teams=("Desk 4",))
    return add_subject(web, token, **body)


# --- the list -----------------------------------------------------------------------------


def test_the_list_shows_only_visible_subjects_newest_first_with_their_counts(
    rt: Runtime, web: TestClient
) -> None:
    older, _ = alerted_subject(web, rt, name="Operation Ash subject")
    newer = add_subject(web, investigator_token(rt, "inv2@example.org"), name="Operation Yew")
    hidden = other_agencys_subject(web, rt, name="Operation Elm subject")
    lead(web, rt)

    page = web.get("/console/subjects")
    assert page.status_code == 200, page.text
    html = page.text
    assert html.index(newer["reference"]) < html.index(older["reference"])
    assert hidden["reference"] not in html and "Operation Elm" not in html
    assert "Subjects: 2" in html
    row = html[html.index(older["reference"]) :].split("</tr>")[0]
    cells = re.findall(r'numeric">(.*?)</td>', row)
    assert cells[0] == "1" and "govuk-tag--red" in cells[1] and ">1<" in cells[1]
    assert rt.settings.receiving_org in row and "SECRET" in row

    closed = web.get("/console/subjects?status=closed").text
    assert older["reference"] not in closed and "There are no subjects to show" in closed
    assert '<option value="closed" selected>' in closed


def test_the_list_is_capped_and_says_how_many_there_are(
    rt: Runtime, web: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = investigator_token(rt)
    first, second = add_subject(web, token, name="First"), add_subject(web, token, name="Second")
    lead(web, rt)
    monkeypatch.setattr(subject_pages, "SUBJECTS_SHOWN", 1)
    html = web.get("/console/subjects").text
    assert "Showing the newest 1 of 2 subjects." in html
    assert second["reference"] in html and first["reference"] not in html


def test_the_api_lists_the_same_subjects_and_counts_only_what_the_caller_may_see(
    rt: Runtime, web: TestClient
) -> None:
    known, _ = alerted_subject(web, rt)
    hidden = other_agencys_subject(web, rt, person={"first_name": "Olaf"})
    attach_behind_the_policy(rt, known["reference"], hidden["entity_ids"][0])
    token = investigator_token(rt, "reader@example.org")

    listed = web.get("/api/v1/linkage/subjects", headers=auth(token))
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["total"] == 1 and [s["reference"] for s in body["items"]] == [known["reference"]]
    (row,) = body["items"]
    assert (row["entities"], row["open_alerts"], row["status"]) == (1, 1, "open")
    assert web.get("/api/v1/linkage/subjects?status=closed", headers=auth(token)).json() == {
        "items": [],
        "total": 0,
        "status": "closed",
    }
    assert web.get("/api/v1/linkage/subjects?status=bogus", headers=auth(token)).status_code == 422
    one = web.get(f"/api/v1/linkage/subjects/{known['reference']}", headers=auth(token)).json()
    assert one["entity_ids"] == known["entity_ids"]  # not the other agency's entity
    assert web.get("/api/v1/linkage/subjects").status_code == 401


# --- one subject --------------------------------------------------------------------------


def attach_behind_the_policy(rt: Runtime, reference: str, entity_id: int) -> None:
    """Another agency's entity on our subject (as a shared import might leave it)."""

    def work(session: Session) -> None:
        subject = session.scalar(select(Subject).where(Subject.reference == reference))
        assert subject is not None
        session.add(SubjectEntity(subject_id=subject.id, entity_id=entity_id))

    rt.db.write_sync(work)


def test_the_subject_page_shows_its_entities_sources_alerts_and_timeline(
    rt: Runtime, web: TestClient
) -> None:
    known, reference = alerted_subject(web, rt, handling_code="P")
    lead(web, rt)
    page = web.get(subject_path(known["reference"]))
    assert page.status_code == 200, page.text
    html = page.text
    (person,) = known["entity_ids"]
    assert f'href="/console/entities/{person}"' in html and "Karl" in html
    assert f'href="/console/reports/{reference}"' in html  # a source mentioning the phone
    assert "possible match" in html
    assert "handling code P" in html and "0.95" in html
    assert f'href="/console/subjects/{known["reference"]}/graph"' in html
    alerts = html[html.index('id="alerts"') : html.index('id="timeline"')]
    assert reference in alerts and "New" in alerts
    timeline = html[html.index('id="timeline"') :]
    for step in ("Subject created", "Entity recorded", "Alert raised"):
        assert step in timeline, step
    assert "inv@example.org" in timeline  # who created it
    assert 'action="/console/subjects/' + known["reference"] + '/status"' in html


def test_another_agencys_entity_on_the_subject_is_neither_shown_nor_counted(
    rt: Runtime, web: TestClient
) -> None:
    known, _ = alerted_subject(web, rt)
    hidden = other_agencys_subject(web, rt, person={"first_name": "Olaf", "phone": "07700900999"})
    attach_behind_the_policy(rt, known["reference"], hidden["entity_ids"][0])
    lead(web, rt)
    html = web.get(subject_path(known["reference"])).text
    assert "Olaf" not in html and "07700900999" not in html
    assert f'/console/entities/{hidden["entity_ids"][0]}"' not in html
    listed = web.get("/console/subjects").text
    row = listed[listed.index(known["reference"]) :].split("</tr>")[0]
    assert re.findall(r'numeric">(.*?)</td>', row)[0] == "1"


def test_a_subject_of_another_agency_is_not_found(rt: Runtime, web: TestClient) -> None:
    hidden = other_agencys_subject(web, rt, person=KARL)
    lead(web, rt)
    for path in (subject_path(hidden["reference"]), subject_path("SUB-BBBBBBBB")):
        response = web.get(path)
        assert response.status_code == 404 and "Page not found" in response.text
        assert "Karl" not in response.text and "Operation" not in response.text
    assert web.get(subject_path(hidden["reference"]) + "/graph").status_code == 404


def test_changing_the_status_needs_a_reason_and_lands_on_the_timeline(
    rt: Runtime, web: TestClient
) -> None:
    known = add_subject(web, investigator_token(rt), person=KARL)
    lead(web, rt)
    page = subject_path(known["reference"])
    refused = post(web, page + "/status", {"status": "closed"}, page)
    assert (refused.status_code, refused.headers["location"]) == (303, page + "#errors")
    shown = web.get(page).text
    assert "There is a problem" in shown and 'href="#reason"' in shown
    assert 'Status</dt>\n    <dd class="govuk-summary-list__value">Open' in shown

    done = post(web, page + "/status", {"status": "closed", "reason": "No longer active"}, page)
    assert (done.status_code, done.headers["location"]) == (303, page + "#status-form")
    with rt.db.session() as session:
        subject = session.scalar(select(Subject).where(Subject.reference == known["reference"]))
        assert subject is not None and subject.status == "closed" and subject.closed_at
    timeline = web.get(page).text.split('id="timeline"')[1]
    assert "Closed" in timeline and "No longer active" in timeline
    assert "lead@example.org" in timeline


def test_attaching_an_entity_answers_the_same_for_one_unseen_and_one_that_does_not_exist(
    rt: Runtime, web: TestClient
) -> None:
    token = investigator_token(rt)
    known = add_subject(web, token, name="Operation Oak subject")
    other = add_subject(web, token, person={"first_name": "Jan", "phone": "07700900456"})
    hidden = other_agencys_subject(web, rt, person=KARL)
    lead(web, rt)
    page = subject_path(known["reference"])

    answers = []
    for number in (str(hidden["entity_ids"][0]), "999999"):
        refused = post(web, page + "/entities", {"entity_id": number}, page)
        assert refused.headers["location"] == page + "#errors"
        shown = web.get(page).text
        answers.append(shown.split('id="entity_id-error">')[1].split("</p>")[0])
        assert "Karl" not in shown
    assert answers[0] == answers[1] and "no entity you may see has that number" in answers[0]
    bad = post(web, page + "/entities", {"entity_id": "twelve"}, page)
    assert bad.headers["location"] == page + "#errors"
    assert "enter the entity" in web.get(page).text

    (jan,) = other["entity_ids"]
    done = post(web, page + "/entities", {"entity_id": str(jan)}, page)
    assert (done.status_code, done.headers["location"]) == (303, page + "#entities")
    html = web.get(page).text
    assert f'href="/console/entities/{jan}"' in html
    assert "Entity attached" in html.split('id="timeline"')[1]
    with rt.db.session() as session:
        attached = session.scalars(
            select(AuditEvent.record_ids).where(AuditEvent.action == "subject.entity_attached")
        ).all()
    assert attached == [[known["reference"], f"entity:{jan}"]]


def test_a_reader_who_may_not_manage_subjects_gets_no_forms_and_a_403_on_posting(
    rt: Runtime, web: TestClient
) -> None:
    known = add_subject(web, investigator_token(rt), classification="OFFICIAL-SENSITIVE")
    signed_in(web, rt)  # a triage analyst: reads linkage, does not manage subjects
    page = subject_path(known["reference"])
    html = web.get(page).text
    assert known["reference"] in html and "/status" not in html and '/entities"' not in html
    refused = post(web, page + "/status", {"status": "closed", "reason": "Not mine"}, page)
    assert refused.status_code == 403
    with rt.db.session() as session:
        status = session.scalar(
            select(Subject.status).where(Subject.reference == known["reference"])
        )
    assert status == "open"


@pytest.mark.parametrize("path", ["/console/subjects", "/console/subjects/SUB-BBBBBBBB"])
def test_a_partner_without_linkage_reading_is_refused_the_subject_pages(
    rt: Runtime, web: TestClient, path: str
) -> None:
    signed_in(web, rt, "partner@example.org", role=Role.partner_practitioner)
    assert web.get(path).status_code == 403


def test_a_form_without_the_csrf_token_is_refused(rt: Runtime, web: TestClient) -> None:
    known = add_subject(web, investigator_token(rt))
    lead(web, rt)
    path = subject_path(known["reference"]) + "/status"
    response = web.post(path, data={"status": "closed", "reason": "Forged form"})
    assert response.status_code == 400


# --- the entity page ----------------------------------------------------------------------


def test_the_entity_page_lists_every_visible_source_its_alerts_and_timeline(
    rt: Runtime, web: TestClient
) -> None:
    known, reference = alerted_subject(web, rt)
    lead(web, rt)
    (person,) = known["entity_ids"]
    html = web.get(f"/console/entities/{person}").text
    sources = html[html.index('id="sources"') : html.index("Same identity")]
    assert f'href="/console/reports/{reference}"' in sources
    assert f'href="/console/subjects/{known["reference"]}"' in sources  # added with it
    assert f'href="/console/subjects/{known["reference"]}"' in html.split("Subjects</h2>")[1]
    alerts = html[html.index('id="alerts"') :]
    assert reference in alerts.split("</table>")[0]
    timeline = html.split('id="timeline"')[1]
    assert "Recorded" in timeline and "Possible match proposed" in timeline
    assert "Alert raised" in timeline
    assert 'action="/console/entities/' + str(person) + '/path"' in html


def test_a_report_another_agency_holds_is_never_a_source_on_the_entity_page(
    rt: Runtime, web: TestClient
) -> None:
    token = investigator_token(rt, "svc@example.org", org=OTHER_ORG, teams=("Desk 4",))
    known = add_subject(web, token, person=KARL)
    reference = submit(web, PHONE_REPORT)
    run_pipeline(rt)
    signed_in(web, rt, "svc2@example.org", role=Role.investigator, org=OTHER_ORG, clearance=SECRET)
    html = web.get(f"/console/entities/{known['entity_ids'][0]}").text
    assert "/console/reports/" not in html  # not a source: nothing to open
    assert "A record exists that you cannot see." in html  # the alert says whom to ask
    # and for what: the reference is named only in that request, never as a source
    assert html.count(reference) == 1 and f"Record {reference}, held by" in html


# --- the networks of a subject and a report -----------------------------------------------


def test_the_subject_and_report_networks_start_from_the_record(
    rt: Runtime, web: TestClient
) -> None:
    known, reference = alerted_subject(web, rt)
    token = investigator_token(rt, "reader@example.org")
    api = web.get(f"/api/v1/subjects/{known['reference']}/graph?depth=1", headers=auth(token))
    assert api.status_code == 200, api.text
    assert {n["id"] for n in api.json()["nodes"]} == {
        f"subject:{known['reference']}",
        f"entity:{known['entity_ids'][0]}",
    }
    deeper = web.get(f"/api/v1/reports/{reference}/graph?depth=3", headers=auth(token)).json()
    assert f"subject:{known['reference']}" in {n["id"] for n in deeper["nodes"]}
    lead(web, rt)

    subject_graph = web.get(subject_path(known["reference"]) + "/graph")
    assert subject_graph.status_code == 200, subject_graph.text
    html = subject_graph.text
    assert f'"start": "subject:{known["reference"]}"' in html or (
        f'"start":"subject:{known["reference"]}"' in html
    )
    assert "Back to the subject" in html and "Steps out from this subject" in html
    report_graph = web.get(f"/console/reports/{reference}/graph?depth=3")
    assert report_graph.status_code == 200, report_graph.text
    assert f'href="/console/subjects/{known["reference"]}"' in report_graph.text
    assert web.get(f"/console/reports/{reference}/graph?depth=9").status_code == 400
    with rt.db.session() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("%.graph_viewed"))
        ).all()
    assert sorted(actions) == sorted(["subject.graph_viewed", "report.graph_viewed"] * 2)


def test_another_agencys_report_network_is_not_found(rt: Runtime, web: TestClient) -> None:
    _, reference = alerted_subject(web, rt)

    def work(session: Session) -> None:
        from vigil.access.permissions import OrganisationKind
        from vigil.access.services import ensure_organisation
        from vigil.intake.models import Report

        other = ensure_organisation(session, OTHER_ORG, OrganisationKind.ct_policing)
        session.execute(
            update(Report)
            .where(Report.reference == reference)
            .values(owning_org_id=other.id, owning_team_id=None)
        )

    rt.db.write_sync(work)
    token = investigator_token(rt, "reader@example.org")
    assert web.get(f"/api/v1/reports/{reference}/graph", headers=auth(token)).status_code == 404
    lead(web, rt)
    hidden = web.get(f"/console/reports/{reference}/graph")
    assert hidden.status_code == 404 and "Page not found" in hidden.text


def test_a_cases_network_shows_its_linked_records(rt: Runtime, web: TestClient) -> None:
    known, reference = alerted_subject(web, rt)
    token = investigator_token(rt, "caselead@example.org")
    body = {"title": "Water works", "reports": [reference], "subjects": [known["reference"]]}
    opened = web.post("/api/v1/cases", json=body, headers=auth(token))
    assert opened.status_code == 201, opened.text
    case = opened.json()["reference"]
    api = web.get(f"/api/v1/cases/{case}/graph?depth=1", headers=auth(token))
    assert api.status_code == 200, api.text
    assert {n["id"] for n in api.json()["nodes"]} == {
        f"case:{case}",
        f"report:{reference}",
        f"subject:{known['reference']}",
    }
    lead(web, rt)
    page = web.get(f"/console/cases/{case}/graph?depth=1")
    assert page.status_code == 200, page.text
    assert "Back to the case" in page.text and f'href="/console/reports/{reference}"' in page.text
    assert web.get("/console/cases/CASE-BBBBBBBB/graph").status_code == 404


def test_an_imported_subject_names_its_import_file_as_a_source(
    rt: Runtime, web: TestClient
) -> None:
    data = (Path(__file__).parent / "fixtures" / "people.csv").read_bytes()
    imported = web.post(
        "/api/v1/linkage/imports",
        params={"format": "csv"},
        files={"file": ("people.csv", data, "text/csv")},
        headers=auth(investigator_token(rt)),
    )
    assert imported.status_code == 201, imported.text
    lead(web, rt)
    listed = web.get("/console/subjects").text
    found = re.search(r'href="/console/subjects/(SUB-[A-Z0-9]+)">Operation Kestrel<', listed)
    assert found, listed
    html = web.get(subject_path(found.group(1))).text
    sources = html[html.index('id="sources"') :].split("</table>")[0]
    assert "people.csv" in sources and "Import" in sources
    assert "Olwen" in html and "Ceridwen" in html
