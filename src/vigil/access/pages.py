"""Staff sign-in pages: e-mail and password, then a TOTP code; sign-out; the landing page.

The staff session has its own cookie (``__Host-vigil_staff`` under HTTPS) and its own table;
the visitor session of the public pages still carries the language and the CSRF token, and
is given a new id and a new CSRF token at sign-in so that nothing planted before it
survives. Answers never say whether an account exists (see :mod:`vigil.access.signin`).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from vigil.access import session_pages, signin
from vigil.access.api import public
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.access.signin import COOKIE as COOKIE
from vigil.access.signin import SECURE_COOKIE, cookie_name
from vigil.access.signin import staff_cookie as staff_cookie
from vigil.audit.services import record_event
from vigil.web.problems import Problem
from vigil.web.ratelimit import client_key
from vigil.web.runtime import Runtime, runtime
from vigil.web.said import said
from vigil.web.templating import Page, page, page_router, translations

router = page_router()
_public = Depends(public(Permission.public_pages_view))

HOME = "/staff"
SIGN_IN = "/staff/sign-in"
CODE = "/staff/sign-in/code"
SIGN_OUT = "/staff/sign-out"
ENDED_MESSAGES = ("signed-out", "ended", "idle")


# --- the staff cookie and the session dependency ------------------------------------------


def _set_cookie(request: Request, response: Response, token: str) -> None:
    name = cookie_name(request)
    # No Max-Age: the browser forgets it on closing; the server enforces the timeouts.
    response.set_cookie(
        name, token, path="/", secure=name == SECURE_COOKIE, httponly=True, samesite="strict"
    )


def _clear_cookie(request: Request, response: Response) -> None:
    name = cookie_name(request)
    response.delete_cookie(
        name, path="/", secure=name == SECURE_COOKIE, httponly=True, samesite="strict"
    )


def _client(request: Request, rt: Runtime) -> str:
    return client_key(request, rt.settings.trust_forwarded_for)


class AddressFailures:
    """Failed attempts per client address in a sliding window, in this process's memory only.

    Keys are hashed; an address is forgotten once its failures have aged out.
    """

    def __init__(self) -> None:
        self._hits: dict[bytes, deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(address: str) -> bytes:
        return hashlib.blake2b(address.encode(), digest_size=16).digest()

    def wait(self, address: str, lim: signin.SignInLimits) -> float | None:
        """Seconds until ``address`` may try again, or None when it may try now."""
        now = time.monotonic()
        with self._lock:
            hits = self._recent(self._key(address), now, lim)
            if len(hits) < lim.address_max_failures:
                return None
            return max(1.0, hits[0] + lim.failure_window_s - now)

    def add(self, address: str, lim: signin.SignInLimits) -> bool:
        """Count a failure; True when it is the one that reaches the limit."""
        now = time.monotonic()
        with self._lock:
            key = self._key(address)
            hits = self._recent(key, now, lim)
            hits.append(now)
            for other in [k for k, v in self._hits.items() if not v]:
                del self._hits[other]
            return len(hits) == lim.address_max_failures

    def _recent(self, key: bytes, now: float, lim: signin.SignInLimits) -> deque[float]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - lim.failure_window_s:
            hits.popleft()
        return hits


def with_retry_after(response: Response, wait_s: float) -> Response:
    """A 429 says when to try again (whole seconds, at least 1), as the API's 429s do."""
    response.headers["Retry-After"] = str(max(1, math.ceil(wait_s)))
    return response


def _failed(p: Page, client: str, lim: signin.SignInLimits) -> None:
    if address_failures(p.request).add(client, lim):
        signin.address_locked(p.rt, client, lim)


def address_failures(request: Request) -> AddressFailures:
    """This app's in-memory failure counts per address (one per app, so tests stay apart)."""
    state = request.app.state
    found = getattr(state, "staff_address_failures", None)
    if not isinstance(found, AddressFailures):
        found = AddressFailures()
        state.staff_address_failures = found
    return found


def staff_session(
    permission: Permission | None = None, *, touch: bool | None = None
) -> Callable[..., StaffUser]:
    """A dependency: the signed-in staff member, or a redirect to the sign-in page.

    With a ``permission``, a signed-in user without it gets 403 (audited). The session is
    checked on every request: disablement and the timeouts end it at once. ``touch`` is
    whether the request counts as activity (see :func:`vigil.access.signin.current`).
    """

    def guard(request: Request, rt: Runtime = Depends(runtime)) -> StaffUser:
        token = staff_cookie(request)
        client = _client(request, rt)
        found, ended = signin.current(rt, token, client, touch=touch) if token else (None, False)
        if found is None:
            target = f"{SIGN_IN}?ended=ended" if ended else SIGN_IN
            raise Problem(303, said("See other"), headers={"Location": target})
        request.state.staff = found
        if permission is not None and permission not in found.user.permissions:
            actor = found.user.actor(_client(request, rt))
            rt.db.write_sync(
                lambda s: record_event(
                    s,
                    actor,
                    "access.denied",
                    outcome="denied",
                    purpose=f"{request.method} {request.url.path} needs {permission.value}",
                )
            )
            raise Problem(403, said("Forbidden"), said("Your role does not allow this."))
        return found.user

    if permission is not None:
        guard.permission = permission  # type: ignore[attr-defined]
    return guard


def render_staff(p: Page, template: str, status: int = 200, **context: Any) -> Response:
    """Render a page with the identity bar (when signed in): who, where, and time left,
    with the data the session script counts down from."""
    found: signin.SignedIn | None = getattr(p.request.state, "staff", None)
    time_left = session_clock = None
    if found is not None:
        time_left = session_pages.time_left_text(p, found)
        session_clock = session_pages.clock(p, found)
    return p.render(
        template,
        status=status,
        staff=found,
        time_left=time_left,
        session_clock=session_clock,
        **context,
    )


# --- step one: e-mail and password --------------------------------------------------------


@router.get(SIGN_IN, dependencies=[_public])
def sign_in_form(p: Page = Depends(page)) -> Response:
    token = staff_cookie(p.request)
    if token and signin.current(p.rt, token)[0] is not None:
        return p.redirect(HOME)
    ended = p.request.query_params.get("ended")
    return _sign_in_page(p, {}, {}, ended=ended if ended in ENDED_MESSAGES else None)


@router.post(SIGN_IN, dependencies=[_public])
def sign_in(p: Page = Depends(page)) -> Response:
    form: FormData = p.request.state.form
    values = {"email": _text(form, "email"), "password": _text(form, "password")}
    errors: dict[str, str] = {}
    if not values["email"].strip():
        errors["email"] = p._("Enter your e-mail address")
    if not values["password"]:
        errors["password"] = p._("Enter your password")
    if errors:
        return _sign_in_page(p, values, errors, status=400)
    lim = signin.limits(p.rt.settings)
    client = _client(p.request, p.rt)
    wait = address_failures(p.request).wait(client, lim)
    if wait is not None:
        errors["email"] = _too_many(p, wait)
        return with_retry_after(_sign_in_page(p, values, errors, status=429), wait)
    step = signin.check_password(p.rt, values["email"], values["password"], client)
    if step.outcome is signin.Outcome.no_second_factor:
        errors["email"] = p._(
            "Your account does not have a second factor yet, so you cannot sign in. "
            "Ask your administrator to set one up."
        )
        return _sign_in_page(p, values, errors, status=400)
    if step.outcome is not signin.Outcome.accepted or step.token is None:
        _failed(p, client, lim)
        num = _minutes(lim.lockout_s)
        errors["email"] = translations(p.lang).ngettext(
            "The e-mail address or password is not right, or the account cannot be used "
            "at the moment. Check them and try again. After several failed attempts you "
            "must wait %(num)d minute before trying again.",
            "The e-mail address or password is not right, or the account cannot be used "
            "at the moment. Check them and try again. After several failed attempts you "
            "must wait %(num)d minutes before trying again.",
            num,
        ) % {"num": num}
        return _sign_in_page(p, values, errors, status=400)
    response = p.redirect(CODE)
    _set_cookie(p.request, response, step.token)
    return response


def _sign_in_page(
    p: Page,
    values: dict[str, str],
    errors: dict[str, str],
    *,
    status: int = 200,
    ended: str | None = None,
) -> Response:
    shown = {"email": values.get("email", "")}  # a password is never sent back
    return render_staff(
        p,
        "access/sign_in.html",
        status=status,
        values=shown,
        errors=errors,
        error_list=_error_list(errors, ("email", "password")),
        ended=ended,
        idle_ended_text=session_pages.idle_ended_text(p) if ended == "idle" else None,
    )


# --- step two: the code -------------------------------------------------------------------


@router.get(CODE, dependencies=[_public])
def code_form(p: Page = Depends(page)) -> Response:
    token = staff_cookie(p.request)
    if not token or not signin.has_half_way_session(p.rt, token):
        return p.redirect(SIGN_IN)
    return _code_page(p, {})


@router.post(CODE, dependencies=[_public])
def code(p: Page = Depends(page)) -> Response:
    token = staff_cookie(p.request)
    if not token:
        return p.redirect(SIGN_IN)
    entered = "".join(_text(p.request.state.form, "code").split())
    errors: dict[str, str] = {}
    if not entered:
        errors["code"] = p._("Enter the code from your authenticator app")
    elif len(entered) != signin.TOTP_DIGITS or not entered.isascii() or not entered.isdigit():
        errors["code"] = p._("Enter the code from your authenticator app: it is 6 numbers")
    if errors:
        return _code_page(p, errors, status=400)
    lim = signin.limits(p.rt.settings)
    client = _client(p.request, p.rt)
    wait = address_failures(p.request).wait(client, lim)
    if wait is not None:
        return with_retry_after(_code_page(p, {"code": _too_many(p, wait)}, status=429), wait)
    step = signin.check_code(p.rt, token, entered, client)
    outcome = step.outcome
    if outcome is signin.Outcome.accepted and step.token is not None:
        # A new visitor session and CSRF token too: nothing from before sign-in carries over.
        p.session.token = None
        p.session.pop("csrf")
        response = p.redirect(HOME)
        _set_cookie(p.request, response, step.token)
        return response
    if outcome is signin.Outcome.expired:
        return p.redirect(f"{SIGN_IN}?ended=ended")
    _failed(p, client, lim)
    if outcome is signin.Outcome.locked:
        num = _minutes(lim.lockout_s)
        errors["email"] = translations(p.lang).ngettext(
            "You have entered a wrong code too many times. "
            "Wait %(num)d minute, then sign in again.",
            "You have entered a wrong code too many times. "
            "Wait %(num)d minutes, then sign in again.",
            num,
        ) % {"num": num}
        response = _sign_in_page(p, {}, errors, status=400)
        _clear_cookie(p.request, response)
        return response
    if outcome is signin.Outcome.replayed_code:
        errors["code"] = p._(
            "That code has already been used. Wait for your app to show a new code, then enter it."
        )
    else:
        errors["code"] = p._(
            "The code is not right. Enter the code your authenticator app shows now."
        )
    return _code_page(p, errors, status=400)


def _code_page(p: Page, errors: dict[str, str], status: int = 200) -> Response:
    return render_staff(
        p,
        "access/sign_in_code.html",
        status=status,
        errors=errors,
        error_list=_error_list(errors, ("code",)),
    )


# --- signing out and the landing page -----------------------------------------------------


@router.post(SIGN_OUT, dependencies=[_public])
def sign_out(p: Page = Depends(page)) -> Response:
    token = staff_cookie(p.request)
    if token:
        signin.sign_out(p.rt, token, _client(p.request, p.rt))
    response = p.redirect(f"{SIGN_IN}?ended=signed-out")
    _clear_cookie(p.request, response)
    return response


# Any signed-in staff member; the permission is declared once Permission has one for it.
@router.get(HOME)
def home(
    p: Page = Depends(page),
    _user: StaffUser = Depends(staff_session(Permission.staff_console_view)),
) -> Response:
    return render_staff(p, "access/home.html")


# --- the session clock: the identity bar's script asks how long is left, or to stay -------


@router.get(session_pages.STATUS)
def session_status(
    _user: StaffUser = Depends(staff_session(Permission.staff_console_view, touch=False)),
    p: Page = Depends(page),
) -> Response:
    """Seconds left, without counting as activity: the script asks before it warns or signs
    out, since the person may have been busy in another tab all along."""
    return session_pages.answer(p, p.request.state.staff)


@router.post(session_pages.KEEP_ALIVE)
def keep_alive(
    _user: StaffUser = Depends(staff_session(Permission.staff_console_view, touch=False)),
    p: Page = Depends(page),
) -> Response:
    """The warning's "Stay signed in": the idle clock starts again, as on any page (so,
    like a page visit, it is not an audit event); the absolute end does not move. Only
    once the CSRF token has been checked (``page``) does the request count as activity."""
    token = staff_cookie(p.request)
    found = signin.current(p.rt, token, _client(p.request, p.rt), touch=True)[0] if token else None
    if found is None:  # ended between the guard and now
        return p.redirect(f"{SIGN_IN}?ended=ended")
    return session_pages.answer(p, found)


# --- helpers ------------------------------------------------------------------------------


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _error_list(errors: dict[str, str], order: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"text": errors[name], "href": f"#{name}"} for name in order if name in errors]


_minutes = session_pages.minutes


def _too_many(p: Page, wait_s: float) -> str:
    num = _minutes(wait_s)
    return translations(p.lang).ngettext(
        "There have been too many failed attempts to sign in from your network. "
        "Try again in %(num)d minute.",
        "There have been too many failed attempts to sign in from your network. "
        "Try again in %(num)d minutes.",
        num,
    ) % {"num": num}
