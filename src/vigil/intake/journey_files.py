"""Files added to a report in progress: staged at once, checked at once, kept until submit.

Each upload is copied into the file store's staging folder with the per-file size cap and
checked with the same content inspection the submission uses, so the person learns straight
away that a file cannot be accepted, not at the end. The session keeps only each staged
file's name in the staging folder, its original file name, size, SHA-256 and type; the bytes
stay on disk until the report is submitted (moved into place) or the file is removed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from starlette.datastructures import UploadFile

from vigil.intake import attachments
from vigil.intake.journey import N_
from vigil.intake.storage import FileTooLarge, StagedFile
from vigil.web.runtime import Runtime
from vigil.web.said import Gettext, Said, spoken

_STAGED_NAME = re.compile(r"^[0-9a-f]{32}$")
_CHUNK = 1 << 20

# attachments' plain-language refusals, marked here so they reach the Welsh catalogue
_REASONS: dict[str, str] = {
    attachments.EMPTY: N_("The file is empty."),
    attachments.NOT_ACCEPTED: N_(
        "This type of file is not accepted. "
        "Send photos (JPEG, PNG, HEIC), videos (MP4, MOV), PDF or plain text."
    ),
    attachments.MIXED_CONTENT: N_("The file contains more than one kind of content."),
    attachments.DAMAGED_IMAGE: N_("The image is damaged or incomplete."),
    attachments.DAMAGED_VIDEO: N_("The video is damaged or incomplete."),
    attachments.DAMAGED_PDF: N_("The PDF is damaged or incomplete."),
    attachments.PDF_ACTIVE: N_(
        "The PDF contains active content or embedded files, which we cannot accept."
    ),
    attachments.PDF_ENCRYPTED: N_(
        "The PDF is encrypted or password-protected, so we cannot check it."
    ),
    attachments.PDF_TOO_COMPLEX: N_(
        "The PDF is too large or complex for us to check. Send a simpler PDF."
    ),
}
ACCEPT = (
    "image/jpeg,image/png,image/heic,.heic,.heif,video/mp4,video/quicktime,.mov,"
    "application/pdf,text/plain"
)


@dataclass
class Upload:
    """The outcome for one uploaded file: a record for the session, or why not."""

    filename: str
    record: dict[str, Any] | None = None
    rejected: str | None = None
    too_large: bool = False


def file_size(size: int) -> str:
    """A size people read: 900 B, 12 KB, 3.4 MB, 50 MB (binary multiples, as file managers)."""
    if size < 1024:
        return f"{size} B"
    if size < 1024**2:
        return f"{round(size / 1024)} KB"
    megabytes = size / 1024**2
    return f"{megabytes:.0f} MB" if megabytes >= 10 else f"{megabytes:.1f} MB"


def explain(gettext: Gettext, lang: str, reason: str) -> str:
    """The refusal in the visitor's language: a marked reason (one with the file's name or
    size in it, say) through its template, else a generic sentence when only English exists."""
    if reason in _REASONS:
        return gettext(_REASONS[reason])
    if isinstance(reason, Said):
        return spoken(gettext, reason)
    return reason if lang == "en" else gettext("We cannot accept this file.")


def staged_path(rt: Runtime, record: dict[str, Any]) -> Path | None:
    name = str(record.get("staged", ""))
    return rt.store.staging / name if _STAGED_NAME.match(name) else None


def discard(rt: Runtime, record: dict[str, Any]) -> None:
    path = staged_path(rt, record)
    if path is not None:
        rt.store.discard(path)


def discard_all(rt: Runtime, records: Sequence[dict[str, Any]]) -> None:
    for record in records:
        discard(rt, record)


def staged_files(
    rt: Runtime, records: Sequence[dict[str, Any]]
) -> tuple[list[StagedFile], list[str]]:
    """The staged files to submit, and the names of any that are no longer on disk."""
    found: list[StagedFile] = []
    missing: list[str] = []
    for record in records:
        path = staged_path(rt, record)
        if path is None or not path.is_file():
            missing.append(str(record.get("filename") or ""))
            continue
        found.append(
            StagedFile(path, record.get("filename"), int(record["size"]), str(record["sha256"]))
        )
    return found, missing


def _display_name(upload: UploadFile) -> str:
    name = re.split(r"[\\/]", upload.filename or "")[-1].strip()
    return name[-255:]


def _stage_one(rt: Runtime, upload: UploadFile) -> Upload:
    """Copy one upload into staging and inspect it (blocking: run in a worker thread)."""
    name = _display_name(upload)
    writer = rt.store.stage(name or None, rt.settings.max_attachment_bytes)
    try:
        upload.file.seek(0)
        while chunk := upload.file.read(_CHUNK):
            writer.write(chunk)
    except FileTooLarge:
        return Upload(name, too_large=True)
    except BaseException:
        writer.abort()
        raise
    staged = writer.finish()
    try:
        info = attachments.inspect_file(
            staged.path, staged.filename, max_image_pixels=rt.settings.max_image_pixels
        )
    except attachments.AttachmentRejected as exc:
        rt.store.discard(staged.path)
        return Upload(name, rejected=exc.reason)
    record = {
        "staged": staged.path.name,
        "filename": name or None,
        "size": staged.size,
        "sha256": staged.sha256,
        "media_type": info.media_type,
    }
    return Upload(name, record=record)


def chosen_uploads(uploads: Sequence[Any]) -> list[UploadFile]:
    """The files actually chosen (an empty file input still sends one nameless, empty part)."""
    return [u for u in uploads if isinstance(u, UploadFile) and (u.filename or (u.size or 0) > 0)]


async def stage_uploads(rt: Runtime, uploads: Sequence[UploadFile]) -> list[Upload]:
    results: list[Upload] = []
    for upload in uploads:
        results.append(await anyio.to_thread.run_sync(_stage_one, rt, upload))
    return results
