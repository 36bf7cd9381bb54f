"""Staff opening a report's files: display copies freely, originals only with a reason.

A display copy is an image rebuilt from its pixels alone, so it is safe to show to anyone who
may read the report. The original is the evidence byte for byte, and may carry where and when
it was taken, the device, even the reporter's name in its metadata: it is released only to a
role that holds ``intake:attachment:download``, with a justification recorded as the purpose
of its own audit event. Both are found through the access policy (a report the user may not
see, a file that is not that report's, or a role never shown a report's files, is the same
404: ``vigil.access.fields``), and the file is opened inside the
transaction that writes the audit event, so no byte leaves without its audit row and a file
missing from storage leaves no audit row claiming it was read.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.fields import report_fields
from vigil.access.permissions import Permission
from vigil.access.services import StaffUser
from vigil.audit.services import record_event
from vigil.intake.models import Attachment
from vigil.intake.reading import visible_report
from vigil.web.problems import Problem, field_error
from vigil.web.runtime import Runtime
from vigil.web.said import said

MIN_JUSTIFICATION = 20  # as for disclosing a reporter's identity
MAX_JUSTIFICATION = 2000
CHUNK = 1 << 16
DISPLAY_MEDIA_TYPE = "image/jpeg"  # display copies are always re-encoded as JPEG
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/heic": "heic",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
    "application/pdf": "pdf",
    "text/plain": "txt",
}
# Nothing a file says can run in the console's origin, whatever a browser makes of it.
FILE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "same-origin",
}
_NO_FILE = Problem(404, said("Not found"), said("No such file on this report."), kind="not-found")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class OpenedFile:
    """A file opened for one response; the caller streams it and closes it."""

    handle: BinaryIO
    size: int
    media_type: str
    download_name: str | None  # set for originals: sent as an attachment under this name
    sha256: str | None  # of the original, for the Repr-Digest header

    def chunks(self) -> Iterator[bytes]:
        try:
            while chunk := self.handle.read(CHUNK):
                yield chunk
        finally:
            self.handle.close()

    def headers(self) -> dict[str, str]:
        headers = {**FILE_HEADERS, "Content-Length": str(self.size)}
        if self.download_name is not None:
            headers["Content-Disposition"] = f'attachment; filename="{self.download_name}"'
        else:
            headers["Content-Disposition"] = "inline"
        if self.sha256 is not None:
            digest = base64.b64encode(bytes.fromhex(self.sha256)).decode()
            headers["Repr-Digest"] = f"sha-256=:{digest}:"
        return headers


def safe_download_name(reference: str, attachment_id: int, filename: str | None, media: str) -> str:
    """An ASCII name that no browser or shell can misread, built mostly from what we know.

    The uploader's file name is only a hint: it is reduced to letters, digits, dots, dashes
    and underscores, and the extension always comes from the type we recognised.
    """
    stem = (filename or "").rsplit(".", 1)[0]
    stem = _UNSAFE.sub("-", stem).strip(".-_")[:60]
    extension = EXTENSIONS.get(media, "bin")
    parts = [reference, str(attachment_id), *([stem] if stem else [])]
    return "-".join(parts) + "." + extension


def justification_problem(justification: str) -> Problem | None:
    """Why a justification is not enough, as a 422 naming the field; None when it is."""
    if len(justification) < MIN_JUSTIFICATION:
        detail = said(
            "say why you need the original: at least %(limit)s characters",
            limit=MIN_JUSTIFICATION,
        )
    elif len(justification) > MAX_JUSTIFICATION:
        detail = said("must be %(limit)s characters or fewer", limit=MAX_JUSTIFICATION)
    else:
        return None
    return Problem(
        422,
        said("Invalid request"),
        said("A justification is needed to download an original."),
        errors=[field_error("#/justification", detail)],
        kind="invalid-request",
    )


def _attachment(session: Session, report_id: int, attachment_id: int) -> Attachment:
    row = session.scalar(
        select(Attachment).where(Attachment.id == attachment_id, Attachment.report_id == report_id)
    )
    if row is None:
        raise _NO_FILE
    return row


def _open(rt: Runtime, key: str) -> tuple[BinaryIO, int]:
    try:
        handle = rt.store.path_for(key).open("rb")
    except (OSError, ValueError) as exc:  # a row whose file has gone: nothing to serve
        raise _NO_FILE from exc
    return handle, os.fstat(handle.fileno()).st_size


def open_display_copy(
    rt: Runtime, user: StaffUser, reference: str, attachment_id: int, client: str | None
) -> OpenedFile:
    """The metadata-free display copy of an image; the viewing is audited."""

    def work(session: Session) -> OpenedFile:
        report = visible_report(session, user, reference)
        if "attachments" not in report_fields(user.role):  # a role never shown the files
            raise _NO_FILE
        row = _attachment(session, report.id, attachment_id)
        if row.display_key is None:
            raise _NO_FILE
        handle, size = _open(rt, row.display_key)
        try:
            record_event(
                session,
                user.actor(client),
                "attachment.display_viewed",
                record_type="attachment",
                record_ids=[report.reference, f"{report.reference}/attachments/{row.id}"],
            )
        except BaseException:
            handle.close()
            raise
        return OpenedFile(handle, size, DISPLAY_MEDIA_TYPE, None, None)

    return rt.db.write_sync(work, as_user=user.id)


def open_original(
    rt: Runtime,
    user: StaffUser,
    reference: str,
    attachment_id: int,
    justification: str,
    client: str | None,
) -> OpenedFile:
    """The original file as received, for a permitted role with a recorded justification.

    The justification (whitespace tidied) is checked before anything is read and becomes the
    audit event's purpose; a refusal changes and records nothing beyond what the route guard
    records for a missing permission.
    """
    if Permission.attachment_original_download not in user.permissions:
        raise Problem(403, said("Forbidden"), said("Your role does not allow this."))
    reason = " ".join(justification.split())
    problem = justification_problem(reason)
    if problem is not None:
        raise problem

    def work(session: Session) -> OpenedFile:
        report = visible_report(session, user, reference)
        row = _attachment(session, report.id, attachment_id)
        handle, size = _open(rt, row.storage_key)
        try:
            record_event(
                session,
                user.actor(client),
                "attachment.original_downloaded",
                record_type="attachment",
                record_ids=[report.reference, f"{report.reference}/attachments/{row.id}"],
                purpose=reason,
            )
        except BaseException:
            handle.close()
            raise
        name = safe_download_name(report.reference, row.id, row.filename, row.media_type)
        return OpenedFile(handle, size, row.media_type, name, row.sha256)

    return rt.db.write_sync(work, as_user=user.id)
