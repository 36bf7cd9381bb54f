"""Running ``vigil serve`` as a real subprocess, for tests that need a process to kill.

The server binds 127.0.0.1 only, on a free port, in its own session (process group) so that
it and anything it spawns can be killed together. Its output goes to a log file whose tail
tests put into their failure messages.
"""

from __future__ import annotations

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


def free_port() -> int:
    """A port nobody listens on right now (the caller binds it soon after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def vigil_command() -> list[str]:
    """The ``vigil`` console script of the running interpreter's environment."""
    script = Path(sys.executable).parent / "vigil"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "vigil.cli"]


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
    """One running ``vigil serve`` process."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> str:
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
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # pragma: no cover - a kernel that ignores SIGKILL
            pass

    def tail(self, lines: int = 40) -> str:
        return log_tail(self.log_path, lines)


def start_server(
    env: Mapping[str, str], log_path: Path, *, ready_timeout: float = 60.0, attempts: int = 3
) -> Server:
    """Start ``vigil serve`` on a free loopback port and wait until ``/readyz`` says ready.

    Another process may grab the free port between our probe and the server's bind; the
    server then exits at once and we try again on another port.
    """
    last = ""
    for _ in range(attempts):
        port = free_port()
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [*vigil_command(), "serve", "--host", LOOPBACK, "--port", str(port)],
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = Server(process, port, log_path)
        try:
            if _wait_ready(server, ready_timeout):
                return server
        except BaseException:
            server.stop()
            raise
        server.stop()
        last = server.tail()
        if "address already in use" not in last.lower():
            break
    raise RuntimeError(f"vigil serve did not become ready\n{last}")


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
