"""Where attachment bytes live. An interface, with the local filesystem as the default.

Files are written to a staging folder, fsync'd, then moved into place and the folder entry
fsync'd before the database row that refers to them is committed. A crash can therefore
leave an unreferenced file behind, never a row that points at nothing.

Staged files are originals as sent (a photo's location included), so they go as soon as they
can no longer be submitted: see ``LocalFileStore.sweep_staging``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

STAGING_MARGIN_S = 15 * 60
"""How long past the form idle timeout an unnamed staged file is kept: a report sent just as
its session expires is still moving its files into place, and an API or follow-up upload still
streaming its last files has not yet used its first ones."""


def staging_max_age_s(form_idle_timeout_s: int) -> int:
    """How long a staged file may wait to be submitted: answers in progress expire after the
    form idle timeout, and their files with them (plus ``STAGING_MARGIN_S``)."""
    return form_idle_timeout_s + STAGING_MARGIN_S


def staged_names(document: Any) -> set[str]:
    """Every ``"staged"`` file name in a session's answers, wherever a journey keeps them."""
    names: set[str] = set()
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("staged"), str):
                names.add(item["staged"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return names


class FileTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"over {limit} bytes")
        self.limit = limit


@dataclass
class StagedFile:
    path: Path
    filename: str | None
    size: int
    sha256: str


class StagedWriter:
    """Receives a file chunk by chunk, hashing as it goes and refusing past the cap."""

    def __init__(self, path: Path, filename: str | None, max_bytes: int) -> None:
        self.path = path
        self.filename = filename
        self._max = max_bytes
        self._size = 0
        self._hash = hashlib.sha256()
        self._fh = open(path, "wb")  # noqa: SIM115 - closed in finish()/abort()

    def write(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._max:
            self.abort()
            raise FileTooLarge(self._max)
        self._hash.update(chunk)
        self._fh.write(chunk)

    def finish(self) -> StagedFile:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        return StagedFile(self.path, self.filename, self._size, self._hash.hexdigest())

    def abort(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        self.path.unlink(missing_ok=True)


class FileStore(Protocol):
    def stage(self, filename: str | None, max_bytes: int) -> StagedWriter: ...
    def staged_path(self, suffix: str) -> Path: ...
    def keep(self, source: Path, key: str) -> None:
        """Move a staged, fsync'd file into place durably (idempotent for equal content).

        New folders are fsync'd into their parents too, so a power cut cannot lose a shard
        folder (and the acknowledged file in it) that was created moments before.
        """
        target = self.path_for(key)
        _make_dirs_durably(target.parent)
        if target.exists():
            source.unlink(missing_ok=True)
        else:
            os.replace(source, target)
        _fsync_dir(target.parent)

    def path_for(self, key: str) -> Path: ...
    def discard(self, path: Path) -> None: ...


class LocalFileStore:
    """Content-addressed files under ``data_dir/attachments``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.staging = root / "staging"

    def prepare(self) -> None:
        """Make the staging folder. Old staged files are left to ``sweep_staging``, which
        knows which ones a report in progress still needs (at start-up nothing here does)."""
        self.staging.mkdir(parents=True, exist_ok=True)

    def sweep_staging(self, max_age_s: float, named: Callable[[], Collection[str]]) -> int:
        """Delete staged files untouched for ``max_age_s`` seconds unless ``named()`` (the
        files live answers in progress still hold) lists them; return how many went.

        ``named`` is asked only when some file is that old: a journey that has gone on for
        longer than the idle timeout is rare, and finding its files means opening sessions."""
        self.staging.mkdir(parents=True, exist_ok=True)
        cutoff = time.time() - max_age_s
        old = []
        for leftover in self.staging.iterdir():
            try:
                if leftover.stat().st_mtime < cutoff:
                    old.append(leftover)
            except FileNotFoundError:  # submitted or removed meanwhile
                continue
        if not old:
            return 0
        keep = named()
        gone = [path for path in old if path.name not in keep]
        for path in gone:
            path.unlink(missing_ok=True)
        return len(gone)

    def staged_path(self, suffix: str = "") -> Path:
        self.staging.mkdir(parents=True, exist_ok=True)
        return self.staging / f"{uuid.uuid4().hex}{suffix}"

    def stage(self, filename: str | None, max_bytes: int) -> StagedWriter:
        return StagedWriter(self.staged_path(), filename, max_bytes)

    def keep(self, source: Path, key: str) -> None:
        """Move a staged, fsync'd file into place durably (idempotent for equal content)."""
        target = self.path_for(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            source.unlink(missing_ok=True)
            return
        os.replace(source, target)
        _fsync_dir(target.parent)

    def path_for(self, key: str) -> Path:
        if ".." in key.split("/") or key.startswith("/"):
            raise ValueError("bad storage key")
        return self.root / key

    def discard(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def wipe(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _make_dirs_durably(folder: Path) -> None:
    missing: list[Path] = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        new.mkdir(exist_ok=True)
        _fsync_dir(new.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def original_key(sha256: str) -> str:
    return f"originals/{sha256[:2]}/{sha256}"


def display_key(sha256: str) -> str:
    return f"display/{sha256[:2]}/{sha256}.jpg"
