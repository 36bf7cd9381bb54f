"""Reporter identity disclosure, on both databases (row-level security on for PostgreSQL):
only the custodian role, only for a report they may see, only with a recorded justification,
only after re-authenticating within 5 minutes; audited without the identity; and never
through the bearer-token API, which cannot re-authenticate.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.access.stepup import lapse_step_up, reauthenticate
from tests.access.test_sign_in import PASSWORD, Staff, events, sign_in, totp
from tests.access.test_sign_in import cheap_hashing as cheap_hashing  # autouse fixture
from tests.factories import auth, minimal_report
from tests.factories import staff_token as bearer_token
from vigil.access import disclosure, pages, signin
from vigil.access import webauthn_pages as kp
from vigil.access.permissions import OrganisationKind, Permission, Role
from vigil.access.services import create_user
from vigil.audit.models import AuditEvent
from vigil.audit.services import SYSTEM
from vigil.web.app import create_app
from vigil.web.runtime import Runtime

REPORTER = {
    "anonymous": False,
    "name": "Alex Synthetic-Reporter",
    "email": "alex.reporter@example.org",
    "phone": "07700 900123",
}
REASON = "Follow-up call requested by the duty investigator, case 42"


@pytest.fixture
def app(rt: Runtime) -> FastAPI:
    app = create_app(rt=rt)
    paths = {getattr(r, "path", None) for r in app.routes}
    for router in (pages.router, kp.router, disclosure.router, disclosure.api_router):
        if not {getattr(r, "path", None) for r in router.routes} <= paths:
            app.include_router(router)  # until the app factory lists them
    return app


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def make_user(
    rt: Runtime,
    email: str = "custodian@example.org",
    role: Role = Role.reporter_custodian,
    org: str | None = None,
) -> Staff:
    org_name = org or rt.settings.receiving_org
    teams = (rt.settings.receiving_team,) if org is None else ("Elsewhere",)

    def work(session: Session) -> Staff:
        user = create_user(
            session, SYSTEM, email, org_name, role, OrganisationKind.ct_policing, teams=teams
        )
        signin.set_password(session, SYSTEM, user, signin.new_password_hash(PASSWORD, email))
        secret = signin.enrol_totp(session, rt.sealer, SYSTEM, user)
        return Staff(user.email, user.id, secret)

    return rt.db.write_sync(work)


def submit(web: TestClient, reporter: dict[str, object] | None = None) -> str:
    payload = minimal_report(reporter=reporter or REPORTER)
    response = web.post("/api/v1/reports", json=payload)
    assert response.status_code == 201, response.text
    reference: str = response.json()["reference"]
    return reference


def csrf_of(web: TestClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', web.get(path).text)
    assert found, path
    return found.group(1)


def path_for(reference: str) -> str:
    return disclosure.PAGE.format(reference=reference)


def all_audit_text(rt: Runtime) -> str:
    with rt.db.session() as session:
        rows = session.scalars(select(AuditEvent)).all()
        return " ".join(f"{r.action} {r.purpose} {r.record_ids}" for r in rows)


def test_the_custodian_sees_the_identity_with_a_reason_and_it_is_audited(
    rt: Runtime, web: TestClient
) -> None:
    reference = submit(web)
    custodian = make_user(rt)
    sign_in(web, custodian)
    reauthenticate(web, custodian, path_for(reference))  # signing in alone is not enough
    form = web.get(path_for(reference))
    assert form.status_code == 200, form.text
    assert REPORTER["name"] not in form.text
    token = csrf_of(web, path_for(reference))
    short = web.post(path_for(reference), data={"csrf_token": token, "justification": "because"})
    assert short.status_code == 400
    assert "at least 20 characters" in short.text and REPORTER["name"] not in short.text
    shown = web.post(path_for(reference), data={"csrf_token": token, "justification": REASON})
    assert shown.status_code == 200, shown.text
    for value in ("Alex Synthetic-Reporter", "alex.reporter@example.org"):
        assert value in shown.text
    assert shown.headers["cache-control"] == "no-store"
    (event,) = events(rt, "reporter.identity_disclosed")
    assert (event.actor_user_id, event.record_ids) == (custodian.user_id, [reference])
    assert (event.purpose, event.outcome) == (REASON, "success")
    audit = all_audit_text(rt)
    assert "Alex" not in audit and "alex.reporter" not in audit and "07700" not in audit


def test_a_stale_second_factor_must_be_renewed_before_disclosure(
    rt: Runtime, web: TestClient
) -> None:
    reference = submit(web)
    custodian = make_user(rt)
    sign_in(web, custodian, steps=-1)
    reauthenticate(web, custodian, path_for(reference), steps=0)
    token = csrf_of(web, path_for(reference))
    lapse_step_up(rt, web)  # re-authenticated 6 minutes ago: no longer counts
    sent = web.get(path_for(reference))
    assert sent.status_code == 303
    assert sent.headers["location"] == f"{kp.REAUTH}?next={path_for(reference)}"
    refused = web.post(path_for(reference), data={"csrf_token": token, "justification": REASON})
    assert refused.status_code == 403
    assert REPORTER["name"] not in refused.text and "Confirm it is you" in refused.text
    assert events(rt, "reporter.identity_refused")[-1].purpose == "reauthentication_required"
    code = {"csrf_token": token, "code": totp(custodian, 1), "next": path_for(reference)}
    back = web.post(kp.REAUTH, data=code)
    assert (back.status_code, back.headers["location"]) == (303, path_for(reference))
    shown = web.post(path_for(reference), data={"csrf_token": token, "justification": REASON})
    assert shown.status_code == 200 and REPORTER["name"] in shown.text
    assert len(events(rt, "reporter.identity_disclosed")) == 1


def test_other_roles_are_refused_and_the_refusal_is_audited(rt: Runtime, web: TestClient) -> None:
    reference = submit(web)
    analyst = make_user(rt, "supervisor@example.org", Role.supervisor)
    sign_in(web, analyst)
    assert web.get(path_for(reference)).status_code == 403
    token = csrf_of(web, pages.HOME)
    posted = web.post(path_for(reference), data={"csrf_token": token, "justification": REASON})
    assert posted.status_code == 403 and REPORTER["name"] not in posted.text
    denied = events(rt, "access.denied")
    assert Permission.reporter_identity_disclose.value in (denied[-1].purpose or "")
    assert events(rt, "reporter.identity_disclosed") == []


def test_a_custodian_who_may_not_see_the_report_gets_not_found(
    rt: Runtime, web: TestClient
) -> None:
    reference = submit(web)
    outsider = make_user(rt, "outsider@example.org", org="Synthetic Probation Service")
    sign_in(web, outsider)
    assert web.get(path_for(reference)).status_code == 404
    assert web.get(path_for("VGL-2222-2222")).status_code == 404  # the same as none at all
    token = csrf_of(web, pages.HOME)
    posted = web.post(path_for(reference), data={"csrf_token": token, "justification": REASON})
    assert posted.status_code == 404
    assert events(rt, "reporter.identity_disclosed") == []


def test_an_anonymous_reporter_has_nothing_to_disclose(rt: Runtime, web: TestClient) -> None:
    reference = submit(web, {"anonymous": True})
    custodian = make_user(rt)
    sign_in(web, custodian)
    reauthenticate(web, custodian, path_for(reference))
    token = csrf_of(web, path_for(reference))
    shown = web.post(path_for(reference), data={"csrf_token": token, "justification": REASON})
    assert shown.status_code == 200
    assert "chose to stay anonymous" in shown.text
    assert events(rt, "reporter.identity_disclosed")[0].outcome == "none_held"


def test_the_api_cannot_reauthenticate_so_it_always_refuses(rt: Runtime, web: TestClient) -> None:
    reference = submit(web)
    api = f"/api/v1/reports/{reference}/reporter-identity"
    assert web.post(api).status_code == 401
    custodian = bearer_token(rt, email="api-custodian@example.org", role=Role.reporter_custodian)
    refused = web.post(api, headers=auth(custodian))
    assert refused.status_code == 403
    assert "re-authentication required: use the console" in refused.json()["detail"]
    assert REPORTER["name"] not in refused.text
    analyst = bearer_token(rt, email="api-analyst@example.org")
    assert web.post(api, headers=auth(analyst)).status_code == 403
    assert events(rt, "reporter.identity_disclosed") == []
