"""Near-duplicate signals, as pure functions: text MinHash with LSH bands, perceptual image
hashes (of pictures, and of videos through a montage of their frames made by
:mod:`vigil.triage.video`), and closeness in time and place; and the vocabulary of a
near-duplicate link (:class:`Link`, :class:`ClusterSettings`) that
:mod:`vigil.triage.clusters` stores.

After a major incident hundreds of reports about one event arrive within an hour, many with
the same photo. These functions turn each report into small, stable numbers that the
database side (:mod:`vigil.triage.clusters`) can look up through indexes, so finding a
report's near-duplicates costs a few index probes rather than a comparison with every report.
Everything here is deterministic across processes and machines (no salted ``hash()``),
because the numbers are stored and compared later.

Text: character 5-shingles, not word 3-shingles
    Reports are short (a few sentences) and typed on phones. A single typo breaks every
    word 3-shingle that contains the word (three of perhaps thirty), while it breaks five of
    several hundred character 5-shingles. On a synthetic three-sentence report with three
    typos, a reordered sentence and a greeting, word 3-shingles give Jaccard 0.54 and
    character 5-shingles 0.80; two unrelated reports about the same place and topic give
    0.16-0.20 (character) against 0.02-0.04 (word). Character shingles also need no word
    segmentation, so Welsh, Urdu or Polish text works the same way. The price, a higher
    floor between unrelated same-topic texts, sits well below the link threshold (0.6).

MinHash: 128 permutations, datasketch's ``affine32`` scheme, vectorised
    Shingles are hashed with a polynomial rolling hash over code points in numpy (no Python
    loop per shingle) and then put through datasketch's own permutation parameters
    (MurmurHash3 finaliser, then ``a*h + b mod 2**32``). The values are identical to
    ``datasketch.MinHash(num_perm=128, seed=1, hashfunc=<identity>).update_batch(...)``
    (a test proves it), so a stored signature can be loaded into datasketch; computing it
    directly is faster than ``update_batch`` and four times faster than datasketch's
    default SHA-1 per shingle (figures in the benchmark note below). 128 permutations give
    a standard error of about 0.04 at Jaccard 0.6.

LSH: 25 bands of 5 rows
    A pair with Jaccard ``s`` shares at least one band with probability
    ``1 - (1 - s**5)**25``::

        s      0.2    0.3    0.4    0.5    0.6    0.7    0.8
        P      0.008  0.06   0.23   0.55   0.87   0.99   1.00

    The curve's midpoint, ``(1/25)**(1/5)`` = 0.53, sits just under the link threshold
    (0.6) so that true near-duplicates (0.8-0.95 on typos, reordering, greetings) are
    almost never missed, while unrelated same-topic reports (0.1-0.3) rarely become
    candidates and so do not use up the per-report candidate cap during a surge. Candidates
    are always confirmed on the full signature. 32 bands of 4 rows would catch 0.6 with
    0.99 but make 23% of 0.3-pairs candidates; 16 of 8 would miss 76% of 0.6-pairs.

Changing the shingle size, seed, number of permutations or banding changes every stored
value: re-index all reports (bump the pipeline version) when doing so.

Benchmark note (one shared core, a 440-character report, best of five runs): this
module 0.10 ms per signature; datasketch ``update_batch`` over the same integer shingle
hashes 0.17 ms with its permutations reused (0.24 ms building a MinHash each time); with
its default SHA-1 per shingle 0.44 ms. A 17,600-character text takes 2.5 ms.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Protocol

import imagehash
import numpy as np
import numpy.typing as npt
from datasketch import MinHash  # type: ignore[import-untyped]
from PIL import Image, ImageOps

SHINGLE = 5  # characters per shingle
NUM_PERM = 128
SEED = 1  # datasketch's default: its permutation parameters come from this seed
BANDS = 25
ROWS = 5
# Under ~40 shingles (about eight words) a text says too little to call two reports the
# same: "see attached photo" or "suspicious man at the station" recur across unrelated
# reports. Such texts get no signature and never link by text.
MIN_SHINGLES = 40
# Texts are hashed in blocks so a very long report costs linear time and bounded memory.
_BLOCK = 2048

PHASH_BITS = 64
PHASH_CHUNKS = 4
CHUNK_BITS = PHASH_BITS // PHASH_CHUNKS
# A perceptual hash of an ordinary picture has about half its bits set (each bit says "this
# frequency is above the median"); near-flat pictures (a blank screen, a pocket shot) give
# almost all zeros, and would all look like "the same picture".
_INFORMATIVE_BITS = range(16, 49)

_U32 = np.uint32
_U64 = np.uint64
_POLY = _U64(0x100000001B3)  # FNV-1a's 64-bit prime: odd, so the rolling hash mixes all bits
_MASK32 = _U64(0xFFFFFFFF)


@dataclass(frozen=True, slots=True)
class TextSignature:
    """A text's MinHash and its LSH band hashes.

    ``bands`` are signed 64-bit integers (they fit a BigInteger column), one per band in
    order; ``hex`` is the 128 MinHash values as little-endian unsigned 32-bit integers, for
    exact Jaccard estimates later. Both are empty when the text is too short to compare.
    """

    bands: tuple[int, ...]
    hex: str
    shingles: int

    @property
    def comparable(self) -> bool:
        return bool(self.bands)


EMPTY_SIGNATURE = TextSignature(bands=(), hex="", shingles=0)


class Whereabouts(Protocol):
    """When and where a report says something happened (a Report row satisfies this)."""

    @property
    def when_start(self) -> datetime | None: ...
    @property
    def when_end(self) -> datetime | None: ...
    @property
    def where_lat(self) -> float | None: ...
    @property
    def where_lon(self) -> float | None: ...
    @property
    def where_postcode(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Closeness:
    """How close two reports are: the gap between their time spans, and either the distance
    between their coordinates or the full postcode they share."""

    gap: timedelta
    metres: float | None
    postcode: str | None

    def describe(self) -> str:
        minutes = round(self.gap.total_seconds() / 60)
        when = "at overlapping times" if minutes == 0 else f"within {minutes} min"
        if self.metres is not None:
            return f"{when} and {round(self.metres)} m"
        return f"{when}, same postcode {self.postcode}"


class LinkReason(StrEnum):
    text = "text"
    identifier = "identifier"
    time_place = "time_place"
    image = "image"


@dataclass(frozen=True, slots=True)
class Link:
    """Why this report is a near-duplicate of another: the reason, in words an analyst can
    check ("shares phone +447700900123"), and a score from 0 to 1 (higher is closer)."""

    other_report_id: int
    reason: str
    detail: str
    score: float


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """Clustering's thresholds and caps; the defaults are argued here and in
    :mod:`vigil.triage.clusters`."""

    text_threshold: float = 0.6
    time_place_min_jaccard: float = 0.3
    minutes: float = 60
    metres: float = 500
    image_max_distance: int = 8
    window: timedelta = timedelta(days=30)
    # A report received more than this before the other's event began is not compared for
    # time and place: it bounds the scan of the received_at index to about a day.
    time_place_lookback: timedelta = timedelta(days=1)
    max_candidates: int = 200  # rows read per reason and report
    # Time and place are the weakest reason and the dearest to confirm (a signature read
    # per candidate): only the most recently received reports near the place are compared.
    time_place_candidates: int = 50
    links_per_reason: int = 5  # stored per reason and cluster joined (see assign_cluster)
    # (kind, value) pairs too common to mean anything, e.g. the hotline's own number.
    ignored_identifiers: frozenset[tuple[str, str]] = frozenset()


DEFAULT_SETTINGS = ClusterSettings()


class ReportFacts(Whereabouts, Protocol):
    """What finding links needs to know about the report itself (a Report row will do)."""

    @property
    def id(self) -> int: ...
    @property
    def received_at(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Place:
    """When and where, on its own (for rows read without loading a whole Report)."""

    when_start: datetime | None
    when_end: datetime | None
    where_lat: float | None
    where_lon: float | None
    where_postcode: str | None


# --- text ------------------------------------------------------------------------------

_APOSTROPHES = re.compile(r"['\u2019\u02bc]")
_NOT_WORD = re.compile(r"[^\w\s]|_")


def normalise_text(text: str) -> str:
    """Lower case, punctuation stripped, whitespace collapsed: what two reporters typing the
    same thing differently still share. Apostrophes vanish ("don't" = "dont"); other
    punctuation becomes a space ("north-east" = "north east")."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _NOT_WORD.sub(" ", _APOSTROPHES.sub("", text))
    return " ".join(text.split())


@cache
def _permutations() -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
    """datasketch's own permutation parameters for our seed, so signatures interoperate."""
    a, b = MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32").permutations
    return np.ascontiguousarray(a, dtype=_U32), np.ascontiguousarray(b, dtype=_U32)


def _fmix32(h: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """MurmurHash3's 32-bit finaliser, as datasketch applies it before permuting."""
    h = h ^ (h >> _U32(16))
    h = h * _U32(0x85EBCA6B)
    h = h ^ (h >> _U32(13))
    h = h * _U32(0xC2B2AE35)
    return h ^ (h >> _U32(16))


def _fmix64(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    h = h ^ (h >> _U64(33))
    h = h * _U64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> _U64(33))
    h = h * _U64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> _U64(33))


def shingle_hashes(normalised: str) -> npt.NDArray[np.uint32]:
    """32-bit hashes of every character 5-shingle (repeats included: MinHash ignores them)."""
    points = np.frombuffer(normalised.encode("utf-32-le"), dtype="<u4").astype(_U64)
    n = len(points) - SHINGLE + 1
    if n <= 0:
        return np.empty(0, dtype=_U32)
    h = points[:n].copy()
    for k in range(1, SHINGLE):
        h = h * _POLY + points[k : n + k]
    mixed = _fmix64(h)
    return ((mixed ^ (mixed >> _U64(32))) & _MASK32).astype(_U32)


def minhash_values(hashes: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """The MinHash of a set of 32-bit shingle hashes (datasketch ``affine32`` values)."""
    a, b = _permutations()
    b_column = b[:, None]
    values = np.full(NUM_PERM, np.iinfo(_U32).max, dtype=_U32)
    for start in range(0, len(hashes), _BLOCK):
        block = _fmix32(hashes[start : start + _BLOCK])
        # One permutation per row, added in place: a quarter faster than building
        # ``block[:, None] * a + b`` (two temporaries) and reducing down the columns.
        permuted = np.multiply.outer(a, block)
        permuted += b_column
        np.minimum(values, permuted.min(axis=1), out=values)
    return values


def band_hashes(values: npt.NDArray[np.uint32]) -> tuple[int, ...]:
    """One signed 64-bit hash per band of ``ROWS`` MinHash values."""
    rows = values[: BANDS * ROWS].reshape(BANDS, ROWS).astype(_U64)
    h = rows[:, 0].copy()
    for k in range(1, ROWS):
        h = h * _POLY + rows[:, k]
    return tuple(int(x) for x in _fmix64(h).view(np.int64))


def lsh_probability(similarity: float) -> float:
    """The chance that two texts with this Jaccard similarity share at least one band."""
    return float(1 - (1 - similarity**ROWS) ** BANDS)


def text_signature(text: str) -> TextSignature:
    """The MinHash signature and LSH bands of a report's text (see the module docstring)."""
    hashes = shingle_hashes(normalise_text(text))
    if len(hashes) < MIN_SHINGLES:
        return TextSignature(bands=(), hex="", shingles=len(hashes))
    values = minhash_values(hashes)
    return TextSignature(
        bands=band_hashes(values), hex=values.astype("<u4").tobytes().hex(), shingles=len(hashes)
    )


def signature_values(signature: TextSignature | str) -> npt.NDArray[np.uint32] | None:
    """The MinHash values of a signature or of its stored hex; None when not comparable."""
    hex_ = signature.hex if isinstance(signature, TextSignature) else signature
    if not hex_:
        return None
    values = np.frombuffer(bytes.fromhex(hex_), dtype="<u4")
    if len(values) != NUM_PERM:
        raise ValueError(f"a signature has {NUM_PERM} values, this one {len(values)}")
    return values.astype(_U32)


def estimate_jaccard(sig_a: TextSignature | str, sig_b: TextSignature | str) -> float:
    """The share of MinHash values two signatures agree on: an unbiased estimate of the
    Jaccard similarity of their shingle sets. 0.0 when either text was too short."""
    a, b = signature_values(sig_a), signature_values(sig_b)
    if a is None or b is None:
        return 0.0
    return float(np.count_nonzero(a == b)) / NUM_PERM


def estimate_jaccard_many(
    signature: TextSignature | str, others: list[str]
) -> npt.NDArray[np.float64]:
    """:func:`estimate_jaccard` against many stored signatures at once (one numpy pass)."""
    mine = signature_values(signature)
    if mine is None or not others:
        return np.zeros(len(others), dtype=np.float64)
    matrix = np.frombuffer(bytes.fromhex("".join(others)), dtype="<u4").reshape(-1, NUM_PERM)
    result: npt.NDArray[np.float64] = np.count_nonzero(matrix == mine, axis=1) / NUM_PERM
    return result


# --- images ----------------------------------------------------------------------------


def image_phash(image: str | Path | bytes | Image.Image) -> int:
    """The 64-bit DCT perceptual hash (``imagehash.phash``) of a picture, as an integer.

    The EXIF orientation is applied first, so the same photo from two phones, one storing it
    rotated with a tag, hashes alike. Resizing, JPEG re-compression, slight cropping and
    brightening move the hash by a few bits; a different scene by about 32.
    """
    if isinstance(image, Image.Image):
        return _phash(image)
    source = io.BytesIO(image) if isinstance(image, bytes) else image
    with Image.open(source) as opened:
        return _phash(opened)


def _phash(image: Image.Image) -> int:
    upright = ImageOps.exif_transpose(image)
    bits = imagehash.phash(upright).hash.flatten()
    return int("".join("1" if bit else "0" for bit in bits), 2)


def phash_hex(h: int) -> str:
    return f"{h:016x}"


def is_informative(h: int) -> bool:
    """False for near-flat pictures, whose hashes say nothing about what they show."""
    return h.bit_count() in _INFORMATIVE_BITS


def phash_chunks(h: int) -> list[int]:
    """The hash as 4 chunks of 16 bits, most significant first, for index lookup.

    By pigeonhole, two hashes within Hamming distance ``d`` have at least one chunk within
    distance ``d // 4`` of each other: an exact chunk match finds every pair within 3 bits.
    """
    mask = (1 << CHUNK_BITS) - 1
    return [(h >> (CHUNK_BITS * (PHASH_CHUNKS - 1 - i))) & mask for i in range(PHASH_CHUNKS)]


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def probe_radius(max_distance: int) -> int:
    """How far from each chunk to probe so that no pair within ``max_distance`` is missed."""
    return max_distance // PHASH_CHUNKS


@cache
def _flip_masks(radius: int) -> tuple[int, ...]:
    masks = [0]
    frontier = [0]
    for _ in range(radius):
        frontier = sorted(
            {m | (1 << bit) for m in frontier for bit in range(CHUNK_BITS) if not m >> bit & 1}
        )
        masks += frontier
    return tuple(masks)


def chunk_probes(chunk: int, radius: int) -> list[int]:
    """Every 16-bit value within ``radius`` bits of ``chunk`` (1, 17, 137 values for radius
    0, 1, 2): looking all of them up finds every hash within ``4 * radius + 3`` bits."""
    return [chunk ^ m for m in _flip_masks(radius)]


# --- time and place --------------------------------------------------------------------

_EARTH_RADIUS_M = 6_371_008.8
_FULL_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}$")


def full_postcode(postcode: str | None) -> str | None:
    """A UK postcode in the "SW1A 1AA" form, or None unless it is a full one (a district
    alone, such as "LS6", covers thousands of addresses and proves nothing)."""
    if not postcode:
        return None
    compact = "".join(postcode.split()).upper()
    if not _FULL_POSTCODE.match(compact):
        return None
    return f"{compact[:-3]} {compact[-3:]}"


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _span(r: Whereabouts) -> tuple[datetime, datetime] | None:
    if r.when_start is None:
        return None
    end = r.when_end or r.when_start
    return (r.when_start, end) if end >= r.when_start else (end, r.when_start)


def time_gap(a: Whereabouts, b: Whereabouts) -> timedelta | None:
    """The time between two reports' spans (zero when they overlap); None without times."""
    sa, sb = _span(a), _span(b)
    if sa is None or sb is None:
        return None
    return max(timedelta(0), max(sa[0], sb[0]) - min(sa[1], sb[1]))


def closeness(
    a: Whereabouts, b: Whereabouts, *, minutes: float = 60, metres: float = 500
) -> Closeness | None:
    """How close two reports are, when both give a time and a place and they are within
    ``minutes`` and ``metres``; otherwise None.

    The place is compared by coordinates when both have them, else by the same full
    postcode (a full postcode covers a street or part of one). A report with only
    coordinates and one with only a postcode cannot be compared without a geocoder, so they
    are not close.
    """
    gap = time_gap(a, b)
    if gap is None or gap > timedelta(minutes=minutes):
        return None
    lat_a, lon_a, lat_b, lon_b = a.where_lat, a.where_lon, b.where_lat, b.where_lon
    if lat_a is not None and lon_a is not None and lat_b is not None and lon_b is not None:
        distance = haversine_m(lat_a, lon_a, lat_b, lon_b)
        return Closeness(gap, distance, None) if distance <= metres else None
    pa, pb = full_postcode(a.where_postcode), full_postcode(b.where_postcode)
    if pa is not None and pa == pb:
        return Closeness(gap, None, pa)
    return None


def close_in_time_and_place(
    a: Whereabouts, b: Whereabouts, *, minutes: float = 60, metres: float = 500
) -> bool:
    """True when both reports give a time and a place and they are within ``minutes`` and
    ``metres`` (or share a full postcode, when neither has coordinates)."""
    return closeness(a, b, minutes=minutes, metres=metres) is not None
