"""Content checks for files the public attach to reports, and metadata-free display copies.

Uploads come from anyone, so the file name is a hint at best. We decide the type from the bytes,
refuse what we cannot handle safely (decompression bombs, damaged files, files that are also a
ZIP or a web page, PDFs that run code), and show staff only a re-encoded copy of each image,
because the original may carry the uploader's location in its metadata. Refusals carry a
plain-language ``reason`` that is shown to the uploader as it is.
"""

from __future__ import annotations

import codecs
import contextlib
import itertools
import os
import re
import struct
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pillow_heif
from PIL import Image, ImageOps

from vigil.web.said import said

pillow_heif.register_heif_opener()

# media type -> (file name extensions that fit it, how we describe it to the uploader)
_KINDS: dict[str, tuple[frozenset[str], str]] = {
    "image/jpeg": (frozenset({"jpg", "jpeg", "jpe", "jfif"}), said("a JPEG image")),
    "image/png": (frozenset({"png"}), said("a PNG image")),
    "image/heic": (frozenset({"heic", "heif"}), said("a HEIC image")),
    "video/mp4": (frozenset({"mp4", "m4v"}), said("an MP4 video")),
    "video/quicktime": (frozenset({"mov", "qt"}), said("a QuickTime (MOV) video")),
    "application/pdf": (frozenset({"pdf"}), said("a PDF document")),
    "text/plain": (frozenset({"txt", "text"}), said("a plain text file")),
}
ALLOWED_MEDIA_TYPES: frozenset[str] = frozenset(_KINDS)
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/heic": "HEIF"}

EMPTY = said("The file is empty.")
NOT_ACCEPTED = said(
    "This type of file is not accepted. "
    "Send photos (JPEG, PNG, HEIC), videos (MP4, MOV), PDF or plain text."
)
MIXED_CONTENT = said("The file contains more than one kind of content.")
DAMAGED_IMAGE = said("The image is damaged or incomplete.")
DAMAGED_VIDEO = said("The video is damaged or incomplete.")
DAMAGED_PDF = said("The PDF is damaged or incomplete.")
PDF_ACTIVE = said("The PDF contains active content or embedded files, which we cannot accept.")
PDF_ENCRYPTED = said("The PDF is encrypted or password-protected, so we cannot check it.")
PDF_TOO_COMPLEX = said("The PDF is too large or complex for us to check. Send a simpler PDF.")

_CHUNK = 1 << 20  # largest single read: files can be tens of megabytes
_EDGE = 4096  # how much of each end of a file is searched for web-page markers
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_HEIC_BRANDS = frozenset(b"heic heix heim heis hevc hevx mif1 msf1".split())
_MP4_BRANDS = frozenset(b"isom iso2 iso3 iso4 iso5 iso6 mp41 mp42 avc1 dash".split())
_BRAND_TYPES = (
    dict.fromkeys(_MP4_BRANDS | {b"M4V ", b"M4A "}, "video/mp4")
    | dict.fromkeys(_HEIC_BRANDS, "image/heic")
    | {b"qt  ": "video/quicktime"}
)
_UNSUPPORTED_MAJOR_BRANDS = frozenset({b"avif", b"avis"})  # AVIF lists mif1 but is not HEIC
_QT_FIRST_BOXES = frozenset(b"moov mdat wide free skip".split())
_MAX_PARTS = 100_000  # more top-level boxes or PNG chunks than this is abuse, not a recording
_JPEG_MARKER = re.compile(rb"\xff+([^\x00\xd0-\xd7\xff])")  # skips fill, stuffing and RSTn
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_PADDING = b"\x00 \t\r\n\x0b\x0c"
_TEXT_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f]")
_WEB_MARKERS = (b"<script", b"<html", b"<?php", b"<svg")
_ZIP_SIGNATURE = re.compile(rb"PK(?:\x03\x04|\x01\x02|\x05\x06)")
_ZIP_METHODS = frozenset(range(20)) | frozenset(range(93, 100))
# Encrypted streams cannot be read, so a PDF with an /Encrypt dictionary is refused as well.
_PDF_NAME = re.compile(rb"/(?:JavaScript|Launch|EmbeddedFile|RichMedia|XFA|Encrypt)")
_PDF_NAME_CHAR = rb"[^\x00\s/<>\[\]()%{}]"
_PDF_ESCAPED_NAME = re.compile(
    rb"/%s{0,127}#[0-9A-Fa-f]{2}%s{0,127}" % (_PDF_NAME_CHAR, _PDF_NAME_CHAR)
)
_PDF_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_PDF_STREAM = re.compile(rb"(?<!end)stream\r?\n")
_PDF_INFLATE_BUDGET = 512 << 20  # total decompressed bytes we will look through in one PDF


class AttachmentRejected(ValueError):
    """An upload we will not keep; ``reason`` is written for the uploader, not for logs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class InspectedFile:
    """What the bytes turned out to be; image sizes are as stored, before EXIF rotation."""

    media_type: str
    width: int | None
    height: int | None


def inspect_file(path: Path, filename: str | None, *, max_image_pixels: int) -> InspectedFile:
    """Decide what ``path`` really contains, or raise AttachmentRejected saying why not.

    ``filename`` is only the uploader's name for the file: it never decides the type, but a name
    that claims a different type is refused so nobody downstream is misled by it.
    """
    limit = _pixel_limit(max_image_pixels)
    size = path.stat().st_size
    if size == 0:
        raise AttachmentRejected(EMPTY)
    with path.open("rb") as fh:
        head, tail = _read_at(fh, 0, _EDGE), _read_at(fh, max(0, size - _EDGE), _EDGE)
        media_type = _sniff(fh, size, head)
        _check_extension(filename, media_type)
        if _contains_zip(fh) or (
            media_type != "text/plain"
            and any(marker in edge.lower() for edge in (head, tail) for marker in _WEB_MARKERS)
        ):
            raise AttachmentRejected(MIXED_CONTENT)
        if media_type.startswith("video/"):
            if b"moov" not in (_walk_boxes(fh, size) or ()):
                raise AttachmentRejected(DAMAGED_VIDEO)
        elif media_type == "application/pdf":
            _check_pdf(fh, tail)
        elif media_type in _PIL_FORMATS:
            width, height = _check_image_container(fh, size, media_type, path)
            _check_pixels(width, height, limit)
            _decode(path, media_type, limit)
            return InspectedFile(media_type, width, height)
    return InspectedFile(media_type, None, None)


def write_display_copy(
    path: Path, media_type: str, dest: Path, *, max_image_pixels: int
) -> tuple[int, int] | None:
    """Write an upright JPEG of the image to ``dest`` with no metadata; None for non-images.

    Metadata (EXIF with GPS, XMP, comments, PNG text, ICC profiles) can identify or locate the
    uploader, so the copy is rebuilt from pixels alone. Transparency is flattened onto white, as
    JPEG has none. ``dest`` is replaced atomically so readers never see half a file; ``path``
    is only read. Returns the copy's (width, height).
    """
    if media_type not in _PIL_FORMATS:
        return None
    limit = _pixel_limit(max_image_pixels)
    with path.open("rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        _check_pixels(*_check_image_container(fh, size, media_type, path), limit)
    picture = _decode(path, media_type, limit, keep=True)
    _save_atomically(picture, dest)
    return picture.size


def _pixel_limit(max_image_pixels: int) -> int:
    if max_image_pixels <= 0:
        raise ValueError("max_image_pixels must be positive")
    pillow_limit = Image.MAX_IMAGE_PIXELS  # honour Pillow's own guard without changing it
    return max_image_pixels if pillow_limit is None else min(max_image_pixels, pillow_limit)


def _check_pixels(width: int, height: int, limit: int) -> None:
    if width * height > limit:
        raise AttachmentRejected(
            said(
                "The image is too large: %(width)s x %(height)s pixels; "
                "the most we accept is %(limit)s pixels.",
                width=width,
                height=height,
                limit=format(limit, ","),
            )
        )


def _read_at(fh: BinaryIO, offset: int, count: int) -> bytes:
    fh.seek(offset)
    return fh.read(count)


def _chunks(fh: BinaryIO, start: int, overlap: int) -> Iterator[tuple[int, bytes]]:
    """Yield (offset, data) so that any match up to ``overlap`` + 1 bytes is whole in one piece.

    Reads start small and grow, as most searches (the next JPEG marker) end within a few bytes.
    """
    pos, want = start, 4096
    while data := _read_at(fh, pos, want):  # seek each time: callers read elsewhere in between
        yield pos, data
        if len(data) < want:
            return
        pos, want = pos + len(data) - overlap, min(want * 4, _CHUNK)


def _find(fh: BinaryIO, pattern: re.Pattern[bytes], start: int, overlap: int = 1) -> int | None:
    """Offset just past the first match at or after ``start``."""
    for offset, data in _chunks(fh, start, overlap):
        if match := pattern.search(data):
            return offset + match.end()
    return None


def _sniff(fh: BinaryIO, size: int, head: bytes) -> str:
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(_PNG_SIGNATURE):
        return "image/png"
    if head[4:8] == b"ftyp" and len(head) >= 16:
        box_end = min(int.from_bytes(head[:4], "big"), len(head))
        major = head[8:12]
        if major not in _UNSUPPORTED_MAJOR_BRANDS:  # major brand first, then compatible ones
            for brand in [major] + [head[i : i + 4] for i in range(16, box_end - 3, 4)]:
                if brand in _BRAND_TYPES:
                    return _BRAND_TYPES[brand]
        raise AttachmentRejected(NOT_ACCEPTED)
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[4:8] in _QT_FIRST_BOXES:  # QuickTime from before ftyp existed
        first_size = int.from_bytes(head[:4], "big")
        if first_size in (0, 1) or 8 <= first_size <= size:
            return "video/quicktime"
    utf8 = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        for _, data in _chunks(fh, 0, 0):
            if _TEXT_CONTROLS.search(data):
                raise AttachmentRejected(NOT_ACCEPTED)
            utf8.decode(data)
        utf8.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise AttachmentRejected(NOT_ACCEPTED) from exc
    return "text/plain"


def _check_extension(filename: str | None, media_type: str) -> None:
    name = re.split(r"[\\/]", filename or "")[-1].strip().rstrip(". ")  # as Windows would
    if "." not in name.lstrip("."):
        return
    extension = name.rsplit(".", 1)[1].lower()
    extensions, description = _KINDS[media_type]
    if extension in extensions:
        return
    if re.fullmatch(r"[a-z0-9]{1,10}", extension):
        raise AttachmentRejected(
            said(
                "The file name ends .%(extension)s but the file is %(description)s.",
                extension=extension,
                description=description,
            )
        )
    raise AttachmentRejected(
        said(
            "The file name does not match the file, which is %(description)s.",
            description=description,
        )
    )


def _contains_zip(fh: BinaryIO) -> bool:
    """True if a ZIP record is embedded anywhere, so the file could also be opened as an archive.

    A bare 4-byte signature turns up by chance in a few percent of large videos, so a hit only
    counts when the fields after it are ones a ZIP tool would accept.
    """
    for offset, data in _chunks(fh, 0, 3):
        for match in _ZIP_SIGNATURE.finditer(data):
            record = _read_at(fh, offset + match.start(), 46)
            if record[2:4] == b"\x05\x06":  # end of directory: this disk, the directory's disk
                disks = struct.unpack_from("<HH", record, 4) if len(record) >= 22 else (1, 1)
                if set(disks) <= {0, 0xFFFF}:
                    return True
                continue
            start, need = (4, 30) if record[2:4] == b"\x03\x04" else (6, 46)  # local, central
            if len(record) >= need:
                version, _, method = struct.unpack_from("<HHH", record, start)
                if version <= 0xFF and method in _ZIP_METHODS:
                    return True
    return False


def _check_image_container(fh: BinaryIO, size: int, media_type: str, path: Path) -> tuple[int, int]:
    """Check the image's structure and return its size, all without decoding a single pixel.

    Truncation counts as damage; anything after the image's own end is a hidden payload.
    """
    if media_type == "image/jpeg":
        dimensions, end = _walk_jpeg(fh, 0, size)
        while end < size:  # multi-picture (MPO) files put more JPEGs straight after the first
            rest = _read_at(fh, end, 17)
            if rest.startswith(b"\xff\xd8\xff"):
                end = _walk_jpeg(fh, end, size)[1]
            elif len(rest) <= 16 and not rest.strip(_JPEG_PADDING):
                break
            else:
                raise AttachmentRejected(MIXED_CONTENT)
        return dimensions
    if media_type == "image/png":
        return _walk_png(fh, size)
    if _walk_boxes(fh, size) is None:
        raise AttachmentRejected(DAMAGED_IMAGE)
    try:
        width, height = pillow_heif.open_heif(path).size  # reads the header, decodes nothing
    except (ValueError, RuntimeError, OSError, EOFError) as exc:
        raise AttachmentRejected(DAMAGED_IMAGE) from exc
    return int(width), int(height)


def _walk_jpeg(fh: BinaryIO, start: int, size: int) -> tuple[tuple[int, int], int]:
    """Follow one JPEG's segments from SOI to EOI: (width, height) and the offset after EOI."""
    if _read_at(fh, start, 2) != b"\xff\xd8":
        raise AttachmentRejected(DAMAGED_IMAGE)
    pos, dimensions, scanned = start + 2, (0, 0), False
    while (found := _find(fh, _JPEG_MARKER, pos)) is not None:
        marker, pos = _read_at(fh, found - 1, 1)[0], found
        if marker == 0xD9 and scanned:
            return dimensions, pos
        if marker == 0x01:  # the only marker without a length, outside entropy-coded data
            continue
        segment = _read_at(fh, pos, 7)
        length = int.from_bytes(segment[:2], "big") if len(segment) >= 2 else 0
        if marker in (0xD8, 0xD9) or length < 2 or pos + length > size:
            break
        if marker in _JPEG_SOF and dimensions == (0, 0):
            height, width = struct.unpack_from(">HH", segment, 3) if len(segment) == 7 else (0, 0)
            dimensions = (width, height)
            if length < 8 or not width or not height:
                break
        if marker == 0xDA:
            if dimensions == (0, 0):
                break
            scanned = True
        pos += length
    raise AttachmentRejected(DAMAGED_IMAGE)


def _walk_png(fh: BinaryIO, size: int) -> tuple[int, int]:
    """Follow the chunks from IHDR to IEND, which must be the last bytes of the file."""
    pos, count, dimensions = len(_PNG_SIGNATURE), 0, (0, 0)
    while count < _MAX_PARTS:
        header = _read_at(fh, pos, 16)
        if len(header) < 8:
            break
        length, kind = struct.unpack_from(">I4s", header)
        if length > 0x7FFFFFFF or not kind.isalpha() or (count == 0) != (kind == b"IHDR"):
            break
        if count == 0 and length == 13 and len(header) == 16:
            dimensions = struct.unpack_from(">II", header, 8)
        pos, count = pos + 12 + length, count + 1
        if pos > size or dimensions == (0, 0):
            break
        if kind == b"IEND":
            if pos != size:
                raise AttachmentRejected(MIXED_CONTENT)
            return dimensions
    raise AttachmentRejected(DAMAGED_IMAGE)


def _walk_boxes(fh: BinaryIO, size: int) -> list[bytes] | None:
    """Top-level ISO-BMFF box types, or None unless the boxes exactly tile the whole file."""
    pos, kinds = 0, list[bytes]()
    while pos < size:
        header = _read_at(fh, pos, 16)
        if len(header) < 8 or len(kinds) >= _MAX_PARTS:
            return None
        box_size, kind = struct.unpack_from(">I4s", header)
        header_size = 8
        if box_size == 1 and len(header) == 16:  # 64-bit size follows the type
            box_size, header_size = struct.unpack_from(">Q", header, 8)[0], 16
        elif box_size == 0:  # runs to the end of the file
            box_size = size - pos
        if box_size < header_size or pos + box_size > size:
            return None
        kinds.append(kind)
        pos += box_size
    return kinds


def _decode(path: Path, media_type: str, limit: int, *, keep: bool = False) -> Image.Image:
    """Decode every pixel, as only that shows some damage; with ``keep``, return clean RGB."""
    try:
        with Image.open(path, formats=[_PIL_FORMATS[media_type]]) as image:
            _check_pixels(*image.size, limit)  # in case Pillow reads the size differently
            image.load()
            if not keep:
                return image
            try:
                upright = ImageOps.exif_transpose(image)
            except Exception:  # a broken orientation tag is no reason to lose the picture
                upright = image
            return _flatten(upright)
    except (AttachmentRejected, MemoryError):
        raise
    except Image.DecompressionBombError as exc:
        raise AttachmentRejected(
            said(
                "The image is too large; the most we accept is %(limit)s pixels.",
                limit=format(limit, ","),
            )
        ) from exc
    except Exception as exc:  # decoders raise many types on hostile input; all mean "damaged"
        raise AttachmentRejected(DAMAGED_IMAGE) from exc


def _flatten(image: Image.Image) -> Image.Image:
    """Pixels only, as RGB: alpha goes onto white, 16-bit grey is scaled, metadata is dropped."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        rgb = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        rgb.alpha_composite(rgba)
        rgb = rgb.convert("RGB")
    elif image.mode.startswith("I"):
        rgb = image.convert("I").point(lambda value: value * (1 / 257)).convert("L").convert("RGB")
    else:
        rgb = image.convert("RGB")
    rgb.info = {}  # convert() copies info, and Pillow would write its comment into the JPEG
    return rgb


def _save_atomically(picture: Image.Image, dest: Path) -> None:
    fd, temporary = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            picture.save(out, format="JPEG", quality=85)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, dest)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where the OS allows
        directory = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _check_pdf(fh: BinaryIO, tail: bytes) -> None:
    """Refuse a PDF that is cut short, or that holds scripts, launch actions or attachments.

    Modern writers keep dictionaries in compressed object streams, so the Flate-compressed
    streams are searched too; names spelt with #xx escapes are decoded before comparing.
    """
    if b"%%EOF" not in tail[-1024:]:
        raise AttachmentRejected(DAMAGED_PDF)
    raw = (data for _, data in _chunks(fh, 0, 0))
    found = _find_pdf_name(itertools.chain(raw, [b"\n"], _inflated_streams(fh)))
    if found == b"/Encrypt":
        raise AttachmentRejected(PDF_ENCRYPTED)
    if found is not None:
        raise AttachmentRejected(PDF_ACTIVE)


def _find_pdf_name(pieces: Iterable[bytes]) -> bytes | None:
    carry = b""
    for piece in pieces:
        text = carry + piece
        unescaped = (
            _PDF_ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), escaped[0])
            for escaped in _PDF_ESCAPED_NAME.finditer(text)
        )
        for candidate in itertools.chain([text], unescaped):
            if match := _PDF_NAME.search(candidate):
                return match[0]
        carry = text[-256:]
    return None


def _inflated_streams(fh: BinaryIO) -> Iterator[bytes]:
    """The decompressed content of every Flate stream, within an overall budget."""
    budget, pos = _PDF_INFLATE_BUDGET, 0
    while (found := _find(fh, _PDF_STREAM, pos, overlap=16)) is not None:
        pos, inflater = found, zlib.decompressobj()
        with contextlib.suppress(zlib.error):  # not Flate, or damaged: raw bytes were searched
            for _, data in _chunks(fh, pos, 0):
                while data and not inflater.eof:
                    piece = inflater.decompress(data, _CHUNK)
                    data, budget = inflater.unconsumed_tail, budget - len(piece)
                    if budget < 0:
                        raise AttachmentRejected(PDF_TOO_COMPLEX)
                    yield piece
                if inflater.eof:
                    break
        yield b"\n"  # keep names from joining across two streams
