"""Structured JSON logs (structlog). Callers log identifiers and counts, never content."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is now (test capture and redirection keep working)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class JsonLines(logging.Formatter):
    """The standard library's records (uvicorn's, SQLAlchemy's) as JSON lines like
    structlog's. An exception is logged as its type and the frames it passed through, never
    its message: a database error's message quotes its statement's parameters, which may be
    a report's text or a reporter's identity."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "event": record.getMessage(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "timestamp": datetime.fromtimestamp(record.created, UTC)
            .isoformat()
            .replace("+00:00", "Z"),
        }
        if record.exc_info and record.exc_info[1] is not None:
            entry.update(exception_outline(record.exc_info[1]))
        return orjson.dumps(entry).decode()


def exception_outline(exc: BaseException) -> dict[str, object]:
    """An exception's type, its causes' types, and where it was raised (file, line,
    function), without any message or value."""
    chain: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 5:
        chain.append(f"{type(seen).__module__}.{type(seen).__qualname__}")
        seen = seen.__cause__ or seen.__context__
    frames = traceback.extract_tb(exc.__traceback__)[-15:]
    return {
        "error": chain[0],
        "caused_by": chain[1:],
        "frames": [f"{f.filename}:{f.lineno} {f.name}" for f in frames],
    }


def _outlined_exception(
    _logger: Any, _name: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """``exc_info`` on a structlog call is logged as :func:`exception_outline` too."""
    exc_info = event.pop("exc_info", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        event.update(exception_outline(exc_info))
    elif isinstance(exc_info, tuple) and exc_info[1] is not None:
        event.update(exception_outline(exc_info[1]))
    return event


def configure_logging(level: str = "info", *, cache: bool = True) -> None:
    """Configure once at start. Tests pass ``cache=False`` so each app can pick its level."""
    numeric = _LEVELS[level]
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(JsonLines())
    logging.basicConfig(handlers=[handler], level=numeric, force=True)
    logging.getLogger("uvicorn.access").disabled = True  # it would log client addresses
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it would log URLs
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _outlined_exception,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=cache,
    )
