"""Reading a submission body: JSON, or multipart with a ``report`` part and files.

Multipart bodies are parsed as they stream in, and each file goes straight to the staging
folder with its size cap, so an oversized upload is refused early and never held in memory.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from python_multipart.multipart import MultipartParser, parse_options_header

from vigil.intake.storage import FileStore, FileTooLarge, StagedFile, StagedWriter
from vigil.settings import Settings
from vigil.web.problems import Problem, field_error
from vigil.web.said import said

JSON_TYPES = {"application/json", "application/problem+json"}


@dataclass
class Submission:
    document: Any
    files: list[StagedFile] = field(default_factory=list)

    def discard(self, store: FileStore) -> None:
        for staged in self.files:
            store.discard(staged.path)


def media_type_of(content_type: str | None) -> tuple[str, dict[bytes, bytes]]:
    main, options = parse_options_header(content_type or "")
    return main.decode("latin-1").lower(), options


def parse_json_document(raw: bytes, pointer: str = "") -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Problem(
            422,
            said("Invalid request"),
            said("The body is not valid JSON."),
            errors=[field_error(pointer or "#", said("not valid JSON: %(error)s", error=exc.msg))],
        ) from exc


async def read_capped(stream: AsyncIterator[bytes], limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(limit: int) -> Problem:
    return Problem(
        413,
        said("Request too large"),
        said("The request is larger than %(limit)s bytes.", limit=format(limit, ",")),
    )


async def read_submission(
    content_type: str | None,
    content_length: int | None,
    stream: AsyncIterator[bytes],
    settings: Settings,
    store: FileStore,
    *,
    json_part: str,
) -> Submission:
    """Return the JSON document and staged files, or raise a problem (413, 415, 422)."""
    media, options = media_type_of(content_type)
    if media in JSON_TYPES:
        if content_length is not None and content_length > settings.max_json_bytes:
            raise too_large(settings.max_json_bytes)
        raw = await read_capped(stream, settings.max_json_bytes)
        return Submission(parse_json_document(raw))
    if media == "multipart/form-data":
        boundary = options.get(b"boundary")
        if not boundary:
            raise Problem(422, said("Invalid request"), said("The multipart body has no boundary."))
        if content_length is not None and content_length > settings.max_multipart_bytes:
            raise too_large(settings.max_multipart_bytes)
        reader = _MultipartReader(boundary, settings, store, json_part)
        try:
            size = 0
            async for chunk in stream:
                size += len(chunk)
                if size > settings.max_multipart_bytes:
                    raise too_large(settings.max_multipart_bytes)
                reader.feed(chunk)
            return reader.finish()
        except BaseException:
            reader.abort()
            raise
    raise Problem(
        415,
        said("Unsupported media type"),
        said("Send application/json, or multipart/form-data with a 'report' part and files."),
    )


class _MultipartReader:
    def __init__(self, boundary: bytes, settings: Settings, store: FileStore, json_part: str):
        self._settings = settings
        self._store = store
        self._json_part = json_part
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
            },
        )
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._field: bytearray | None = None
        self._field_name = ""
        self._file: StagedWriter | None = None
        self._files: list[StagedFile] = []
        self._document: bytes | None = None
        self._error: Problem | None = None
        self._ended = False

    def feed(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except Problem:
            raise
        except FileTooLarge as exc:
            raise Problem(
                413,
                said("File too large"),
                said(
                    "A file is larger than the limit of %(limit)s bytes.",
                    limit=format(exc.limit, ","),
                ),
                errors=[
                    field_error(
                        f"#/files/{len(self._files)}",
                        said("larger than %(limit)s bytes", limit=format(exc.limit, ",")),
                    )
                ],
            ) from exc
        except Exception as exc:
            raise Problem(
                422, said("Invalid request"), said("The multipart body is malformed.")
            ) from exc

    def finish(self) -> Submission:
        try:
            self._parser.finalize()
        except Exception as exc:
            raise Problem(
                422, said("Invalid request"), said("The multipart body is malformed.")
            ) from exc
        if not self._ended or self._file is not None or self._field is not None:
            raise Problem(422, said("Invalid request"), said("The multipart body ended early."))
        if self._document is None:
            raise Problem(
                422,
                said("Invalid request"),
                said("The multipart body has no '%(part)s' part.", part=self._json_part),
                errors=[field_error(f"#/{self._json_part}", said("is required"))],
            )
        return Submission(parse_json_document(self._document, f"#/{self._json_part}"), self._files)

    def abort(self) -> None:
        if self._file is not None:
            self._file.abort()
        for staged in self._files:
            self._store.discard(staged.path)

    # parser callbacks
    def _on_part_begin(self) -> None:
        self._headers = {}
        self._ended = False

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[self._header_name.lower()] = self._header_value
        self._header_name = b""
        self._header_value = b""

    def _on_headers_finished(self) -> None:
        disposition, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        filename_raw = params.get(b"filename")
        if disposition != b"form-data" or not name:
            raise Problem(
                422, said("Invalid request"), said("Each multipart part needs a form-data name.")
            )
        if filename_raw is not None:
            if len(self._files) >= self._settings.max_attachments:
                raise Problem(
                    422,
                    said("Too many files"),
                    said("Send at most %(limit)s files.", limit=self._settings.max_attachments),
                    errors=[
                        field_error(
                            "#/files",
                            said("at most %(limit)s files", limit=self._settings.max_attachments),
                        )
                    ],
                )
            filename = filename_raw.decode("utf-8", "replace")[-255:] or None
            self._file = self._store.stage(filename, self._settings.max_attachment_bytes)
        else:
            if name != self._json_part:
                raise Problem(
                    422,
                    said("Invalid request"),
                    said("Unexpected form field '%(name)s'.", name=name[:40]),
                    errors=[field_error(f"#/{name[:40]}", said("is not a known field"))],
                )
            if self._document is not None:
                raise Problem(
                    422,
                    said("Invalid request"),
                    said("Only one '%(part)s' part is allowed.", part=self._json_part),
                )
            self._field = bytearray()
            self._field_name = name

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._file is not None:
            self._file.write(data[start:end])
        elif self._field is not None:
            self._field += data[start:end]
            if len(self._field) > self._settings.max_json_bytes:
                raise too_large(self._settings.max_json_bytes)

    def _on_part_end(self) -> None:
        if self._file is not None:
            staged = self._file.finish()
            self._file = None
            if staged.size == 0 and not staged.filename:
                self._store.discard(staged.path)  # an empty, unused file input
            else:
                self._files.append(staged)
        elif self._field is not None:
            self._document = bytes(self._field)
            self._field = None
        self._ended = True
