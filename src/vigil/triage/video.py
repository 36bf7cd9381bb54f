"""A video as one small picture (a montage of a few of its frames), decoded in a child
process under hard limits, so that the same video sent by many people clusters like the
same photo does.

After an incident the same clip circulates and is re-shared: each copy is re-encoded at
another size and bitrate, so its bytes (and its SHA-256) differ, but its frames look the
same. Four frames taken at fixed fractions of the duration (20, 40, 60 and 80 %) and tiled
2x2 into one 128x128 picture keep what the clip shows and drop how it was encoded; the
triage pipeline hashes that montage with the same perceptual hash as a photo
(:func:`vigil.triage.similarity.image_phash`), so a video needs no table of its own and
no migration, and links by the ``image`` reason like a picture. Fractions of the duration
rather than fixed seconds, because a re-share often changes the frame rate but not the
length; the first frame decoded at or after each point, because that is what any decoder
reaches from the nearest earlier keyframe whatever the copy's keyframe spacing.

Decoding a stranger's video is attack surface (FFmpeg's demuxers and decoders are large C
code), so it never happens in the worker: ``python -m vigil.triage.video PATH`` decodes in
a process of its own that first limits itself (address space, CPU time, no file it could
grow beyond its answer, no core dump of report content) and only then loads FFmpeg, and the
worker kills it after a wall-clock timeout. The limits are set by the child itself rather
than in ``preexec_fn``: the worker has threads (the database writer), and code run between
fork and exec in a threaded process can deadlock. The child answers with raw pixels of a
fixed size, never anything the worker would have to parse, and the worker builds the
montage from them. Only the ISO base media (MP4/MOV) demuxer and a short list of camera and
sharing-app codecs are allowed, as intake accepts nothing else. These are resource limits,
not a sandbox: a child that FFmpeg bugs had taken over could still read what the worker's
user can read.

Anything that goes wrong (damaged or truncated file, no video stream, an unknown codec,
frames larger than :data:`MAX_FRAME_PIXELS`, too few frames, the timeout, the memory limit)
raises :class:`UnhashableVideo` with a short reason from a fixed vocabulary, never the
file's name or contents; the pipeline logs it and the video simply does not cluster.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

if TYPE_CHECKING:  # names only: the worker itself never loads FFmpeg
    from av.container import InputContainer
    from av.video.frame import VideoFrame
    from av.video.stream import VideoStream

VIDEO_TYPES = frozenset({"video/mp4", "video/quicktime"})

SAMPLE_AT = (0.2, 0.4, 0.6, 0.8)  # fractions of the duration, one frame each
TILE = 64  # pixels a side per frame; the 2x2 montage is 128x128 (phash looks at 32x32)
GRID = 2  # tiles per row of the montage
# Wall-clock time for the whole child, start-up included (0.1-0.4 s for a phone clip up to
# 1080p, about 1 s for 4K): generous under load, short enough that a stuck decode costs
# little.
DECODE_TIMEOUT_S = 20.0
CPU_LIMIT_S = 20  # the same again as CPU time, in case the wall-clock kill were late
# Address space of the child: Python with FFmpeg's libraries mapped is about 150 MiB, and
# a 4K H.264 decode on one thread peaks near 200 MiB; the rest is room for decoders that
# keep more reference frames (HEVC, AV1). A bigger claim fails as out of memory.
ADDRESS_SPACE_BYTES = 1024 * 1024 * 1024
MAX_FRAME_PIXELS = 3840 * 2160  # 4K UHD; larger streams are not decoded
# Packets read after each seek before giving up on reaching the sample point: a seek lands
# on the keyframe before it, and phones put a keyframe every one or two seconds; 300 is
# five seconds at 60 frames a second. At most 4 x 300 packets are decoded per video.
MAX_PACKETS_PER_POINT = 300
ALLOWED_DECODERS = frozenset({"h264", "hevc", "mpeg4", "vp9", "av1", "libdav1d", "mjpeg"})

_TILE_BYTES = TILE * TILE * 3  # RGB
_ANSWER_BYTES = len(SAMPLE_AT) * (1 + _TILE_BYTES)  # per frame: quarter turns, pixels
_TURNS = {
    1: Image.Transpose.ROTATE_90,
    2: Image.Transpose.ROTATE_180,
    3: Image.Transpose.ROTATE_270,
}


class Failure(IntEnum):
    """Why the child gave no montage: its exit status, and the reason the worker logs."""

    usage = 2
    no_video = 3
    unsupported_codec = 4
    too_large = 5
    no_duration = 6
    too_few_frames = 7
    undecodable = 8
    out_of_memory = 9


class UnhashableVideo(Exception):
    """The video gives no montage; ``reason`` is a word from a fixed list (no content)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def montage(path: Path, *, timeout_s: float | None = None) -> Image.Image:
    """The 2x2 montage of the video at ``path``, decoded in a limited child process that is
    killed after ``timeout_s`` (default :data:`DECODE_TIMEOUT_S`).

    Raises :class:`UnhashableVideo` for any video that cannot give one. The child's
    answer goes to an anonymous file rather than a pipe, so the child's own file-size limit
    also bounds what the worker reads back.
    """
    command = [sys.executable, "-I", "-m", "vigil.triage.video", str(path)]
    with tempfile.TemporaryFile() as answer:
        try:
            done = subprocess.run(  # noqa: S603 - our own interpreter and module, no shell
                command,
                stdin=subprocess.DEVNULL,
                stdout=answer,
                stderr=subprocess.DEVNULL,
                env={},  # none of the worker's settings or secrets
                timeout=DECODE_TIMEOUT_S if timeout_s is None else timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:  # run() has killed the child
            raise UnhashableVideo("timeout") from exc
        if done.returncode < 0:
            raise UnhashableVideo("killed")  # a signal: CPU or file-size limit, or a crash
        if done.returncode:
            try:
                reason = Failure(done.returncode).name
            except ValueError:
                reason = "failed"
            raise UnhashableVideo(reason)
        answer.seek(0)
        data = answer.read(_ANSWER_BYTES + 1)
    if len(data) != _ANSWER_BYTES:
        raise UnhashableVideo("bad_answer")
    return _tile(data)


def _tile(data: bytes) -> Image.Image:
    """The montage from the child's answer: each frame upright, left to right, top down."""
    picture = Image.new("RGB", (GRID * TILE, GRID * TILE))
    step = 1 + _TILE_BYTES
    for n in range(len(SAMPLE_AT)):
        turns, pixels = data[n * step], data[n * step + 1 : (n + 1) * step]
        frame = Image.frombytes("RGB", (TILE, TILE), pixels)
        if turns in _TURNS:
            frame = frame.transpose(_TURNS[turns])
        picture.paste(frame, ((n % GRID) * TILE, (n // GRID) * TILE))
    return picture


# --- the child ---------------------------------------------------------------------------


def confine() -> None:
    """Limit this process before it touches the file: soft and hard limits alike, so code
    running here later cannot raise them again (unless it runs as root)."""
    for limit, value in (
        (resource.RLIMIT_AS, ADDRESS_SPACE_BYTES),
        (resource.RLIMIT_CPU, CPU_LIMIT_S),
        (resource.RLIMIT_FSIZE, _ANSWER_BYTES),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(limit, (value, value))


class _Stop(Exception):
    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.name)
        self.failure = failure


def _decode(path: str) -> bytes:
    """The answer for the video at ``path``: per sample point, the frame's quarter turns
    (counter-clockwise, from the stream's display matrix) then its RGB pixels at TILE x
    TILE."""
    # FFmpeg is loaded only here, in the confined child: the worker never maps it.
    import av

    with av.open(path, format="mov") as container:
        if not container.streams.video:
            raise _Stop(Failure.no_video)
        stream = container.streams.video[0]
        context = stream.codec_context
        if context.name not in ALLOWED_DECODERS:
            raise _Stop(Failure.unsupported_codec)
        if context.width * context.height > MAX_FRAME_PIXELS:
            raise _Stop(Failure.too_large)
        context.thread_count = 1  # one core, and no thread stacks in the address space
        time_base, start, length = _span(container, stream)
        answer = bytearray()
        for fraction in SAMPLE_AT:
            target = start + fraction * length
            container.seek(int(target / time_base), stream=stream, backward=True)
            frame = _first_frame_from(container, stream, target)
            answer.append((round((frame.rotation or 0) / 90)) % 4)
            answer += _pixels(frame)
        return bytes(answer)


def _span(container: InputContainer, stream: VideoStream) -> tuple[float, float, float]:
    """The stream's time base, first time and length, in seconds (the length from the
    container when the stream does not say)."""
    if not stream.time_base:
        raise _Stop(Failure.no_duration)
    time_base = float(stream.time_base)
    start = stream.start_time * time_base if stream.start_time is not None else 0.0
    if stream.duration:
        length = stream.duration * time_base
    elif container.duration:
        length = container.duration / 1_000_000  # av.time_base
    else:
        raise _Stop(Failure.no_duration)
    if length <= 0:
        raise _Stop(Failure.no_duration)
    return time_base, start, length


def _first_frame_from(container: InputContainer, stream: VideoStream, target: float) -> VideoFrame:
    for packets, packet in enumerate(container.demux(stream), start=1):
        if packets > MAX_PACKETS_PER_POINT:
            break
        for frame in packet.decode():
            if frame.time is not None and frame.time >= target - 1e-6:
                return frame
    raise _Stop(Failure.too_few_frames)


def _pixels(frame: VideoFrame) -> bytes:
    small = frame.reformat(width=TILE, height=TILE, format="rgb24", interpolation="AREA")
    plane = small.planes[0]
    data, stride, row = bytes(plane), plane.line_size, TILE * 3
    return b"".join(data[r * stride : r * stride + row] for r in range(TILE))


def main(argv: list[str]) -> int:
    """The child: ``python -m vigil.triage.video PATH`` writes the answer to stdout, or
    exits with a :class:`Failure` status; it prints nothing else."""
    if len(argv) != 1:
        return Failure.usage
    confine()
    try:
        answer = _decode(argv[0])
    except _Stop as stop:
        return stop.failure
    except MemoryError:
        return Failure.out_of_memory
    except Exception:
        return Failure.undecodable
    sys.stdout.buffer.write(answer)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
