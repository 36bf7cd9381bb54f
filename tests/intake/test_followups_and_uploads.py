"""Follow-ups with the code, multipart uploads and the attacks they must withstand."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from tests.factories import auth, jpeg_bytes, minimal_report, png_bytes, staff_token
from vigil.intake.models import Attachment, Followup, Report
from vigil.web.runtime import Runtime


def multipart(report: dict[str, object], files: list[tuple[str, bytes, str]]) -> dict[str, object]:
    return {
        "data": {"report": json.dumps(report)},
        "files": [("files", (name, data, ctype)) for name, data, ctype in files],
    }


def count(rt: Runtime, model: type) -> int:
    with rt.db.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_photo_is_kept_unchanged_and_display_copy_has_no_metadata(
    client: TestClient, rt: Runtime
) -> None:
    photo = jpeg_bytes(gps=True)
    response = client.post(
        "/api/v1/reports", **multipart(minimal_report(), [("van.jpg", photo, "image/jpeg")])
    )
    assert response.status_code == 201, response.text
    with rt.db.session() as session:
        attachment = session.scalar(select(Attachment))
        assert attachment is not None
        assert attachment.media_type == "image/jpeg"
        assert attachment.sha256 == hashlib.sha256(photo).hexdigest()
        original = rt.store.path_for(attachment.storage_key).read_bytes()
        assert original == photo
        assert attachment.display_key is not None
        display = Image.open(rt.store.path_for(attachment.display_key))
        assert display.format == "JPEG"
        assert len(display.getexif()) == 0


def test_staff_see_attachment_details(client: TestClient, rt: Runtime) -> None:
    ref = client.post(
        "/api/v1/reports", **multipart(minimal_report(), [("a.png", png_bytes(), "image/png")])
    ).json()["reference"]
    body = client.get(f"/api/v1/reports/{ref}", headers=auth(staff_token(rt))).json()
    assert body["attachments"][0]["media_type"] == "image/png"
    assert body["attachments"][0]["has_display_copy"] is True


def test_html_disguised_as_jpeg_is_refused_and_nothing_stored(
    client: TestClient, rt: Runtime
) -> None:
    evil = b"<html><script>alert(1)</script></html>"
    response = client.post(
        "/api/v1/reports", **multipart(minimal_report(), [("cat.jpg", evil, "image/jpeg")])
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/files/0"
    assert count(rt, Report) == 0 and count(rt, Attachment) == 0


def test_polyglot_jpeg_with_zip_is_refused(client: TestClient, rt: Runtime) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("payload.txt", "synthetic")
    response = client.post(
        "/api/v1/reports",
        **multipart(minimal_report(), [("p.jpg", jpeg_bytes() + archive.getvalue(), "image/jpeg")]),
    )
    assert response.status_code == 422
    assert count(rt, Report) == 0


def test_wrong_extension_is_refused(client: TestClient) -> None:
    response = client.post(
        "/api/v1/reports", **multipart(minimal_report(), [("photo.png", jpeg_bytes(), "image/png")])
    )
    assert response.status_code == 422
    assert ".png" in response.json()["detail"]


def test_decompression_bomb_is_refused(client: TestClient, rt: Runtime) -> None:
    rt.settings.max_image_pixels = 1000
    response = client.post(
        "/api/v1/reports",
        **multipart(minimal_report(), [("big.png", png_bytes((100, 100)), "image/png")]),
    )
    assert response.status_code == 422
    assert "too large" in response.json()["detail"]


def test_truncated_image_is_refused(client: TestClient) -> None:
    data = jpeg_bytes((200, 200))
    response = client.post(
        "/api/v1/reports",
        **multipart(minimal_report(), [("cut.jpg", data[: len(data) // 2], "image/jpeg")]),
    )
    assert response.status_code == 422


def test_oversize_file_is_413_and_leaves_no_staged_file(client: TestClient, rt: Runtime) -> None:
    rt.settings.max_attachment_bytes = 1000
    response = client.post(
        "/api/v1/reports", **multipart(minimal_report(), [("big.txt", b"a" * 5000, "text/plain")])
    )
    assert response.status_code == 413
    assert count(rt, Report) == 0
    assert list(rt.store.staging.glob("*")) == []


def test_too_many_files_is_refused(client: TestClient, rt: Runtime) -> None:
    rt.settings.max_attachments = 2
    files = [(f"n{i}.txt", f"note {i}".encode(), "text/plain") for i in range(3)]
    response = client.post("/api/v1/reports", **multipart(minimal_report(), files))
    assert response.status_code == 422
    assert count(rt, Report) == 0


def test_multipart_without_report_part_is_422(client: TestClient) -> None:
    response = client.post(
        "/api/v1/reports", files=[("files", ("a.txt", b"hello there", "text/plain"))]
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/report"


def test_followup_with_right_code_adds_text_and_files(client: TestClient, rt: Runtime) -> None:
    accepted = client.post("/api/v1/reports", json=minimal_report()).json()
    ref, code = accepted["reference"], accepted["followup_code"]
    response = client.post(
        f"/api/v1/reports/{ref}/followups",
        json={"code": code.lower(), "text": "The van came back tonight."},
    )
    assert response.status_code == 201, response.text
    response = client.post(
        f"/api/v1/reports/{ref}/followups",
        data={"followup": json.dumps({"code": code})},
        files=[("files", ("later.png", png_bytes(), "image/png"))],
    )
    assert response.status_code == 201, response.text
    assert response.json()["attachments"] == 1
    assert count(rt, Followup) == 2


def test_wrong_code_and_unknown_reference_look_the_same(client: TestClient) -> None:
    ref = client.post("/api/v1/reports", json=minimal_report()).json()["reference"]
    wrong = client.post(
        f"/api/v1/reports/{ref}/followups", json={"code": "0" * 20, "text": "more info"}
    )
    unknown = client.post(
        "/api/v1/reports/VGL-2222-3333/followups", json={"code": "0" * 20, "text": "more info"}
    )
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json()["detail"] == unknown.json()["detail"]


def test_repeated_wrong_codes_lock_the_reference(client: TestClient, rt: Runtime) -> None:
    accepted = client.post("/api/v1/reports", json=minimal_report()).json()
    ref = accepted["reference"]
    rt.followup_failure_limiter.per_minute = 0  # isolate the per-reference counter
    for _ in range(rt.settings.followup_max_failures):
        assert (
            client.post(
                f"/api/v1/reports/{ref}/followups", json={"code": "1" * 20, "text": "guess"}
            ).status_code
            == 404
        )
    locked = client.post(
        f"/api/v1/reports/{ref}/followups",
        json={"code": accepted["followup_code"], "text": "the real one"},
    )
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0


def test_one_client_guessing_across_references_is_rate_limited(
    client: TestClient, rt: Runtime
) -> None:
    rt.followup_failure_limiter.per_minute = 3
    codes = [
        client.post(
            f"/api/v1/reports/VGL-2222-222{i}/followups", json={"code": "1" * 20, "text": "guess"}
        ).status_code
        for i in range(2, 7)
    ]
    assert codes[:3] == [404, 404, 404]
    assert 429 in codes[3:]


def test_followup_needs_text_or_a_file(client: TestClient) -> None:
    accepted = client.post("/api/v1/reports", json=minimal_report()).json()
    response = client.post(
        f"/api/v1/reports/{accepted['reference']}/followups",
        json={"code": accepted["followup_code"]},
    )
    assert response.status_code == 422
