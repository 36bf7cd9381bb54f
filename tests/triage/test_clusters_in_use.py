"""Clusters as analysts meet them: the same picture folds reports together, and a cluster
never counts or links a report the analyst may not see."""

from __future__ import annotations

import io
import json

from fastapi.testclient import TestClient
from PIL import Image, ImageDraw
from sqlalchemy import update

from tests.factories import auth, minimal_report, staff_token
from tests.triage.test_triage_api import THREAT, report, run_pipeline, submit
from vigil.intake.models import Report
from vigil.web.runtime import Runtime


def scene(size: tuple[int, int], quality: int) -> bytes:
    """A drawn street scene (synthetic), saved at a given size and JPEG quality."""
    image = Image.new("RGB", (320, 240), "skyblue")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 160, 320, 240), fill="dimgray")
    draw.rectangle((40, 90, 150, 170), fill="white")
    draw.ellipse((60, 150, 90, 180), fill="black")
    draw.ellipse((110, 150, 140, 180), fill="black")
    draw.polygon([(200, 160), (260, 60), (300, 160)], fill="darkgreen")
    buffer = io.BytesIO()
    image.resize(size).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def with_photo(client: TestClient, description: str, photo: bytes) -> str:
    response = client.post(
        "/api/v1/reports",
        data={"report": json.dumps(minimal_report(description=description))},
        files=[("files", ("photo.jpg", photo, "image/jpeg"))],
    )
    assert response.status_code == 201, response.text
    return str(response.json()["reference"])


def test_the_same_photo_sent_by_two_people_folds_their_reports_together(
    client: TestClient, rt: Runtime
) -> None:
    token = staff_token(rt)
    first = with_photo(client, "A white van parked on the pavement all day.", scene((320, 240), 90))
    second = with_photo(
        client, "Look at this, it has been there since the morning!!", scene((200, 150), 55)
    )
    run_pipeline(rt)
    cluster = report(client, token, second)["triage"]["cluster"]
    assert cluster is not None and cluster["size"] == 2
    assert [(link["reference"], link["reason"]) for link in cluster["links"]] == [(first, "image")]


def test_a_cluster_never_counts_or_links_a_report_the_analyst_may_not_see(
    client: TestClient, rt: Runtime
) -> None:
    token = staff_token(rt)
    seen, hidden = submit(client, THREAT), submit(client, THREAT)
    run_pipeline(rt)
    assert report(client, token, seen)["triage"]["cluster"]["size"] == 2
    rt.db.write_sync(
        lambda session: session.execute(
            update(Report).where(Report.reference == hidden).values(classification="SECRET")
        )
    )
    cluster = report(client, token, seen)["triage"]["cluster"]
    assert cluster["size"] == 1 and cluster["links"] == []
    queue = client.get("/api/v1/triage/queue", headers=auth(token)).json()["items"]
    assert [(i["reference"], i["cluster_size"]) for i in queue] == [(seen, 1)]
    decided = client.post(
        f"/api/v1/triage/reports/{seen}/outcome",
        json={"outcome": "escalate", "reason": "threat to life", "whole_cluster": True},
        headers=auth(token),
    )
    assert decided.json()["references"] == [seen]


def test_earlier_reports_are_scored_again_when_others_report_the_same_thing(
    client: TestClient, rt: Runtime
) -> None:
    token = staff_token(rt)
    first = submit(client, THREAT)
    run_pipeline(rt)
    alone = {f["code"] for f in report(client, token, first)["triage"]["factors"]}
    assert not alone & {"several_reports", "many_reports"}
    submit(client, THREAT)
    run_pipeline(rt)
    factors = {f["code"] for f in report(client, token, first)["triage"]["factors"]}
    assert factors & {"several_reports", "many_reports"}
