"""Security keys (WebAuthn), server side, on both databases: adding a key, signing in with it
instead of a TOTP code, and every refusal that makes it phishing-resistant: another origin,
another RP id, a replayed challenge, a counter going backwards (a cloned key), another
user's key, a missing CSRF header. The browser half (Chromium's virtual authenticator) is in
tests/browser/test_webauthn_browser.py; here a small software authenticator (P-256, "none"
attestation) signs exactly what a real one would.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select, update
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, encode_cbor

from tests.access.stepup import reauthenticate
from tests.access.test_sign_in import (
    Staff,
    csrf,
    events,
    make_staff,
    post_password,
    sign_in,
    staff_token,
)
from tests.access.test_sign_in import cheap_hashing as cheap_hashing  # autouse fixture
from vigil.access import pages, signin
from vigil.access import webauthn as keys
from vigil.access import webauthn_pages as kp
from vigil.access.models import StaffSession
from vigil.db import utcnow
from vigil.settings import Environment, Settings
from vigil.web.app import create_app
from vigil.web.runtime import Runtime

ORIGIN = "http://testserver"
RP_ID = "testserver"


@dataclass
class SoftKey:
    """A software authenticator: what a security key signs, byte for byte."""

    credential_id: bytes = field(default_factory=lambda: hashlib.sha256(b"key-1").digest())
    private: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    count: int = 0

    def _cose(self) -> bytes:
        numbers = self.private.public_key().public_numbers()
        return encode_cbor(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
        return json.dumps(data).encode()

    def create(
        self, options: dict[str, Any], origin: str = ORIGIN, rp_id: str = RP_ID
    ) -> dict[str, Any]:
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attested = (
            bytes(16)
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self._cose()
        )
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([0x45])  # user present, user verified, attested credential data
            + struct.pack(">I", self.count)
            + attested
        )
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": bytes_to_base64url(self.credential_id),
            "rawId": bytes_to_base64url(self.credential_id),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "attestationObject": bytes_to_base64url(attestation),
                "transports": ["usb"],
            },
        }

    def get(
        self,
        options: dict[str, Any],
        origin: str = ORIGIN,
        rp_id: str = RP_ID,
        count: int | None = None,
    ) -> dict[str, Any]:
        self.count = self.count + 1 if count is None else count
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([0x05])  # user present, user verified
            + struct.pack(">I", self.count)
        )
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.private.sign(signed, ec.ECDSA(hashes.SHA256()))
        return {
            "id": bytes_to_base64url(self.credential_id),
            "rawId": bytes_to_base64url(self.credential_id),
            "type": "public-key",
            "clientExtensionResults": {},
            "response": {
                "clientDataJSON": bytes_to_base64url(client_data),
                "authenticatorData": bytes_to_base64url(auth_data),
                "signature": bytes_to_base64url(signature),
            },
        }


@pytest.fixture
def app(rt: Runtime) -> FastAPI:
    app = create_app(rt=rt)
    paths = {getattr(r, "path", None) for r in app.routes}
    for router in (pages.router, kp.router):  # until the app factory lists them
        if not {getattr(r, "path", None) for r in router.routes} <= paths:
            app.include_router(router)
    return app


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def page_csrf(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found, path
    return found.group(1)


def call(client: TestClient, path: str, token: str, body: dict[str, Any]) -> Response:
    answer: Response = client.post(path, content=json.dumps(body), headers={"X-CSRF-Token": token})
    return answer


def add_key(client: TestClient, key: SoftKey, name: str = "Blue key") -> Response:
    token = page_csrf(client, kp.KEYS)
    options = call(client, kp.REGISTER_OPTIONS, token, {"name": name})
    assert options.status_code == 200, options.text
    return call(
        client,
        kp.REGISTER_VERIFY,
        token,
        {"name": name, "credential": key.create(options.json()["options"])},
    )


def password_step(client: TestClient, staff: Staff) -> str:
    """Password accepted: the half-way session; returns the CSRF token of the key page."""
    response = post_password(client, staff.email)
    assert response.headers["location"] == pages.CODE
    return page_csrf(client, kp.SIGN_IN_KEY)


def key_options(client: TestClient, token: str) -> dict[str, Any]:
    response = call(client, kp.SIGN_IN_OPTIONS, token, {})
    assert response.status_code == 200, response.text
    options: dict[str, Any] = response.json()["options"]
    return options


def registered(rt: Runtime, web: TestClient) -> tuple[Staff, SoftKey]:
    """A staff member with a key, added after re-authenticating; then signed out. The codes
    used are the previous and the current step, so a test may still use the next one."""
    staff = make_staff(rt)
    sign_in(web, staff, steps=-1)
    reauthenticate(web, staff, kp.KEYS, steps=0)
    key = SoftKey()
    response = add_key(web, key)
    assert response.json() == {"redirect": f"{kp.KEYS}?added=1"}, response.text
    web.post(pages.SIGN_OUT, data={"csrf_token": page_csrf(web, pages.HOME)})
    return staff, key


# --- adding a key -------------------------------------------------------------------------


def test_a_signed_in_user_adds_a_key_and_only_public_material_is_kept(
    rt: Runtime, web: TestClient
) -> None:
    staff = make_staff(rt)
    sign_in(web, staff)
    reauthenticate(web, staff, kp.KEYS)  # adding a key needs a step-up after sign-in
    page = web.get(kp.KEYS)
    assert "You need JavaScript turned on in your browser to add a security key" in page.text
    assert '<script type="module" src="/static/js/webauthn.mjs"></script>' in page.text
    assert "navigator.credentials" not in page.text  # no inline script: the CSP allows none
    key = SoftKey()
    assert add_key(web, key, "  Work   laptop ").json() == {"redirect": f"{kp.KEYS}?added=1"}
    with rt.db.session() as session:
        (row,) = keys.credentials_of(session, staff.user_id)
        assert (row.name, row.sign_count, row.transports) == ("Work laptop", 0, ["usb"])
        assert row.credential_id == bytes_to_base64url(key.credential_id)
        challenges = session.scalars(select(keys.WebAuthnChallenge)).all()
    assert challenges == []  # consumed
    added = events(rt, "staff.security_key_added")
    assert [e.record_ids for e in added] == [[str(staff.user_id)]]
    listing = web.get(f"{kp.KEYS}?added=1")
    assert "Work laptop" in listing.text and "Security key added" in listing.text


def test_registration_refuses_another_origin_a_replay_and_a_missing_csrf_header(
    rt: Runtime, web: TestClient
) -> None:
    staff = make_staff(rt)
    sign_in(web, staff)
    reauthenticate(web, staff, kp.KEYS)
    token = page_csrf(web, kp.KEYS)
    assert web.post(kp.REGISTER_OPTIONS, content="{}").status_code == 403  # no header
    assert call(web, kp.REGISTER_OPTIONS, "forged", {}).status_code == 403
    key = SoftKey()
    options = call(web, kp.REGISTER_OPTIONS, token, {}).json()["options"]
    assert options["rp"]["id"] == RP_ID
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    phished = key.create(options, origin="http://testserver.attacker.example")
    refused = call(web, kp.REGISTER_VERIFY, token, {"credential": phished})
    assert refused.status_code == 400
    # the challenge was consumed by that attempt: the genuine answer to it is a replay now
    replay = call(web, kp.REGISTER_VERIFY, token, {"credential": key.create(options)})
    assert replay.status_code == 400
    with rt.db.session() as session:
        assert keys.credentials_of(session, staff.user_id) == []
    reasons = [e.purpose for e in events(rt, "staff.security_key_refused")]
    assert reasons == ["invalid_registration", "no_challenge"]


def test_security_key_routes_need_a_signed_in_user(web: TestClient) -> None:
    for path in (kp.KEYS, kp.REAUTH):
        response = web.get(path)
        assert (response.status_code, response.headers["location"]) == (303, pages.SIGN_IN)
    token = page_csrf(web, pages.SIGN_IN)
    response = call(web, kp.REGISTER_OPTIONS, token, {})
    assert (response.status_code, response.headers["location"]) == (303, pages.SIGN_IN)
    assert web.get(kp.SIGN_IN_KEY).headers["location"] == pages.SIGN_IN  # no password step


# --- signing in with a key ----------------------------------------------------------------


def test_password_then_key_signs_in_and_moves_the_counter(rt: Runtime, web: TestClient) -> None:
    staff, key = registered(rt, web)
    token = password_step(web, staff)
    half_way = staff_token(web)
    options = key_options(web, token)
    assert options["rpId"] == RP_ID and options["userVerification"] == "preferred"
    allowed = [base64url_to_bytes(c["id"]) for c in options["allowCredentials"]]
    assert allowed == [key.credential_id]
    response = call(web, kp.SIGN_IN_VERIFY, token, {"credential": key.get(options)})
    assert response.json() == {"redirect": pages.HOME}, response.text
    assert staff_token(web) != half_way  # a new session id at sign-in
    assert web.get(pages.HOME).status_code == 200
    with rt.db.session() as session:
        (row,) = keys.credentials_of(session, staff.user_id)
        assert row.sign_count == 1 and row.last_used_at is not None
    signed = events(rt, "staff.signed_in")
    assert signed[-1].purpose == "security_key"


def test_a_replayed_assertion_another_origin_or_rp_id_is_refused(
    rt: Runtime, web: TestClient
) -> None:
    staff, key = registered(rt, web)
    token = password_step(web, staff)
    options = key_options(web, token)
    phished = key.get(options, origin="https://vigil.example.net")
    assert call(web, kp.SIGN_IN_VERIFY, token, {"credential": phished}).status_code == 400
    genuine = key.get(options)  # answers the challenge that the refusal consumed
    assert call(web, kp.SIGN_IN_VERIFY, token, {"credential": genuine}).status_code == 400
    options = key_options(web, token)
    other_rp = key.get(options, rp_id="example.net")
    assert call(web, kp.SIGN_IN_VERIFY, token, {"credential": other_rp}).status_code == 400
    assert not _signed_in(web)
    reasons = [e.purpose for e in events(rt, "staff.sign_in_failed")]
    assert reasons[-3:] == [
        "security_key_invalid_assertion",
        "security_key_no_challenge",
        "security_key_invalid_assertion",
    ]


def test_a_counter_going_backwards_is_refused_as_a_possible_clone(
    rt: Runtime, web: TestClient
) -> None:
    staff, key = registered(rt, web)
    token = password_step(web, staff)
    options = key_options(web, token)
    assert call(web, kp.SIGN_IN_VERIFY, token, {"credential": key.get(options, count=7)}).json()
    with rt.db.session() as session:
        assert keys.credentials_of(session, staff.user_id)[0].sign_count == 7
    web.post(pages.SIGN_OUT, data={"csrf_token": page_csrf(web, pages.HOME)})
    token = password_step(web, staff)
    options = key_options(web, token)
    clone = key.get(options, count=3)
    assert call(web, kp.SIGN_IN_VERIFY, token, {"credential": clone}).status_code == 400
    assert events(rt, "staff.sign_in_failed")[-1].purpose == "security_key_sign_count_not_increased"
    assert not _signed_in(web)


def test_another_users_key_does_not_sign_in(rt: Runtime, web: TestClient) -> None:
    _, key = registered(rt, web)
    other = make_staff(rt, "second@example.org")
    token = password_step(web, other)
    response = call(web, kp.SIGN_IN_OPTIONS, token, {})
    assert response.status_code == 400  # no key of their own: use the code
    assert response.json()["redirect"] == pages.CODE
    challenge = {"challenge": bytes_to_base64url(b"x" * 32)}
    stolen = key.get(challenge)
    assert call(web, kp.SIGN_IN_VERIFY, token, {"credential": stolen}).status_code == 400
    assert not _signed_in(web)


def test_wrong_keys_count_towards_the_account_lockout(rt: Runtime, web: TestClient) -> None:
    staff, key = registered(rt, web)
    token = password_step(web, staff)
    lim = signin.limits(rt.settings)
    last = None
    for _ in range(lim.account_max_failures):
        options = key_options(web, token)
        last = call(web, kp.SIGN_IN_VERIFY, token, {"credential": key.get(options, "http://x")})
    assert last is not None and last.status_code == 401
    assert last.json() == {"redirect": f"{pages.SIGN_IN}?ended=ended"}
    assert len(events(rt, "staff.account_locked")) == 1


def test_the_origin_comes_from_settings_in_production(tmp_path: Any) -> None:
    production = Settings.model_construct(environment=Environment.production)
    with pytest.raises(keys.KeyRefused):
        keys.relying_party(production, "http://evil.example:8000/")
    test = Settings.model_construct(environment=Environment.test)
    found = keys.relying_party(test, "http://127.0.0.1:8123/")
    assert found == keys.RelyingParty("http://127.0.0.1:8123", "127.0.0.1")


# --- re-authentication --------------------------------------------------------------------


def test_reauthentication_with_a_key_or_a_code_refreshes_the_second_factor(
    rt: Runtime, web: TestClient
) -> None:
    staff, key = registered(rt, web)
    token = password_step(web, staff)
    call(web, kp.SIGN_IN_VERIFY, token, {"credential": key.get(key_options(web, token))})
    sid = signin.session_id(staff_token(web))
    _age_second_factor(rt, sid)
    assert not _fresh(rt, sid)
    page = web.get(f"{kp.REAUTH}?next=//evil.example/")
    assert 'name="next" value="/staff"' in page.text  # no open redirect
    assert "data-webauthn" in page.text  # the key is offered, as is the code
    token = page_csrf(web, kp.REAUTH)
    options = call(web, kp.REAUTH_OPTIONS, token, {}).json()["options"]
    answer = call(
        web, kp.REAUTH_VERIFY, token, {"credential": key.get(options), "next": "/staff/x"}
    )
    assert answer.json() == {"redirect": "/staff/x"}
    assert _fresh(rt, sid)
    _age_second_factor(rt, sid)
    from tests.access.test_sign_in import totp

    form = {"csrf_token": token, "code": totp(staff, 1), "next": "/staff/security-keys"}
    done = web.post(kp.REAUTH, data=form)
    assert (done.status_code, done.headers["location"]) == (303, kp.KEYS)
    assert _fresh(rt, sid)
    replay = web.post(kp.REAUTH, data=form)  # the same code again
    assert replay.status_code == 400
    reauths = [e.purpose for e in events(rt, "staff.reauthenticated")]
    assert reauths == ["totp", "security_key", "totp"]  # the first, to add the key


def _age_second_factor(rt: Runtime, sid: str) -> None:
    past = utcnow() - timedelta(minutes=10)
    rt.db.write_sync(
        lambda s: s.execute(
            update(StaffSession).where(StaffSession.id == sid).values(second_factor_at=past)
        )
    )


def _fresh(rt: Runtime, sid: str) -> bool:
    """Whether the session re-authenticated, after sign-in, within the last 5 minutes."""
    with rt.db.session() as session:
        row = session.get(StaffSession, sid)
        assert row is not None and row.second_factor_at is not None
        at = row.reauthenticated_at
        fresh = at is not None and utcnow() - at < timedelta(minutes=5)
    assert fresh == signin.fresh_step_up(rt, sid)
    return fresh


def _signed_in(client: TestClient) -> bool:
    status: int = client.get(pages.HOME).status_code
    return status == 200


def test_csrf_token_helper_is_shared(web: TestClient) -> None:
    assert csrf(web)  # the sign-in page's token, as the other tests use it


def test_without_javascript_the_page_explains_and_a_key_can_be_removed(
    rt: Runtime, web: TestClient
) -> None:
    staff = make_staff(rt)
    sign_in(web, staff)
    reauthenticate(web, staff, kp.KEYS)
    token = page_csrf(web, kp.KEYS)
    no_js = web.post(kp.KEYS, data={"csrf_token": token, "action": "add", "name": "Key"})
    assert no_js.status_code == 400
    assert "You need JavaScript turned on in your browser to add a security key" in no_js.text
    add_key(web, SoftKey())
    other = make_staff(rt, "second@example.org")
    with rt.db.session() as session:
        (row,) = keys.credentials_of(session, staff.user_id)
    mine = {"csrf_token": token, "action": "remove", "key": str(row.id)}
    assert web.post(kp.KEYS, data=mine).headers["location"] == kp.KEYS
    with rt.db.session() as session:
        assert keys.credentials_of(session, staff.user_id) == []
        assert keys.credentials_of(session, other.user_id) == []
    assert len(events(rt, "staff.security_key_removed")) == 1
    assert _signed_in(web)  # the session that removed it lives on


@pytest.mark.skipif(
    "public_origin" not in Settings.model_fields, reason="VIGIL_PUBLIC_ORIGIN not added yet"
)
def test_a_configured_origin_wins_over_the_request() -> None:
    configured = Settings.model_construct(
        environment=Environment.production, public_origin="https://vigil.example.org/"
    )
    found = keys.relying_party(configured, "http://evil.example:8000/")
    assert found == keys.RelyingParty("https://vigil.example.org", "vigil.example.org")
