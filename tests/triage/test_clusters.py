"""Near-duplicate clusters on SQLite and PostgreSQL: links with reasons, joins, merges,
idempotent re-indexing and a surge of hundreds of copies.

Every report, phone number (Ofcom's drama range), plate and picture here is synthetic.
"""

from __future__ import annotations

import io
import itertools
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from vigil.intake.models import Attachment, Report
from vigil.intake.services import ensure_receiving_org
from vigil.triage import clusters
from vigil.triage.models import ClusterLink, ImageHash, TextBand, TriageItem, TriageResult
from vigil.triage.similarity import (
    DEFAULT_SETTINGS,
    ClusterSettings,
    Link,
    image_phash,
    text_signature,
)
from vigil.web.runtime import Runtime

T0 = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
HERE = (53.8000, -1.5500)
NEARBY = (53.8027, -1.5500)  # about 300 m north

EXPLOSION = (
    "Large explosion heard near Victoria Street shopping centre at about 3pm. "
    "Smoke coming from the east entrance and people running towards the car park. "
    "A man in a dark jacket was seen leaving quickly on a blue bicycle."
)
VARIANTS = (
    EXPLOSION.replace("explosion", "explosoin").replace("bicycle", "bicyle"),
    "Smoke coming from the east entrance and people running towards the car park. "
    "Large explosion heard near Victoria Street shopping centre at about 3pm. "
    "A man in a dark jacket was seen leaving quickly on a blue bicycle.",
    "Hello, I want to report this. " + EXPLOSION + " Thanks.",
)
SAME_TOPIC = (
    "Loud bang near the shopping centre on Victoria Street this afternoon. I saw smoke and "
    "a crowd near the car park. Nobody seemed hurt but police arrived quickly.",
    "Suspicious package left by the bins behind the Victoria Street shopping centre, a "
    "security guard has taped off the car park entrance and is waiting for the police.",
)
PARAPHRASE = (
    "Heard a loud explosion by the Victoria Street shopping centre around 3pm, smoke at the "
    "east entrance, people running to the car park. Man in dark jacket left fast on a bike."
)
VAN = (
    "A white van has been parked outside the mosque on Mill Lane for three nights and two "
    "men keep carrying heavy boxes into the lock-up behind it after midnight."
)
FLAT = (
    "My neighbour in flat 3 keeps getting deliveries of chemicals and fertiliser sacks and "
    "there is a strong smell from the balcony late in the evening most days."
)
DRONE = (
    "Somebody flew a small drone over the football stadium during the match on Saturday and "
    "filmed the stands from very low down before landing it in the park next door."
)
PHONE = "+447700900123"
PLATE = "AB12CDE"

_references = itertools.count(1)


@pytest.fixture
def unit(rt: Runtime) -> tuple[int, int]:
    return ensure_receiving_org(rt)


def add_report(
    rt: Runtime,
    description: str,
    *,
    received_at: datetime = T0,
    when: datetime | None = None,
    where: tuple[float, float] | None = None,
    postcode: str | None = None,
    items: Sequence[tuple[str, str]] = (),
    pictures: Sequence[bytes] = (),
) -> tuple[int, list[tuple[int, int]]]:
    """A report as intake stores it, its pending triage result, and the identifier items
    and image hashes the pipeline would have found: (report id, [(attachment, phash)])."""
    assert rt.receiving_unit is not None
    org_id, team_id = rt.receiving_unit

    def work(session: Session) -> tuple[int, list[tuple[int, int]]]:
        report_id = session.execute(
            insert(Report).returning(Report.id),
            {
                "reference": f"TST-{next(_references):08d}",
                "received_at": received_at,
                "channel": "web",
                "kind": "behaviour",
                "description": description,
                "owning_org_id": org_id,
                "owning_team_id": team_id,
                "anonymous": True,
                "when_start": when,
                "where_lat": where[0] if where else None,
                "where_lon": where[1] if where else None,
                "where_postcode": postcode,
                "content_sha256": "0" * 64,
            },
        ).scalar_one()
        session.add(TriageResult(report_id=report_id, received_at=received_at))
        for kind, value in items:
            session.add(
                TriageItem(
                    report_id=report_id,
                    kind=kind,
                    value=value,
                    text=value,
                    start=0,
                    end=len(value),
                    confidence=0.9,
                    source="text",
                )
            )
        images = []
        for n, picture in enumerate(pictures):
            attachment = Attachment(
                report_id=report_id,
                received_at=received_at,
                media_type="image/jpeg",
                size_bytes=len(picture),
                sha256=f"{report_id:032x}{n:032x}",
                storage_key=f"test/{report_id}/{n}",
            )
            session.add(attachment)
            session.flush()
            images.append((attachment.id, image_phash(picture)))
        return report_id, images

    return rt.db.write_sync(work)


def triage(
    rt: Runtime,
    report_id: int,
    images: Sequence[tuple[int, int]] = (),
    settings: ClusterSettings = DEFAULT_SETTINGS,
) -> int | None:
    """What the pipeline does for one report, inside the single writer."""

    def work(session: Session) -> int | None:
        report = session.get(Report, report_id)
        assert report is not None
        signature = text_signature(report.description)
        clusters.index_report(session, report_id, signature, images)
        links = clusters.find_links(session, report, signature, images, settings=settings)
        return clusters.assign_cluster(session, report_id, links, settings=settings)

    return rt.db.write_sync(work)


def add_and_triage(rt: Runtime, description: str, **kwargs: Any) -> tuple[int, int | None]:
    report_id, images = add_report(rt, description, **kwargs)
    return report_id, triage(rt, report_id, images)


def links_of(rt: Runtime, report_id: int) -> list[Link]:
    return rt.db.write_sync(lambda session: clusters.cluster_links(session, report_id))


def cluster_of(rt: Runtime, report_id: int) -> int | None:
    return rt.db.write_sync(
        lambda session: session.scalar(
            select(TriageResult.cluster_id).where(TriageResult.report_id == report_id)
        )
    )


def members(rt: Runtime, cluster_id: int) -> list[int]:
    return rt.db.write_sync(lambda session: clusters.cluster_members(session, cluster_id))


def picture(kind: str, size: tuple[int, int] = (480, 360), quality: int = 90) -> bytes:
    """A drawn scene as JPEG: a street with a van, or a park with a fountain."""
    image = Image.new("RGB", (480, 360), (135, 180, 220))
    draw = ImageDraw.Draw(image)
    if kind == "street":
        draw.rectangle([0, 234, 480, 360], fill=(90, 90, 90))
        draw.rectangle([48, 108, 168, 234], fill=(180, 60, 40))
        draw.rectangle([240, 198, 408, 259], fill=(240, 240, 240))
        draw.ellipse([288, 36, 360, 108], fill=(250, 220, 60))
    else:
        draw.rectangle([0, 0, 480, 360], fill=(30, 90, 40))
        draw.ellipse([160, 120, 320, 240], fill=(90, 140, 230))
        draw.line([(0, 360), (480, 0)], fill=(255, 255, 255), width=12)
    buffer = io.BytesIO()
    image.resize(size).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


# --- text --------------------------------------------------------------------------------


def test_near_identical_texts_fold_into_one_cluster_with_text_links(
    rt: Runtime, unit: tuple[int, int]
) -> None:
    first, alone = add_and_triage(rt, EXPLOSION)
    assert alone is None
    ids = [first] + [add_and_triage(rt, text)[0] for text in VARIANTS]
    assert {cluster_of(rt, i) for i in ids} == {first}
    assert members(rt, first) == sorted(ids)
    for report_id in ids[1:]:
        text_links = [link for link in links_of(rt, report_id) if link.reason == "text"]
        assert text_links and all(link.score >= 0.6 for link in text_links)
        assert text_links[0].detail.startswith("text ") and text_links[0].detail.endswith(
            "% similar"
        )


def test_unrelated_reports_on_the_same_topic_stay_apart(rt: Runtime, unit: tuple[int, int]) -> None:
    ids = [add_and_triage(rt, text) for text in (EXPLOSION, *SAME_TOPIC)]
    assert [cluster for _, cluster in ids] == [None, None, None]
    assert all(links_of(rt, report_id) == [] for report_id, _ in ids)


def test_text_only_links_reports_received_within_the_window(
    rt: Runtime, unit: tuple[int, int]
) -> None:
    old, _ = add_and_triage(rt, EXPLOSION, received_at=T0 - timedelta(days=45))
    _, cluster = add_and_triage(rt, VARIANTS[0])
    assert cluster is None and cluster_of(rt, old) is None


# --- identifiers -------------------------------------------------------------------------


def test_a_shared_phone_or_plate_links_otherwise_different_reports(
    rt: Runtime, unit: tuple[int, int]
) -> None:
    van, _ = add_and_triage(rt, VAN, items=[("vrm", PLATE)])
    flat, _ = add_and_triage(rt, FLAT, items=[("phone", PHONE)])
    by_phone, phone_cluster = add_and_triage(
        rt, DRONE, items=[("phone", PHONE), ("email", "x@example.org")]
    )
    by_plate, plate_cluster = add_and_triage(rt, SAME_TOPIC[1], items=[("vrm", PLATE)])
    assert (phone_cluster, plate_cluster) == (flat, van)
    assert links_of(rt, by_phone) == [Link(flat, "identifier", f"shares phone {PHONE}", 1.0)]
    assert links_of(rt, by_plate) == [Link(van, "identifier", f"shares vrm {PLATE}", 1.0)]


def test_shared_identifiers_link_at_any_age(rt: Runtime, unit: tuple[int, int]) -> None:
    old, _ = add_and_triage(rt, VAN, items=[("phone", PHONE)], received_at=T0 - timedelta(days=400))
    _, cluster = add_and_triage(rt, FLAT, items=[("phone", PHONE)])
    assert cluster == old


def test_rejected_ignored_and_non_identifier_items_do_not_link(
    rt: Runtime, unit: tuple[int, int]
) -> None:
    hotline = ("phone", "+448007890321")
    first, _ = add_and_triage(rt, VAN, items=[hotline, ("postcode", "LS6 2QT"), ("vrm", PLATE)])
    rt.db.write_sync(
        lambda session: session.execute(
            update(TriageItem)
            .where(TriageItem.report_id == first, TriageItem.kind == "vrm")
            .values(status="rejected")
        )
    )
    report_id, _ = add_report(rt, FLAT, items=[hotline, ("postcode", "LS6 2QT"), ("vrm", PLATE)])
    settings = ClusterSettings(ignored_identifiers=frozenset({hotline}))
    assert triage(rt, report_id, settings=settings) is None


def test_a_common_identifier_cannot_crowd_out_a_rare_one(
    rt: Runtime, unit: tuple[int, int]
) -> None:
    common = ("url", "https://example.org/news/1")
    rare, _ = add_and_triage(rt, VAN, items=[("vrm", PLATE)])
    for text in (FLAT, DRONE, EXPLOSION, SAME_TOPIC[0]):
        add_and_triage(rt, text, items=[common])
    report_id, _ = add_report(rt, SAME_TOPIC[1], items=[common, ("vrm", PLATE)])
    settings = ClusterSettings(max_candidates=2)

    def find(session: Session) -> list[Link]:
        report = session.get(Report, report_id)
        assert report is not None
        signature = text_signature(report.description)
        return clusters.find_links(session, report, signature, [], settings=settings)

    found = rt.db.write_sync(find)
    assert Link(rare, "identifier", f"shares vrm {PLATE}", 1.0) in found
    assert len(found) == 2  # the cap holds: one of the four sharing the common URL


# --- images ------------------------------------------------------------------------------


def test_the_same_photo_resized_and_recompressed_links_by_image(
    rt: Runtime, unit: tuple[int, int]
) -> None:
    first, _ = add_and_triage(rt, VAN, pictures=[picture("street")])
    second, cluster = add_and_triage(
        rt, FLAT, pictures=[picture("park"), picture("street", (240, 180), quality=60)]
    )
    assert cluster == first
    [link] = links_of(rt, second)
    assert link.reason == "image" and link.other_report_id == first
    assert link.detail.startswith("same picture or video as attachment ")
    assert link.score >= 1 - 8 / 64
    _, unrelated = add_and_triage(rt, DRONE, pictures=[picture("park", (300, 225))])
    assert unrelated == first  # through the park picture that came with the second report


def test_a_different_picture_does_not_link(rt: Runtime, unit: tuple[int, int]) -> None:
    add_and_triage(rt, VAN, pictures=[picture("street")])
    _, cluster = add_and_triage(rt, FLAT, pictures=[picture("park")])
    assert cluster is None


def test_a_picture_a_few_bits_off_in_every_chunk_is_found_by_probing(
    rt: Runtime, unit: tuple[int, int]
) -> None:
    """No 16-bit chunk matches exactly, so only the radius-2 probes can find these."""
    h = 0x0F0F_0F0F_F0F0_F0F0
    seven_off = h ^ 0x0003_0003_0003_0001  # 2 + 2 + 2 + 1 bits, one chunk at a time
    nine_off = h ^ 0x000F_0003_0003_0001
    first, _ = add_report(rt, VAN, pictures=[picture("street")])
    attachment = rt.db.write_sync(
        lambda session: session.scalar(select(Attachment.id).where(Attachment.report_id == first))
    )
    assert attachment is not None
    assert triage(rt, first, [(attachment, h)]) is None
    near, near_images = add_report(rt, FLAT, pictures=[picture("park")])
    far, far_images = add_report(rt, DRONE, pictures=[picture("park")])
    assert triage(rt, far, [(far_images[0][0], nine_off)]) is None
    assert triage(rt, near, [(near_images[0][0], seven_off)]) == first
    assert Link(
        first, "image", f"same picture or video as attachment {attachment} (distance 7)", 1 - 7 / 64
    ) in (links_of(rt, near))


# --- time and place ----------------------------------------------------------------------


def test_same_time_and_place_links_when_the_texts_are_somewhat_alike(
    rt: Runtime, unit: tuple[int, int]
) -> None:
    first, _ = add_and_triage(rt, EXPLOSION, when=T0, where=HERE)
    second, cluster = add_and_triage(rt, PARAPHRASE, when=T0 + timedelta(minutes=40), where=NEARBY)
    assert cluster == first
    [link] = links_of(rt, second)
    assert link.reason == "time_place"
    assert link.detail.startswith("within 40 min and 300 m; text ")


def test_same_time_and_place_alone_does_not_fold_a_busy_city_centre(
    rt: Runtime, unit: tuple[int, int]
) -> None:
    add_and_triage(rt, EXPLOSION, when=T0, where=HERE)
    _, cluster = add_and_triage(rt, SAME_TOPIC[1], when=T0 + timedelta(minutes=5), where=NEARBY)
    assert cluster is None


def test_a_shared_full_postcode_stands_in_for_coordinates(
    rt: Runtime, unit: tuple[int, int]
) -> None:
    first, _ = add_and_triage(rt, EXPLOSION, when=T0, postcode="LS1 4AP")
    second, cluster = add_and_triage(
        rt, PARAPHRASE, when=T0 + timedelta(minutes=20), postcode="ls14ap"
    )
    assert cluster == first
    assert links_of(rt, second)[0].detail.startswith("within 20 min, same postcode LS1 4AP")


# --- clusters ----------------------------------------------------------------------------


def test_a_report_bridging_two_clusters_merges_them_into_the_oldest(
    rt: Runtime, unit: tuple[int, int]
) -> None:
    a1, _ = add_and_triage(rt, VAN, items=[("phone", PHONE)])
    a2, cluster_a = add_and_triage(rt, FLAT, items=[("phone", PHONE)])
    b1, _ = add_and_triage(rt, DRONE, items=[("vrm", PLATE)])
    b2, cluster_b = add_and_triage(rt, EXPLOSION, items=[("vrm", PLATE)])
    assert (cluster_a, cluster_b) == (a1, b1)
    bridge, merged = add_and_triage(rt, SAME_TOPIC[1], items=[("phone", PHONE), ("vrm", PLATE)])
    assert merged == a1
    assert members(rt, a1) == sorted([a1, a2, b1, b2, bridge])
    assert members(rt, b1) == []
    assert {link.other_report_id for link in links_of(rt, bridge)} == {a1, a2, b1, b2}


def test_links_are_seen_from_both_ends(rt: Runtime, unit: tuple[int, int]) -> None:
    first, _ = add_and_triage(rt, EXPLOSION)
    second, _ = add_and_triage(rt, VARIANTS[2])
    [forward] = links_of(rt, second)
    [backward] = links_of(rt, first)
    assert (forward.other_report_id, backward.other_report_id) == (first, second)
    assert forward.detail == backward.detail


def count_rows(
    rt: Runtime, model: type[TextBand] | type[ImageHash] | type[ClusterLink], report_id: int
) -> int:
    query = select(func.count()).select_from(model).where(model.report_id == report_id)
    return rt.db.write_sync(lambda session: session.scalar(query) or 0)


def test_reindexing_a_report_replaces_its_rows_and_keeps_its_cluster(
    rt: Runtime, unit: tuple[int, int]
) -> None:
    first, _ = add_and_triage(rt, EXPLOSION, pictures=[picture("street")])
    second, images = add_report(
        rt, VARIANTS[0], items=[("phone", PHONE)], pictures=[picture("street", (240, 180))]
    )
    assert triage(rt, second, images) == first
    counts = [count_rows(rt, m, second) for m in (TextBand, ImageHash, ClusterLink)]
    assert counts == [25, 4, 2]  # 25 bands; one picture in 4 chunks; text and image links
    links = links_of(rt, second)
    for _ in range(2):
        assert triage(rt, second, images) == first
    assert [count_rows(rt, m, second) for m in (TextBand, ImageHash, ClusterLink)] == counts
    assert links_of(rt, second) == links
    assert members(rt, first) == [first, second]


def test_a_rerun_that_no_longer_links_leaves_the_cluster_with_a_member_id(
    rt: Runtime, unit: tuple[int, int]
) -> None:
    first, _ = add_and_triage(rt, VAN, items=[("phone", PHONE)])
    others = [add_and_triage(rt, text, items=[("phone", PHONE)])[0] for text in (FLAT, DRONE)]
    assert members(rt, first) == [first, *others]
    rt.db.write_sync(
        lambda session: session.execute(
            update(TriageItem).where(TriageItem.report_id == first).values(status="rejected")
        )
    )
    # The others' links to the first still stand, so it stays while they point at it.
    assert triage(rt, first) == first
    rt.db.write_sync(
        lambda session: session.execute(
            delete(ClusterLink).where(ClusterLink.other_report_id == first)
        )
    )
    assert triage(rt, first) is None
    assert cluster_of(rt, first) is None
    assert members(rt, others[0]) == others  # renamed after a remaining member


def test_a_surge_of_300_near_identical_reports_ends_in_one_cluster_within_the_caps(
    rt: Runtime, unit: tuple[int, int]
) -> None:
    rng = random.Random(300)
    greetings = ("", "Hi. ", "Hello, ", "Please help. ", "Urgent: ")
    words = EXPLOSION.split()
    ids = []
    for n in range(300):
        typo = rng.randrange(len(words))
        text = " ".join(w[::-1] if i == typo else w for i, w in enumerate(words))
        report_id, _ = add_and_triage(
            rt, rng.choice(greetings) + text, received_at=T0 + timedelta(seconds=10 * n)
        )
        ids.append(report_id)
    assert {cluster_of(rt, i) for i in ids} == {ids[0]}
    assert members(rt, ids[0]) == sorted(ids)
    settings = DEFAULT_SETTINGS
    for report_id in ids:
        stored = count_rows(rt, ClusterLink, report_id)
        assert stored <= settings.links_per_reason

    last, _ = add_report(rt, EXPLOSION, received_at=T0 + timedelta(hours=1))
    for cap in (settings.max_candidates, 50):

        def find(session: Session, cap: int = cap) -> list[Link]:
            report = session.get(Report, last)
            assert report is not None
            capped = ClusterSettings(max_candidates=cap)
            return clusters.find_links(
                session, report, text_signature(EXPLOSION), [], settings=capped
            )

        found = rt.db.write_sync(find)
        assert 0 < len(found) <= cap  # 300 candidates in the window, capped
        assert all(link.reason == "text" and link.score >= 0.6 for link in found)
