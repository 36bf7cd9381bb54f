"""Files staged on the public form go once their answers can no longer be sent, on both engines.

A staged file is the original as uploaded (a photo's location included). Housekeeping deletes
it once it is older than the form idle timeout plus a small margin, unless answers still in
progress name it: a visitor who keeps going for longer than the timeout keeps their files.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.factories import jpeg_bytes
from tests.intake.test_report_pages import Browser, reports, send, skip_to_check, start_report
from vigil.db import utcnow
from vigil.intake import journey_guard
from vigil.intake.storage import STAGING_MARGIN_S
from vigil.web import app as web_app
from vigil.web.runtime import Runtime
from vigil.web.sessions import BrowserSession

IDLE_S = 60  # the shortest idle timeout settings allow
TOO_OLD_S = IDLE_S + STAGING_MARGIN_S + 60


class _RoundDone(Exception):
    pass


def housekeeping_round(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the app's housekeeping loop once: its last step ends it instead of sleeping."""

    def stop(runtime: Runtime) -> None:
        raise _RoundDone

    monkeypatch.setattr(web_app, "forget_done_jobs", stop)
    with pytest.raises(_RoundDone):
        asyncio.run(web_app._housekeeping(rt))


@pytest.fixture
def site(client: TestClient, rt: Runtime) -> Iterator[Browser]:
    rt.settings.form_min_fill_s = 0
    rt.settings.form_idle_timeout_s = IDLE_S
    journey_guard.forget_answers()
    yield Browser(client)
    journey_guard.forget_answers()


def session_ids(rt: Runtime) -> set[str]:
    """Live sessions (an ended one leaves a husk without answers)."""
    live = select(BrowserSession.id_hash).where(BrowserSession.ended_at.is_(None))
    with rt.db.session() as session:
        return set(session.scalars(live))


def last_seen(rt: Runtime, ids: set[str], seconds_ago: int) -> None:
    def work(session: Session) -> None:
        moment = utcnow() - timedelta(seconds=seconds_ago)
        session.execute(
            update(BrowserSession)
            .where(BrowserSession.id_hash.in_(ids))
            .values(last_seen_at=moment)
        )

    rt.db.write_sync(work)


def upload_photo(site: Browser, name: str) -> str:
    """Start a report, add one photo on the files page and return its staged file's name."""
    start_report(site)
    skip_to_check(site, after="when")
    uploaded = site.post(
        "/report/files?return=check",
        {"action": "upload"},
        files=[("files", (name, jpeg_bytes(), "image/jpeg"))],
    )
    assert uploaded.status_code == 303
    listed = site.get("/report/files?return=check").text
    (staged,) = re.findall(r'name="remove" value="([0-9a-f]{32})"', listed)
    return str(staged)


def age(path: os.PathLike[str], seconds: int) -> None:
    moment = time.time() - seconds
    os.utime(path, (moment, moment))


def test_housekeeping_removes_an_abandoned_staged_photo_and_keeps_one_a_live_journey_holds(
    site: Browser, client: TestClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    abandoned = upload_photo(site, "abandoned.jpg")
    abandoned_session = session_ids(rt)
    client.cookies.clear()  # a second visitor, in another browser
    site.token = None
    live = upload_photo(site, "live.jpg")
    staging = rt.store.staging
    for name in (abandoned, live):  # both uploaded long ago, longer than the idle timeout
        age(staging / name, TOO_OLD_S)
    last_seen(rt, abandoned_session, TOO_OLD_S)  # the first visitor walked away

    housekeeping_round(rt, monkeypatch)

    assert not (staging / abandoned).exists()
    assert (staging / live).is_file()  # the second visitor is still answering
    assert session_ids(rt).isdisjoint(abandoned_session)
    send(site)
    (row,) = reports(rt)
    assert [a.filename for a in row.attachments] == ["live.jpg"]
    assert list(staging.iterdir()) == []


def test_a_staged_file_nobody_holds_goes_after_the_idle_timeout_and_margin_not_a_day(
    client: TestClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt.settings.form_idle_timeout_s = IDLE_S
    staging = rt.store.staging
    staging.mkdir(parents=True, exist_ok=True)
    stale, recent, in_flight = (staging / f"{n:032x}" for n in (1, 2, 3))
    for path in (stale, recent, in_flight):
        path.write_bytes(jpeg_bytes())
    age(stale, TOO_OLD_S)  # about 17 minutes: once kept for 24 hours
    age(recent, IDLE_S + STAGING_MARGIN_S - 60)  # past the timeout, inside the margin

    housekeeping_round(rt, monkeypatch)

    assert not stale.exists()
    assert recent.is_file() and in_flight.is_file()


def test_a_journey_longer_than_a_day_keeps_its_files_through_restart_and_housekeeping(
    site: Browser, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt.settings.form_idle_timeout_s = 3 * 24 * 3600
    staged = rt.store.staging / upload_photo(site, "slow.jpg")
    age(staged, 2 * 24 * 3600)  # the old fixed 24 hours would have deleted it
    last_seen(rt, session_ids(rt), 24 * 3600)

    rt.store.prepare()  # as the app does at start
    housekeeping_round(rt, monkeypatch)

    assert staged.is_file()
    send(site)
    (row,) = reports(rt)
    assert [a.filename for a in row.attachments] == ["slow.jpg"]
