"""What a person is shown when a page is refused or fails, instead of problem+json.

Services refuse with a :class:`Problem`, and programs are answered in problem+json. A page's
own handler turns the refusals it expects into form errors; anything else it lets through (a
conflict, a limit, a service that is unavailable, an error of ours) reaches here. A person who
followed a link or sent a form is then shown a page in their language, with the same status
and ``Retry-After``, saying what went wrong and nothing more. Programs keep problem+json: the
API, the health and metrics endpoints, static files, and the pages' own JSON calls (security
keys, the session clock), which send JSON or ask for it.
"""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from vigil.access.pages import render_staff
from vigil.web.problems import (
    Problem,
    framework_problem,
    http_problem,
    internal_error,
    problem_response,
)
from vigil.web.runtime import Runtime
from vigil.web.sessions import load_session
from vigil.web.templating import Page

log = structlog.get_logger(__name__)

PROGRAM_PATHS = ("/api/", "/static/", "/healthz", "/readyz", "/metrics")


def for_a_person(request: Request) -> bool:
    """A browser's navigation or form, rather than a program or a page's own JSON call."""
    if request.url.path.startswith(PROGRAM_PATHS):
        return False
    if request.headers.get("content-type", "").startswith("application/json"):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept or "application/json" not in accept


async def refusal_page(request: Request, exc: Exception) -> Response:
    """A refusal as a page. A console page refused by the user's role says only that (the
    same page whatever record the address named); any other refusal says its own title,
    detail and field errors in the page's language."""
    assert isinstance(exc, Problem)
    if exc.status < 400 or not for_a_person(request):  # e.g. the redirect to sign in
        return problem_response(exc, request)
    rt: Runtime = request.app.state.runtime
    p = Page(request, rt, load_session(rt, request))
    if exc.status == 403:
        return render_staff(p, "errors/forbidden.html", 403)
    if exc.status == 404:  # the same page as a wrong address, whatever the record
        return render_staff(p, "errors/not_found.html", 404)
    return _shown(p, p.told(exc))


async def framework_error_page(request: Request, exc: Exception) -> Response:
    """A wrong address is the public "page not found"; a wrong method (a bookmarked form
    address, say) is said like any other refusal."""
    assert isinstance(exc, StarletteHTTPException)
    if not for_a_person(request):
        return await http_problem(request, exc)
    rt: Runtime = request.app.state.runtime
    p = Page(request, rt, load_session(rt, request))
    if exc.status_code == 404:
        return render_staff(p, "errors/not_found.html", 404)
    return _shown(p, p.told(framework_problem(exc, detail=False)))


async def failure_page(request: Request, exc: Exception) -> Response:
    """An error of ours: logged by its kind only, and answered without internals. If even the
    page cannot be made (the database is down, say), the plain problem+json answers."""
    log.error("request.failed", error=type(exc).__name__)
    problem = internal_error()
    if not for_a_person(request):
        return problem_response(problem, request)
    try:
        rt: Runtime = request.app.state.runtime
        p = Page(request, rt, load_session(rt, request))
        return _shown(p, p.told(problem))
    except Exception as failed:  # the answer must not fail in turn
        log.error("request.error_page_failed", error=type(failed).__name__)
        return problem_response(problem, request)


def _shown(p: Page, problem: Problem) -> Response:
    wait = problem.headers.get("Retry-After", "")
    response = render_staff(
        p,
        "errors/refused.html",
        problem.status,
        problem=problem,
        wait=int(wait) if wait.isdecimal() else None,
    )
    for name, value in problem.headers.items():  # Retry-After, WWW-Authenticate, …
        response.headers.setdefault(name, value)
    return response


def install(app: FastAPI) -> None:
    """After the problem+json handlers, which these fall back to for programs."""
    app.add_exception_handler(Problem, refusal_page)
    app.add_exception_handler(StarletteHTTPException, framework_error_page)
    app.add_exception_handler(Exception, failure_page)
