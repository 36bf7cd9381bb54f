"""Running ``vigil serve`` as a real subprocess, for tests that need a process to kill.

The server binds 127.0.0.1 only, on a free port, in its own session (process group) so that
it and anything it spawns can be killed together. Its output goes to a log file whose tail
tests put into their failure messages.

Importing the app takes seconds, so a test that must restart a server quickly can start a
*standby* first: a fresh interpreter that imports what ``vigil serve`` imports and then waits,
touching neither the database nor the data folder, until it is told to run
``vigil serve --host 127.0.0.1 --port P`` (the same Typer command as the console script).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

LOOPBACK = "127.0.0.1"
IMPORTED = "vigil-standby: imported"
_STANDBY = f"""
import sys
import uvicorn
import vigil.web.app
from vigil import cli
print({IMPORTED!r}, flush=True)
line = sys.stdin.readline().split()
if len(line) != 2 or line[0] != "serve":
    sys.exit(0)
sys.argv = ["vigil", "serve", "--host", {LOOPBACK!r}, "--port", line[1]]
cli.app()
"""


def free_port() -> int:
    """A port nobody listens on right now (the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(**vigil: str) -> dict[str, str]:
    """The test process's environment without its ``VIGIL_*`` settings, plus the given ones.

    Keys are setting names without the prefix: ``server_env(database_url=...)``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update({f"VIGIL_{k.upper()}": v for k, v in vigil.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    tail = text.splitlines()[-lines:]
    return f"--- last {len(tail)} lines of {path.name} ---\n" + "\n".join(tail)


@dataclass
class Server:
    """One ``vigil serve`` process (or a standby waiting to become one)."""

    process: subprocess.Popen[bytes]
    log_path: Path
    port: int | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> str:
        assert self.port is not None, "the standby was not started"
        return f"http://{LOOPBACK}:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def crash(self) -> None:
        """``kill -9`` the server itself, then make sure its whole group is gone."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.stop()

    def stop(self) -> None:
        """SIGKILL the process group and reap the server (safe to call more than once)."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):  # a kernel that ignores SIGKILL
            self.process.wait(timeout=30)

    def tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)

    def wait_imported(self, timeout: float = 120.0) -> None:
        """Block until a standby has finished importing the app."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if IMPORTED in self.log_path.read_text(errors="replace"):
                return
            if not self.alive():
                break
            time.sleep(0.05)
        raise RuntimeError(f"the vigil standby did not finish importing\n{self.tail()}")

    def serve(self, *, ready_timeout: float = 60.0) -> Server:
        """Tell a standby to run ``vigil serve`` on a free port; return once it is ready."""
        assert self.process.stdin is not None and self.port is None
        self.port = free_port()
        self.process.stdin.write(f"serve {self.port}\n".encode())
        self.process.stdin.flush()
        self.process.stdin.close()
        if not _wait_ready(self, ready_timeout):
            raise RuntimeError(f"vigil serve did not become ready\n{self.tail()}")
        return self


def standby(env: Mapping[str, str], log_path: Path) -> Server:
    """A fresh interpreter that has imported the app and waits for :meth:`Server.serve`."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", _STANDBY],
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(process, log_path)


def start_server(
    env: Mapping[str, str], log_path: Path, *, ready_timeout: float = 60.0, attempts: int = 3
) -> Server:
    """Start ``vigil serve`` on a free loopback port and wait until ``/readyz`` says ready.

    Another process may grab the free port between our probe and the server's bind; the
    server then exits at once and we try again on another port.
    """
    last = ""
    for _ in range(attempts):
        server = standby(env, log_path)
        try:
            return server.serve(ready_timeout=ready_timeout)
        except BaseException as exc:
            server.stop()
            if not isinstance(exc, RuntimeError) or "address already in use" not in str(exc):
                raise
            last = str(exc)
    raise RuntimeError(last)


def _wait_ready(server: Server, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=server.base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if not server.alive():
                return False
            try:
                if client.get("/readyz").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    return False
