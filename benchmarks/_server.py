"""Start a throw-away Vigil server for benchmarks: scratch database, migrated, on loopback.

Used by ``benchmarks/intake.py``. Everything it creates (a temporary folder, and for
PostgreSQL a scratch database) is removed again by :meth:`BenchServer.close`.
Only 127.0.0.1 is ever bound or contacted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from types import TracebackType

HOST = "127.0.0.1"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_BENCH_DB = "vigil_bench"


def free_port() -> int:
    """A port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def vigil_executable() -> str:
    """The ``vigil`` entry point next to this Python (the project's venv), else on PATH."""
    beside = Path(sys.executable).parent / "vigil"
    if beside.exists():
        return str(beside)
    found = shutil.which("vigil")
    if found is None:
        raise SystemExit("cannot find the `vigil` command; run `make install` first")
    return found


def filesystem_of(path: Path) -> str:
    """The filesystem type holding ``path`` (from /proc/mounts), e.g. 'ext4' or 'tmpfs'."""
    best, kind = "", "unknown"
    real = str(path.resolve())
    with contextlib.suppress(OSError), open("/proc/mounts") as mounts:
        for line in mounts:
            parts = line.split()
            if len(parts) < 3:
                continue
            mount_point = parts[1]
            inside = real == mount_point or real.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) > len(best):
                best, kind = mount_point, parts[2]
    return kind


def source_version(repo: Path | None = None) -> str:
    """The git commit being measured, with '+dirty' when the working tree has changes."""
    repo = repo or Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process under it (``vigil serve --processes N`` runs N children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo.extend(int(child) for child in children.read().split())
        except OSError:
            continue
    return found


def proc_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and the processes under it (alive now)."""
    total = 0.0
    for member in process_tree(pid):
        try:
            total += proc_cpu_s(member)
        except OSError:  # gone meanwhile
            continue
    return total


def rss_kib(pid: int) -> int | None:
    """Resident set size of ``pid`` in KiB (VmRSS), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class BenchServer:
    """A migrated scratch database and ``vigil serve`` on a free loopback port."""

    def __init__(
        self,
        engine: str = "sqlite",
        *,
        workdir: Path | None = None,
        log_level: str = "warning",
        processes: int = 1,
    ) -> None:
        if engine not in {"sqlite", "postgresql"}:
            raise ValueError("engine is sqlite or postgresql")
        self.engine = engine
        self.processes = processes
        self.tmp = Path(tempfile.mkdtemp(prefix="vigil-bench-", dir=workdir))
        self.data_dir = self.tmp / "data"
        self.db_path = self.tmp / "vigil.db"
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        self.log_path = self.tmp / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._pg_created = False
        if engine == "sqlite":
            self.database_url = f"sqlite:///{self.db_path}"
        else:
            self.database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_BENCH_DB
        self.env = {
            **os.environ,
            "VIGIL_DATABASE_URL": self.database_url,
            "VIGIL_DATA_DIR": str(self.data_dir),
            "VIGIL_PUBLIC_RATE_LIMIT": "0",
            "VIGIL_LOG_LEVEL": log_level,
            "VIGIL_HOST": HOST,
            "VIGIL_PORT": str(self.port),
            "VIGIL_WEB_PROCESSES": str(processes),
        }

    # lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> BenchServer:
        try:
            self.prepare()
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def prepare(self) -> None:
        """Create the scratch database (PostgreSQL) and apply migrations."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.engine == "postgresql":
            self._pg_admin(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
            self._pg_admin(f"CREATE DATABASE {PG_BENCH_DB}")
            self._pg_created = True
        done = subprocess.run(
            [vigil_executable(), "db", "upgrade"],
            env=self.env,
            check=False,
            capture_output=True,
            timeout=120,
        )
        if done.returncode != 0:
            tail = "\n".join(done.stderr.decode(errors="replace").splitlines()[-30:])
            raise RuntimeError(f"`vigil db upgrade` failed ({done.returncode}):\n{tail}")

    def start(self, timeout_s: float = 120.0, argv: list[str] | None = None) -> None:
        """Start ``vigil serve`` (or ``argv``, e.g. a profiling wrapper) and wait for /readyz."""
        log = open(self.log_path, "wb")  # noqa: SIM115 - handed to the child process
        self.proc = subprocess.Popen(
            argv or [vigil_executable(), "serve", "--host", HOST, "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"vigil serve exited early:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"vigil serve not ready after {timeout_s:.0f} s:\n{self.log_tail()}")

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._pg_created:
            with contextlib.suppress(Exception):
                self._pg_admin(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
            self._pg_created = False
        shutil.rmtree(self.tmp, ignore_errors=True)

    # observation -----------------------------------------------------------------------
    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError("server not started")
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss_kib(self) -> int | None:
        """Resident memory of the server and its web processes, together."""
        sizes = [rss_kib(pid) for pid in process_tree(self.pid)]
        known = [size for size in sizes if size is not None]
        return sum(known) if known else None

    def count_reports(self) -> int:
        """Rows in ``reports``, read directly from the database (not through the server)."""
        if self.engine == "sqlite":
            lite = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
            try:
                row = lite.execute("SELECT count(*) FROM reports").fetchone()
            finally:
                lite.close()
            return int(row[0])
        import psycopg

        with psycopg.connect(self.database_url) as conn:
            row = conn.execute("SELECT count(*) FROM reports").fetchone()
        return int(row[0]) if row else 0

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def _pg_admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(sql)
