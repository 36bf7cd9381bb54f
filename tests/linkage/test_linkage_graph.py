"""The link graph and the shortest connection run only through records the reader may see."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import auth
from tests.linkage.test_linkage_flow import (
    PHONE_REPORT,
    investigator,
    run_pipeline,
    subject,
    submit,
)
from vigil.web.runtime import Runtime


def test_the_graph_reaches_the_report_through_the_shared_phone(
    client: TestClient, rt: Runtime
) -> None:
    token = investigator(rt)
    known = subject(client, token, person={"first_name": "Karl", "phone": "07700900123"})
    ref = submit(client, PHONE_REPORT)
    run_pipeline(rt)
    (person,) = known["entity_ids"]
    graph = client.get(f"/api/v1/entities/{person}/graph?depth=2", headers=auth(token)).json()
    ids = {n["id"] for n in graph["nodes"]}
    assert f"subject:{known['reference']}" in ids and f"report:{ref}" in ids
    relations = {e["relation"] for e in graph["edges"]}
    assert {"subject", "match", "source"} <= relations
    assert all({e["source"], e["target"]} <= ids for e in graph["edges"])

    phone = next(
        int(n["id"].split(":")[1])
        for n in graph["nodes"]
        if n["type"] == "entity" and n["kind"] == "phone"
    )
    path = client.get(f"/api/v1/entities/{person}/path/{phone}", headers=auth(token)).json()
    assert path["found"] is True
    assert [s["id"] for s in path["steps"]] == [f"entity:{person}", f"entity:{phone}"]


def test_another_agency_sees_its_own_subject_but_no_path_into_the_hubs_report(
    client: TestClient, rt: Runtime
) -> None:
    other = investigator(rt, "svc@example.org", org="Security Service North", teams=("Desk 4",))
    known = subject(client, other, person={"first_name": "Karl", "phone": "07700900123"})
    submit(client, PHONE_REPORT)
    run_pipeline(rt)
    (person,) = known["entity_ids"]
    graph = client.get(f"/api/v1/entities/{person}/graph?depth=3", headers=auth(other)).json()
    assert {n["type"] for n in graph["nodes"]} == {"entity", "subject"}
    assert len(graph["nodes"]) == 2  # the hub's phone entity and report stay invisible
    assert client.get(
        f"/api/v1/entities/{person}/graph?depth=9", headers=auth(other)
    ).status_code == (422)
    hub = investigator(rt)
    assert client.get(f"/api/v1/entities/{person}/graph", headers=auth(hub)).status_code == 404
