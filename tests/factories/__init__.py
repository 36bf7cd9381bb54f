"""Synthetic test data: reports, staff and files. Never real people.

Phone numbers come from Ofcom's drama range (07700 900xxx), e-mail addresses from
example.org, registration marks are made up.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image
from sqlalchemy.orm import Session

from vigil.access.markings import Classification
from vigil.access.permissions import OrganisationKind, Role
from vigil.access.services import create_user, issue_token
from vigil.audit.services import SYSTEM
from vigil.web.runtime import Runtime


def report_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "kind": "vehicle",
        "description": "White van parked for three nights, two people unloading gas cylinders.",
        "when": {
            "start": "2026-11-26T02:00:00Z",
            "end": None,
            "description": "last night about 2am",
        },
        "where": {
            "description": "outside the community centre",
            "address": "Mill Lane, Leeds",
            "postcode": "ls6 2qt",
            "lat": 53.82,
            "lon": -1.57,
        },
        "people": [
            {"name": None, "age": "30s", "appearance": "tall, beard", "clothing": "grey hoodie"}
        ],
        "vehicles": [
            {"registration": "AB12 CDE", "make": "Ford", "model": "Transit", "colour": "white"}
        ],
        "online": [{"url": "https://example.org/post/1", "where_seen": "forum"}],
        "reporter": {
            "anonymous": False,
            "name": "Jo Bloggs",
            "phone": "07700 900123",
            "email": "jo@example.org",
            "contact_preference": "email after 6pm",
        },
    }
    payload.update(overrides)
    return payload


def minimal_report(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "kind": "behaviour",
        "description": "Someone photographing the station's CCTV cameras.",
    }
    payload.update(overrides)
    return payload


def staff_token(
    rt: Runtime,
    email: str = "analyst@example.org",
    role: Role = Role.triage_analyst,
    org: str | None = None,
    org_kind: OrganisationKind = OrganisationKind.ct_policing,
    teams: tuple[str, ...] | None = None,
    clearance: Classification = Classification.official_sensitive,
) -> str:
    """A bearer token for a new staff user; by default an analyst in the receiving team."""
    org_name = org or rt.settings.receiving_org
    if teams is None:
        teams = (rt.settings.receiving_team,) if org_name == rt.settings.receiving_org else ()

    def work(session: Session) -> str:
        user = create_user(
            session, SYSTEM, email, org_name, role, org_kind, teams=teams, clearance=clearance
        )
        return issue_token(session, SYSTEM, user)

    return rt.db.write_sync(work)


def jpeg_bytes(size: tuple[int, int] = (64, 48), color: str = "red", gps: bool = True) -> bytes:
    image = Image.new("RGB", size, color)
    exif = Image.Exif()
    if gps:
        exif[0x8825] = {1: "N", 2: (53.0, 49.0, 12.0), 3: "W", 4: (1.0, 34.0, 12.0)}
    exif[0x010F] = "SyntheticCam"
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def png_bytes(size: tuple[int, int] = (32, 32)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, "blue").save(buf, "PNG")
    return buf.getvalue()


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
