"""Content sniffing of public uploads and metadata-free display copies.

Every fixture file is generated here from synthetic data; nothing is read from disk fixtures.
"""

from __future__ import annotations

import hashlib
import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import Image

from vigil.intake.attachments import (
    ALLOWED_MEDIA_TYPES,
    AttachmentRejected,
    InspectedFile,
    inspect_file,
    write_display_copy,
)

LIMIT = 40_000_000
MARKERS = (b"VigilTestCam", b"SECRET-SPOT", b"GPS", b"Exif", b"xmpmeta", b"uploader-note")


# --- fixture builders -------------------------------------------------------------------


def _exif_with_gps(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "VigilTestCam"  # Make
    exif[0x010E] = "SECRET-SPOT 51.5N"  # ImageDescription
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (51.0, 30.0, 12.5), 3: "W", 4: (0.0, 7.0, 39.0)})
    return exif


def _noise(size: tuple[int, int] = (64, 48)) -> Image.Image:
    return Image.merge("RGB", [Image.effect_noise(size, 60 + 10 * i) for i in range(3)])


def _jpeg(size: tuple[int, int] = (64, 48), **save: object) -> bytes:
    out = io.BytesIO()
    _noise(size).save(out, format="JPEG", quality=90, **save)
    return out.getvalue()


def _png(image: Image.Image | None = None, **save: object) -> bytes:
    out = io.BytesIO()
    (image or _noise()).save(out, format="PNG", **save)
    return out.getvalue()


def _heic(size: tuple[int, int] = (64, 48), **save: object) -> bytes:
    out = io.BytesIO()
    _noise(size).save(out, format="HEIF", **save)
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG whose header claims a huge canvas but carries almost no data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    return _box(b"ftyp", major + b"\x00\x00\x02\x00" + b"".join(compatible))


MOOV = _box(b"moov", _box(b"mvhd", bytes(100)))
MP4 = (
    _ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41")
    + _box(b"free")
    + _box(b"mdat", bytes(range(256)) * 8)
    + MOOV
)


def _pdf(catalog_extra: bytes = b"", extra_objects: bytes = b"", trailer: bytes = b"") -> bytes:
    return (
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
        b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b">>\nendobj\n"
        b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
        + extra_objects
        + b"trailer\n<< /Root 1 0 R /Size 3 "
        + trailer
        + b">>\nstartxref\n0\n%%EOF\n"
    )


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("payload.html", "<p>hidden</p>")
    return out.getvalue()


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _rejected(path: Path, filename: str | None = None, *, limit: int = LIMIT) -> str:
    with pytest.raises(AttachmentRejected) as caught:
        inspect_file(path, filename, max_image_pixels=limit)
    assert str(caught.value) == caught.value.reason
    return caught.value.reason


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def no_pillow_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if Pillow is asked to open (and so possibly allocate) the image."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the image was handed to Pillow")

    monkeypatch.setattr(Image, "open", refuse)


# --- accepted files ---------------------------------------------------------------------


def test_allowed_media_types_are_exactly_the_documented_set() -> None:
    assert {
        "image/jpeg",
        "image/png",
        "image/heic",
        "video/mp4",
        "video/quicktime",
        "application/pdf",
        "text/plain",
    } == ALLOWED_MEDIA_TYPES


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("photo.jpg", _jpeg(), InspectedFile("image/jpeg", 64, 48)),
        ("photo.png", _png(), InspectedFile("image/png", 64, 48)),
        ("photo.heic", _heic(), InspectedFile("image/heic", 64, 48)),
        ("clip.mp4", MP4, InspectedFile("video/mp4", None, None)),
        (
            "clip.mov",
            _ftyp(b"qt  ", b"qt  ") + _box(b"wide") + _box(b"mdat", b"\x01" * 40) + MOOV,
            InspectedFile("video/quicktime", None, None),
        ),
        (
            "old.mov",
            _box(b"wide") + _box(b"mdat", b"\x01" * 40) + MOOV,
            InspectedFile("video/quicktime", None, None),
        ),
        ("statement.pdf", _pdf(), InspectedFile("application/pdf", None, None)),
        (
            "notes.txt",
            "Saw a white van\tat 10:42\r\nnear the café — plate AB12\x0cpage 2\n".encode(),
            InspectedFile("text/plain", None, None),
        ),
    ],
)
def test_accepts_each_allowed_type_by_its_content(
    tmp_path: Path, name: str, data: bytes, expected: InspectedFile
) -> None:
    path = _write(tmp_path, "upload.bin", data)
    assert inspect_file(path, name, max_image_pixels=LIMIT) == expected
    assert inspect_file(path, None, max_image_pixels=LIMIT) == expected


def test_accepts_mp4_with_64_bit_box_size(tmp_path: Path) -> None:
    payload = b"\x02" * 50
    mdat = struct.pack(">I4sQ", 1, b"mdat", 16 + len(payload)) + payload
    path = _write(tmp_path, "a", _ftyp(b"mp42", b"mp42", b"isom") + mdat + MOOV)
    assert inspect_file(path, "clip.MP4", max_image_pixels=LIMIT).media_type == "video/mp4"


@pytest.mark.parametrize(
    "filename", ["PHOTO.JPG", "photo.jpeg", "photo.jfif", "photo", "C:\\fakepath\\photo.jpg", ""]
)
def test_accepts_jpeg_with_matching_or_no_extension(tmp_path: Path, filename: str) -> None:
    path = _write(tmp_path, "a", _jpeg())
    assert inspect_file(path, filename, max_image_pixels=LIMIT).media_type == "image/jpeg"


def test_accepts_jpeg_with_up_to_16_trailing_padding_bytes(tmp_path: Path) -> None:
    path = _write(tmp_path, "a", _jpeg() + b"\x00" * 8 + b"\r\n" * 4)
    assert inspect_file(path, "a.jpg", max_image_pixels=LIMIT).media_type == "image/jpeg"


def test_accepts_multi_picture_jpeg_from_cameras(tmp_path: Path) -> None:
    out = io.BytesIO()
    _noise().save(out, format="MPO", save_all=True, append_images=[_noise()])
    path = _write(tmp_path, "a", out.getvalue())
    assert inspect_file(path, "a.jpg", max_image_pixels=LIMIT).media_type == "image/jpeg"


def test_accepts_html_only_as_plain_text_when_named_as_text(tmp_path: Path) -> None:
    # Text is shown as text; the serving layer must send it as text/plain with nosniff.
    path = _write(tmp_path, "a", b"<html><script>alert(1)</script></html>\n")
    assert inspect_file(path, "page.txt", max_image_pixels=LIMIT).media_type == "text/plain"


def test_chance_zip_signature_inside_video_data_is_not_refused(tmp_path: Path) -> None:
    # Four bytes like "PK\x03\x04" turn up by chance in large videos; without a plausible
    # header after them they are not a ZIP and must not cost a witness their upload.
    mdat = _box(b"mdat", b"\x07" * 10 + b"PK\x03\x04" + b"\xff" * 40)
    path = _write(tmp_path, "a", _ftyp(b"isom", b"isom") + mdat + MOOV)
    assert inspect_file(path, "a.mp4", max_image_pixels=LIMIT).media_type == "video/mp4"


# --- refused files ----------------------------------------------------------------------


def test_refuses_empty_file(tmp_path: Path) -> None:
    assert _rejected(_write(tmp_path, "a", b""), "a.jpg") == "The file is empty."


@pytest.mark.parametrize(
    "data",
    [
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(100),  # Windows executable
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        b"Saw it at \x00 noon",  # text with a NUL
        b"bell \x07 ring",  # other control character
        b"caf\xe9 latin-1",  # not UTF-8
        _ftyp(b"avif", b"avif", b"mif1") + _box(b"meta"),
        _ftyp(b"crx ", b"crx ") + MOOV,
    ],
    ids=["exe", "gif", "nul", "bell", "latin1", "avif", "unknown-brand"],
)
def test_refuses_content_that_is_not_an_accepted_type(tmp_path: Path, data: bytes) -> None:
    reason = _rejected(_write(tmp_path, "a", data))
    assert reason.startswith("This type of file is not accepted.")
    assert "JPEG, PNG, HEIC" in reason


def test_refuses_html_renamed_jpg(tmp_path: Path) -> None:
    path = _write(tmp_path, "a", b"<html><body><script>steal()</script></body></html>")
    reason = _rejected(path, "holiday.jpg")
    assert reason == "The file name ends .jpg but the file is a plain text file."


def test_refuses_png_content_named_jpg(tmp_path: Path) -> None:
    reason = _rejected(_write(tmp_path, "a", _png()), "photo.jpg")
    assert reason == "The file name ends .jpg but the file is a PNG image."


@pytest.mark.parametrize("filename", ["photo.exe", "photo.jpg.exe", "photo.html", "photo.exe. "])
def test_refuses_image_named_as_another_kind_of_file(tmp_path: Path, filename: str) -> None:
    reason = _rejected(_write(tmp_path, "a", _jpeg()), filename)
    ending = filename.strip(". ").rsplit(".", 1)[1]
    assert reason == f"The file name ends .{ending} but the file is a JPEG image."


def test_refusal_does_not_echo_odd_extensions(tmp_path: Path) -> None:
    reason = _rejected(_write(tmp_path, "a", _jpeg()), "photo.<script>")
    assert reason == "The file name does not match the file, which is a JPEG image."


def test_refuses_decompression_bomb_png_without_decoding(
    tmp_path: Path, no_pillow_decoding: None
) -> None:
    path = _write(tmp_path, "bomb.png", _png_claiming(30000, 30000))
    assert _rejected(path, "bomb.png") == (
        "The image is too large: 30000 x 30000 pixels; the most we accept is 40,000,000 pixels."
    )


def test_refuses_decompression_bomb_jpeg_without_decoding(
    tmp_path: Path, no_pillow_decoding: None
) -> None:
    data = bytearray(_jpeg())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)
    reason = _rejected(_write(tmp_path, "a", bytes(data)), "a.jpg")
    assert reason.startswith("The image is too large: 60000 x 60000 pixels")


def test_refuses_heic_over_the_pixel_limit(tmp_path: Path) -> None:
    reason = _rejected(_write(tmp_path, "a", _heic()), "a.heic", limit=1000)
    assert reason == "The image is too large: 64 x 48 pixels; the most we accept is 1,000 pixels."


def test_pillows_own_pixel_limit_still_applies(tmp_path: Path, no_pillow_decoding: None) -> None:
    path = _write(tmp_path, "a", _png_claiming(10000, 10000))
    reason = _rejected(path, "a.png", limit=10**12)
    assert reason.endswith(f"the most we accept is {Image.MAX_IMAGE_PIXELS:,} pixels.")


@pytest.mark.parametrize(("kind", "data"), [("jpeg", _jpeg((256, 256))), ("png", _png())])
def test_refuses_truncated_image(tmp_path: Path, kind: str, data: bytes) -> None:
    path = _write(tmp_path, "a", data[: len(data) * 2 // 3])
    assert _rejected(path, f"a.{kind}") == "The image is damaged or incomplete."


def test_refuses_png_with_corrupt_pixel_data(tmp_path: Path) -> None:
    ihdr = struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", b"not zlib at all")
        + _png_chunk(b"IEND", b"")
    )
    assert _rejected(_write(tmp_path, "a", data), "a.png") == "The image is damaged or incomplete."


def test_refuses_jpeg_zip_polyglot(tmp_path: Path) -> None:
    path = _write(tmp_path, "a", _jpeg() + _zip())
    assert _rejected(path, "a.jpg") == "The file contains more than one kind of content."


def test_refuses_zip_hidden_inside_jpeg_comment(tmp_path: Path) -> None:
    jpeg, payload = _jpeg(), _zip()
    comment = b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload
    path = _write(tmp_path, "a", jpeg[:2] + comment + jpeg[2:])
    assert _rejected(path, "a.jpg") == "The file contains more than one kind of content."


@pytest.mark.parametrize(
    "tail", [b"<?php system($_GET['c']); ?>", b"\x00" * 17, b"\xff\xd9junk"], ids=str
)
def test_refuses_data_after_jpeg_end(tmp_path: Path, tail: bytes) -> None:
    path = _write(tmp_path, "a", _jpeg() + tail)
    assert _rejected(path, "a.jpg") == "The file contains more than one kind of content."


def test_refuses_data_after_png_end(tmp_path: Path) -> None:
    path = _write(tmp_path, "a", _png() + b"\n")
    assert _rejected(path, "a.png") == "The file contains more than one kind of content."


def test_refuses_video_with_script_near_the_start(tmp_path: Path) -> None:
    mdat = _box(b"mdat", b"<SCRIPT src=//evil.example></script>")
    path = _write(tmp_path, "a", _ftyp(b"isom", b"isom") + mdat + MOOV)
    assert _rejected(path, "a.mp4") == "The file contains more than one kind of content."


def test_refuses_video_carrying_a_zip(tmp_path: Path) -> None:
    mdat = _box(b"mdat", b"\x00" * 5000 + _zip() + b"\x00" * 5000)
    path = _write(tmp_path, "a", _ftyp(b"isom", b"isom") + mdat + MOOV)
    assert _rejected(path, "a.mp4") == "The file contains more than one kind of content."


@pytest.mark.parametrize(
    "data",
    [
        MP4[:-10],  # last box overruns the end of the file
        MP4 + b"\x00\x00\x00",  # bytes left that are no box
        _ftyp(b"isom", b"isom") + _box(b"mdat", b"\x01" * 32),  # no moov
        _ftyp(b"isom", b"isom") + struct.pack(">I4s", 4, b"moov") + b"\x00" * 8,  # too small
    ],
    ids=["overrun", "trailing", "no-moov", "tiny-box"],
)
def test_refuses_mp4_whose_boxes_do_not_fit_the_file(tmp_path: Path, data: bytes) -> None:
    assert _rejected(_write(tmp_path, "a", data), "a.mp4") == "The video is damaged or incomplete."


@pytest.mark.parametrize(
    ("catalog", "objects"),
    [
        (b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >> ", b""),
        (b"/OpenAction << /S /Launch /F (cmd.exe) >> ", b""),
        (b"/Names << /EmbeddedFiles 3 0 R >> ", b""),
        (b"/OpenAction << /S /J#61vaScript /JS (x) >> ", b""),  # name spelt with an escape
        (
            b"",
            b"3 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode >>\nstream\r\n"
            + zlib.compress(b"4 0 << /S /JavaScript /JS (app.alert(1)) >>")
            + b"\r\nendstream\nendobj\n",
        ),
    ],
    ids=["javascript", "launch", "embedded-file", "escaped-name", "compressed-object-stream"],
)
def test_refuses_pdf_with_active_content(tmp_path: Path, catalog: bytes, objects: bytes) -> None:
    path = _write(tmp_path, "a", _pdf(catalog, objects))
    assert _rejected(path, "a.pdf") == (
        "The PDF contains active content or embedded files, which we cannot accept."
    )


def test_accepts_pdf_with_harmless_compressed_stream(tmp_path: Path) -> None:
    content = zlib.compress(b"BT /F1 12 Tf 72 712 Td (Report) Tj ET")
    objects = b"3 0 obj\n<< /Filter /FlateDecode >>\nstream\n" + content + b"\nendstream\nendobj\n"
    path = _write(tmp_path, "a", _pdf(extra_objects=objects))
    assert inspect_file(path, "a.pdf", max_image_pixels=LIMIT).media_type == "application/pdf"


def test_refuses_encrypted_pdf_it_cannot_check(tmp_path: Path) -> None:
    path = _write(tmp_path, "a", _pdf(trailer=b"/Encrypt 5 0 R "))
    assert _rejected(path, "a.pdf").startswith("The PDF is encrypted")


def test_refuses_pdf_without_end_marker(tmp_path: Path) -> None:
    path = _write(tmp_path, "a", _pdf()[:-7])
    assert _rejected(path, "a.pdf") == "The PDF is damaged or incomplete."


def test_refuses_pdf_with_html_after_its_end(tmp_path: Path) -> None:
    path = _write(tmp_path, "a", _pdf() + b"<html><script>x()</script></html>\n%%EOF\n")
    assert _rejected(path, "a.pdf") == "The file contains more than one kind of content."


@pytest.mark.parametrize("offset", [*range(4088, 4100), *range(20472, 20484), 1 << 21])
def test_finds_zip_wherever_it_falls_between_reads(tmp_path: Path, offset: int) -> None:
    # Files are read in pieces; a record split across two reads must still be found.
    local_header_only = _zip()[:40]
    assert local_header_only.count(b"PK") == 1
    mdat = _box(b"mdat", b"\x00" * (offset - 28) + local_header_only + b"\x00" * 100)
    path = _write(tmp_path, "a", _ftyp(b"isom", b"isom") + mdat + MOOV)
    assert _rejected(path, "a.mp4") == "The file contains more than one kind of content."


# --- display copies ---------------------------------------------------------------------


def _assert_clean_jpeg(dest: Path) -> None:
    data = dest.read_bytes()
    for marker in MARKERS:
        assert marker not in data, marker
    with Image.open(dest) as copy:
        assert copy.format == "JPEG"
        assert len(copy.getexif()) == 0
        assert not {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment"} & set(copy.info)


def test_display_copy_of_jpeg_drops_gps_and_all_metadata(tmp_path: Path) -> None:
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>51,30N</exif:GPSLatitude>'
    data = _jpeg(
        (40, 20),
        exif=_exif_with_gps(orientation=6).tobytes(),
        xmp=xmp + b"</x:xmpmeta>",
        comment=b"uploader-note",
        icc_profile=b"fake-icc",
    )
    source = _write(tmp_path, "a.jpg", data)
    with Image.open(source) as original:  # the fixture really carries what we strip
        assert original.getexif().get_ifd(0x8825)[1] == "N"
    before = _sha256(source)
    dest = tmp_path / "display.jpg"

    size = write_display_copy(source, "image/jpeg", dest, max_image_pixels=LIMIT)

    assert size == (20, 40)  # EXIF orientation 6 applied before the tag was dropped
    with Image.open(dest) as copy:
        assert copy.size == (20, 40)
    _assert_clean_jpeg(dest)
    assert _sha256(source) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg", "display.jpg"]


def test_display_copy_of_png_flattens_transparency_and_drops_text(tmp_path: Path) -> None:
    from PIL import PngImagePlugin

    image = Image.new("RGBA", (30, 30), (0, 0, 0, 0))
    image.paste((200, 0, 0, 255), (0, 0, 10, 10))
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "SECRET-SPOT uploader-note")
    source = _write(tmp_path, "a.png", _png(image, pnginfo=text, exif=_exif_with_gps()))
    before = _sha256(source)
    dest = tmp_path / "display.jpg"

    assert write_display_copy(source, "image/png", dest, max_image_pixels=LIMIT) == (30, 30)

    _assert_clean_jpeg(dest)
    with Image.open(dest) as copy:
        corner = copy.convert("RGB").getpixel((25, 25))
    assert isinstance(corner, tuple) and min(corner) > 245  # transparent became white
    assert _sha256(source) == before


def test_display_copy_of_heic_is_a_clean_jpeg(tmp_path: Path) -> None:
    source = _write(tmp_path, "a.heic", _heic(exif=_exif_with_gps().tobytes()))
    with Image.open(source) as original:
        assert original.getexif().get_ifd(0x8825)
    before = _sha256(source)
    dest = tmp_path / "display.jpg"

    assert write_display_copy(source, "image/heic", dest, max_image_pixels=LIMIT) == (64, 48)

    _assert_clean_jpeg(dest)
    assert _sha256(source) == before


def test_display_copy_scales_16_bit_grey(tmp_path: Path) -> None:
    grey = Image.new("I;16", (8, 8), 32896)
    source = _write(tmp_path, "a.png", _png(grey))
    dest = tmp_path / "display.jpg"
    write_display_copy(source, "image/png", dest, max_image_pixels=LIMIT)
    with Image.open(dest) as copy:
        grey_value = copy.convert("L").getpixel((4, 4))
    assert isinstance(grey_value, int) and 120 < grey_value < 136


def test_display_copy_replaces_existing_file(tmp_path: Path) -> None:
    source = _write(tmp_path, "a.jpg", _jpeg())
    dest = _write(tmp_path, "display.jpg", b"stale")
    write_display_copy(source, "image/jpeg", dest, max_image_pixels=LIMIT)
    assert dest.read_bytes().startswith(b"\xff\xd8\xff")


@pytest.mark.parametrize("media_type", ["video/mp4", "application/pdf", "text/plain"])
def test_display_copy_is_not_made_for_non_images(tmp_path: Path, media_type: str) -> None:
    source = _write(tmp_path, "a", MP4)
    dest = tmp_path / "display.jpg"
    assert write_display_copy(source, media_type, dest, max_image_pixels=LIMIT) is None
    assert not dest.exists()


def test_display_copy_respects_the_pixel_limit(tmp_path: Path, no_pillow_decoding: None) -> None:
    source = _write(tmp_path, "a.png", _png_claiming(30000, 30000))
    dest = tmp_path / "display.jpg"
    with pytest.raises(AttachmentRejected, match="too large"):
        write_display_copy(source, "image/png", dest, max_image_pixels=LIMIT)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]


def test_refuses_video_carrying_an_empty_zip(tmp_path: Path) -> None:
    empty_zip = _zip_of_nothing()
    assert empty_zip.startswith(b"PK\x05\x06")  # only the end-of-directory record
    mdat = _box(b"mdat", b"\x00" * 64 + empty_zip + b"\x00" * 64)
    path = _write(tmp_path, "a", _ftyp(b"isom", b"isom") + mdat + MOOV)
    assert _rejected(path, "a.mp4") == "The file contains more than one kind of content."


def _zip_of_nothing() -> bytes:
    out = io.BytesIO()
    zipfile.ZipFile(out, "w").close()
    return out.getvalue()
