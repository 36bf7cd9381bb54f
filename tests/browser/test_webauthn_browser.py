"""Security keys in a real Chromium, with its virtual authenticator (DevTools' WebAuthn
domain): add a key while signed in (after re-authenticating), sign out, sign in again with
the password and the key.

This is what proves the JavaScript (``/static/js/webauthn.mjs``) talks to the real browser
API under the real CSP: the shared fixtures fail the test on any CSP violation, script error
or foreign request. The server-side refusals (another origin, a replayed challenge, a cloned
counter) are in tests/access/test_webauthn.py. Chromium is Debian's; nothing is downloaded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pyotp
import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from tests.browser import live
from tests.browser.conftest import ContextFactory
from tests.browser.live import LiveServer, browser_settings, migrate_sqlite, start_live_server
from vigil.access import pages, signin
from vigil.access import webauthn_pages as kp
from vigil.access.permissions import OrganisationKind, Role
from vigil.access.services import create_user
from vigil.audit.services import SYSTEM
from vigil.settings import Settings
from vigil.web.app import create_app

EMAIL = "key.holder@example.org"
PASSWORD = "synthetic staff password for the browser"
AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
}


def _app_with_key_pages(settings: Settings) -> FastAPI:
    """The real app; the key pages are added only until the app factory lists them."""
    app = create_app(settings)
    paths = {getattr(r, "path", None) for r in app.routes}
    if kp.KEYS not in paths:
        app.include_router(kp.router)
    return app


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """This module's own server (its users have keys that other tests should not meet)."""
    root = tmp_path_factory.mktemp("webauthn-server")
    migrate_sqlite(root / "vigil.db")
    with mock.patch.object(live, "create_app", _app_with_key_pages):
        server = start_live_server(browser_settings(root / "vigil.db", root / "var"))
    yield server
    server.stop()
    assert not server.errors, f"the live server failed: {server.errors!r}"


def make_staff(server: LiveServer) -> str:
    """A staff member with a password and a TOTP secret (returned)."""

    def work(session: Session) -> str:
        user = create_user(
            session,
            SYSTEM,
            EMAIL,
            server.settings.receiving_org,
            Role.investigator,
            OrganisationKind.ct_policing,
        )
        signin.set_password(session, SYSTEM, user, signin.new_password_hash(PASSWORD, EMAIL))
        return signin.enrol_totp(session, server.rt.sealer, SYSTEM, user)

    secret: str = server.rt.db.write_sync(work)
    return secret


def password_step(page: Page) -> None:
    page.goto(pages.SIGN_IN)
    page.locator("#email").fill(EMAIL)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"**{pages.CODE}")


def test_add_a_key_then_sign_in_with_password_and_key(
    new_context: ContextFactory, live_server: LiveServer
) -> None:
    secret = make_staff(live_server)
    # WebAuthn refuses an IP address as RP id, so the browser uses the name ``localhost``
    # (a secure context over plain HTTP too) for the same loopback server.
    context = new_context(base_url=live_server.base_url.replace(live.LOOPBACK, "localhost"))
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added: dict[str, Any] = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    authenticator = added["authenticatorId"]

    # signed in with password and code, confirm it is you again (a key change needs a
    # step-up after sign-in: a code not used before), then add a key
    password_step(page)
    page.get_by_label("Enter the code from your authenticator app").fill(
        pyotp.TOTP(secret).at(time.time() - 30)
    )
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{pages.HOME}")
    page.goto(kp.KEYS)
    page.wait_for_url(f"**{kp.REAUTH}?next={kp.KEYS}")
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    page.get_by_label("Enter the code from your authenticator app").fill(
        pyotp.TOTP(secret).at(time.time())
    )
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"**{kp.KEYS}")
    expect(page.get_by_text("You need JavaScript turned on")).to_be_visible()
    page.get_by_label("Name for the key").fill("Virtual key")
    page.get_by_role("button", name="Add a security key").click()
    page.wait_for_url(f"**{kp.KEYS}?added=1")
    expect(page.get_by_text("Security key added")).to_be_visible()
    expect(page.get_by_role("cell", name="Virtual key", exact=True)).to_be_visible()
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert len(stored["credentials"]) == 1

    # sign out, then sign in with the password and the key instead of a code
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"**{pages.SIGN_IN}?ended=signed-out")
    password_step(page)
    page.get_by_role("link", name="Use a security key instead").click()
    page.wait_for_url(f"**{kp.SIGN_IN_KEY}")
    page.get_by_role("button", name="Use security key").click()
    page.wait_for_url(f"**{pages.HOME}")
    expect(page.get_by_text(f"You are signed in as {EMAIL}.")).to_be_visible()
    used = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    assert used["credentials"][0]["signCount"] >= 1
