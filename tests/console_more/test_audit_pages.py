"""Audit pages for auditors, on both databases (tampering on SQLite, where the test may
rewrite the log): search the log by action, user and record, the history of one record,
each event's actor by e-mail address and organisation (looked up as the page is read, never
stored in the log), and verifying the chain with a CSRF-protected POST that redirects to
the verdict."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from tests.console_more import Staff, be, csrf, html, page, staff
from tests.console_more import web as web  # fixture
from tests.search import submit
from vigil.access.models import User
from vigil.access.permissions import OrganisationKind, Role
from vigil.audit.models import AuditEvent
from vigil.web.runtime import Runtime

LOG = "/console/audit"
VERIFY = "/console/audit/verify"
PARTNER_ORG = "Northshire Council Prevent Team"
# The table's columns, in order (cells are read by position).
NUMBER, WHEN, WHO, ORGANISATION, ACTION = range(5)


def auditor(rt: Runtime) -> Staff:
    return staff(rt, "auditor@example.org", Role.auditor)


def partner_auditor(rt: Runtime) -> Staff:
    """An auditor of the partner agency: the log's events of its own staff are theirs to
    read (the hub's auditor does not see them; tests/audit/test_audit_scope.py)."""
    return staff(
        rt,
        "auditor@northshire.example.org",
        Role.auditor,
        org=PARTNER_ORG,
        org_kind=OrganisationKind.local_authority,
        teams=(),
    )


def shown_rows(text_: str) -> list[list[str]]:
    """The events table's cells, row by row, as text (tags removed, spacing folded)."""
    body = text_.split('id="events"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr class=\"govuk-table__row\">(.*?)</tr>", body, flags=re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S) for row in rows]
    return [
        [" ".join(re.sub(r"<[^>]+>", "", c).split()) for c in row]
        for row in cells
        if row  # the header row has no <td>
    ]


def shown_actions(text_: str) -> list[str]:
    return [row[ACTION] for row in shown_rows(text_)]


def user_id(rt: Runtime, email: str) -> int:
    found = rt.db.write_sync(lambda s: s.scalar(select(User.id).where(User.email == email)))
    assert found is not None
    return int(found)


def partner_searched(web: TestClient, rt: Runtime) -> Staff:
    """A practitioner of a partner agency (a council's Prevent team) searches cases."""
    partner = staff(
        rt,
        "practitioner@example.org",
        Role.partner_practitioner,
        org=PARTNER_ORG,
        org_kind=OrganisationKind.local_authority,
        teams=(),
    )
    searched = web.get(
        "/api/v1/search",
        params={"q": "depot", "type": "case"},
        headers={"Authorization": f"Bearer {partner.token}"},
    )
    assert searched.status_code == 200, searched.text
    return partner


def viewed_case(web: TestClient, rt: Runtime) -> tuple[Staff, str]:
    """An analyst opens a case and looks at it twice through the API."""
    analyst = staff(rt, "analyst@example.org")
    reference = submit(web, "Someone photographing the depot gates.")
    made = web.post(
        "/api/v1/cases",
        json={"title": "Depot", "reports": [reference]},
        headers={"Authorization": f"Bearer {analyst.token}"},
    )
    assert made.status_code == 201, made.text
    case = made.json()["reference"]
    for _ in range(2):
        web.get(f"/api/v1/cases/{case}", headers={"Authorization": f"Bearer {analyst.token}"})
    return analyst, case


def test_an_auditor_searches_the_log_by_action_user_and_record(
    web: TestClient, rt: Runtime
) -> None:
    _, case = viewed_case(web, rt)
    who = auditor(rt)
    by_action = html(web, who, LOG, action="case.viewed")
    assert shown_actions(by_action) == ["case.viewed", "case.viewed"]
    assert case in by_action
    user = re.search(r"user=(\d+)\">user \d+", by_action)
    assert user is not None and user.group(1) == str(user_id(rt, "analyst@example.org"))
    by_user = html(web, who, LOG, user=user.group(1))
    assert set(shown_actions(by_user)) >= {"case.opened", "case.viewed", "case.linked"}
    by_record = html(web, who, LOG, record=case)
    assert shown_actions(by_record) == ["case.opened", "case.linked", "case.viewed", "case.viewed"]
    # the auditor's own searches are in the log too
    again = html(web, who, LOG, action="audit.searched")
    assert len(shown_actions(again)) == 3  # the three above; this one is written after


def test_a_records_history_lists_its_events_and_an_unknown_record_is_not_found(
    web: TestClient, rt: Runtime
) -> None:
    _, case = viewed_case(web, rt)
    who = auditor(rt)
    history = html(web, who, f"{LOG}/records/{case}")
    assert f"History of {case}" in history
    assert shown_actions(history) == ["case.opened", "case.linked", "case.viewed", "case.viewed"]
    assert page(web, who, f"{LOG}/records/CASE-NEVERSEEN").status_code == 404


def test_bad_filters_are_explained_and_nothing_is_searched(web: TestClient, rt: Runtime) -> None:
    who = auditor(rt)
    for params, field in (
        ({"user": "someone"}, "user"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-11-02", "until": "2026-11-01"}, "until"),
    ):
        refused = page(web, who, LOG, **params)
        assert refused.status_code == 400, params
        assert f'href="#{field}"' in refused.text and 'id="events"' not in refused.text


def test_verifying_the_chain_posts_then_shows_the_verdict_once(
    web: TestClient, rt: Runtime
) -> None:
    viewed_case(web, rt)
    who = auditor(rt)
    form = html(web, who, VERIFY)
    assert "The audit chain is" not in form
    done = be(web, who).post(VERIFY, data={"csrf_token": csrf(form)})
    assert (done.status_code, done.headers["location"]) == (303, VERIFY)
    verdict = html(web, who, VERIFY)
    assert "The audit chain is intact" in verdict
    assert "The audit chain is" not in html(web, who, VERIFY)  # shown once; a refresh is plain
    assert "audit.verified" in shown_actions(html(web, who, LOG, action="audit.verified"))


def test_verifying_without_the_csrf_token_does_nothing(web: TestClient, rt: Runtime) -> None:
    who = auditor(rt)
    html(web, who, VERIFY)
    forged = be(web, who).post(VERIFY, data={})
    assert forged.status_code == 400
    assert "No events match" in html(web, who, LOG, action="audit.verified")


def tampered_log(web: TestClient, rt: Runtime) -> tuple[Staff, int]:
    """An auditor, and the sequence number of a "case viewed" event altered behind the
    application's back (SQLite: the PostgreSQL role may not rewrite the log)."""
    viewed_case(web, rt)
    who = auditor(rt)
    viewed = html(web, who, LOG, action="case.viewed")
    seq = int(re.findall(r'<td class="govuk-table__cell">(\d+)</td>', viewed)[0])
    rt.db.write_sync(
        lambda s: s.execute(
            text("UPDATE audit_events SET action = 'case.innocent' WHERE seq = :seq"),
            {"seq": seq},
        )
    )
    return who, seq


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_tampered_log_shows_the_chain_broken_at_the_first_bad_event(
    web: TestClient, rt: Runtime
) -> None:
    """SQLite only: on PostgreSQL the application's role may not rewrite the log at all."""
    who, seq = tampered_log(web, rt)
    form = html(web, who, VERIFY)
    be(web, who).post(VERIFY, data={"csrf_token": csrf(form)})
    verdict = html(web, who, VERIFY)
    assert "The audit chain is broken" in verdict
    assert f"number {seq}" in verdict


def test_only_auditors_see_the_audit_pages(web: TestClient, rt: Runtime) -> None:
    analyst = staff(rt, "analyst@example.org")
    for path in (LOG, VERIFY, f"{LOG}/records/anything"):
        assert page(web, analyst, path).status_code == 403, path
    refused = be(web, analyst).post(VERIFY, data={"csrf_token": "x"})
    assert refused.status_code == 403
    web.cookies.clear()
    assert web.get(LOG).headers["location"] == "/staff/sign-in"


def test_the_landing_page_links_each_role_only_to_the_pages_it_may_open(
    web: TestClient, rt: Runtime
) -> None:
    links = {
        "analyst": ({"/console/cases", "/console/search"}, {"/console/dashboard", LOG}),
        "auditor": ({LOG}, {"/console/cases", "/console/search", "/console/dashboard"}),
        "supervisor": ({"/console/cases", "/console/dashboard"}, {LOG}),
    }
    roles = {"analyst": Role.triage_analyst, "auditor": Role.auditor, "supervisor": Role.supervisor}
    for name, (shown, hidden) in links.items():
        home = html(web, staff(rt, f"{name}@example.org", roles[name]), "/staff")
        for path in shown:
            assert f'href="{path}"' in home, (name, path)
        for path in hidden:
            assert f'href="{path}"' not in home, (name, path)


# --- who acted: e-mail address and organisation, looked up as the page is read -------------


def test_each_event_shows_who_acted_by_e_mail_and_their_organisation(
    web: TestClient, rt: Runtime
) -> None:
    viewed_case(web, rt)
    partner = partner_searched(web, rt)
    partner_id = user_id(rt, partner.email)

    (searched,) = shown_rows(html(web, partner_auditor(rt), LOG, action="search.performed"))
    assert searched[WHO] == f"{partner.email} (user {partner_id})"
    assert searched[ORGANISATION] == PARTNER_ORG
    viewed = shown_rows(html(web, auditor(rt), LOG, action="case.viewed"))
    analyst_id = user_id(rt, "analyst@example.org")
    assert [(r[WHO], r[ORGANISATION]) for r in viewed] == [
        (f"analyst@example.org (user {analyst_id})", rt.settings.receiving_org)
    ] * 2


def test_the_log_itself_keeps_numbers_and_never_an_e_mail_address(
    web: TestClient, rt: Runtime
) -> None:
    """Names are joined as the page is read: the rows are as they were written."""
    partner = partner_searched(web, rt)
    partner_id = user_id(rt, partner.email)
    who = partner_auditor(rt)
    assert partner.email in html(web, who, LOG, user=str(partner_id))

    with rt.db.session() as session:
        events = list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        theirs = [e for e in events if e.actor_user_id == partner_id]
        assert theirs and {e.actor_label for e in theirs} == {f"user:{partner_id}"}
        for event in events:
            stored = " ".join(str(getattr(event, c.key)) for c in AuditEvent.__table__.columns)
            assert "@example.org" not in stored, event.action


def test_filtering_by_a_users_number_still_works_and_names_them_on_each_event(
    web: TestClient, rt: Runtime
) -> None:
    viewed_case(web, rt)
    partner = partner_searched(web, rt)
    partner_id = user_id(rt, partner.email)
    who = partner_auditor(rt)
    rows = shown_rows(html(web, who, LOG, user=str(partner_id)))
    assert [r[ACTION] for r in rows] == ["search.performed"]
    assert {(r[WHO], r[ORGANISATION]) for r in rows} == {
        (f"{partner.email} (user {partner_id})", PARTNER_ORG)
    }
    # The other filters with it: an action they never did finds nothing.
    assert "No events match" in html(web, who, LOG, user=str(partner_id), action="case.viewed")


def test_a_records_history_names_each_actor_and_organisation(web: TestClient, rt: Runtime) -> None:
    analyst, case = viewed_case(web, rt)
    analyst_id = user_id(rt, analyst.email)
    rows = shown_rows(html(web, auditor(rt), f"{LOG}/records/{case}"))
    assert {(r[WHO], r[ORGANISATION]) for r in rows} == {
        (f"{analyst.email} (user {analyst_id})", rt.settings.receiving_org)
    }


def test_an_event_without_a_user_shows_its_actor_and_no_organisation(
    web: TestClient, rt: Runtime
) -> None:
    reference = submit(web, "A van parked on the zig-zags by the school.")
    rows = shown_rows(html(web, auditor(rt), LOG, record=reference, action="report.collected"))
    assert [(r[WHO], r[ORGANISATION]) for r in rows] == [("public", "")]


def test_the_organisation_column_speaks_welsh_and_names_stay_as_they_are(
    web: TestClient, rt: Runtime
) -> None:
    partner = partner_searched(web, rt)
    partner_id = user_id(rt, partner.email)
    welsh = html(web, partner_auditor(rt), LOG, action="search.performed", lang="cy")
    assert 'lang="cy"' in welsh
    assert ">Sefydliad</th>" in welsh and ">Organisation</th>" not in welsh
    (row,) = shown_rows(welsh)
    assert row[WHO] == f"{partner.email} (defnyddiwr {partner_id})"
    assert row[ORGANISATION] == PARTNER_ORG
