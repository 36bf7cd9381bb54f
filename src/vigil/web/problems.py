"""Errors as ``application/problem+json`` (RFC 9457), one entry per invalid field.

Every failure a client can cause is a :class:`Problem`; anything else is a 500 whose body
says nothing about internals.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from vigil.web.jsonresp import dumps

log = structlog.get_logger(__name__)
PROBLEM_TYPE = "application/problem+json"


def field_error(pointer: str, detail: str) -> dict[str, str]:
    return {"pointer": pointer, "detail": detail}


class Problem(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        errors: Sequence[dict[str, str]] = (),
        headers: dict[str, str] | None = None,
        kind: str | None = None,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers or {}
        self.kind = kind

    def body(self, instance: str | None = None) -> dict[str, Any]:
        slug = self.kind or self.title.lower().replace(" ", "-")
        body: dict[str, Any] = {
            "type": f"https://vigil.invalid/problems/{slug}",
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            body["detail"] = self.detail
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        return body


def problem_response(problem: Problem, request: Request | None = None) -> Response:
    return Response(
        dumps(problem.body(request.url.path if request else None)),
        status_code=problem.status,
        media_type=PROBLEM_TYPE,
        headers=problem.headers,
    )


def _pointer(loc: Sequence[int | str], skip: int = 0) -> str:
    parts = [str(p) for p in loc[skip:]]
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts) if parts else "#"


def validation_problem(exc: ValidationError | RequestValidationError, *, skip: int = 0) -> Problem:
    """Turn pydantic's errors into one entry per field, with messages a person can act on."""
    errors = []
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if p not in {"function-after", "function-before"}]
        message = str(err.get("msg", "is invalid"))
        message = message.removeprefix("Value error, ")
        if err.get("type") == "extra_forbidden":
            message = "is not a known field"
        elif err.get("type") == "missing":
            message = "is required"
        errors.append(field_error(_pointer(loc, skip), message))
    return Problem(
        422,
        "Invalid request",
        "Some fields are missing or invalid; see errors.",
        errors=errors,
        kind="invalid-request",
    )


async def http_problem(request: Request, exc: Exception) -> Response:
    """Framework errors (unknown route, wrong method) as problem+json too."""
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorised"}
    problem = Problem(
        exc.status_code,
        titles.get(exc.status_code, "Error"),
        str(exc.detail),
        headers=dict(exc.headers or {}),
    )
    return problem_response(problem, request)


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(exc, request)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(validation_problem(exc), request)

    async def on_error(request: Request, exc: Exception) -> Response:
        log.error("request.failed", error=type(exc).__name__)
        return problem_response(
            Problem(500, "Internal error", "Something went wrong on our side. Nothing was lost."),
            request,
        )

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, http_problem)
    app.add_exception_handler(Exception, on_error)
