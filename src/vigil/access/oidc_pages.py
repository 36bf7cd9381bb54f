"""Single sign-on pages: choose a provider, leave for it, come back signed in (or not).

The sign-in pages are public (nobody is signed in yet); :mod:`vigil.access.oidc` decides
everything. The flow cookie is SameSite=Lax and lives only for the trip to the provider:
the provider's redirect back is a cross-site navigation, which Lax cookies survive and
Strict ones do not. It is removed on the way back, whatever the outcome.

The same callback ends a re-authentication through the provider (started from
``/staff/reauthenticate``, :mod:`vigil.access.webauthn_pages`): the provider knows one
redirect address for Vigil, and the sealed flow says which of the two it is. Like signing
in, it ends on a page that moves on by itself, since the navigation back from the provider
does not carry the Strict staff cookie, and one from this page does.
"""

from __future__ import annotations

from fastapi import Depends
from starlette.responses import Response

from vigil.access import oidc, pages, signin
from vigil.access.api import public
from vigil.access.permissions import Permission
from vigil.web.ratelimit import client_key
from vigil.web.templating import Page, page, page_router

router = page_router()
_public = Depends(public(Permission.public_pages_view))

CHOOSE = "/staff/sign-in/sso"
START = "/staff/sign-in/sso/{provider_id}/start"
CALLBACK = "/staff/sign-in/sso/callback"
FLOW_COOKIE = "vigil_sso"
SECURE_FLOW_COOKIE = "__Host-vigil_sso"


def _flow_cookie_name(p: Page) -> str:
    return SECURE_FLOW_COOKIE if p.request.url.scheme == "https" else FLOW_COOKIE


def _client(p: Page) -> str:
    return client_key(p.request, p.rt.settings.trust_forwarded_for)


@router.get(CHOOSE, dependencies=[_public])
def choose(p: Page = Depends(page)) -> Response:
    email = p.request.query_params.get("email", "")[:320]
    with p.rt.db.session() as session:
        found = oidc.providers_for_email(session, email) if "@" in email else []
        listed = [_shown(x) for x in oidc.providers(session)]
        matches = [_shown(x) for x in found]
    return pages.render_staff(
        p,
        "access/sso.html",
        email=email,
        searched=bool(email.strip()),
        matches=matches,
        providers=listed,
    )


def _shown(provider: oidc.IdentityProvider) -> dict[str, object]:
    return {"id": provider.id, "name": provider.name, "organisation": provider.organisation.name}


@router.get(START, dependencies=[_public])
def start(provider_id: int, p: Page = Depends(page)) -> Response:
    with p.rt.db.session() as session:
        provider = session.get(oidc.IdentityProvider, provider_id)
        if provider is not None:
            session.expunge(provider)
    if provider is None:
        return _failed(p, oidc.Refused("unknown_provider"))
    redirect_uri = str(p.request.url_for("sso_callback"))
    try:
        url, flow = oidc.begin(p.rt, provider, redirect_uri)
    except oidc.Refused as refused:
        refused.provider_name = provider.name
        return _failed(p, refused)
    return remember_flow(p, p.redirect(url), flow)


def remember_flow(p: Page, response: Response, flow: str) -> Response:
    """Set the flow cookie for the trip to the provider (signing in or re-authenticating)."""
    name = _flow_cookie_name(p)
    response.set_cookie(
        name,
        flow,
        max_age=oidc.FLOW_TIMEOUT_S,
        path="/",
        secure=name == SECURE_FLOW_COOKIE,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get(CALLBACK, name="sso_callback", dependencies=[_public])
def callback(p: Page = Depends(page)) -> Response:
    flow = p.request.cookies.get(_flow_cookie_name(p))
    query = {k: v for k, v in p.request.query_params.items() if len(v) <= 4096}
    step_up = oidc.step_up_flow(p.rt.sealer, flow)
    if step_up is not None:
        return _forget_flow(p, _stepped_up(p, step_up, query))
    try:
        token = oidc.complete(p.rt, flow, query, _client(p))
    except oidc.Refused:
        return _forget_flow(p, _page_failed(p))
    # A new visitor session and CSRF token: nothing from before sign-in carries over.
    p.session.token = None
    p.session.pop("csrf")
    response = pages.render_staff(p, "access/sso_done.html")
    pages._set_cookie(p.request, response, token)
    return _forget_flow(p, response)


def _stepped_up(p: Page, pending: oidc.Pending, query: dict[str, str]) -> Response:
    """Back from re-authenticating: on to where the user was going, or why not (audited)."""
    token = pages.staff_cookie(p.request)
    browser_sid = signin.session_id(token) if token else None
    try:
        target = oidc.complete_step_up(p.rt, pending, query, _client(p), browser_sid)
    except oidc.Refused:
        return step_up_failed(p, pending.next or pages.HOME)
    return pages.render_staff(p, "access/reauthenticate.html", stepped_up=True, next=target)


def step_up_failed(p: Page, target: str) -> Response:
    """The one answer for a refused re-authentication through a provider (the reason is in
    the audit log): a way back to ``/staff/reauthenticate``, for ``target`` (a checked path)."""
    return pages.render_staff(
        p, "access/reauthenticate.html", status=400, sso_failed=True, next=target, errors={}
    )


def _failed(p: Page, refused: oidc.Refused) -> Response:
    oidc.audit_refusal(p.rt, refused, _client(p))
    return _page_failed(p)


def _page_failed(p: Page) -> Response:
    return pages.render_staff(p, "access/sso_failed.html", status=400)


def _forget_flow(p: Page, response: Response) -> Response:
    name = _flow_cookie_name(p)
    response.delete_cookie(
        name, path="/", secure=name == SECURE_FLOW_COOKIE, httponly=True, samesite="lax"
    )
    return response
