"""Every log line is JSON, including the standard library's (uvicorn's "Exception in ASGI
application" with its traceback), and an exception is logged as its type and frames only:
its message, which for a database error quotes the statement's parameters (a report's text,
a reporter's name), never reaches the log."""

from __future__ import annotations

import logging

import orjson
import pytest
import structlog
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from vigil.logging import configure_logging

PLANTED = "Jo Bloggs saw a van at Mill Lane"


def database_error() -> IntegrityError:
    """A real driver error whose message quotes the statement's parameters."""
    engine = create_engine("sqlite://")
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT PRIMARY KEY)"))
        conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": PLANTED})
        try:
            conn.execute(text("INSERT INTO t VALUES (:x)"), {"x": PLANTED})
        except IntegrityError as exc:
            assert PLANTED in str(exc)  # the message does carry the data
            return exc
    raise AssertionError("no error raised")


def lines(err: str) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in err.splitlines() if line.strip()]


def test_a_server_error_from_the_standard_library_is_one_json_line_without_its_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", cache=False)
    failure = database_error()
    try:
        raise RuntimeError("wrapping") from failure
    except RuntimeError as exc:
        logging.getLogger("uvicorn.error").error("Exception in ASGI application", exc_info=exc)
    err = capsys.readouterr().err
    (entry,) = lines(err)
    assert entry["event"] == "Exception in ASGI application" and entry["level"] == "error"
    assert str(entry["timestamp"]).endswith("Z")  # as structlog's own lines write it
    assert entry["error"] == "builtins.RuntimeError"
    assert entry["caused_by"] == ["sqlalchemy.exc.IntegrityError", "sqlite3.IntegrityError"]
    frames = entry["frames"]
    assert isinstance(frames, list) and any("test_logs_structured.py" in f for f in frames)
    assert PLANTED not in err and "wrapping" not in err


def test_exc_info_on_our_own_log_calls_is_outlined_the_same_way(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", cache=False)
    try:
        raise database_error()
    except IntegrityError:
        structlog.get_logger("test").error("writer.batch_failed", exc_info=True)
    err = capsys.readouterr().err
    (entry,) = lines(err)
    assert entry["event"] == "writer.batch_failed"
    assert entry["error"] == "sqlalchemy.exc.IntegrityError"
    assert PLANTED not in err
