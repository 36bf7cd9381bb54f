"""Test helpers for the step-up: re-authenticating after sign-in, and ageing a step-up.

Signing in is not re-authentication, so a test that discloses a reporter's identity or adds
or removes a security key first re-authenticates at ``/staff/reauthenticate`` with the next
TOTP code, as a person would.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.access.test_sign_in import Staff, csrf, staff_token, totp
from vigil.access import signin
from vigil.access import webauthn_pages as kp
from vigil.access.models import StaffSession
from vigil.db import utcnow
from vigil.web.runtime import Runtime


def reauthenticate(client: TestClient, staff: Staff, target: str, steps: int = 1) -> None:
    """Re-authenticate with the TOTP code ``steps`` steps from now and land on ``target``.

    A code is single use: sign in with an earlier step than the one used here.
    """
    token = csrf(client, kp.REAUTH)
    sent = {"csrf_token": token, "code": totp(staff, steps), "next": target}
    back = client.post(kp.REAUTH, data=sent)
    assert (back.status_code, back.headers.get("location")) == (303, target), back.text


def lapse_step_up(rt: Runtime, client: TestClient, minutes: int = 6) -> None:
    """Make the session one that signed in 10+ minutes ago and re-authenticated ``minutes``
    ago: a real step-up, but older than the 5-minute window."""
    sid = signin.session_id(staff_token(client))
    now = utcnow()
    rt.db.write_sync(
        lambda s: s.execute(
            update(StaffSession)
            .where(StaffSession.id == sid)
            .values(
                created_at=now - timedelta(minutes=minutes + 10),
                second_factor_at=now - timedelta(minutes=minutes),
            )
        )
    )


def session_id_of(client: TestClient) -> str:
    return signin.session_id(staff_token(client))
