"""Helpers for the follow-up tests: a report sent through the API, an analyst's question
posted through the staff API, and signing in on /follow-up."""

from __future__ import annotations

import uuid

import httpx
from playwright.sync_api import Page

from tests.browser.journey import Confirmation, submit
from tests.browser.live import LiveServer
from tests.factories import minimal_report, staff_token

QUESTION = "Thank you. Did you see which way the car went afterwards?"
REPLY = "It turned left onto Mill Lane, towards the ring road."


def api_report(server: LiveServer) -> Confirmation:
    """A report sent through the JSON API (quicker than the pages when they are not the point)."""
    answer = httpx.post(server.url("/api/v1/reports"), json=minimal_report(), timeout=30)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    return Confirmation(body["reference"], body["followup_code"])


def ask(server: LiveServer, reference: str, text: str) -> str:
    """An analyst's question, posted through the staff API with a bearer token."""
    token = staff_token(server.rt, email=f"analyst-{uuid.uuid4().hex[:8]}@example.org")
    headers = {"Authorization": f"Bearer {token}"}
    answer = httpx.post(
        server.url(f"/api/v1/reports/{reference}/messages"),
        json={"text": text},
        headers=headers,
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return token


def sign_in(page: Page, done: Confirmation, *, reference: str | None = None) -> None:
    page.goto("/follow-up")
    page.locator("#reference").fill(reference or done.reference)
    page.locator("#code").fill(done.code)
    submit(page)
