"""The shortest-connection page (/console/entities/{id}/path?to=…), on both databases: the
chain of records each linked to its page with how each pair is linked; "no connection
through records you may see" in the very same words whether none exists or one runs only
through a record the reader may not see; an other entity the reader may not see answered
as one that does not exist; read and audited as the path API reads it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.console.test_console_pages import (
    SECRET,
    THREAT,
    add_subject,
    investigator_token,
    run_pipeline,
    signed_in,
    submit,
)
from tests.console.test_console_pages import web as web  # fixture
from tests.factories import auth
from vigil.access.permissions import OrganisationKind, Role
from vigil.access.services import ensure_organisation
from vigil.audit.models import AuditEvent
from vigil.intake.models import Report
from vigil.linkage.models import Entity
from vigil.web.runtime import Runtime

OTHER_ORG = "Security Service North"
TWO_PHONES = (
    "Two men were filming the substation fence at night. One said to ring 07700 900123, "
    "the other gave 07700 900456 as his number when the guard asked."
)


def path(entity: int, to: str | int | None = None) -> str:
    return f"/console/entities/{entity}/path" + ("" if to is None else f"?to={to}")


def lead(web: TestClient, rt: Runtime) -> None:
    signed_in(web, rt, "lead@example.org", role=Role.investigator, clearance=SECRET)


def person(web: TestClient, token: str, first_name: str, phone: str) -> int:
    known = add_subject(web, token, name=f"{first_name} subject", person={
        "first_name": first_name, "phone": phone,
    })  # fmt: skip
    return int(known["entity_ids"][0])


def entity_of_report(rt: Runtime, reference: str, kind: str) -> int:
    with rt.db.session() as session:
        report_id = session.scalar(select(Report.id).where(Report.reference == reference))
        found = session.scalars(
            select(Entity.id).where(
                Entity.source_type == "report", Entity.source_id == report_id, Entity.kind == kind
            )
        ).all()
    assert found, (reference, kind)
    return int(found[0])


def hand_to_another_agency(rt: Runtime, reference: str) -> None:
    """The report and the entities found in it now belong to another agency."""

    def work(session: Session) -> None:
        other = ensure_organisation(session, OTHER_ORG, OrganisationKind.ct_policing)
        report_id = session.scalar(select(Report.id).where(Report.reference == reference))
        marking = {"owning_org_id": other.id, "owning_team_id": None}
        session.execute(update(Report).where(Report.id == report_id).values(**marking))
        session.execute(
            update(Entity)
            .where(Entity.source_type == "report", Entity.source_id == report_id)
            .values(**marking)
        )

    rt.db.write_sync(work)


def result(html: str) -> str:
    """The page's answer, without the two entities' own names and numbers."""
    start = html.index('<h2 class="govuk-heading-m" id="result">')
    return html[html.index("</h2>", start) : html.index('id="path-form"')]


def test_the_chain_runs_through_the_report_and_links_each_record(
    rt: Runtime, web: TestClient
) -> None:
    karl = person(web, investigator_token(rt), "Karl", "07700900123")
    reference = submit(web, THREAT)
    run_pipeline(rt)
    vehicle = entity_of_report(rt, reference, "vehicle")
    lead(web, rt)

    page = web.get(path(karl, vehicle))
    assert page.status_code == 200, page.text
    html = page.text
    steps = html.split('id="path-steps"')[1].split("</ol>")[0]
    assert (
        steps.index(f'href="/console/entities/{karl}"')
        < steps.index(f'href="/console/reports/{reference}"')
        < steps.index(f'href="/console/entities/{vehicle}"')
    )
    assert "possible match" in steps and "found in" in steps
    assert "Steps between them: 3" in html
    api = web.get(
        f"/api/v1/entities/{karl}/path/{vehicle}", headers=auth(investigator_token(rt, "r@x.org"))
    ).json()
    assert steps.count("<li>") == len(api["steps"]) == 4
    with rt.db.session() as session:
        viewed = session.scalars(
            select(AuditEvent.record_ids).where(AuditEvent.action == "entity.path_viewed")
        ).all()
    assert viewed == [[str(karl), str(vehicle)]] * 2  # the page's read and the API's


def test_no_connection_reads_the_same_whether_none_exists_or_it_is_hidden(
    rt: Runtime, web: TestClient
) -> None:
    token = investigator_token(rt)
    karl = person(web, token, "Karl", "07700900123")
    jan = person(web, token, "Jan", "07700900456")
    lone = person(web, token, "Lone", "07700900789")
    reference = submit(web, TWO_PHONES)
    run_pipeline(rt)
    lead(web, rt)
    linked = web.get(path(karl, jan)).text
    assert f'href="/console/reports/{reference}"' in linked  # the report links them

    hand_to_another_agency(rt, reference)
    hidden = web.get(path(karl, jan))
    none = web.get(path(karl, lone))
    assert hidden.status_code == none.status_code == 200
    assert result(hidden.text) == result(none.text)
    assert "No connection through records you may see within 6 steps." in result(none.text)
    for html in (hidden.text, none.text):
        assert reference not in html and "900123" not in html.split('id="result"')[1]
        assert 'id="path-steps"' not in html


def test_an_unseen_other_entity_reads_as_one_that_does_not_exist(
    rt: Runtime, web: TestClient
) -> None:
    karl = person(web, investigator_token(rt), "Karl", "07700900123")
    theirs = person(
        web,
        investigator_token(rt, "svc@example.org", org=OTHER_ORG, teams=("Desk 4",)),
        "Olaf",
        "07700900123",
    )
    lead(web, rt)
    unseen, missing = web.get(path(karl, theirs)), web.get(path(karl, 999999))
    assert unseen.status_code == missing.status_code == 200

    def answer(html: str) -> str:
        return re.sub(r"\d{4,}", "N", html.split('id="to-error"')[1].split("</p>")[0])

    assert answer(unseen.text) == answer(missing.text)
    assert "No entity you may see has that number" in unseen.text
    assert "Olaf" not in unseen.text and 'id="result"' not in unseen.text


def test_a_bad_number_is_a_problem_and_an_unseen_start_is_not_found(
    rt: Runtime, web: TestClient
) -> None:
    karl = person(web, investigator_token(rt), "Karl", "07700900123")
    theirs = person(
        web,
        investigator_token(rt, "svc@example.org", org=OTHER_ORG, teams=("Desk 4",)),
        "Olaf",
        "07700900999",
    )
    lead(web, rt)
    form = web.get(path(karl))
    assert form.status_code == 200 and 'name="to"' in form.text and 'id="result"' not in form.text
    assert "Connections of up to 6 steps are searched" in form.text
    bad = web.get(path(karl, "twelve"))
    assert bad.status_code == 400
    assert "There is a problem" in bad.text and 'href="#to"' in bad.text
    assert 'value="twelve"' in bad.text
    hidden = web.get(path(theirs, karl))
    assert hidden.status_code == 404 and "Olaf" not in hidden.text


def test_the_entity_and_graph_pages_ask_for_the_other_entity(rt: Runtime, web: TestClient) -> None:
    karl = person(web, investigator_token(rt), "Karl", "07700900123")
    lead(web, rt)
    for page in (f"/console/entities/{karl}", f"/console/entities/{karl}/graph"):
        html = web.get(page).text
        assert f'action="/console/entities/{karl}/path"' in html, page
        assert '<label class="govuk-label govuk-label--m" for="to">' in html


def test_a_partner_without_linkage_reading_is_refused(rt: Runtime, web: TestClient) -> None:
    signed_in(web, rt, "partner@example.org", role=Role.partner_practitioner)
    assert web.get(path(1, 2)).status_code == 403
