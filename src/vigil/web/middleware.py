"""One pure-ASGI middleware: security headers, metrics and a structured access log.

The access log records the route template (never the raw path or query), status and time.
It never records client addresses, user agents, bodies, codes or tokens, so anonymous
reporters leave no device trace in logs.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("vigil.access")

REQUESTS = Counter(
    "vigil_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "vigil_http_request_duration_seconds",
    "Time to answer HTTP requests",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ERRORS = Counter("vigil_http_errors_total", "HTTP 5xx answers", ["route"])

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = (
    b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    b"frame-ancestors 'none'"
)


class RequestObserver:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = uuid.uuid4().hex[:16]
        status = 500
        https = scope.get("scheme") == "https"
        path: str = scope["path"]
        csp = DOCS_CSP if path.startswith("/api/docs") or path.startswith("/static/") else API_CSP
        # Answers hold reports, identities and audit rows: no cache keeps them, unless the
        # handler said otherwise (static assets, which hold nothing of anyone's).
        cacheable = path.startswith("/static/")

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = [h for h in SECURITY_HEADERS if h[0] not in names]
                if b"content-security-policy" not in names:
                    extra.append((b"content-security-policy", csp))
                if b"cache-control" not in names and not cacheable:
                    extra.append((b"cache-control", b"no-store"))
                if https:
                    extra.append(
                        (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
                    )
                extra.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers + extra
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = self._route_name(scope)
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(route).observe(elapsed)
            if status >= 500:
                ERRORS.labels(route).inc()
                log.warning(
                    "http.request",
                    method=scope["method"],
                    route=route,
                    status=status,
                    ms=round(elapsed * 1000, 2),
                    request_id=request_id,
                )
            else:
                log.info(
                    "http.request",
                    method=scope["method"],
                    route=route,
                    status=status,
                    ms=round(elapsed * 1000, 2),
                    request_id=request_id,
                )

    @staticmethod
    def _route_name(scope: Scope) -> str:
        """The matched route's template (``/api/v1/reports/{reference}``), or 'unmatched'."""
        route: Any = scope.get("route")
        return str(getattr(route, "path", None) or "unmatched")
