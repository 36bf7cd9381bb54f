"""The session clock's server side, on both databases: the identity bar carries the seconds
left (not times: the browser's clock may be wrong) and the texts the script needs in the
page's language; asking how long is left never counts as activity, "Stay signed in" does
(with its CSRF token) and never moves the absolute end; an ended session answers with the
way to sign in; the sign-in page explains an idle sign-out. The script itself is exercised
in a real browser by tests/browser/test_roles_walkthrough.py.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.access.test_sign_in import (
    csrf,
    make_staff,
    move_session,
    session_row,
    sign_in,
    staff_token,
)
from vigil.access import pages, session_pages, signin
from vigil.db import utcnow
from vigil.web.app import create_app
from vigil.web.runtime import Runtime


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signin, "PASSWORDS", signin.Passwords(time_cost=1, memory_kib=1024))


@pytest.fixture
def app(rt: Runtime) -> FastAPI:
    return create_app(rt=rt)


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


@pytest.fixture
def signed_in(rt: Runtime, web: TestClient) -> str:
    """Sign a staff member in on ``web``; returns their session cookie's value."""
    sign_in(web, make_staff(rt))
    return staff_token(web)


def clock_of(page_html: str) -> dict[str, str]:
    """The identity bar's data-session-* attributes, unescaped."""
    found = dict(re.findall(r'data-session-([a-z-]+)="([^"]*)"', page_html))
    return {name: html.unescape(value) for name, value in found.items()}


def status(web: TestClient) -> Any:
    return web.get(session_pages.STATUS, headers={"accept": "application/json"})


def keep_alive(web: TestClient, token: str | None) -> Any:
    data = {"csrf_token": token} if token is not None else {}
    return web.post(session_pages.KEEP_ALIVE, data=data)


def seconds_since_seen(rt: Runtime, token: str) -> float:
    row = session_row(rt, token)
    assert row is not None
    return (utcnow() - row.last_seen_at).total_seconds()


def test_the_identity_bar_carries_seconds_left_the_warning_lead_and_where_to_go(
    web: TestClient, signed_in: str
) -> None:
    page = web.get(pages.HOME)
    clock = clock_of(page.text)
    assert 1795 <= int(clock["idle-seconds"]) <= 1800
    assert 43_195 <= int(clock["absolute-seconds"]) <= 43_200
    assert clock["warn-seconds"] == "300"  # five minutes before a 30-minute idle end
    assert clock["status-url"] == session_pages.STATUS
    assert clock["keep-alive-url"] == session_pages.KEEP_ALIVE
    assert clock["idle-url"] == "/staff/sign-in?ended=idle"
    assert clock["ended-url"] == "/staff/sign-in?ended=ended"
    assert orjson.loads(clock["warning-text"]) == {
        "one": "You will be signed out in %(num)d minute because you have not done anything.",
        "other": "You will be signed out in %(num)d minutes because you have not done anything.",
    }
    assert set(orjson.loads(clock["time-left-text"])) == {"one", "other"}
    assert '<script type="module" src="/static/js/session.mjs"></script>' in page.text
    assert "data-session-dialog" in page.text and 'aria-labelledby="session-warning-heading"'


def test_welsh_pages_carry_a_text_for_every_welsh_plural_category(
    web: TestClient, signed_in: str
) -> None:
    clock = clock_of(web.get(pages.HOME, params={"lang": "cy"}).text)
    texts = orjson.loads(clock["warning-text"])
    assert set(texts) == {"zero", "one", "two", "few", "many", "other"}
    assert all("%(num)d" in text for text in texts.values())


def test_the_sign_in_pages_load_no_session_script(web: TestClient) -> None:
    page = web.get(pages.SIGN_IN)
    assert "session.mjs" not in page.text and "data-session-idle-seconds" not in page.text


def test_the_idle_end_shown_is_the_one_the_server_enforces(
    rt: Runtime, web: TestClient, signed_in: str
) -> None:
    # A visit within a minute of the last recorded one does not move the idle clock, so the
    # page must count from that last recorded activity, not from now.
    move_session(rt, signed_in, last_seen_at=timedelta(seconds=45))
    clock = clock_of(web.get(pages.HOME).text)
    assert 1750 <= int(clock["idle-seconds"]) <= 1756


def test_asking_how_long_is_left_does_not_count_as_activity(
    rt: Runtime, web: TestClient, signed_in: str
) -> None:
    move_session(rt, signed_in, last_seen_at=timedelta(minutes=10))
    response = status(web)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    left = response.json()
    assert 1195 <= left["idle_seconds"] <= 1200
    assert 43_195 <= left["absolute_seconds"] <= 43_200
    assert seconds_since_seen(rt, signed_in) >= 600  # untouched


def test_stay_signed_in_restarts_the_idle_clock_but_not_the_absolute_one(
    rt: Runtime, web: TestClient, signed_in: str
) -> None:
    token = csrf(web, pages.HOME)
    move_session(rt, signed_in, last_seen_at=timedelta(minutes=28), created_at=timedelta(hours=2))
    response = keep_alive(web, token)
    assert response.status_code == 200, response.text
    left = response.json()
    assert 1795 <= left["idle_seconds"] <= 1800
    assert 35_995 <= left["absolute_seconds"] <= 36_000  # 10 hours still, not 12
    assert seconds_since_seen(rt, signed_in) < 5


def test_stay_signed_in_is_refused_without_the_csrf_token(
    rt: Runtime, web: TestClient, signed_in: str
) -> None:
    move_session(rt, signed_in, last_seen_at=timedelta(minutes=28))
    for token in (None, "forged"):
        refused = keep_alive(web, token)
        assert refused.status_code == 400
        assert "application/json" not in refused.headers["content-type"]
    assert seconds_since_seen(rt, signed_in) >= 28 * 60  # a refused POST is not activity


def test_an_ended_session_answers_with_the_way_to_sign_in(
    rt: Runtime, web: TestClient, signed_in: str
) -> None:
    token = csrf(web, pages.HOME)
    move_session(rt, signed_in, last_seen_at=timedelta(minutes=31))
    ended = status(web)
    assert (ended.status_code, ended.headers["location"]) == (303, "/staff/sign-in?ended=ended")
    late = keep_alive(web, token)
    assert (late.status_code, late.headers["location"]) == (303, "/staff/sign-in?ended=ended")
    row = session_row(rt, signed_in)
    assert row is not None and row.ended_reason == "idle_timeout"


def test_nobody_signed_in_is_sent_to_sign_in(web: TestClient) -> None:
    assert status(web).headers["location"] == pages.SIGN_IN
    assert keep_alive(web, csrf(web)).headers["location"] == pages.SIGN_IN


def test_the_warning_comes_five_minutes_early_or_a_third_of_a_short_timeout() -> None:
    assert session_pages.warn_seconds(1800) == 300
    assert session_pages.warn_seconds(3600) == 300
    assert session_pages.warn_seconds(150) == 50
    assert session_pages.warn_seconds(1) == 1


def test_the_sign_in_page_explains_a_sign_out_after_inactivity(web: TestClient) -> None:
    page = web.get(pages.SIGN_IN, params={"ended": "idle"})
    assert "You were signed out after 30 minutes of inactivity." in page.text
    assert "You were signed out" not in web.get(pages.SIGN_IN, params={"ended": "ended"}).text
