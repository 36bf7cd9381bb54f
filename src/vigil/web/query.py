"""Query parameters an API route does not know are refused, not ignored.

An auditor who asks ``/api/v1/audit/events?user=someone`` (the parameter is ``user_id``) and
gets every user's events believes the list was filtered when it was not. Each API route's
known parameters are those FastAPI reads for it (its own and its dependencies'); anything
else answers 422, naming each unknown parameter. Pages are left alone: a browser's address
may carry anything (``?lang=cy`` is read by every page).

The check is a middleware rather than a dependency of every route: a request without a
query string (every report submitted, every ``/healthz``) then costs one test of an empty
byte string, not a dependency for FastAPI to resolve.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from vigil.web.problems import Problem, field_error, problem_response
from vigil.web.said import said


def unknown_query(known: frozenset[str], query_string: bytes) -> Problem | None:
    """The refusal of a query naming parameters outside ``known``, or None."""
    asked = {name for name, _ in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)}
    unknown = sorted(asked - known)
    if not unknown:
        return None
    return Problem(
        422,
        said("Invalid request"),
        said("This address does not take the query parameter %(names)s.", names=", ".join(unknown)),
        errors=[field_error(f"#/query/{name}", said("unknown parameter")) for name in unknown],
    )


class UnknownQueryGuard:
    """The check, as a pure-ASGI middleware: a request to ``/api/`` with a query string is
    matched to its operation and refused when it names a parameter the operation does not
    read. Which parameters each operation reads is taken from the app's own OpenAPI document
    (FastAPI lists every query parameter there, its dependencies' and a parameter model's
    fields included), read once. Requests without a query string (every report submitted,
    every ``/healthz``) pass after one test of an empty byte string; an address the document
    does not describe is left to the router."""

    def __init__(self, app: ASGIApp, fastapi: FastAPI) -> None:
        self.app = app
        self.fastapi = fastapi
        self._operations: list[tuple[re.Pattern[str], str, frozenset[str]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query: bytes = scope.get("query_string", b"") if scope["type"] == "http" else b""
        if query and scope["path"].startswith("/api/"):
            known = self._known_for(scope["path"], scope["method"])
            problem = unknown_query(known, query) if known is not None else None
            if problem is not None:
                await problem_response(problem, Request(scope))(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _known_for(self, path: str, method: str) -> frozenset[str] | None:
        if self._operations is None:
            self._operations = _operations(self.fastapi.openapi())
        verb = "get" if method == "HEAD" else method.lower()
        for pattern, op_method, known in self._operations:
            if op_method == verb and pattern.fullmatch(path):
                return known
        return None


def _operations(document: dict[str, Any]) -> list[tuple[re.Pattern[str], str, frozenset[str]]]:
    """(path pattern, method, query parameter names) for every operation in the document."""
    found = []
    for template, operations in document.get("paths", {}).items():
        pattern = re.compile(
            re.sub(
                r"\\\{([^}:]+)(:path)?\\\}",
                lambda m: ".+" if m.group(2) else "[^/]+",
                re.escape(template),
            )
        )
        for method, operation in operations.items():
            params = operation.get("parameters", []) if isinstance(operation, dict) else []
            names = frozenset(p["name"] for p in params if p.get("in") == "query")
            found.append((pattern, method, names))
    return found
