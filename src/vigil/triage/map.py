"""Reports on a map: the ones with coordinates that the user may see, newest first, capped.

The console's map page and ``GET /api/v1/map`` both read through :func:`map_points`, so the
policy filter (the queue's: :func:`vigil.access.policy.reports`) and the audit trail are the
same for both. The count of everything that matched goes through the same filter, so "the
newest N of M" never counts, or hints at, a report the user may not see. Which reports are
points is also decided by the reader's field allow-list (:data:`vigil.access.fields.MAP_POINT`):
a role not shown a report's place or triage (as its report response withholds them) is shown
no points and a count of none. Coordinates are rounded to four decimal places (about 11
metres): enough to place a marker on a street, not a claim of more precision than a member
of the public's pin has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, false, func, select, true
from sqlalchemy.orm import Session

from vigil.access import policy
from vigil.access.fields import MAP_POINT
from vigil.access.services import StaffUser
from vigil.audit.services import record_event
from vigil.intake.models import Report
from vigil.triage.categories import load_rules
from vigil.triage.models import TriageResult
from vigil.web.problems import Problem, field_error
from vigil.web.runtime import Runtime
from vigil.web.said import said

PRIORITIES = ("P1", "P2", "P3", "P4", "pending")
DECIMALS = 4  # about 11 m at the equator, less further north
PLACE_CHARS = 120
REPORT_PAGE = "/console/reports/{}"


@dataclass(frozen=True)
class MapFilter:
    """The optional filters: received on or after a day (UTC), one category, one priority."""

    since: date | None = None
    category: str | None = None
    priority: str | None = None

    def problems(self) -> list[dict[str, str]]:
        found = []
        if self.priority is not None and self.priority not in PRIORITIES:
            found.append(
                field_error(
                    "#/query/priority",
                    said("must be one of %(choices)s", choices=", ".join(PRIORITIES)),
                )
            )
        if self.category is not None and self.category not in known_categories():
            found.append(
                field_error(
                    "#/query/category",
                    said("unknown category %(category)s", category=repr(self.category)),
                )
            )
        return found

    def clauses(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.since is not None:
            found.append(Report.received_at >= datetime.combine(self.since, time.min, UTC))
        if self.category:
            found.append(TriageResult.category_codes.contains(f",{self.category},"))
        if self.priority == "pending":
            found.append(TriageResult.priority.is_(None))
        elif self.priority:
            found.append(TriageResult.priority == self.priority)
        return found


def known_categories() -> set[str]:
    return {c.code for c in load_rules().categories}


class MapPoint(BaseModel):
    """One report as a point: no description, no people, only what places it."""

    reference: str
    received_at: datetime
    priority: str | None = Field(description="P1..P4, or null while not yet scored")
    categories: list[str]
    lat: float
    lon: float
    place: str = Field(description="Address and postcode as given, else the words given")


class MapPoints(BaseModel):
    points: list[MapPoint] = Field(description="The newest reports with coordinates first")
    total: int = Field(description="How many reports you may see match (before the cap)")
    limit: int = Field(description="The most points shown (VIGIL_MAP_MAX_POINTS)")

    @property
    def truncated(self) -> bool:
        return self.total > len(self.points)


def place_text(address: str | None, postcode: str | None, words: str | None) -> str:
    given = ", ".join(p for p in (address, postcode) if p)
    if given:
        return given
    words = " ".join((words or "").split())
    return words if len(words) <= PLACE_CHARS else words[: PLACE_CHARS - 1].rstrip() + "…"


def map_points(
    rt: Runtime,
    user: StaffUser,
    criteria: MapFilter,
    *,
    limit: int,
    client: str | None = None,
) -> MapPoints:
    """The newest ``limit`` reports with coordinates the user may see, and how many match;
    the read is audited with the references shown (as the queue's listing is)."""
    errors = criteria.problems()
    if errors:
        raise Problem(
            422,
            said("Invalid request"),
            said("Check the filters."),
            errors=errors,
            kind="invalid-request",
        )

    def work(session: Session) -> MapPoints:
        where = [
            policy.reports(user),
            # a reader not shown a point's every field is shown no point, and counts none
            true() if MAP_POINT.shown(user.role) else false(),
            Report.where_lat.is_not(None),
            Report.where_lon.is_not(None),
            *criteria.clauses(),
        ]
        joined = select(Report.id).outerjoin(TriageResult, TriageResult.report_id == Report.id)
        total = session.scalar(select(func.count()).select_from(joined.where(*where).subquery()))
        rows = session.execute(
            select(
                Report.reference,
                Report.received_at,
                Report.where_lat,
                Report.where_lon,
                Report.where_address,
                Report.where_postcode,
                Report.where_description,
                TriageResult.priority,
                TriageResult.category_codes,
            )
            .outerjoin(TriageResult, TriageResult.report_id == Report.id)
            .where(*where)
            .order_by(Report.received_at.desc(), Report.id.desc())
            .limit(limit)
        ).all()
        record_event(
            session,
            user.actor(client),
            "triage.map.listed",
            record_type="report",
            record_ids=[r.reference for r in rows],
        )
        points = [
            MapPoint(
                reference=r.reference,
                received_at=r.received_at,
                priority=r.priority,
                categories=[c for c in (r.category_codes or "").split(",") if c],
                lat=round(r.where_lat, DECIMALS),
                lon=round(r.where_lon, DECIMALS),
                place=place_text(r.where_address, r.where_postcode, r.where_description),
            )
            for r in rows
        ]
        return MapPoints(points=points, total=total or 0, limit=limit)

    result: MapPoints = rt.db.write_sync(work, as_user=user.id)
    return result


# --- GeoJSON (RFC 7946) for the API ---------------------------------------------------------


class PointGeometry(BaseModel):
    type: Literal["Point"] = "Point"
    coordinates: tuple[float, float] = Field(description="[longitude, latitude] (RFC 7946)")


class PointProperties(BaseModel):
    reference: str
    received_at: datetime
    priority: str | None
    categories: list[str]
    place: str
    url: str = Field(description="The report's console page")


class PointFeature(BaseModel):
    type: Literal["Feature"] = "Feature"
    id: str
    geometry: PointGeometry
    properties: PointProperties


class MapCollection(BaseModel):
    """A GeoJSON FeatureCollection; ``total``, ``limit`` and ``truncated`` are foreign
    members (RFC 7946 section 6.1) that GeoJSON readers ignore."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[PointFeature]
    total: int = Field(description="How many reports you may see match (before the cap)")
    limit: int
    truncated: bool = Field(description="True when more reports match than are shown")


def as_geojson(found: MapPoints) -> MapCollection:
    features = [
        PointFeature(
            id=p.reference,
            geometry=PointGeometry(coordinates=(p.lon, p.lat)),
            properties=PointProperties(
                reference=p.reference,
                received_at=p.received_at,
                priority=p.priority,
                categories=p.categories,
                place=p.place,
                url=REPORT_PAGE.format(p.reference),
            ),
        )
        for p in found.points
    ]
    return MapCollection(
        features=features, total=found.total, limit=found.limit, truncated=found.truncated
    )


def map_geojson(
    rt: Runtime, user: StaffUser, criteria: MapFilter, *, limit: int, client: str | None = None
) -> MapCollection:
    """:func:`map_points` as GeoJSON: the API's one service call."""
    return as_geojson(map_points(rt, user, criteria, limit=limit, client=client))
