"""Route guards. Every route declares exactly one permission through one of these."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request

from vigil.access import signin
from vigil.access.permissions import PUBLIC_PERMISSIONS, Permission
from vigil.access.services import StaffUser, user_for_token
from vigil.audit.services import record_event
from vigil.web.problems import Problem
from vigil.web.ratelimit import client_key
from vigil.web.runtime import Runtime, runtime
from vigil.web.said import said

_UNAUTHORISED = Problem(
    401,
    said("Unauthorised"),
    said("A valid bearer token is required."),
    headers={"WWW-Authenticate": 'Bearer realm="vigil"'},
)


def client_address(request: Request) -> str | None:
    """The caller's address for a staff action's audit event (never for the public): the
    same address the pages and the lockouts use (:func:`vigil.web.ratelimit.client_key`)."""
    rt: Runtime | None = getattr(request.app.state, "runtime", None)
    trusted = rt is not None and rt.settings.trust_forwarded_for
    if not trusted and request.client is None:
        return None
    return client_key(request, trusted)


# Reads the console's own scripts make (graph expansion, the map): a signed-in staff member's
# session cookie is accepted for these methods only. The cookie is SameSite=Strict, so no
# other site can send it; anything that changes data still needs a bearer token.
_SAFE_METHODS = frozenset({"GET", "HEAD"})


def require(permission: Permission) -> Callable[..., Any]:
    """A dependency that authenticates the caller and checks ``permission``.

    The caller is a bearer token (narrowed to its scopes), or, for a read, the signed-in
    staff session whose cookie the browser sent.
    """

    def guard(request: Request, rt: Runtime = Depends(runtime)) -> StaffUser:
        user = _caller(request, rt)
        if user is None:
            raise _UNAUTHORISED
        if permission not in user.permissions:
            client = client_address(request)
            rt.db.write_sync(
                lambda session: record_event(
                    session,
                    user.actor(client),
                    "access.denied",
                    outcome="denied",
                    purpose=f"{request.method} {_route_path(request)} needs {permission.value}",
                )
            )
            raise Problem(403, said("Forbidden"), said("Your role does not allow this."))
        return user

    guard.permission = permission  # type: ignore[attr-defined]
    return guard


def _caller(request: Request, rt: Runtime) -> StaffUser | None:
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        with rt.db.session() as session:
            return user_for_token(session, token.strip())
    if request.method not in _SAFE_METHODS:
        return None
    cookie = signin.staff_cookie(request)
    if cookie is None:
        return None
    found, _ended = signin.current(rt, cookie, client_key(request, rt.settings.trust_forwarded_for))
    return found.user if found is not None else None


def _route_path(request: Request) -> str:
    route = request.scope.get("route")
    return str(getattr(route, "path", "unmatched"))


def public(permission: Permission) -> Callable[..., Any]:
    """Marks a route as open to everyone, for a permission that is explicitly public."""
    if permission not in PUBLIC_PERMISSIONS:
        raise ValueError(f"{permission} is not a public permission")

    async def guard() -> None:  # async: nothing to do, so no thread-pool hop
        return None

    guard.permission = permission  # type: ignore[attr-defined]
    guard.public = True  # type: ignore[attr-defined]
    return guard
