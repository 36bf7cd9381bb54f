"""OpenID Connect sign-in against a real, certified provider (npm ``oidc-provider``).

The provider runs as a Node subprocess on 127.0.0.1 (tests/oidc/provider.mjs), started once
for this module and killed at the end. Vigil runs in-process behind TestClient; its calls to
the provider (discovery, JWKS, token, userinfo) are real HTTP. A second httpx client plays
the browser at the provider: it submits the provider's own login and consent forms and
brings the redirect back to Vigil. Every refusal must look the same to the visitor and leave
a ``staff.sign_in_failed`` audit event with its reason, and never a token or code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.scratch import Cli, runner
from tests.serving import free_port
from vigil.access import oidc, oidc_pages, pages, signin
from vigil.access.models import StaffSession, User
from vigil.access.oidc_commands import idp_app
from vigil.access.permissions import OrganisationKind, Permission, Role
from vigil.access.services import create_user, ensure_organisation
from vigil.audit.models import AuditEvent
from vigil.audit.services import SYSTEM
from vigil.db import utcnow
from vigil.sealing import Sealed
from vigil.web.app import create_app
from vigil.web.runtime import Runtime

ROOT = Path(__file__).parent.parent.parent
SCRIPT = ROOT / "tests" / "oidc" / "provider.mjs"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CALLBACK = "http://testserver/staff/sign-in/sso/callback"
CLIENT_ID = "vigil-test"
CLIENT_SECRET = "synthetic-client-secret-0123456789"  # test-only, synthetic
ORG = "Northshire Police"
OTHER_ORG = "Eastshire Health"
IDP = "Northshire IdP"
GENERIC = "You could not be signed in"


def _node_problem() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (ROOT / "node_modules" / "oidc-provider" / "package.json").exists():
        return "node_modules/oidc-provider is not installed (npm install)"
    return None


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running oidc-provider; its issuer URL. Stopped (and reaped) at the end."""
    problem = _node_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"{problem}; CI must run the OpenID Connect tests")
        pytest.skip(problem)
    port = free_port()
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["node", str(SCRIPT), str(port), CALLBACK, CLIENT_ID, CLIENT_SECRET],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/.well-known/openid-configuration", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"oidc-provider did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture
def app(rt: Runtime) -> FastAPI:
    app = create_app(rt=rt)
    for router in (pages.router, oidc_pages.router):  # until the app factory lists the area
        paths = {getattr(r, "path", None) for r in router.routes}
        if not paths & {getattr(r, "path", None) for r in app.routes}:
            app.include_router(router)
    return app


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


@pytest.fixture
def provider_id(rt: Runtime, issuer: str) -> int:
    """The provider registered for ORG, and the synthetic users the provider knows of."""

    def work(session: Session) -> int:
        org = ensure_organisation(session, ORG, OrganisationKind.police)
        for email, org_name in (
            ("analyst.sso@example.org", ORG),
            ("other.sso@example.org", OTHER_ORG),
            ("disabled.sso@example.org", ORG),
            ("unverified.sso@example.org", ORG),
        ):
            create_user(
                session, SYSTEM, email, org_name, Role.investigator, OrganisationKind.health
            )
        session.execute(
            update(User)
            .where(User.email == "disabled.sso@example.org")
            .values(disabled_at=utcnow())
        )
        provider = oidc.add_provider(
            session,
            rt.sealer,
            SYSTEM,
            org,
            name=IDP,
            issuer=issuer,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            email_domain="example.org",
        )
        return provider.id

    return rt.db.write_sync(work)


class Forms(HTMLParser):
    """The forms of a page: action and fields (hidden ones with their values)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append((found.get("action", ""), {}))
        elif tag == "input" and self.forms and found.get("name"):
            self.forms[-1][1][found["name"]] = found.get("value", "")


def at_provider(auth_url: str, login: str) -> str:
    """Sign in at the provider as ``login`` and consent; the URL it sends the browser back to."""
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        response = browser.get(auth_url)
        for _ in range(12):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if target.startswith(CALLBACK):
                    return target
                response = browser.get(target)
                continue
            assert response.status_code == 200, response.text
            parser = Forms()
            parser.feed(response.text)
            action, fields = parser.forms[0]
            if fields.get("prompt") == "login":
                fields.update(login=login, password="any password at all")
            response = browser.post(urljoin(str(response.url), action), data=fields)
    raise AssertionError("the provider never sent the browser back")


def start(web: TestClient, provider_id: int) -> str:
    response = web.get(f"/staff/sign-in/sso/{provider_id}/start")
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"][0] and query["nonce"][0] and query["code_challenge"][0]
    assert query["redirect_uri"] == [CALLBACK]
    assert "code_verifier" not in query
    return location


def sso(web: TestClient, provider_id: int, login: str) -> httpx.Response:
    back = at_provider(start(web, provider_id), login)
    return web.get(back)


def staff_cookie(web: TestClient) -> str | None:
    return web.cookies.get(pages.COOKIE)


def events(rt: Runtime, action: str) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
    with rt.db.session() as session:
        return list(session.scalars(query))


def assert_refused(rt: Runtime, web: TestClient, response: httpx.Response, reason: str) -> None:
    assert response.status_code == 400, response.text
    assert GENERIC in response.text
    assert staff_cookie(web) is None
    home = web.get(pages.HOME)
    assert (home.status_code, home.headers["location"]) == (303, pages.SIGN_IN)
    failures = events(rt, "staff.sign_in_failed")
    assert failures, "no audit event"
    assert (failures[-1].purpose or "").startswith(reason), failures[-1].purpose
    assert failures[-1].outcome == "failure"


# --- the whole flow -----------------------------------------------------------------------


def test_a_user_of_the_providers_organisation_signs_in(
    rt: Runtime, web: TestClient, provider_id: int
) -> None:
    back = at_provider(start(web, provider_id), "analyst")
    code = parse_qs(urlsplit(back).query)["code"][0]
    done = web.get(back)
    assert done.status_code == 200, done.text
    assert "You are signed in" in done.text
    assert 'http-equiv="refresh"' in done.text
    token = staff_cookie(web)
    assert token
    assert not web.cookies.get(oidc_pages.FLOW_COOKIE)  # the flow cookie is gone
    home = web.get(pages.HOME)
    assert home.status_code == 200, home.headers
    assert "analyst.sso@example.org" in home.text
    assert ORG in home.text
    with rt.db.session() as session:
        row = session.get(StaffSession, signin.session_id(token))
        assert row is not None and row.second_factor_at is not None and row.ended_at is None
        assert row.user.email == "analyst.sso@example.org"
    (signed_in,) = events(rt, "staff.signed_in")
    assert signed_in.purpose == f"oidc:{IDP}"
    assert signed_in.actor_user_id == row.user_id
    # Neither the code nor the client secret is anywhere in the audit log.
    with rt.db.session() as session:
        every = [str(e.__dict__) for e in session.scalars(select(AuditEvent))]
    assert not any(code in e or CLIENT_SECRET in e for e in every)


def test_the_code_cannot_be_used_twice(rt: Runtime, web: TestClient, provider_id: int) -> None:
    back = at_provider(start(web, provider_id), "analyst")
    flow = web.cookies.get(oidc_pages.FLOW_COOKIE)
    assert web.get(back).status_code == 200
    web.cookies.clear()
    web.cookies.set(oidc_pages.FLOW_COOKIE, flow or "", domain="testserver.local")
    assert_refused(rt, web, web.get(back), "token_exchange_failed")


@pytest.mark.parametrize(
    ("login", "reason"),
    [
        ("stranger", "unknown_account"),
        ("other", "other_organisation"),
        ("disabled", "disabled"),
        ("unverified", "email_not_verified"),
    ],
)
def test_refusals_look_the_same_and_are_audited(
    rt: Runtime, web: TestClient, provider_id: int, login: str, reason: str
) -> None:
    assert_refused(rt, web, sso(web, provider_id, login), reason)
    assert events(rt, "staff.signed_in") == []


def test_a_wrong_state_is_refused(rt: Runtime, web: TestClient, provider_id: int) -> None:
    back = at_provider(start(web, provider_id), "analyst")
    parts = urlsplit(back)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["state"] = "forged-" + query["state"]
    assert_refused(rt, web, web.get(f"{CALLBACK}?{urlencode(query)}"), "wrong_state")


def test_a_callback_without_the_browsers_flow_cookie_is_refused(
    rt: Runtime, web: TestClient, provider_id: int
) -> None:
    back = at_provider(start(web, provider_id), "analyst")
    web.cookies.clear()  # another browser (login CSRF) or an expired trip
    assert_refused(rt, web, web.get(back), "no_flow")


def test_the_provider_reporting_an_error_is_refused(
    rt: Runtime, web: TestClient, provider_id: int
) -> None:
    start(web, provider_id)
    response = web.get(f"{CALLBACK}?error=access_denied&state=x")
    assert_refused(rt, web, response, "provider_error:access_denied")


def test_an_unknown_provider_is_refused(rt: Runtime, web: TestClient) -> None:
    assert_refused(rt, web, web.get("/staff/sign-in/sso/999999/start"), "unknown_provider")


def test_the_chooser_finds_the_provider_by_e_mail_domain(web: TestClient, provider_id: int) -> None:
    page = web.get("/staff/sign-in/sso?email=someone@example.org")
    assert page.status_code == 200
    assert f'href="/staff/sign-in/sso/{provider_id}/start"' in page.text
    assert IDP in page.text
    other = web.get("/staff/sign-in/sso?email=someone@elsewhere.example")
    assert "No organisation signs in this way" in other.text


def test_the_pages_are_public_and_declare_so() -> None:
    for route in oidc_pages.router.routes:
        calls = [d.call for d in route.dependant.dependencies]  # type: ignore[attr-defined]
        found = [getattr(c, "permission", None) for c in calls if hasattr(c, "permission")]
        assert found == [Permission.public_pages_view], route


# --- the ID token, server-side ------------------------------------------------------------

ISS = "https://idp.example.org"
NONCE = "n-0123456789"


def _token(key: RSAKey, **changes: object) -> str:
    now = int(time.time())
    claims = {"iss": ISS, "aud": CLIENT_ID, "sub": "s1", "iat": now, "exp": now + 300}
    claims |= {"nonce": NONCE, "email": "analyst.sso@example.org", "email_verified": True}
    claims |= changes
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def _verify(token: str, keys: KeySet) -> dict[str, object]:
    return oidc.verify_id_token(token, keys, issuer=ISS, client_id=CLIENT_ID, nonce=NONCE)


def test_a_valid_id_token_verifies() -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    assert _verify(_token(key), KeySet([key]))["sub"] == "s1"


@pytest.mark.parametrize(
    "changes",
    [
        {"iss": "https://evil.example.org"},
        {"aud": "someone-else"},
        {"nonce": "replayed"},
        {"exp": int(time.time()) - 3600},
        {"azp": "someone-else"},
    ],
)
def test_id_tokens_with_wrong_claims_are_refused(changes: dict[str, object]) -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with pytest.raises(oidc.Refused, match="invalid_id_token"):
        _verify(_token(key, **changes), KeySet([key]))


def test_a_tampered_or_foreign_id_token_is_refused() -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    head, _body, sig = _token(key).split(".")
    forged = jwt.encode({"alg": "RS256"}, {"sub": "admin"}, key).split(".")[1]
    with pytest.raises(oidc.Refused, match="invalid_id_token"):
        _verify(f"{head}.{forged}.{sig}", KeySet([key]))
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with pytest.raises(oidc.Refused, match="invalid_id_token"):
        _verify(_token(other), KeySet([key]))
    unsigned = jwt.encode({"alg": "none"}, {"sub": "s1"}, None, algorithms=["none"])
    with pytest.raises(oidc.Refused, match="invalid_id_token"):
        _verify(unsigned, KeySet([key]))
    # HMAC keyed with something public (the classic algorithm-confusion attack).
    hmac_key = OctKey.import_key(b"k" * 32, parameters={"kid": "k1"})
    hs = jwt.encode({"alg": "HS256", "kid": "k1"}, {"iss": ISS}, hmac_key)
    with pytest.raises(oidc.Refused, match="invalid_id_token"):
        _verify(hs, KeySet([key, hmac_key]))


def test_an_expired_flow_cookie_is_refused(rt: Runtime) -> None:
    pending = oidc.Pending(1, "s", "n", "v", CALLBACK, time.time() - oidc.FLOW_TIMEOUT_S - 1)
    with pytest.raises(oidc.Refused, match="flow_expired"):
        oidc.Pending.open(rt.sealer, pending.seal(rt.sealer), time.time())
    tampered = pending.seal(rt.sealer)[:-4] + "AAAA"
    with pytest.raises(oidc.Refused, match="flow_unreadable"):
        oidc.Pending.open(rt.sealer, tampered, time.time())


def test_issuers_must_use_https_except_on_loopback() -> None:
    assert oidc.check_issuer("https://idp.example.org/realms/x")
    assert oidc.check_issuer("http://127.0.0.1:8080")
    for bad in ("http://idp.example.org", "https://idp.example.org/?a=b", "ftp://x"):
        with pytest.raises(ValueError):
            oidc.check_issuer(bad)


# --- the command line ---------------------------------------------------------------------


def test_idp_add_keeps_the_secret_sealed(migrated: Cli) -> None:
    migrated("orgs", "create", ORG, "--kind", "police")
    args = ["add", "--org", ORG, "--name", IDP, "--issuer", "https://idp.example.org"]
    args += ["--client-id", "vigil", "--client-secret-stdin", "--email-domain", "Example.org"]
    result = runner.invoke(idp_app, args, input=f"{CLIENT_SECRET}\n")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    with migrated.runtime() as rt, rt.db.session() as session:
        (provider,) = oidc.providers(session)
        assert provider.allowed_email_domain == "example.org"
        assert CLIENT_SECRET.encode() not in provider.client_secret_sealed
        Sealed.unpack(provider.client_secret_sealed)
        assert oidc.client_secret(rt.sealer, provider) == CLIENT_SECRET
        actions = [e.action for e in session.scalars(select(AuditEvent))]
        assert "identity_provider.added" in actions
    listed = runner.invoke(idp_app, ["list"], env={"COLUMNS": "250"})
    assert IDP in listed.stdout and CLIENT_SECRET not in listed.stdout
    again = runner.invoke(idp_app, args, input=f"{CLIENT_SECRET}\n")
    assert again.exit_code == 1
    insecure = [*args[:6], "http://idp.example.org", *args[7:]]
    insecure[insecure.index("--name") + 1] = "Other"
    assert runner.invoke(idp_app, insecure, input="s\n").exit_code == 1
