"""Every route declares its permission; none is left open by accident."""

from __future__ import annotations

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from vigil.access.permissions import PUBLIC_PERMISSIONS, Permission
from vigil.web.app import create_app
from vigil.web.routes import iter_api_routes
from vigil.web.runtime import Runtime


def declared_permissions(route: APIRoute) -> list[Permission]:
    found: list[Permission] = []
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        permission = getattr(dep.call, "permission", None)
        if permission is not None:
            found.append(permission)
        stack.extend(dep.dependencies)
    return found


def test_every_route_declares_exactly_one_permission(rt: Runtime) -> None:
    app = create_app(rt=rt)
    mounts = [route.path for route in app.routes if isinstance(route, Mount)]
    assert mounts == ["/static"]
    # Besides API routes, only FastAPI's own /api/openapi.json (the public API contract).
    others = [
        getattr(r, "path", None)
        for r in app.routes
        if isinstance(r, Route) and not isinstance(r, APIRoute)
    ]
    assert others == ["/api/openapi.json"]
    unguarded = []
    routes = list(iter_api_routes(app.routes))
    assert len(routes) >= 7
    for path, route in routes:
        permissions = declared_permissions(route)
        if len(permissions) != 1:
            unguarded.append((path, sorted(route.methods), permissions))
    assert unguarded == []


def test_routes_with_staff_permissions_refuse_anonymous_callers(
    rt: Runtime, client: TestClient
) -> None:
    app = create_app(rt=rt)
    checked = 0
    for path, route in iter_api_routes(app.routes):
        (permission,) = declared_permissions(route)
        if permission in PUBLIC_PERMISSIONS:
            continue
        path = path.replace("{reference}", "VGL-2222-2222")
        for method in route.methods:
            response = client.request(method, path, follow_redirects=False)
            if path.startswith("/api/"):
                assert response.status_code == 401, (method, path, response.status_code)
            else:  # a staff page sends an anonymous visitor to sign in
                where = (response.status_code, response.headers.get("location"))
                assert where == (303, "/staff/sign-in"), (method, path)
            checked += 1
    assert checked >= 2


def test_public_routes_are_only_the_intended_ones(rt: Runtime) -> None:
    app = create_app(rt=rt)
    public_api = sorted(
        (path, sorted(route.methods))
        for path, route in iter_api_routes(app.routes)
        if declared_permissions(route)[0] in PUBLIC_PERMISSIONS
        and declared_permissions(route)[0] is not Permission.public_pages_view
    )
    assert public_api == [
        ("/api/docs", ["GET"]),
        ("/api/v1/reports", ["POST"]),
        ("/api/v1/reports/{reference}/followups", ["POST"]),
        ("/healthz", ["GET"]),
        ("/metrics", ["GET"]),
        ("/readyz", ["GET"]),
    ]
    for path, route in iter_api_routes(app.routes):
        if declared_permissions(route)[0] is Permission.public_pages_view:
            assert not path.startswith("/api/"), path


def test_every_html_form_post_checks_the_csrf_token(rt: Runtime) -> None:
    app = create_app(rt=rt)
    posts = 0
    for path, route in iter_api_routes(app.routes):
        if "POST" not in route.methods or path.startswith("/api/"):
            continue
        posts += 1
        calls = []
        stack = list(route.dependant.dependencies)
        while stack:
            dep = stack.pop()
            calls.append(dep.call)
            stack.extend(dep.dependencies)
        assert any(getattr(c, "csrf_protected", False) for c in calls), path
    assert posts >= 0
