"""Security-key pages: adding a key, signing in with one, and re-authenticating.

WebAuthn needs the browser's ``navigator.credentials`` API, so these pages say plainly that
JavaScript is needed; the script is a file (``/static/js/webauthn.mjs``: the CSP allows no
inline script). It exchanges JSON with the endpoints below. Those are POSTs outside
``/api``, so, like every form, they check the CSRF token, here from the ``X-CSRF-Token``
header (a cross-site page cannot set it), and they answer with the pages' headers (CSP,
``no-store``). The TOTP code remains the way to re-authenticate without a key, and staff
whose organisation signs them in through its OpenID provider may sign in there again
(:func:`vigil.access.oidc.begin_step_up`; the SSO callback finishes it).

Adding or removing a key needs a step-up: a re-authentication after sign-in, within the last
5 minutes. Without one, the key page and every step of adding or removing send the user to
``/staff/reauthenticate`` and back here; the service refuses (and audits) the change itself.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import orjson
from fastapi import Depends, Request
from starlette.datastructures import FormData
from starlette.responses import Response

from vigil.access import oidc, oidc_pages, pages, signin
from vigil.access import webauthn as keys
from vigil.access.api import public
from vigil.access.models import User
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.web.problems import Problem
from vigil.web.ratelimit import client_key
from vigil.web.runtime import Runtime, runtime
from vigil.web.said import said
from vigil.web.sessions import load_session
from vigil.web.templating import Page, page, page_router

router = page_router()
_public = Depends(public(Permission.public_pages_view))
_signed_in = pages.staff_session(Permission.staff_console_view)

KEYS = "/staff/security-keys"
SIGN_IN_KEY = "/staff/sign-in/key"
REAUTH = "/staff/reauthenticate"
REAUTH_SSO = "/staff/reauthenticate/sso"
REGISTER_OPTIONS = "/staff/webauthn/register/options"
REGISTER_VERIFY = "/staff/webauthn/register/verify"
SIGN_IN_OPTIONS = "/staff/webauthn/sign-in/options"
SIGN_IN_VERIFY = "/staff/webauthn/sign-in/verify"
REAUTH_OPTIONS = "/staff/webauthn/reauthenticate/options"
REAUTH_VERIFY = "/staff/webauthn/reauthenticate/verify"
CSRF_HEADER = "x-csrf-token"


# --- the JSON exchange --------------------------------------------------------------------


class JsonCall:
    """A JSON POST from one of Vigil's own pages: the page context and the parsed body."""

    def __init__(self, p: Page, data: dict[str, Any] | None) -> None:
        self.p = p
        self.data = data

    def answer(self, body: dict[str, Any], status: int = 200) -> Response:
        response = Response(orjson.dumps(body), status, media_type="application/json")
        return self.p.finish(response)


async def json_call(request: Request, rt: Runtime = Depends(runtime)) -> JsonCall:
    """Load the visitor session, check the CSRF header, read a bounded JSON body."""
    web = load_session(rt, request)
    token = request.headers.get(CSRF_HEADER)
    if not web.csrf_ok(token):
        raise Problem(
            403, said("Forbidden"), said("The page has expired. Reload it and try again.")
        )
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > keys.MAX_RESPONSE_BYTES:
            raise Problem(413, said("Payload too large"), said("The request is too large."))
    try:
        data: dict[str, Any] | None = keys.parse_json(body) if body else {}
    except keys.KeyRefused:
        data = None
    return JsonCall(Page(request, rt, web), data)


json_call.csrf_protected = True  # type: ignore[attr-defined]


def _rp(p: Page) -> keys.RelyingParty:
    try:
        return keys.relying_party(p.rt.settings, str(p.request.base_url))
    except keys.KeyRefused as exc:
        raise Problem(503, said("Unavailable"), said("Security keys are not configured.")) from exc


def _client(p: Page) -> str:
    return client_key(p.request, p.rt.settings.trust_forwarded_for)


def _signed(p: Page) -> signin.SignedIn:
    found: signin.SignedIn = p.request.state.staff
    return found


def _credential(call: JsonCall) -> dict[str, Any] | None:
    found = (call.data or {}).get("credential")
    return found if isinstance(found, dict) else None


# --- adding and removing keys -------------------------------------------------------------


@router.get(KEYS)
def keys_page(user: StaffUser = Depends(_signed_in), p: Page = Depends(page)) -> Response:
    """Managing keys starts with a step-up, as disclosing a reporter's identity does."""
    if not signin.fresh_step_up(p.rt, _signed(p).session_id):
        return p.redirect(reauth_url(KEYS))
    added = p.request.query_params.get("added") == "1"
    return _keys_page(p, user, {}, added=added)


@router.post(KEYS)
def keys_form(user: StaffUser = Depends(_signed_in), p: Page = Depends(page)) -> Response:
    """Without JavaScript the add button arrives here; removing a key is a plain form."""
    form: FormData = p.request.state.form
    action = _text(form, "action")
    if action == "remove" and _text(form, "key").isdecimal():
        actor = user.actor(_client(p))
        try:
            keys.remove_key(p.rt, _signed(p).session_id, actor, int(_text(form, "key")))
        except keys.ReauthenticationRequired:
            return p.redirect(reauth_url(KEYS))
        return p.redirect(KEYS)
    errors = {"name": p._("You need JavaScript turned on in your browser to add a security key")}
    return _keys_page(p, user, errors, status=400)


def _keys_page(
    p: Page, user: StaffUser, errors: dict[str, str], *, status: int = 200, added: bool = False
) -> Response:
    with p.rt.db.session() as session:
        rows = [
            {"id": r.id, "name": r.name, "created_at": r.created_at, "last_used_at": r.last_used_at}
            for r in keys.credentials_of(session, user.id)
        ]
    return pages.render_staff(
        p,
        "access/security_keys.html",
        status=status,
        keys=rows,
        errors=errors,
        error_list=[{"text": errors[n], "href": f"#{n}"} for n in ("name",) if n in errors],
        added=added,
        max_keys=keys.MAX_KEYS,
    )


@router.post(REGISTER_OPTIONS)
def register_options(
    user: StaffUser = Depends(_signed_in), call: JsonCall = Depends(json_call)
) -> Response:
    actor = user.actor(_client(call.p))
    try:
        options = keys.registration_options(
            call.p.rt, _signed(call.p).session_id, actor, _rp(call.p)
        )
    except keys.ReauthenticationRequired:
        return call.answer({"redirect": reauth_url(KEYS)}, 403)
    except keys.KeyRefused:
        return call.answer({"error": call.p._("You cannot add more security keys.")}, 400)
    return call.answer({"options": orjson.loads(options)})


@router.post(REGISTER_VERIFY)
def register_verify(
    user: StaffUser = Depends(_signed_in), call: JsonCall = Depends(json_call)
) -> Response:
    credential = _credential(call)
    name = (call.data or {}).get("name")
    actor = user.actor(_client(call.p))
    sid = _signed(call.p).session_id
    found = -1
    if credential is not None:
        label = name if isinstance(name, str) else ""
        try:
            found = keys.register(call.p.rt, sid, actor, _rp(call.p), credential, label)
        except keys.ReauthenticationRequired:
            return call.answer({"redirect": reauth_url(KEYS)}, 403)
    if found < 0:
        message = call.p._("The security key could not be added. Try again.")
        return call.answer({"error": message}, 400)
    return call.answer({"redirect": f"{KEYS}?added=1"})


# --- signing in with a key ----------------------------------------------------------------


@router.get(SIGN_IN_KEY, dependencies=[_public])
def sign_in_key_page(p: Page = Depends(page)) -> Response:
    token = pages.staff_cookie(p.request)
    if not token or not signin.has_half_way_session(p.rt, token):
        return p.redirect(pages.SIGN_IN)
    return pages.render_staff(p, "access/sign_in_key.html")


@router.post(SIGN_IN_OPTIONS, dependencies=[_public])
def sign_in_options(call: JsonCall = Depends(json_call)) -> Response:
    token = pages.staff_cookie(call.p.request)
    try:
        options = keys.sign_in_options(call.p.rt, token, _rp(call.p)) if token else None
    except keys.KeyRefused:
        message = call.p._("You have not added a security key. Use the code from your app.")
        return call.answer({"error": message, "redirect": pages.CODE}, 400)
    if options is None:
        return call.answer({"redirect": f"{pages.SIGN_IN}?ended=ended"}, 401)
    return call.answer({"options": orjson.loads(options)})


@router.post(SIGN_IN_VERIFY, dependencies=[_public])
def sign_in_verify(call: JsonCall = Depends(json_call)) -> Response:
    p = call.p
    token = pages.staff_cookie(p.request)
    if not token:
        return call.answer({"redirect": pages.SIGN_IN}, 401)
    lim = signin.limits(p.rt.settings)
    client = _client(p)
    wait = pages.address_failures(p.request).wait(client, lim)
    if wait is not None:
        message = p._("There have been too many failed attempts. Try again later.")
        return pages.with_retry_after(call.answer({"error": message}, 429), wait)
    step = keys.sign_in_with_key(p.rt, token, _rp(p), _credential(call), client)
    if step.outcome is signin.Outcome.accepted and step.token is not None:
        # A new visitor session and CSRF token: nothing from before sign-in carries over.
        p.session.token = None
        p.session.pop("csrf")
        response = call.answer({"redirect": pages.HOME})
        pages._set_cookie(p.request, response, step.token)
        return response
    if step.outcome is signin.Outcome.expired:
        return call.answer({"redirect": f"{pages.SIGN_IN}?ended=ended"}, 401)
    pages._failed(p, client, lim)
    if step.outcome is signin.Outcome.locked:
        response = call.answer({"redirect": f"{pages.SIGN_IN}?ended=ended"}, 401)
        pages._clear_cookie(p.request, response)
        return response
    return call.answer({"error": p._("The security key was not accepted. Try again.")}, 400)


# --- re-authentication --------------------------------------------------------------------


def safe_next(target: str | None) -> str:
    """Only a path inside the staff console: never another site (no open redirect)."""
    if (
        not target
        or not target.startswith("/staff")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 0x21 for c in target)
    ):
        return pages.HOME
    return target


def reauth_url(target: str) -> str:
    return f"{REAUTH}?next={quote(target, safe='/')}"


@router.get(REAUTH)
def reauth_page(user: StaffUser = Depends(_signed_in), p: Page = Depends(page)) -> Response:
    target = safe_next(p.request.query_params.get("next"))
    return _reauth_page(p, user, target, {})


@router.post(REAUTH)
def reauth_code(user: StaffUser = Depends(_signed_in), p: Page = Depends(page)) -> Response:
    form: FormData = p.request.state.form
    target = safe_next(_text(form, "next"))
    entered = "".join(_text(form, "code").split())
    if len(entered) != signin.TOTP_DIGITS or not entered.isascii() or not entered.isdigit():
        errors = {"code": p._("Enter the code from your authenticator app: it is 6 numbers")}
        return _reauth_page(p, user, target, errors, status=400)
    actor = user.actor(_client(p))
    if keys.reauthenticate_with_code(p.rt, _signed(p).session_id, actor, entered, time.time()):
        return p.redirect(target)
    if pages.staff_cookie(p.request) and not _still_signed_in(p):
        return p.redirect(f"{pages.SIGN_IN}?ended=ended")
    errors = {
        "code": p._("The code is not right. Enter the code your authenticator app shows now.")
    }
    return _reauth_page(p, user, target, errors, status=400)


def _still_signed_in(p: Page) -> bool:
    token = pages.staff_cookie(p.request)
    return bool(token) and signin.current(p.rt, token or "")[0] is not None


def _reauth_page(
    p: Page, user: StaffUser, target: str, errors: dict[str, str], status: int = 200
) -> Response:
    with p.rt.db.session() as session:
        providers = [
            {"id": x.id, "name": x.name} for x in oidc.providers_for_user(session, user.id)
        ]
        found = session.get(User, user.id)
        has_totp = found is not None and found.totp_sealed is not None
    return pages.render_staff(
        p,
        "access/reauthenticate.html",
        status=status,
        next=target,
        has_keys=keys.has_keys(p.rt, user.id),
        providers=providers,
        # Someone whose only way in is their provider has no code to enter.
        has_code=has_totp or not providers,
        errors=errors,
        error_list=[{"text": errors[n], "href": f"#{n}"} for n in ("code",) if n in errors],
    )


@router.post(REAUTH_SSO)
def reauth_sso(user: StaffUser = Depends(_signed_in), p: Page = Depends(page)) -> Response:
    """Leave to sign in again at the user's own provider, which must authenticate them anew
    (``prompt=login``, ``max_age=0``); the SSO callback checks it did and brings them back."""
    form: FormData = p.request.state.form
    target = safe_next(_text(form, "next"))
    chosen = _text(form, "provider")
    sid = _signed(p).session_id
    with p.rt.db.session() as session:
        offered = {x.id: x for x in oidc.providers_for_user(session, user.id)}
        known = chosen.isascii() and chosen.isdecimal() and len(chosen) < 12
        provider = offered.get(int(chosen)) if known else None
        if provider is not None:
            session.expunge(provider)
    try:
        if provider is None:  # not one of theirs: a forged form
            raise oidc.Refused("unknown_provider")
        redirect_uri = str(p.request.url_for("sso_callback"))
        url, flow = oidc.begin_step_up(p.rt, provider, redirect_uri, sid, target)
    except oidc.Refused as refused:
        refused.provider_name = provider.name if provider is not None else None
        oidc.audit_step_up_refusal(p.rt, refused, sid, _client(p))
        return oidc_pages.step_up_failed(p, target)
    return oidc_pages.remember_flow(p, p.redirect(url), flow)


@router.post(REAUTH_OPTIONS)
def reauth_options(
    user: StaffUser = Depends(_signed_in), call: JsonCall = Depends(json_call)
) -> Response:
    try:
        options = keys.reauth_options(call.p.rt, _signed(call.p).session_id, user.id, _rp(call.p))
    except keys.KeyRefused:
        return call.answer({"error": call.p._("You have not added a security key.")}, 400)
    return call.answer({"options": orjson.loads(options)})


@router.post(REAUTH_VERIFY)
def reauth_verify(
    user: StaffUser = Depends(_signed_in), call: JsonCall = Depends(json_call)
) -> Response:
    p = call.p
    asked = (call.data or {}).get("next")
    target = safe_next(asked if isinstance(asked, str) else None)
    actor = user.actor(_client(p))
    sid = _signed(p).session_id
    if keys.reauthenticate_with_key(p.rt, sid, actor, _rp(p), _credential(call)):
        return call.answer({"redirect": target})
    if not _still_signed_in(p):
        return call.answer({"redirect": f"{pages.SIGN_IN}?ended=ended"}, 401)
    return call.answer({"error": p._("The security key was not accepted. Try again.")}, 400)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""
