"""Walking every route of the app, whichever way FastAPI nests included routers.

The route-protection test and the docs use it, so a route added anywhere is never missed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi.routing import APIRoute


def iter_api_routes(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Yield ``(full path, route)`` for every API route, descending into included routers."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
            continue
        nested = getattr(route, "original_router", None)
        if nested is not None:
            context = getattr(route, "include_context", None)
            yield from iter_api_routes(nested.routes, prefix + getattr(context, "prefix", ""))
