"""Structured JSON logs (structlog). Callers log identifiers and counts, never content."""

from __future__ import annotations

import logging
import sys

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


def configure_logging(level: str = "info", *, cache: bool = True) -> None:
    """Configure once at start. Tests pass ``cache=False`` so each app can pick its level."""
    numeric = _LEVELS[level]
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=numeric, force=True)
    logging.getLogger("uvicorn.access").disabled = True  # it would log client addresses
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it would log URLs
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=cache,
    )
