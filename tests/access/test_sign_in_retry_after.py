"""An address refused for too many failed sign-ins is told when to come back: the 429 carries
``Retry-After`` (whole seconds), on the password page, the code page and the security-key
step alike, as the README promises for every 429 (pages keep the same headers)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.access.test_sign_in import cheap_hashing as cheap_hashing  # autouse fixture
from tests.access.test_sign_in import (
    csrf,
    make_staff,
    plant,
    post_code,
    post_password,
    totp,
)
from tests.access.test_webauthn import app as app  # fixture: sign-in and key pages
from tests.access.test_webauthn import web as web  # fixture
from vigil.access import pages, signin
from vigil.access import webauthn_pages as kp
from vigil.web.runtime import Runtime

WINDOW_S = 600


@pytest.fixture
def few_failures(monkeypatch: pytest.MonkeyPatch) -> signin.SignInLimits:
    few = signin.SignInLimits(address_max_failures=3, failure_window_s=WINDOW_S)
    monkeypatch.setattr(signin, "limits", lambda _settings: few)
    return few


def retry_after(response: Response) -> int:
    assert response.status_code == 429, response.text
    seconds = int(response.headers["retry-after"])
    assert 1 <= seconds <= WINDOW_S
    return seconds


def test_the_password_page_says_when_to_try_again(
    web: TestClient, few_failures: signin.SignInLimits
) -> None:
    for n in range(3):
        assert post_password(web, f"guess{n}@example.org").status_code == 400
    refused = post_password(web, "anyone@example.org")
    assert retry_after(refused) > WINDOW_S - 60  # the oldest failure has only just happened
    assert "too many failed attempts to sign in from your network" in refused.text
    assert refused.headers["cache-control"] == "no-store"  # still a page, with its headers
    assert refused.headers["content-type"].startswith("text/html")


def test_the_code_page_says_when_to_try_again(
    rt: Runtime, web: TestClient, few_failures: signin.SignInLimits
) -> None:
    staff = make_staff(rt)
    first = post_password(web, staff.email)
    assert first.headers["location"] == pages.CODE
    real = totp(staff)
    wrong = f"{(int(real) + 1) % 1_000_000:06d}"
    for _ in range(3):
        assert post_code(web, wrong).status_code == 400
    refused = post_code(web, real)  # even the right code, from this address
    retry_after(refused)
    assert "too many failed attempts to sign in from your network" in refused.text


def test_the_security_key_step_says_when_to_try_again(
    web: TestClient, few_failures: signin.SignInLimits
) -> None:
    for n in range(3):
        assert post_password(web, f"guess{n}@example.org").status_code == 400
    token = csrf(web)
    plant(web, "a-half-way-session-token-as-the-password-step-would-set")
    refused = web.post(kp.SIGN_IN_VERIFY, content=json.dumps({}), headers={"X-CSRF-Token": token})
    retry_after(refused)
    assert refused.json() == {"error": "There have been too many failed attempts. Try again later."}
