"""The same video from many people folds into one cluster, however each copy was re-encoded;
a video that cannot be decoded, or whose decoding overruns its limits, simply does not
cluster and never stops a report's triage.

Every video here is synthetic: drawn shapes, made with PyAV while the test runs.
"""

from __future__ import annotations

import io
import json
import random
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import av
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw
from sqlalchemy import select

from tests.factories import minimal_report, staff_token
from tests.triage.test_triage_api import report, run_pipeline
from vigil.intake.models import Report
from vigil.triage import pipeline, similarity, video
from vigil.triage.models import ImageHash
from vigil.web.runtime import Runtime

Scene = Callable[[float], Image.Image]  # seconds -> a 320x240 picture


def street(t: float) -> Image.Image:
    """A van driving right past a tree while the sun sets to the left."""
    image = Image.new("RGB", (320, 240), (30, 60, 120))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 170, 320, 240), fill=(90, 90, 90))
    x = 10 + 50 * t
    draw.rectangle((x, 100, x + 80, 170), fill=(240, 240, 240))
    draw.ellipse((250 - 25 * t, 20, 300 - 25 * t, 70), fill=(250, 200, 0))
    draw.polygon([(200, 170), (240, 80), (290, 170)], fill=(0, 110, 0))
    return image


def platform(t: float) -> Image.Image:
    """Another scene altogether: a railway platform, pillars, a train pulling out left."""
    image = Image.new("RGB", (320, 240), (200, 200, 190))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 320, 60), fill=(40, 40, 40))
    draw.rectangle((0, 200, 320, 206), fill=(240, 210, 0))
    for px in (40, 140, 240):
        draw.rectangle((px, 60, px + 20, 200), fill=(120, 30, 30))
    x = 200 - 60 * t
    draw.rectangle((x, 90, x + 260, 190), fill=(20, 90, 160))
    return image


def black(_: float) -> Image.Image:
    return Image.new("RGB", (320, 240), "black")


def clip(
    scene: Scene = street,
    *,
    size: tuple[int, int] = (320, 240),
    bit_rate: int = 800_000,
    fps: int = 25,
    seconds: float = 3,
    gop: int = 12,
    container: str = "mp4",
    turn: int = 0,
) -> bytes:
    """A synthetic MPEG-4 video of ``scene``. With ``turn`` (degrees counter-clockwise) the
    frames are stored turned the other way and a display rotation puts them upright again,
    as a phone held sideways records them."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = bit_rate
        stream.codec_context.gop_size = gop
        if turn:
            stream.set_display_rotation(turn)
        for n in range(round(seconds * fps)):
            picture = scene(n / fps)
            if turn:
                picture = picture.rotate(-turn, expand=True)
            frame = av.VideoFrame.from_image(picture.resize(size))
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()


def boxes(data: bytes) -> dict[bytes, tuple[int, int]]:
    """Top-level MP4 boxes: type -> (offset, size)."""
    found, pos = {}, 0
    while pos < len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        found[kind] = (pos, size)
        pos += size
    return found


def with_noise_for_frames(data: bytes) -> bytes:
    """The same boxes (so intake accepts it) with the coded frames replaced by noise."""
    pos, size = boxes(data)[b"mdat"]
    noise = random.Random(5).randbytes(size - 8)
    return data[: pos + 8] + noise + data[pos + size :]


def without_video_track(data: bytes) -> bytes:
    """The same boxes with the track's handler saying sound: a file with no video stream."""
    pos, size = boxes(data)[b"moov"]
    return data[:pos] + data[pos : pos + size].replace(b"vide", b"soun") + data[pos + size :]


def with_video(client: TestClient, description: str, data: bytes, name: str = "clip.mp4") -> str:
    media_type = "video/quicktime" if name.endswith(".mov") else "video/mp4"
    response = client.post(
        "/api/v1/reports",
        data={"report": json.dumps(minimal_report(description=description))},
        files=[("files", (name, data, media_type))],
    )
    assert response.status_code == 201, response.text
    return str(response.json()["reference"])


def hashed(rt: Runtime) -> set[str]:
    """References of the reports that have a perceptual hash stored."""
    with rt.db.session() as session:
        query = select(Report.reference).join(ImageHash, ImageHash.report_id == Report.id)
        return set(session.scalars(query))


def alone(cluster: dict[str, Any] | None) -> bool:
    return cluster is None or (cluster["size"] == 1 and cluster["links"] == [])


class Recorder:
    """Stands in for the pipeline's logger: keeps what was logged."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def warning(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))


@pytest.fixture
def logged(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    recorder = Recorder()
    monkeypatch.setattr(pipeline, "log", recorder)
    yield recorder


def phash(data: bytes, tmp_path: Path, name: str = "clip.mp4") -> int:
    path = tmp_path / name
    path.write_bytes(data)
    return similarity.image_phash(video.montage(path))


# --- through the pipeline, on both engines --------------------------------------------


def test_the_same_video_re_encoded_at_another_size_and_bitrate_folds_reports_together(
    client: TestClient, rt: Runtime
) -> None:
    token = staff_token(rt)
    first = with_video(client, "A white van driving slowly past the school gates.", clip())
    shared = clip(size=(176, 132), bit_rate=150_000, fps=15, gop=50, container="mov")
    second = with_video(client, "Saw this on a group chat, is it the same van??", shared, "v.mov")
    run_pipeline(rt)
    cluster = report(client, token, second)["triage"]["cluster"]
    assert cluster is not None and cluster["size"] == 2
    assert [(link["reference"], link["reason"]) for link in cluster["links"]] == [(first, "image")]
    (attachment,) = report(client, token, first)["attachments"]
    assert f"attachment {attachment['id']} " in cluster["links"][0]["detail"]


def test_a_different_video_does_not_fold_reports_together(client: TestClient, rt: Runtime) -> None:
    token = staff_token(rt)
    first = with_video(client, "A white van driving slowly past the school gates.", clip())
    other = with_video(
        client, "Train leaving platform 2, a bag left by the pillar.", clip(platform)
    )
    run_pipeline(rt)
    assert hashed(rt) == {first, other}  # both hashed, and still apart
    for reference in (first, other):
        assert alone(report(client, token, reference)["triage"]["cluster"])


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (with_noise_for_frames, "undecodable"),
        (without_video_track, "no_video"),
        (lambda data: clip(black), "flat"),
    ],
    ids=["damaged", "no-video-stream", "black-screen"],
)
def test_a_video_that_gives_no_hash_leaves_the_report_triaged_and_unclustered(
    client: TestClient,
    rt: Runtime,
    logged: Recorder,
    spoil: Callable[[bytes], bytes],
    reason: str,
) -> None:
    token = staff_token(rt)
    good = clip()
    with_video(client, "A white van driving slowly past the school gates.", good)
    spoilt = with_video(client, "Same van again, my phone went funny.", spoil(good), "mine.mp4")
    run_pipeline(rt)
    triage = report(client, token, spoilt)["triage"]
    assert triage["status"] == "done" and alone(triage["cluster"])
    assert spoilt not in hashed(rt)
    (attachment,) = report(client, token, spoilt)["attachments"]
    assert logged.events == [
        ("triage.video_hash_failed", {"attachment_id": attachment["id"], "reason": reason})
    ]
    assert "mine" not in repr(logged.events)


def test_a_decoding_child_that_overruns_its_time_is_killed_and_gives_no_hash(
    client: TestClient, rt: Runtime, logged: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = staff_token(rt)
    monkeypatch.setattr(video, "DECODE_TIMEOUT_S", 0.01)  # less than the child's start-up
    reference = with_video(client, "A white van driving slowly past the school gates.", clip())
    run_pipeline(rt)
    assert report(client, token, reference)["triage"]["status"] == "done"
    assert hashed(rt) == set()
    assert [fields["reason"] for _, fields in logged.events] == ["timeout"]


# --- the montage and its child, alone ----------------------------------------------------


def test_a_video_held_sideways_with_a_rotation_flag_hashes_like_the_upright_one(
    tmp_path: Path,
) -> None:
    upright = phash(clip(), tmp_path, "upright.mp4")
    sideways = phash(clip(size=(240, 320), turn=90), tmp_path, "sideways.mp4")
    turned_back = phash(clip(size=(240, 320), turn=-90), tmp_path, "turned.mp4")
    assert similarity.hamming(upright, sideways) <= 4
    assert similarity.hamming(upright, turned_back) <= 4
    assert similarity.hamming(upright, phash(clip(platform), tmp_path)) > 16


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: clip()[: len(clip()) // 2], "undecodable"),  # the index (moov) is at the end
        (lambda: b"\x89PNG\r\n\x1a\n" + bytes(200), "undecodable"),
        (lambda: b"", "undecodable"),
    ],
    ids=["truncated", "not-a-video", "empty"],
)
def test_a_file_that_is_not_a_whole_video_gives_no_montage(
    tmp_path: Path, make: Callable[[], bytes], reason: str
) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(make())
    with pytest.raises(video.UnhashableVideo) as refused:
        video.montage(path)
    assert refused.value.reason == reason


def test_decoding_stops_after_a_bounded_number_of_packets_per_sample_point(
    tmp_path: Path,
) -> None:
    """One keyframe at the start of a 16-second clip at 25 frames a second: reaching 80 % of
    it (frame 320) takes more packets after the seek than the child reads. The same clip
    with a keyframe every second is hashed, so it is the budget that refuses the first."""
    seconds = 16
    assert 0.6 * seconds * 25 < video.MAX_PACKETS_PER_POINT < 0.8 * seconds * 25  # premise
    path = tmp_path / "clip.mp4"
    path.write_bytes(clip(size=(64, 48), seconds=seconds, bit_rate=100_000, gop=600))
    with pytest.raises(video.UnhashableVideo) as refused:
        video.montage(path)
    assert refused.value.reason == "too_few_frames"
    path.write_bytes(clip(size=(64, 48), seconds=seconds, bit_rate=100_000, gop=25))
    assert video.montage(path).size == (2 * video.TILE, 2 * video.TILE)


def test_the_decoding_child_cannot_grow_past_its_memory_or_its_answer(tmp_path: Path) -> None:
    """The limits the child sets itself before loading FFmpeg really hold: a claim on more
    memory than its address space fails, and so does writing a file larger than its answer."""
    probe = (
        "import resource, sys\n"
        "from vigil.triage import video\n"
        "video.confine()\n"
        "print(resource.getrlimit(resource.RLIMIT_CPU), resource.getrlimit(resource.RLIMIT_CORE))\n"
        "try:\n"
        "    bytearray(2 * video.ADDRESS_SPACE_BYTES)\n"
        "except MemoryError:\n"
        "    print('memory refused')\n"
        "try:\n"
        f"    open({str(tmp_path / 'big')!r}, 'wb').write(bytes(1 << 20))\n"
        "except OSError:\n"
        "    print('file refused')\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", probe], capture_output=True, text=True, timeout=30, check=True
    )
    limit = video.CPU_LIMIT_S
    assert done.stdout.splitlines() == [
        f"({limit}, {limit}) (0, 0)",
        "memory refused",
        "file refused",
    ]
