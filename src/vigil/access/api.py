"""Route guards. Every route declares exactly one permission through one of these."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request

from vigil.access.permissions import PUBLIC_PERMISSIONS, Permission
from vigil.access.services import StaffUser, user_for_token
from vigil.audit.services import record_event
from vigil.web.problems import Problem
from vigil.web.runtime import Runtime, runtime

_UNAUTHORISED = Problem(
    401,
    "Unauthorised",
    "A valid bearer token is required.",
    headers={"WWW-Authenticate": 'Bearer realm="vigil"'},
)


def client_address(request: Request) -> str | None:
    """The caller's address for a staff action's audit event (never for the public)."""
    return request.client.host if request.client else None


def require(permission: Permission) -> Callable[..., Any]:
    """A dependency that authenticates the bearer token and checks ``permission``."""

    def guard(request: Request, rt: Runtime = Depends(runtime)) -> StaffUser:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _UNAUTHORISED
        with rt.db.session() as session:
            user = user_for_token(session, token.strip())
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
            raise Problem(403, "Forbidden", "Your role does not allow this.")
        return user

    guard.permission = permission  # type: ignore[attr-defined]
    return guard


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
