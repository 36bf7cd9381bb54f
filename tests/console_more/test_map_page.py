"""The map page and ``GET /api/v1/map``, on both databases: only reports the reader may see
are shown or counted (another force's report is absent from the table, the map's data, the
GeoJSON and the count), the plain table is always there (the map needs JavaScript and says
so), the newest N of M are shown when there are more, filters narrow, every read is audited,
and only the map page's CSP lets images come from the tile server's origin."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.console_more import Staff, html, page, staff
from tests.console_more import web as web  # fixture
from tests.factories import auth
from tests.search import OTHER_FORCE, move_report, submit, triage
from vigil.access.permissions import Role
from vigil.audit.models import AuditEvent
from vigil.intake.models import Report
from vigil.web.runtime import Runtime
from vigil.web.templating import PAGE_CSP

MAP = "/console/map"
API = "/api/v1/map"
TILES = "https://tiles.example.org/{z}/{x}/{y}.png"
LEEDS = {"lat": 53.800755, "lon": -1.549077, "postcode": "LS1 4AP", "address": "1 Park Row"}
YORK = {"lat": 53.959965, "lon": -1.087298, "postcode": "YO1 7HH"}
HULL = {"lat": 53.744320, "lon": -0.332480, "description": "by the marina gates"}


def two_forces(web: TestClient, rt: Runtime) -> tuple[Staff, Staff, list[str], str, str]:
    """Three located reports and one without a place in the hub; one located in another
    force. Returns the two readers, the hub's located references (oldest first), the hub's
    unlocated one and the other force's."""
    hub = staff(rt, "analyst@example.org")
    other = staff(rt, "north@example.org", org=OTHER_FORCE, teams=("North",))
    refs = [
        submit(web, "Two men filming the depot gates at night.", where=LEEDS),
        submit(web, "A drone over the stadium at dusk.", where=YORK),
        submit(web, "Someone asking about the ferry timetable and the gates.", where=HULL),
    ]
    triage(rt, refs[0], "P1", "photography")
    triage(rt, refs[1], "P2", "aviation")
    nowhere = submit(web, "A van parked for three nights with its engine running.")
    theirs = submit(web, "Keys to the depot left on a train.", where=LEEDS)
    triage(rt, theirs, "P1", "photography")
    move_report(rt, theirs, OTHER_FORCE)
    return hub, other, refs, nowhere, theirs


def geojson(web: TestClient, who: Staff, **params: Any) -> dict[str, Any]:
    response = web.get(API, params=params, headers=auth(who.token))
    assert response.status_code == 200, response.text
    return dict(response.json())


def table_refs(text: str) -> list[str]:
    table = text.split('id="map-points"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'href="/console/reports/([^"]+)"', table)


def map_data(text: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="map-data">(.*?)</script>', text, re.S)
    assert found, "no map data on the page"
    return dict(json.loads(found.group(1)))


def test_page_and_api_show_and_count_only_reports_the_reader_may_see(
    web: TestClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rt.settings, "map_tile_url", TILES)
    hub, other, refs, nowhere, theirs = two_forces(web, rt)

    mine = html(web, hub, MAP)
    assert table_refs(mine) == refs[::-1]  # newest first, only the located ones
    assert theirs not in mine and nowhere not in mine and OTHER_FORCE not in mine
    assert "Reports with a place that you may see: 3." in mine
    assert [p["reference"] for p in map_data(mine)["points"]] == refs[::-1]

    body = geojson(web, hub)
    assert body["type"] == "FeatureCollection"
    assert [f["id"] for f in body["features"]] == refs[::-1]
    assert body["total"] == 3 and body["truncated"] is False

    seen = html(web, other, MAP)
    assert table_refs(seen) == [theirs] and "Reports with a place that you may see: 1." in seen
    assert not any(ref in seen for ref in refs)
    assert [f["id"] for f in geojson(web, other)["features"]] == [theirs]


def test_the_newest_n_of_m_are_shown_and_m_counts_only_visible_reports(
    web: TestClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rt.settings, "map_max_points", 2)
    hub, _, refs, _, _ = two_forces(web, rt)
    mine = html(web, hub, MAP)
    assert "Showing the newest 2 of 3 reports with a place that you may see." in mine
    assert table_refs(mine) == [refs[2], refs[1]]
    body = geojson(web, hub)
    assert [f["id"] for f in body["features"]] == [refs[2], refs[1]]
    assert (body["total"], body["limit"], body["truncated"]) == (3, 2, True)


def test_each_point_carries_rounded_coordinates_priority_categories_and_place(
    web: TestClient, rt: Runtime
) -> None:
    hub, _, refs, _, _ = two_forces(web, rt)
    features = {f["id"]: f for f in geojson(web, hub)["features"]}
    leeds = features[refs[0]]
    assert leeds["geometry"] == {"type": "Point", "coordinates": [-1.5491, 53.8008]}
    props = leeds["properties"]
    assert props["priority"] == "P1" and props["categories"] == ["photography"]
    assert props["place"] == "1 Park Row, LS1 4AP"
    assert props["url"] == f"/console/reports/{refs[0]}"
    datetime.fromisoformat(props["received_at"])
    assert features[refs[1]]["properties"]["place"] == "YO1 7HH"
    hull = features[refs[2]]["properties"]
    assert hull["place"] == "by the marina gates" and hull["priority"] is None

    text = html(web, hub, MAP)
    assert "53.8008, -1.5491" in text and "1 Park Row, LS1 4AP" in text
    assert "Not yet scored" in text


def test_without_javascript_the_table_is_the_page_and_the_map_says_it_needs_javascript(
    web: TestClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rt.settings, "map_tile_url", TILES)
    monkeypatch.setattr(rt.settings, "map_tile_attribution", "Tiles <b>Example</b>")
    hub, _, refs, _, _ = two_forces(web, rt)
    text = html(web, hub, MAP)
    assert re.search(r'<div id="map"[^>]* hidden>', text)
    assert "The map needs JavaScript. The table below lists the same reports." in text
    assert '<script src="/static/vendor/leaflet/leaflet.js"></script>' in text
    assert '<link rel="stylesheet" href="/static/vendor/leaflet/leaflet.css">' in text
    assert '<script type="module" src="/static/js/map.mjs"></script>' in text
    data = map_data(text)
    assert data["tiles"] == {"url": TILES, "attribution": "Tiles <b>Example</b>"}
    assert "<b>" not in text.split('id="map-data">', 1)[1].split("</script>", 1)[0]
    assert data["points"][0]["url"] == f"/console/reports/{refs[2]}"
    assert "Map tiles are unreachable" in text  # the inset the script reveals on failure
    assert 'id="map-unreachable" hidden' in text


def test_with_no_tile_server_the_page_says_so_and_loads_no_map(
    web: TestClient, rt: Runtime
) -> None:
    hub, _, refs, _, _ = two_forces(web, rt)
    response = page(web, hub, MAP)
    assert response.status_code == 200
    text = response.text
    assert "No map tiles are configured, so there is no map." in text
    assert 'id="map"' not in text and "leaflet" not in text and "map.mjs" not in text
    assert table_refs(text) == refs[::-1]
    assert response.headers["content-security-policy"] == PAGE_CSP


def test_only_the_map_page_lets_images_come_from_the_tile_origin(
    web: TestClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rt.settings, "map_tile_url", TILES)
    hub, _, _, _, _ = two_forces(web, rt)
    csp = page(web, hub, MAP).headers["content-security-policy"]
    assert "img-src 'self' data: https://tiles.example.org;" in csp
    assert csp == PAGE_CSP.replace(
        "img-src 'self' data:;", "img-src 'self' data: https://tiles.example.org;"
    )
    for other in ("/console/queue", "/staff"):
        assert page(web, hub, other).headers["content-security-policy"] == PAGE_CSP, other
    assert "tiles.example.org" not in PAGE_CSP


def test_a_reader_who_may_see_no_located_report_gets_no_map_and_no_tile_origin(
    web: TestClient, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rt.settings, "map_tile_url", TILES)
    two_forces(web, rt)
    lonely = staff(rt, "south@example.org", org="Southern CT Unit", teams=("South",))
    response = page(web, lonely, MAP)
    assert response.status_code == 200
    assert "No reports with a place that you may see." in response.text
    assert "Reports with a place that you may see: 0." in response.text
    assert 'id="map"' not in response.text
    assert response.headers["content-security-policy"] == PAGE_CSP
    assert geojson(web, lonely)["features"] == []


def test_filters_narrow_the_page_and_the_api_alike(web: TestClient, rt: Runtime) -> None:
    hub, _, refs, _, _ = two_forces(web, rt)
    old = datetime(2026, 1, 5, 12, tzinfo=UTC)
    rt.db.write_sync(
        lambda s: s.execute(
            update(Report).where(Report.reference == refs[0]).values(received_at=old)
        )
    )
    assert table_refs(html(web, hub, MAP, priority="P1")) == [refs[0]]
    assert table_refs(html(web, hub, MAP, priority="pending")) == [refs[2]]
    assert table_refs(html(web, hub, MAP, category="aviation")) == [refs[1]]
    assert table_refs(html(web, hub, MAP, since="2026-02-01")) == [refs[2], refs[1]]
    assert [f["id"] for f in geojson(web, hub, priority="P2")["features"]] == [refs[1]]
    assert [f["id"] for f in geojson(web, hub, category="photography")["features"]] == [refs[0]]
    since = geojson(web, hub, since="2026-01-05")
    assert since["total"] == 3 and refs[0] in [f["id"] for f in since["features"]]


def test_a_bad_filter_is_refused_naming_the_field(web: TestClient, rt: Runtime) -> None:
    hub, _, _, _, _ = two_forces(web, rt)
    for params, field in (
        ({"since": "last week"}, "since"),
        ({"priority": "P9"}, "priority"),
        ({"category": "nonsense"}, "category"),
    ):
        refused = page(web, hub, MAP, **params)
        assert refused.status_code == 400, params
        assert "There is a problem" in refused.text and f'href="#{field}"' in refused.text
        assert 'id="map-points"' not in refused.text
    for params, pointer in (
        ({"since": "last week"}, "#/query/since"),
        ({"priority": "P9"}, "#/query/priority"),
        ({"category": "nonsense"}, "#/query/category"),
    ):
        response = web.get(API, params=params, headers=auth(hub.token))
        assert response.status_code == 422, params
        assert response.headers["content-type"].startswith("application/problem+json")
        assert [e["pointer"] for e in response.json()["errors"]] == [pointer]


def test_every_read_is_audited_with_the_references_shown(web: TestClient, rt: Runtime) -> None:
    hub, _, refs, _, theirs = two_forces(web, rt)
    html(web, hub, MAP)
    geojson(web, hub)
    events = rt.db.write_sync(
        lambda s: [
            list(e.record_ids)
            for e in s.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "triage.map.listed")
                .order_by(AuditEvent.seq)
            )
        ]
    )
    assert events == [refs[::-1], refs[::-1]]
    assert all(theirs not in shown for shown in events)


def test_only_staff_who_may_read_reports_open_the_map(web: TestClient, rt: Runtime) -> None:
    auditor = staff(rt, "auditor@example.org", Role.auditor)
    assert page(web, auditor, MAP).status_code == 403
    assert web.get(API, headers=auth(auditor.token)).status_code == 403
    web.cookies.clear()
    assert web.get(MAP).headers["location"] == "/staff/sign-in"
    assert web.get(API).status_code == 401


def test_the_page_speaks_welsh_when_asked(web: TestClient, rt: Runtime) -> None:
    hub, _, refs, _, _ = two_forces(web, rt)
    text = html(web, hub, MAP, lang="cy")
    assert '<html lang="cy"' in text and table_refs(text) == refs[::-1]


def test_the_api_is_in_the_openapi_document(web: TestClient) -> None:
    paths = web.get("/api/openapi.json").json()["paths"]
    assert "/api/v1/map" in paths and "/console/map" not in paths
    assert paths["/api/v1/map"]["get"]["tags"] == ["map"]
