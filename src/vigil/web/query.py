"""Query parameters an API route does not know are refused, not ignored.

An auditor who asks ``/api/v1/audit/events?user=someone`` (the parameter is ``user_id``) and
gets every user's events believes the list was filtered when it was not. Each API route's
known parameters are those FastAPI reads for it (its own and its dependencies'); anything
else answers 422, naming each unknown parameter. Pages are left alone: a browser's address
may carry anything (``?lang=cy`` is read by every page).
"""

from __future__ import annotations

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import Request

from vigil.web.problems import Problem, field_error
from vigil.web.said import said

_known: dict[int, frozenset[str]] = {}


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route reads: its own and its dependencies', a parameter model
    (``Annotated[SomeQuery, Query()]``) standing for each of its fields."""
    names: set[str] = set()
    stack = [dependant]
    while stack:
        current = stack.pop()
        for field in current.query_params:
            kind = field.field_info.annotation
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                names |= {f.alias or name for name, f in kind.model_fields.items()}
            else:
                names.add(field.alias)
        stack.extend(current.dependencies)
    return names


def _known_for(route: APIRoute) -> frozenset[str]:
    found = _known.get(id(route))
    if found is None:
        found = frozenset(_query_names(route.dependant))
        _known[id(route)] = found
    return found


async def refuse_unknown_query(request: Request) -> None:
    """A dependency of every route; refuses an API call naming an unknown query parameter."""
    if not request.url.query or not request.url.path.startswith("/api/"):
        return
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    unknown = sorted(set(request.query_params) - _known_for(route))
    if unknown:
        raise Problem(
            422,
            said("Invalid request"),
            said(
                "This address does not take the query parameter %(names)s.",
                names=", ".join(unknown),
            ),
            errors=[field_error(f"#/query/{name}", said("unknown parameter")) for name in unknown],
        )
