"""Tests of the console's case, search, dashboard and audit pages, and what they share: staff
signed in through a real staff session cookie, and a browser-like client.

A staff member is made with a bearer token (to set up data through the JSON API) and a
staff session started through ``signin.start_signed_in_session`` (the way single sign-on
starts one: both factors done), whose cookie is put in the client as the server would set
it. Password and code sign-in are proven in tests/access; these tests are about the pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import staff_token
from vigil.access import pages, signin
from vigil.access.markings import Classification
from vigil.access.models import User
from vigil.access.permissions import OrganisationKind, Role
from vigil.web.app import create_app
from vigil.web.runtime import Runtime

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Staff:
    email: str
    token: str  # bearer token, for setting up data through the API
    cookie: str  # staff session cookie, for the pages


def staff(
    rt: Runtime,
    email: str,
    role: Role = Role.triage_analyst,
    *,
    org: str | None = None,
    org_kind: OrganisationKind = OrganisationKind.ct_policing,
    teams: tuple[str, ...] | None = None,
    clearance: Classification = Classification.official_sensitive,
) -> Staff:
    token = staff_token(
        rt, email, role=role, org=org, org_kind=org_kind, teams=teams, clearance=clearance
    )
    return Staff(email, token, session_cookie(rt, email))


def session_cookie(rt: Runtime, email: str) -> str:
    """A live, whole staff session for an existing user."""

    def work(session: Session) -> str:
        user_id = session.scalar(select(User.id).where(User.email == email))
        assert user_id is not None
        return signin.start_signed_in_session(session, user_id)

    return rt.db.write_sync(work)


def web_client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt=rt), raise_server_exceptions=False, follow_redirects=False) as c:
        yield c


@pytest.fixture
def web(rt: Runtime) -> Iterator[TestClient]:
    """A browser without redirects followed, so each POST-redirect-GET step is seen."""
    yield from web_client(rt)


def be(client: TestClient, who: Staff) -> TestClient:
    """Put ``who``'s staff session cookie in the browser, as sign-in would have."""
    client.cookies.set(pages.COOKIE, who.cookie, domain="testserver.local")
    return client


def page(client: TestClient, who: Staff, path: str, **params: Any) -> Response:
    # No params argument at all when none are given: an empty one would drop the query
    # string of a link followed from a page.
    return be(client, who).get(path, params=params) if params else be(client, who).get(path)


def html(client: TestClient, who: Staff, path: str, **params: Any) -> str:
    response = page(client, who, path, **params)
    assert response.status_code == 200, (path, response.status_code, response.text[:500])
    return response.text


def csrf(text: str) -> str:
    found = _CSRF.search(text)
    assert found, "no CSRF token in the page"
    return found.group(1)


def post_form(
    client: TestClient, who: Staff, form_page: str, action: str, data: dict[str, str]
) -> Response:
    """Fill in a form as a person would: open its page (for the CSRF token), then post."""
    token = csrf(html(client, who, form_page))
    return be(client, who).post(action, data={"csrf_token": token, **data})
