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
from vigil.web.said import Gettext, Said, said, spoken

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


def told(problem: Problem, gettext: Gettext) -> Problem:
    """The same refusal in a page's language: its title, detail and every field's error."""
    return Problem(
        problem.status,
        spoken(gettext, problem.title),
        spoken(gettext, problem.detail) if problem.detail else problem.detail,
        errors=[{**e, "detail": spoken(gettext, e["detail"])} for e in problem.errors],
        headers=problem.headers,
        kind=problem.kind,
    )


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


# pydantic's own messages for what people most often get wrong in a form, as templates that
# give exactly pydantic's English, so that a page can say them in its language too.
_PYDANTIC: dict[str, tuple[Said, str]] = {
    "string_too_short": (said("String should have at least %(n)s characters"), "min_length"),
    "string_too_long": (said("String should have at most %(n)s characters"), "max_length"),
    "too_short": (said("List should have at least %(n)s items after validation"), "min_length"),
    "too_long": (said("List should have at most %(n)s items after validation"), "max_length"),
    "greater_than_equal": (said("Input should be greater than or equal to %(n)s"), "ge"),
    "less_than_equal": (said("Input should be less than or equal to %(n)s"), "le"),
    "int_parsing": (
        said("Input should be a valid integer, unable to parse string as an integer"),
        "",
    ),
    "date_from_datetime_parsing": (said("Input should be a valid date or datetime"), ""),
    "datetime_from_date_parsing": (said("Input should be a valid datetime or date"), ""),
    "string_type": (said("Input should be a valid string"), ""),
}


def _message(err: Any) -> str:
    """One pydantic error as a message a person can act on, marked for translation where its
    words are known (a validator's own ``said(...)`` is kept as it was raised)."""
    kind = err.get("type")
    if kind == "extra_forbidden":
        return said("is not a known field")
    if kind == "missing":
        return said("is required")
    message = str(err.get("msg", "is invalid")).removeprefix("Value error, ")
    raised = (err.get("ctx") or {}).get("error")
    if kind == "value_error" and isinstance(raised, ValueError) and raised.args:
        first = raised.args[0]
        return first if isinstance(first, Said) else message
    if kind in _PYDANTIC:
        template, limit = _PYDANTIC[kind]
        marked = Said(template.template, {"n": err["ctx"][limit]}) if limit else template
        return marked if marked == message else message  # e.g. "1 character": left as it is
    return message


def validation_problem(exc: ValidationError | RequestValidationError, *, skip: int = 0) -> Problem:
    """Turn pydantic's errors into one entry per field, with messages a person can act on."""
    errors = []
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if p not in {"function-after", "function-before"}]
        errors.append(field_error(_pointer(loc, skip), _message(err)))
    return Problem(
        422,
        said("Invalid request"),
        said("Some fields are missing or invalid; see errors."),
        errors=errors,
        kind="invalid-request",
    )


def internal_error() -> Problem:
    """The answer to an error of ours: nothing about internals."""
    return Problem(
        500, said("Internal error"), said("Something went wrong on our side. Nothing was lost.")
    )


def framework_problem(exc: StarletteHTTPException, *, detail: bool = True) -> Problem:
    """A framework error (unknown route, wrong method) as a Problem; its detail is the
    framework's own English, left out where a page says it in the reader's language."""
    titles = {404: said("Not found"), 405: said("Method not allowed"), 401: said("Unauthorised")}
    return Problem(
        exc.status_code,
        titles.get(exc.status_code, said("Error")),
        str(exc.detail) if detail else None,
        headers=dict(exc.headers or {}),
    )


async def http_problem(request: Request, exc: Exception) -> Response:
    """Framework errors as problem+json too."""
    assert isinstance(exc, StarletteHTTPException)
    return problem_response(framework_problem(exc), request)


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(exc, request)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return problem_response(validation_problem(exc), request)

    async def on_error(request: Request, exc: Exception) -> Response:
        log.error("request.failed", error=type(exc).__name__)
        return problem_response(internal_error(), request)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, http_problem)
    app.add_exception_handler(Exception, on_error)
