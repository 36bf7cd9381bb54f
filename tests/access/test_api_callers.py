"""The API reads a signed-in staff session too, for the console's own scripts (graph
expansion, the map); on both databases. A staff session cookie is accepted for GET and HEAD
only: anything that changes data still needs a bearer token.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.access.test_sign_in import app as app
from tests.access.test_sign_in import cheap_hashing as cheap_hashing  # autouse fixture
from tests.access.test_sign_in import make_staff, sign_in
from vigil.web.runtime import Runtime

ALERTS = "/api/v1/linkage/alerts"  # an investigator may read these


@pytest.fixture
def web(app: object) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:  # type: ignore[arg-type]
        yield client


def test_a_staff_session_may_read_the_api_but_not_change_anything(
    rt: Runtime, web: TestClient
) -> None:
    sign_in(web, make_staff(rt))

    assert web.get(ALERTS).status_code == 200
    sent = web.post("/api/v1/linkage/subjects", json={})
    assert sent.status_code == 401, "a cookie never authorises a change through the API"


def test_a_bearer_header_wins_over_the_cookie_even_when_it_is_wrong(
    rt: Runtime, web: TestClient
) -> None:
    sign_in(web, make_staff(rt))

    assert (
        web.get(ALERTS, headers={"Authorization": "Bearer vgl_not-a-real-token"}).status_code == 401
    )
    assert web.get(ALERTS, headers={"Authorization": "Basic abc"}).status_code == 401


def test_a_signed_out_session_cookie_no_longer_reads_the_api(rt: Runtime, web: TestClient) -> None:
    sign_in(web, make_staff(rt))
    assert web.get(ALERTS).status_code == 200
    from vigil.access import pages

    token = web.cookies.get(pages.COOKIE)
    web.post(pages.SIGN_OUT, data={"csrf_token": _csrf(web)})
    web.cookies.set(pages.COOKIE, token or "")

    assert web.get(ALERTS).status_code == 401


def _csrf(web: TestClient) -> str:
    import re

    page = web.get("/staff")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text[:300]
    return found.group(1)
