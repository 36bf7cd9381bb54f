"""A real Vigil for the browser tests: uvicorn in a background thread, on loopback only.

The app is the one ``vigil serve`` runs (:func:`vigil.web.app.create_app`) on a freshly
migrated SQLite file, so the browser talks HTTP to the real middleware, CSP, sessions and
static files. Running it in a thread (rather than a subprocess) keeps start-up under a
second and lets tests reach the server's own runtime, e.g. to issue a staff token or to age
a browser session in its database.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy.orm import Session

from vigil import migrate
from vigil.settings import Settings
from vigil.web.app import create_app
from vigil.web.runtime import Runtime
from vigil.web.sessions import COOKIE, BrowserSession

LOOPBACK = "127.0.0.1"


def browser_settings(db_path: Path, data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a browser-test server: no rate limit and no minimum fill time, so that a
    robot filling forms at machine speed is not treated as a bot."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": f"sqlite:///{db_path}",
        "data_dir": data_dir,
        "public_rate_limit": 0,
        "form_min_fill_s": 0,
        "log_level": "warning",
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class LiveServer:
    """One running app; ``rt`` is the very runtime that serves the requests."""

    settings: Settings
    base_url: str
    rt: Runtime
    _server: uvicorn.Server
    _thread: threading.Thread
    errors: list[BaseException] = field(default_factory=list)

    def url(self, path: str) -> str:
        return self.base_url + path

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)

    def age_session(self, cookie_value: str, by: timedelta) -> int:
        """Move a browser session's last activity into the past; returns rows changed."""
        id_hash = hashlib.sha256(b"browser-session:" + cookie_value.encode()).hexdigest()

        def work(session: Session) -> int:
            row = session.get(BrowserSession, id_hash)
            if row is None:
                return 0
            row.last_seen_at = row.last_seen_at - by
            return 1

        changed: int = self.rt.db.write_sync(work)
        return changed


def migrate_sqlite(db_path: Path) -> None:
    migrate.upgrade(f"sqlite:///{db_path}")


def start_live_server(settings: Settings, ready_timeout_s: float = 30.0) -> LiveServer:
    """Serve ``create_app(settings)`` on a free 127.0.0.1 port and wait until it answers."""
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="on",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported by the fixture, not swallowed
            errors.append(exc)
        finally:
            sock.close()

    thread = threading.Thread(target=run, name=f"vigil-live-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + ready_timeout_s
    while not server.started:
        if errors or not thread.is_alive():
            raise RuntimeError(f"the live Vigil did not start: {errors!r}")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the live Vigil was not ready after {ready_timeout_s:.0f} s")
        time.sleep(0.02)
    return LiveServer(
        settings=settings,
        base_url=f"http://{LOOPBACK}:{port}",
        rt=app.state.runtime,
        _server=server,
        _thread=thread,
        errors=errors,
    )


SESSION_COOKIE = COOKIE
