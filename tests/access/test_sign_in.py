"""Staff sign-in, on both databases: password then TOTP code, sessions and their ends,
lockout per account and per address with answers that never reveal whether an account
exists, audit events without secrets, CSRF on every form, and the CLI that sets credentials.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.scratch import Cli, runner
from vigil.access import pages, signin
from vigil.access.models import StaffSession, User
from vigil.access.permissions import OrganisationKind, Permission, Role
from vigil.access.services import create_user
from vigil.audit.models import AuditEvent
from vigil.audit.services import SYSTEM
from vigil.cli import app as cli_app
from vigil.db import utcnow
from vigil.sealing import Sealed
from vigil.settings import get_settings
from vigil.web.app import create_app
from vigil.web.runtime import Runtime

PASSWORD = "correct horse battery staple"
GENERIC = "The e-mail address or password is not right"


@dataclass(frozen=True)
class Staff:
    email: str
    user_id: int
    secret: str | None


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests use cheap argon2 costs; the real ones are checked once, below."""
    monkeypatch.setattr(signin, "PASSWORDS", signin.Passwords(time_cost=1, memory_kib=1024))


@pytest.fixture
def app(rt: Runtime) -> FastAPI:
    app = create_app(rt=rt)
    if not any(getattr(r, "path", None) == pages.SIGN_IN for r in app.routes):
        app.include_router(pages.router)  # until the app factory lists the area
    return app


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def make_staff(
    rt: Runtime, email: str = "officer@example.org", *, totp: bool = True, org: str | None = None
) -> Staff:
    def work(session: Session) -> Staff:
        user = create_user(
            session,
            SYSTEM,
            email,
            org or rt.settings.receiving_org,
            Role.investigator,
            OrganisationKind.ct_policing,
        )
        signin.set_password(session, SYSTEM, user, signin.new_password_hash(PASSWORD, email))
        secret = signin.enrol_totp(session, rt.sealer, SYSTEM, user) if totp else None
        return Staff(user.email, user.id, secret)

    return rt.db.write_sync(work)


def csrf(client: TestClient, path: str = pages.SIGN_IN) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found, path
    return found.group(1)


def totp(staff: Staff, steps: int = 0) -> str:
    assert staff.secret
    return pyotp.TOTP(staff.secret).at(time.time() + 30 * steps)


def post_password(client: TestClient, email: str, password: str = PASSWORD) -> Response:
    data = {"csrf_token": csrf(client), "email": email, "password": password}
    return client.post(pages.SIGN_IN, data=data)


def post_code(client: TestClient, code: str) -> Response:
    return post_code_with(client, csrf(client, pages.CODE), code)


def post_code_with(client: TestClient, token: str, code: str) -> Response:
    return client.post(pages.CODE, data={"csrf_token": token, "code": code})


def sign_in(client: TestClient, staff: Staff, steps: int = 0) -> None:
    first = post_password(client, staff.email)
    assert (first.status_code, first.headers["location"]) == (303, pages.CODE), first.text
    second = post_code(client, totp(staff, steps))
    assert (second.status_code, second.headers["location"]) == (303, pages.HOME), second.text


def staff_token(client: TestClient) -> str:
    token = client.cookies.get(pages.COOKIE) or client.cookies.get(pages.SECURE_COOKIE)
    assert token
    return token


def plant(client: TestClient, value: str) -> None:
    """Put a staff cookie in the browser, as the server would have set it."""
    client.cookies.set(pages.COOKIE, value, domain="testserver.local")


def session_row(rt: Runtime, token: str) -> StaffSession | None:
    with rt.db.session() as session:
        return session.get(StaffSession, signin.session_id(token))


def move_session(rt: Runtime, token: str, **ago: timedelta) -> None:
    values = {column: utcnow() - delta for column, delta in ago.items()}
    sid = signin.session_id(token)
    rt.db.write_sync(
        lambda s: s.execute(update(StaffSession).where(StaffSession.id == sid).values(**values))
    )


def set_user(rt: Runtime, user_id: int, **values: Any) -> None:
    rt.db.write_sync(lambda s: s.execute(update(User).where(User.id == user_id).values(**values)))


def events(rt: Runtime, action: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.seq)
    if action:
        query = query.where(AuditEvent.action == action)
    with rt.db.session() as session:
        return list(session.scalars(query))


def is_signed_in(client: TestClient) -> bool:
    response = client.get(pages.HOME)
    if response.status_code == 303:
        assert response.headers["location"].startswith(pages.SIGN_IN)
        return False
    assert response.status_code == 200, response.text
    return True


# --- signing in ---------------------------------------------------------------------------


def test_password_then_code_signs_in_and_the_identity_bar_shows_who_and_where(
    rt: Runtime, web: TestClient
) -> None:
    staff = make_staff(rt)
    sign_in(web, staff)
    page = web.get(pages.HOME)
    assert page.status_code == 200
    assert "Signed in as officer@example.org, National CT Reporting Hub" in page.text
    assert "Your session ends in 30 minutes unless you use Vigil." in page.text
    assert 'action="/staff/sign-out"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert web.get(pages.SIGN_IN).headers["location"] == pages.HOME  # already signed in


def test_the_landing_page_sends_anyone_not_signed_in_to_sign_in(web: TestClient) -> None:
    response = web.get(pages.HOME)
    assert (response.status_code, response.headers["location"]) == (303, pages.SIGN_IN)
    assert web.get(pages.CODE).headers["location"] == pages.SIGN_IN  # no password step yet


def test_sign_in_pages_are_public_and_every_route_declares_how_it_is_guarded() -> None:
    guarded = {}
    for route in pages.router.routes:
        calls = [d.call for d in route.dependant.dependencies]  # type: ignore[attr-defined]
        found = [getattr(c, "permission", None) for c in calls if hasattr(c, "permission")]
        guarded[(route.path, *sorted(route.methods))] = found  # type: ignore[attr-defined]
    public = [Permission.public_pages_view]
    assert guarded[(pages.SIGN_IN, "GET")] == public
    assert guarded[(pages.SIGN_IN, "POST")] == public
    assert guarded[(pages.CODE, "GET")] == public
    assert guarded[(pages.CODE, "POST")] == public
    assert guarded[(pages.SIGN_OUT, "POST")] == public
    home = next(r for r in pages.router.routes if getattr(r, "path", "") == pages.HOME)
    assert any(
        getattr(d.call, "__qualname__", "").startswith("staff_session")
        for d in home.dependant.dependencies  # type: ignore[attr-defined]
    )


def test_an_account_without_a_second_factor_cannot_sign_in(rt: Runtime, web: TestClient) -> None:
    staff = make_staff(rt, totp=False)
    response = post_password(web, staff.email)
    assert response.status_code == 400
    assert "does not have a second factor yet" in response.text
    assert pages.COOKIE not in web.cookies


def test_the_code_step_times_out_after_five_minutes(rt: Runtime, web: TestClient) -> None:
    staff = make_staff(rt)
    post_password(web, staff.email)
    move_session(rt, staff_token(web), created_at=timedelta(minutes=6))
    assert web.get(pages.CODE).headers["location"] == pages.SIGN_IN
    late = post_code_with(web, csrf(web), totp(staff))
    assert late.headers["location"] == "/staff/sign-in?ended=ended"


def test_default_password_hashes_are_argon2id_with_strong_costs() -> None:
    hashed = signin.Passwords().hash(PASSWORD)
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=1$")
    with pytest.raises(signin.WeakPassword):
        signin.new_password_hash("short", "a@example.org")
    with pytest.raises(signin.WeakPassword):
        signin.new_password_hash("someone@example.org", "Someone@example.org")


# --- answers that never say whether an account exists -------------------------------------


def test_unknown_email_wrong_password_locked_and_disabled_accounts_answer_identically(
    rt: Runtime, web: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = make_staff(rt, "wrong@example.org")
    locked = make_staff(rt, "locked@example.org")
    disabled = make_staff(rt, "disabled@example.org")
    set_user(rt, locked.user_id, locked_until=utcnow() + timedelta(minutes=10))
    set_user(rt, disabled.user_id, disabled_at=utcnow())
    verifications: list[str | None] = []
    real_verify = signin.PASSWORDS.verify

    def counting(stored: str | None, password: str) -> bool:
        verifications.append(stored)
        return real_verify(stored, password)

    monkeypatch.setattr(signin.PASSWORDS, "verify", counting)
    attempts = [
        ("nobody@example.org", PASSWORD),
        (wrong.email, "not the password at all"),
        (locked.email, PASSWORD),  # the right password does not open a locked account
        (disabled.email, PASSWORD),
    ]
    answers = []
    for email, password in attempts:
        before = len(events(rt, "staff.sign_in_failed"))
        verifications.clear()
        response = post_password(web, email, password)
        assert len(verifications) == 1  # one argon2 verification each, dummy or real
        assert len(events(rt, "staff.sign_in_failed")) == before + 1
        body = re.sub(r'name="csrf_token" value="[^"]+"', "", response.text)
        answers.append((response.status_code, body.replace(email, "EMAIL")))
        assert pages.COOKIE not in web.cookies
    assert answers[0][0] == 400
    assert GENERIC in answers[0][1]
    assert all(answer == answers[0] for answer in answers)
    reasons = [e.purpose for e in events(rt, "staff.sign_in_failed")]
    assert reasons == ["unknown_account", "wrong_password", "locked", "disabled"]


def test_an_account_locks_after_five_failures_even_against_the_right_password(
    rt: Runtime, web: TestClient
) -> None:
    staff = make_staff(rt)
    for _ in range(5):
        assert post_password(web, staff.email, "a wrong guess here").status_code == 400
    (locked,) = events(rt, "staff.account_locked")
    assert locked.record_ids == [str(staff.user_id)]
    refused = post_password(web, staff.email)
    assert refused.status_code == 400 and GENERIC in refused.text
    set_user(rt, staff.user_id, locked_until=utcnow() - timedelta(seconds=1))  # time passes
    sign_in(web, staff)


def test_wrong_codes_count_towards_the_account_lock(rt: Runtime, web: TestClient) -> None:
    staff = make_staff(rt)
    post_password(web, staff.email)
    half_way = staff_token(web)
    real = totp(staff)
    wrong = f"{(int(real) + 1) % 1_000_000:06d}"
    for _ in range(4):
        response = post_code(web, wrong)
        assert response.status_code == 400 and "The code is not right" in response.text
    last = post_code(web, wrong)
    assert last.status_code == 400 and "wrong code too many times" in last.text
    row = session_row(rt, half_way)
    assert row is not None and row.ended_reason == "locked"
    assert post_password(web, staff.email).status_code == 400  # the account is locked now
    assert len(events(rt, "staff.account_locked")) == 1


def test_an_address_is_refused_after_too_many_failures_across_accounts(
    rt: Runtime, app: FastAPI, web: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    few = signin.SignInLimits(address_max_failures=3)
    monkeypatch.setattr(signin, "limits", lambda _settings: few)
    staff = make_staff(rt)
    for n in range(3):
        assert post_password(web, f"guess{n}@example.org").status_code == 400
    refused = post_password(web, staff.email)  # even the right password, from this address
    assert refused.status_code == 429
    assert "too many failed attempts to sign in from your network" in refused.text
    (locked,) = events(rt, "staff.address_locked")  # once, not for every refusal
    assert locked.client_address == "testclient"
    with TestClient(app, follow_redirects=False, client=("198.51.100.7", 40000)) as other:
        sign_in(other, staff)


def test_behind_the_proxy_a_client_cannot_dodge_the_address_lockout_with_forged_addresses(
    rt: Runtime, web: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    few = signin.SignInLimits(address_max_failures=3)
    monkeypatch.setattr(signin, "limits", lambda _settings: few)
    monkeypatch.setattr(rt.settings, "trust_forwarded_for", True)
    staff = make_staff(rt)

    def through_proxy(n: int, email: str) -> Response:
        # the client wrote the first entry; the proxy appended the address it really saw
        web.headers["X-Forwarded-For"] = f"198.51.100.{n}, 203.0.113.10"
        return post_password(web, email)

    for n in range(3):
        assert through_proxy(n, f"guess{n}@example.org").status_code == 400
    assert through_proxy(99, staff.email).status_code == 429
    (locked,) = events(rt, "staff.address_locked")
    assert locked.client_address == "203.0.113.10"
    failed = {e.client_address for e in events(rt, "staff.sign_in_failed")}
    assert failed == {"203.0.113.10"}  # never an address the client made up


# --- the TOTP code ------------------------------------------------------------------------


def test_a_code_is_accepted_once_and_older_codes_are_refused(rt: Runtime, web: TestClient) -> None:
    staff = make_staff(rt)
    used, older, newer = totp(staff), totp(staff, -1), totp(staff, 1)
    sign_in(web, staff)
    web.post(pages.SIGN_OUT, data={"csrf_token": csrf(web, pages.HOME)})
    post_password(web, staff.email)
    replay = post_code(web, used)
    assert replay.status_code == 400 and "already been used" in replay.text
    assert post_code(web, older).status_code == 400
    accepted = post_code(web, newer)
    assert (accepted.status_code, accepted.headers["location"]) == (303, pages.HOME)
    reasons = [e.purpose for e in events(rt, "staff.sign_in_failed")]
    assert reasons[0] == "replayed_code"


def test_the_totp_secret_is_sealed_at_rest(rt: Runtime) -> None:
    staff = make_staff(rt)
    assert staff.secret
    with rt.db.session() as session:
        user = session.get(User, staff.user_id)
        assert user is not None and user.totp_sealed is not None
        sealed = user.totp_sealed
    assert staff.secret.encode() not in sealed
    context = f"totp-secret:user:{staff.user_id}".encode()
    assert rt.sealer.open(Sealed.unpack(sealed), context).decode() == staff.secret


# --- the session --------------------------------------------------------------------------


def test_the_session_cookie_is_host_prefixed_secure_httponly_and_strict_over_https(
    rt: Runtime, app: FastAPI
) -> None:
    staff = make_staff(rt)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        post_password(client, staff.email)
        response = post_code(client, totp(staff))
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("__Host-vigil_staff=")
    )
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict", "path=/"} <= flags
    assert not any(flag.startswith(("domain", "max-age", "expires")) for flag in flags)
    assert len(cookie.split(";")[0].split("=", 1)[1]) >= 43  # 256 random bits


def test_over_plain_http_the_cookie_has_no_host_prefix_and_no_secure_flag(
    rt: Runtime, web: TestClient
) -> None:
    staff = make_staff(rt)
    post_password(web, staff.email)
    response = post_code(web, totp(staff))
    cookie = next(c for c in response.headers.get_list("set-cookie") if "vigil_staff=" in c)
    assert cookie.startswith("vigil_staff=")
    assert "secure" not in cookie.lower() and "httponly" in cookie.lower()


def test_the_session_id_is_new_at_sign_in_and_nothing_planted_survives(
    rt: Runtime, web: TestClient
) -> None:
    staff = make_staff(rt)
    plant(web, "planted-by-someone-else")
    visitor_before = web.cookies.get("vigil_session")
    csrf_before = csrf(web)
    post_password(web, staff.email)
    half_way = staff_token(web)
    assert half_way != "planted-by-someone-else"
    post_code(web, totp(staff))
    whole = staff_token(web)
    assert whole != half_way
    assert session_row(rt, "planted-by-someone-else") is None
    ended = session_row(rt, half_way)
    assert ended is not None and ended.ended_reason == "second_factor_passed"
    assert web.cookies.get("vigil_session") != visitor_before  # a new visitor session too
    assert csrf(web, pages.HOME) != csrf_before
    assert is_signed_in(web)


def test_a_session_ends_after_30_idle_minutes(rt: Runtime, web: TestClient) -> None:
    staff = make_staff(rt)
    sign_in(web, staff)
    move_session(rt, staff_token(web), last_seen_at=timedelta(minutes=29))
    assert is_signed_in(web)  # use refreshes the idle clock
    move_session(rt, staff_token(web), last_seen_at=timedelta(minutes=31))
    response = web.get(pages.HOME)
    assert response.headers["location"] == "/staff/sign-in?ended=ended"
    assert "Your session has ended" in web.get(response.headers["location"]).text
    row = session_row(rt, staff_token(web))
    assert row is not None and row.ended_reason == "idle_timeout"
    move_session(rt, staff_token(web), last_seen_at=timedelta(0))
    assert not is_signed_in(web)  # an ended session never comes back


def test_a_session_ends_after_12_hours_however_busy(rt: Runtime, web: TestClient) -> None:
    staff = make_staff(rt)
    sign_in(web, staff)
    token = staff_token(web)
    move_session(rt, token, created_at=timedelta(hours=11, minutes=50))
    assert "Your session ends in 10 minutes" in web.get(pages.HOME).text
    move_session(rt, token, created_at=timedelta(hours=12, minutes=1))
    assert not is_signed_in(web)
    row = session_row(rt, token)
    assert row is not None and row.ended_reason == "absolute_timeout"


def test_sessions_long_past_their_end_are_purged(rt: Runtime, web: TestClient) -> None:
    staff = make_staff(rt)
    sign_in(web, staff)
    old = staff_token(web)
    move_session(rt, old, last_seen_at=timedelta(days=2))
    assert signin.purge_staff_sessions(rt) == 1
    assert session_row(rt, old) is None
    with TestClient(web.app, follow_redirects=False) as other:  # (start-up purges again)
        sign_in(other, staff, steps=1)
        fresh = staff_token(other)
    assert signin.purge_staff_sessions(rt) == 0
    assert session_row(rt, fresh) is not None


def test_signing_out_ends_the_session_and_the_old_cookie_is_useless(
    rt: Runtime, web: TestClient
) -> None:
    staff = make_staff(rt)
    sign_in(web, staff)
    token = staff_token(web)
    response = web.post(pages.SIGN_OUT, data={"csrf_token": csrf(web, pages.HOME)})
    assert response.headers["location"] == "/staff/sign-in?ended=signed-out"
    assert "You have signed out." in web.get(response.headers["location"]).text
    row = session_row(rt, token)
    assert row is not None and row.ended_reason == "signed_out"
    plant(web, token)  # a copy of the cookie, kept from before
    assert not is_signed_in(web)


def test_disabling_a_user_ends_their_live_session_on_the_next_request(
    rt: Runtime, web: TestClient
) -> None:
    staff = make_staff(rt)
    sign_in(web, staff)
    assert is_signed_in(web)
    set_user(rt, staff.user_id, disabled_at=utcnow())
    assert not is_signed_in(web)
    row = session_row(rt, staff_token(web))
    assert row is not None and row.ended_reason == "user_disabled"
    assert events(rt, "staff.session_ended")[-1].purpose == "user_disabled"


def test_changing_a_password_ends_every_other_session_of_that_user(
    rt: Runtime, app: FastAPI, web: TestClient
) -> None:
    staff = make_staff(rt)
    bystander = make_staff(rt, "bystander@example.org")
    sign_in(web, staff)
    with (
        TestClient(app, follow_redirects=False) as elsewhere,
        TestClient(app, follow_redirects=False) as colleague,
    ):
        sign_in(elsewhere, staff, steps=1)
        sign_in(colleague, bystander)
        keep = signin.session_id(staff_token(web))

        def change(session: Session) -> None:
            user = session.get(User, staff.user_id)
            assert user is not None
            new_hash = signin.new_password_hash("a brand new passphrase", staff.email)
            signin.set_password(session, SYSTEM, user, new_hash, keep=keep)

        rt.db.write_sync(change)
        assert is_signed_in(web)  # the session that changed it
        assert not is_signed_in(elsewhere)
        assert is_signed_in(colleague)
        row = session_row(rt, staff_token(elsewhere))
        assert row is not None and row.ended_reason == "credential_changed"


def test_a_new_authenticator_secret_ends_every_session(rt: Runtime, web: TestClient) -> None:
    staff = make_staff(rt)
    sign_in(web, staff)

    def reenrol(session: Session) -> None:
        user = session.get(User, staff.user_id)
        assert user is not None
        signin.enrol_totp(session, rt.sealer, SYSTEM, user)

    rt.db.write_sync(reenrol)
    assert not is_signed_in(web)


# --- audit and CSRF -----------------------------------------------------------------------


def test_sign_in_events_are_audited_and_never_hold_the_password_or_the_code(
    rt: Runtime, web: TestClient
) -> None:
    staff = make_staff(rt)
    post_password(web, staff.email, "my secret wrong guess")
    post_password(web, staff.email)
    wrong_code = f"{(int(totp(staff)) + 7) % 1_000_000:06d}"
    post_code(web, wrong_code)
    code = totp(staff)
    post_code(web, code)
    web.post(pages.SIGN_OUT, data={"csrf_token": csrf(web, pages.HOME)})
    actions = [e.action for e in events(rt) if e.action.startswith("staff.")]
    assert actions == [
        "staff.sign_in_failed",
        "staff.password_accepted",
        "staff.sign_in_failed",
        "staff.signed_in",
        "staff.signed_out",
    ]
    signed_in = events(rt, "staff.signed_in")[0]
    assert (signed_in.actor_user_id, signed_in.client_address) == (staff.user_id, "testclient")
    for event in events(rt):
        text = orjson.dumps(
            [event.actor_label, event.action, event.record_ids, event.purpose, event.outcome]
        ).decode()
        for secret in (PASSWORD, "my secret wrong guess", wrong_code, code, staff.secret):
            assert secret and secret not in text
        assert staff.email not in text


@pytest.mark.parametrize("path", [pages.SIGN_IN, pages.CODE, pages.SIGN_OUT])
def test_every_sign_in_form_is_refused_without_its_csrf_token(
    rt: Runtime, web: TestClient, path: str
) -> None:
    staff = make_staff(rt)
    sign_in(web, staff)
    response = web.post(path, data={"email": staff.email, "password": PASSWORD, "code": "1"})
    assert response.status_code == 400
    assert "Sorry, this form has expired" in response.text
    assert is_signed_in(web)  # not even signing out happens without the token
    assert [e.action for e in events(rt) if e.action.startswith("staff.")] == [
        "staff.password_accepted",
        "staff.signed_in",
    ]


# --- the command line ---------------------------------------------------------------------


def typed(cli: Cli, *args: str, text: str, code: int = 0) -> Any:
    """Run a command with ``text`` on its standard input (``cli`` runs it without)."""
    assert cli.url
    get_settings.cache_clear()
    result = runner.invoke(cli_app, list(args), input=text)
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result


def test_set_password_and_enrol_totp_from_the_command_line_then_sign_in(migrated: Cli) -> None:
    email = "cli.officer@example.org"
    migrated("users", "create", email, "--org", "Synthetic Constabulary", "--role", "supervisor")
    done = typed(migrated, "users", "set-password", email, "--password-stdin", text=PASSWORD)
    assert "Password set" in done.stderr
    enrolled = migrated("users", "enrol-totp", email)
    uri, secret = enrolled.stdout.split()
    assert uri.startswith("otpauth://totp/Vigil:cli.officer%40example.org?secret=")
    assert pyotp.parse_uri(uri).secret == secret
    with migrated.runtime() as rt:
        with rt.db.session() as session:
            user = session.scalar(select(User).where(User.email == email))
            assert user is not None and user.password_hash and user.totp_sealed
            assert PASSWORD not in user.password_hash and secret.encode() not in user.totp_sealed
        step = signin.check_password(rt, email, PASSWORD, "192.0.2.1")
        assert step.outcome is signin.Outcome.accepted and step.token
        code = pyotp.TOTP(secret).now()
        whole = signin.check_code(rt, step.token, code, "192.0.2.1")
        assert whole.outcome is signin.Outcome.accepted and whole.token
        found, _ended = signin.current(rt, whole.token)
        assert found is not None and found.organisation == "Synthetic Constabulary"


def test_set_password_asks_twice_and_refuses_a_short_one(migrated: Cli) -> None:
    email = "prompted@example.org"
    migrated("users", "create", email, "--org", "Synthetic Constabulary", "--role", "auditor")
    asked = typed(migrated, "users", "set-password", email, text=f"{PASSWORD}\n{PASSWORD}\n")
    assert PASSWORD not in asked.stdout + asked.stderr  # the input is not echoed
    short = typed(
        migrated, "users", "set-password", email, "--password-stdin", text="short", code=1
    )
    assert "at least 12 characters" in short.stderr
    nobody = "nobody@example.org"
    typed(migrated, "users", "set-password", nobody, "--password-stdin", text=PASSWORD, code=1)
    migrated("users", "enrol-totp", "nobody@example.org", code=1)
