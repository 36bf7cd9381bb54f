"""A report's files on the report page and through the API, on both databases: images are
shown only as display copies (no metadata; nosniff, private no-store; each viewing audited);
the original downloads only for a role holding the permission and with a justification of at
least 20 characters, which becomes the purpose of its own audit event; a report the user may
not see, or a file that is not that report's, is "not found" everywhere."""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from tests.access.test_sign_in import cheap_hashing as cheap_hashing  # autouse fixture
from tests.access.test_sign_in import events
from tests.console.test_console_pages import (
    move_to_another_organisation,
    post,
    report_path,
    signed_in,
)
from tests.factories import auth, jpeg_bytes, minimal_report, staff_token
from vigil.access.permissions import Permission, Role, permissions_for
from vigil.intake import attachment_api
from vigil.intake.attachment_access import safe_download_name
from vigil.intake.models import Attachment, Report
from vigil.web.app import create_app
from vigil.web.runtime import Runtime

REASON = "Needed for the forensic timeline in operation Larch"
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def app(rt: Runtime) -> FastAPI:
    app = create_app(rt=rt)
    paths = {getattr(r, "path", None) for r in app.routes}
    if not {getattr(r, "path", None) for r in attachment_api.router.routes} <= paths:
        app.include_router(attachment_api.router)  # until the app factory lists it
    return app


@pytest.fixture
def web(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def submit_with_photo(web: TestClient, name: str = "van.jpg") -> tuple[str, bytes]:
    photo = jpeg_bytes(gps=True)
    response = web.post(
        "/api/v1/reports",
        data={"report": json.dumps(minimal_report())},
        files=[("files", (name, photo, "image/jpeg"))],
    )
    assert response.status_code == 201, response.text
    return str(response.json()["reference"]), photo


def attachment_of(rt: Runtime, reference: str) -> Attachment:
    with rt.db.session() as session:
        found = session.scalar(
            select(Attachment)
            .join(Report, Report.id == Attachment.report_id)
            .where(Report.reference == reference)
        )
        assert found is not None
        return found


def file_path(reference: str, attachment_id: int, what: str) -> str:
    return f"{report_path(reference)}/attachments/{attachment_id}/{what}"


def api_path(reference: str, attachment_id: int, what: str) -> str:
    return f"/api/v1/reports/{reference}/attachments/{attachment_id}/{what}"


def assert_private_file(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "private, no-store"
    assert "sandbox" in headers["content-security-policy"]


# --- display copies -----------------------------------------------------------------------


def test_the_page_lists_the_file_and_shows_the_image_as_its_display_copy(
    rt: Runtime, web: TestClient
) -> None:
    reference, photo = submit_with_photo(web)
    attachment = attachment_of(rt, reference)
    signed_in(web, rt)
    html = web.get(report_path(reference)).text
    display = file_path(reference, attachment.id, "display")
    assert f'<img src="{display}" alt="Display copy of van.jpg"' in html
    assert "JPEG image" in html and f"{len(photo) // 1000}" in html
    assert f'action="{file_path(reference, attachment.id, "original")}"' in html

    shown = web.get(display)
    assert shown.status_code == 200
    assert shown.headers["content-type"] == "image/jpeg"
    assert_private_file(shown)
    assert shown.content == rt.store.path_for(attachment.display_key or "").read_bytes()
    assert shown.content != photo
    assert len(Image.open(io.BytesIO(shown.content)).getexif()) == 0  # no GPS, no camera
    (viewed,) = events(rt, "attachment.display_viewed")
    assert viewed.record_ids == [reference, f"{reference}/attachments/{attachment.id}"]


def test_a_file_without_a_display_copy_has_none_to_show(rt: Runtime, web: TestClient) -> None:
    response = web.post(
        "/api/v1/reports",
        data={"report": json.dumps(minimal_report())},
        files=[("files", ("note.pdf", PDF, "application/pdf"))],
    )
    assert response.status_code == 201, response.text
    reference = response.json()["reference"]
    attachment = attachment_of(rt, reference)
    signed_in(web, rt)
    html = web.get(report_path(reference)).text
    assert "PDF document" in html and "<img" not in html
    assert web.get(file_path(reference, attachment.id, "display")).status_code == 404


# --- originals ----------------------------------------------------------------------------


def test_the_original_downloads_with_a_justification_and_is_audited_with_it(
    rt: Runtime, web: TestClient
) -> None:
    reference, photo = submit_with_photo(web, name='../../"evil"; name=x.jpg')
    attachment = attachment_of(rt, reference)
    signed_in(web, rt)
    page = report_path(reference)
    got = post(
        web, file_path(reference, attachment.id, "original"), {"justification": REASON}, page
    )
    assert got.status_code == 200
    assert got.content == photo and hashlib.sha256(got.content).hexdigest() == attachment.sha256
    assert_private_file(got)
    disposition = got.headers["content-disposition"]
    assert re.fullmatch(r'attachment; filename="[A-Za-z0-9._-]+\.jpg"', disposition)
    assert reference in disposition and ".." not in disposition
    (downloaded,) = events(rt, "attachment.original_downloaded")
    assert downloaded.purpose == REASON
    assert downloaded.record_ids == [reference, f"{reference}/attachments/{attachment.id}"]


@pytest.mark.parametrize("justification", ["", "   ", "because I need it"])
def test_the_original_is_refused_without_a_real_justification_and_nothing_is_recorded(
    rt: Runtime, web: TestClient, justification: str
) -> None:
    reference, _ = submit_with_photo(web)
    attachment = attachment_of(rt, reference)
    signed_in(web, rt)
    page = report_path(reference)
    action = file_path(reference, attachment.id, "original")
    refused = post(web, action, {"justification": justification}, page)
    assert (refused.status_code, refused.headers["location"]) == (303, f"{page}#errors")
    html = web.get(page).text
    assert "There is a problem" in html
    assert f'href="#original-{attachment.id}-justification"' in html
    assert "at least 20 characters" in html
    assert events(rt, "attachment.original_downloaded") == []


def test_a_role_without_the_permission_gets_no_form_and_403(rt: Runtime, web: TestClient) -> None:
    assert Permission.attachment_original_download not in permissions_for(Role.administrator)
    reference, _ = submit_with_photo(web)
    attachment = attachment_of(rt, reference)
    signed_in(web, rt, "admin@example.org", role=Role.administrator)
    page = report_path(reference)
    html = web.get(page).text
    assert "/display" in html and "/original" not in html  # sees the copy, not the original
    refused = post(
        web, file_path(reference, attachment.id, "original"), {"justification": REASON}, page
    )
    assert refused.status_code == 403
    assert events(rt, "attachment.original_downloaded") == []
    assert [e.outcome for e in events(rt, "access.denied")] == ["denied"]


def test_the_permission_is_held_by_analysts_not_by_partners_or_the_custodian() -> None:
    holders = {r for r in Role if Permission.attachment_original_download in permissions_for(r)}
    assert holders == {Role.triage_analyst, Role.investigator, Role.supervisor}


def test_the_custodian_is_shown_no_files(rt: Runtime, web: TestClient) -> None:
    reference, _ = submit_with_photo(web)
    attachment = attachment_of(rt, reference)
    signed_in(web, rt, "custodian@example.org", role=Role.reporter_custodian)
    html = web.get(report_path(reference)).text
    assert "/attachments/" not in html and "van.jpg" not in html
    assert web.get(file_path(reference, attachment.id, "display")).status_code == 404
    assert events(rt, "attachment.display_viewed") == []


# --- never for a report the user may not see ----------------------------------------------


def test_every_file_route_says_not_found_for_a_report_the_user_may_not_see(
    rt: Runtime, web: TestClient
) -> None:
    reference, _ = submit_with_photo(web)
    attachment = attachment_of(rt, reference)
    move_to_another_organisation(rt, reference)
    signed_in(web, rt)
    shown = web.get(file_path(reference, attachment.id, "display"))
    assert shown.status_code == 404 and "Page not found" in shown.text
    form = {"justification": REASON}
    original = post(web, file_path(reference, attachment.id, "original"), form, "/console/queue")
    assert original.status_code == 404 and "Page not found" in original.text
    token = staff_token(rt, "api@example.org")
    assert (
        web.get(api_path(reference, attachment.id, "display"), headers=auth(token)).status_code
        == 404
    )
    sent = web.post(api_path(reference, attachment.id, "original"), json=form, headers=auth(token))
    assert sent.status_code == 404
    assert events(rt, "attachment.display_viewed") == []
    assert events(rt, "attachment.original_downloaded") == []


def test_a_file_of_another_report_is_not_found(rt: Runtime, web: TestClient) -> None:
    mine, _ = submit_with_photo(web)
    theirs, _ = submit_with_photo(web)
    other = attachment_of(rt, theirs)
    signed_in(web, rt)
    assert web.get(file_path(mine, other.id, "display")).status_code == 404
    form = {"justification": REASON}
    response = post(web, file_path(mine, other.id, "original"), form, report_path(mine))
    assert response.status_code == 404
    assert events(rt, "attachment.original_downloaded") == []


# --- the API ------------------------------------------------------------------------------


def test_the_api_serves_the_display_copy_and_the_original_with_a_justification(
    rt: Runtime, web: TestClient
) -> None:
    reference, photo = submit_with_photo(web)
    attachment = attachment_of(rt, reference)
    token = staff_token(rt)
    shown = web.get(api_path(reference, attachment.id, "display"), headers=auth(token))
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    assert_private_file(shown)

    original = api_path(reference, attachment.id, "original")
    short = web.post(original, json={"justification": "need it"}, headers=auth(token))
    assert short.status_code == 422
    assert short.json()["errors"][0]["pointer"] == "#/justification"
    missing = web.post(original, json={}, headers=auth(token))
    assert missing.status_code == 422
    assert events(rt, "attachment.original_downloaded") == []

    got = web.post(original, json={"justification": REASON}, headers=auth(token))
    assert got.status_code == 200 and got.content == photo
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["repr-digest"].startswith("sha-256=:")
    (downloaded,) = events(rt, "attachment.original_downloaded")
    assert downloaded.purpose == REASON


def test_the_api_refuses_the_original_to_a_role_without_the_permission(
    rt: Runtime, web: TestClient
) -> None:
    reference, _ = submit_with_photo(web)
    attachment = attachment_of(rt, reference)
    token = staff_token(rt, "admin@example.org", role=Role.administrator)
    original = api_path(reference, attachment.id, "original")
    refused = web.post(original, json={"justification": REASON}, headers=auth(token))
    assert refused.status_code == 403
    assert web.post(original, json={"justification": REASON}).status_code == 401
    assert events(rt, "attachment.original_downloaded") == []


def test_download_names_are_plain_ascii_with_the_recognised_extension() -> None:
    name = safe_download_name("VGL-AAAA-BBBB", 7, '../../"x"; y\r\nz.exe.jpg', "image/png")
    assert name == "VGL-AAAA-BBBB-7-x-y-z.exe.png"
    assert safe_download_name("VGL-AAAA-BBBB", 7, None, "application/pdf") == (
        "VGL-AAAA-BBBB-7.pdf"
    )
    assert safe_download_name("VGL-AAAA-BBBB", 7, "Ünïcødé.txt", "text/plain") == (
        "VGL-AAAA-BBBB-7-n-c-d.txt"
    )
