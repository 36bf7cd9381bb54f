"""Near-duplicate signals: text signatures, perceptual image hashes, time and place.

All text and pictures are synthetic: invented streets, drawn scenes.
"""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash  # type: ignore[import-untyped]
from PIL import Image, ImageDraw, ImageEnhance

from vigil.triage import similarity as sim
from vigil.triage.similarity import Place

REPORT = (
    "Large explosion heard near Victoria Street shopping centre at about 3pm. "
    "Smoke coming from the east entrance and people running towards the car park. "
    "A man in a dark jacket was seen leaving quickly on a blue bicycle."
)
WITH_TYPOS = (
    REPORT.replace("explosion", "explosoin")
    .replace("entrance", "entrence")
    .replace("bicycle", "bicyle")
)
REORDERED = (
    "Smoke coming from the east entrance and people running towards the car park. "
    "Large explosion heard near Victoria Street shopping centre at about 3pm. "
    "A man in a dark jacket was seen leaving quickly on a blue bicycle."
)
WITH_GREETING = "Hello, I want to report this. " + REPORT + " Thanks."
SAME_TOPIC = (
    "Loud bang near the shopping centre on Victoria Street this afternoon. I saw smoke and "
    "a crowd near the car park. Nobody seemed hurt but police arrived quickly."
)
OTHER_EVENT = (
    "Man photographing the entrance of the shopping centre and the car park for about an "
    "hour, wearing a dark jacket, then left on a bicycle."
)


# --- text ------------------------------------------------------------------------------


def test_normalising_drops_case_punctuation_and_extra_whitespace() -> None:
    assert sim.normalise_text("  Don't  PANIC!!\n North-East   car_park ") == (
        "dont panic north east car park"
    )


def test_typos_a_reordered_sentence_and_a_greeting_keep_texts_similar() -> None:
    base = sim.text_signature(REPORT)
    for variant in (WITH_TYPOS, REORDERED, WITH_GREETING):
        assert sim.estimate_jaccard(base, sim.text_signature(variant)) >= 0.7


def test_unrelated_reports_on_the_same_topic_score_low() -> None:
    base = sim.text_signature(REPORT)
    for other in (SAME_TOPIC, OTHER_EVENT):
        assert sim.estimate_jaccard(base, sim.text_signature(other)) < 0.3


def test_near_identical_texts_share_a_band_and_unrelated_ones_do_not() -> None:
    base = set(enumerate(sim.text_signature(REPORT).bands))
    assert base & set(enumerate(sim.text_signature(WITH_TYPOS).bands))
    assert not base & set(enumerate(sim.text_signature(SAME_TOPIC).bands))


def test_signature_equals_datasketch_minhash_so_it_can_be_loaded_there() -> None:
    text = REPORT * 30  # over one block of shingles, to cover the blocked computation
    hashes = sim.shingle_hashes(sim.normalise_text(text))
    reference = MinHash(num_perm=sim.NUM_PERM, seed=sim.SEED, hashfunc=lambda x: x)
    reference.update_batch([int(h) for h in hashes])
    ours = sim.signature_values(sim.text_signature(text))
    assert ours is not None
    assert np.array_equal(ours, reference.hashvalues)
    lean = LeanMinHash(seed=sim.SEED, hashvalues=ours, scheme="affine32")
    other = sim.signature_values(sim.text_signature(WITH_TYPOS * 30))
    assert lean.jaccard(LeanMinHash(seed=sim.SEED, hashvalues=other, scheme="affine32")) == (
        pytest.approx(
            sim.estimate_jaccard(sim.text_signature(text), sim.text_signature(WITH_TYPOS * 30))
        )
    )


def test_estimate_is_close_to_the_true_jaccard_of_the_shingle_sets() -> None:
    rng = random.Random(7)
    words = [f"w{n}" for n in range(400)]
    for _ in range(20):
        a = " ".join(rng.choices(words, k=120))
        b = " ".join(w if rng.random() > 0.15 else rng.choice(words) for w in a.split())
        sa, sb = (set(sim.shingle_hashes(sim.normalise_text(t)).tolist()) for t in (a, b))
        true = len(sa & sb) / len(sa | sb)
        assert abs(sim.estimate_jaccard(sim.text_signature(a), sim.text_signature(b)) - true) < 0.15


def test_signature_of_a_fixed_text_never_changes_because_stored_bands_depend_on_it() -> None:
    signature = sim.text_signature(REPORT)
    assert len(signature.bands) == sim.BANDS
    assert len(signature.hex) == sim.NUM_PERM * 8
    assert all(-(2**63) <= band < 2**63 for band in signature.bands)
    assert signature == sim.text_signature(REPORT)
    assert signature.hex[:32] == GOLDEN_HEX_PREFIX
    assert signature.bands[:2] == GOLDEN_BANDS


GOLDEN_HEX_PREFIX = "7e934f0001c73201d21dbd009f184d01"
GOLDEN_BANDS = (8157348054638420401, -3815306574527509046)


def test_short_texts_are_not_compared_at_all() -> None:
    short = sim.text_signature("See attached photo.")
    assert not short.comparable and short.bands == () and short.hex == ""
    assert sim.estimate_jaccard(short, sim.text_signature("See attached photo.")) == 0.0
    assert sim.estimate_jaccard(short, sim.text_signature(REPORT)) == 0.0


def test_stored_hex_and_signature_give_the_same_estimate() -> None:
    a, b = sim.text_signature(REPORT), sim.text_signature(WITH_GREETING)
    assert sim.estimate_jaccard(a.hex, b.hex) == sim.estimate_jaccard(a, b)
    many = sim.estimate_jaccard_many(a, [b.hex, a.hex])
    assert many.tolist() == [sim.estimate_jaccard(a, b), 1.0]


def test_lsh_curve_rises_steeply_around_the_link_threshold() -> None:
    assert sim.lsh_probability(0.3) < 0.1
    assert sim.lsh_probability(0.6) > 0.85
    assert sim.lsh_probability(0.7) > 0.98


def test_non_latin_text_is_shingled_too() -> None:
    welsh = "Clywais ffrwydrad mawr ger canolfan siopa Stryd Victoria tua thri o'r gloch."
    urdu = "وکٹوریا سٹریٹ شاپنگ سینٹر کے قریب ایک زور دار دھماکہ سنا گیا اور دھواں اٹھ رہا تھا"
    for text in (welsh, urdu):
        assert sim.text_signature(text).comparable
        assert sim.estimate_jaccard(sim.text_signature(text), sim.text_signature(text + "!")) == 1


# --- images ----------------------------------------------------------------------------


def scene(kind: str = "street", size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A drawn picture: a street with a house, the sun and a van; or a park."""
    image = Image.new("RGB", size, (135, 180, 220))
    draw = ImageDraw.Draw(image)
    w, h = size
    if kind == "street":
        draw.rectangle([0, int(h * 0.65), w, h], fill=(90, 90, 90))
        draw.rectangle(
            [int(w * 0.1), int(h * 0.3), int(w * 0.35), int(h * 0.65)], fill=(180, 60, 40)
        )
        draw.polygon(
            [
                (int(w * 0.1), int(h * 0.3)),
                (int(w * 0.225), int(h * 0.15)),
                (int(w * 0.35), int(h * 0.3)),
            ],
            fill=(100, 30, 20),
        )
        draw.ellipse([int(w * 0.6), int(h * 0.1), int(w * 0.75), int(h * 0.3)], fill=(250, 220, 60))
        draw.rectangle(
            [int(w * 0.5), int(h * 0.55), int(w * 0.85), int(h * 0.72)], fill=(240, 240, 240)
        )
        draw.ellipse(
            [int(w * 0.55), int(h * 0.68), int(w * 0.62), int(h * 0.78)], fill=(20, 20, 20)
        )
        draw.ellipse([int(w * 0.73), int(h * 0.68), int(w * 0.8), int(h * 0.78)], fill=(20, 20, 20))
    else:
        draw.rectangle([0, 0, w, h], fill=(30, 90, 40))
        for i in range(6):
            box = [int(w * i / 6), int(h * 0.2), int(w * (i + 1) / 6), int(h * 0.6)]
            draw.ellipse(box, fill=(200, 40 + 30 * i, 90))
        draw.line([(0, h), (w, 0)], fill=(255, 255, 255), width=12)
    return image


def jpeg(image: Image.Image, quality: int = 90, exif: Image.Exif | None = None) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, exif=exif or Image.Exif())
    return buffer.getvalue()


def test_the_same_scene_resized_recompressed_cropped_or_brightened_hashes_alike() -> None:
    original = sim.image_phash(jpeg(scene()))
    variants = {
        "resized": jpeg(scene().resize((320, 240))),
        "jpeg quality 60": jpeg(scene(), quality=60),
        "cropped": jpeg(scene().crop((12, 10, 628, 470))),
        "brightened": jpeg(ImageEnhance.Brightness(scene()).enhance(1.15)),
        "all at once": jpeg(
            ImageEnhance.Brightness(scene().crop((12, 10, 628, 470)).resize((400, 300))).enhance(
                1.1
            ),
            quality=60,
        ),
    }
    for name, data in variants.items():
        assert sim.hamming(original, sim.image_phash(data)) <= 8, name


def test_a_different_scene_is_far_away() -> None:
    assert sim.hamming(sim.image_phash(scene()), sim.image_phash(scene("park"))) > 16


def test_phash_reads_bytes_paths_and_images_alike(tmp_path: Path) -> None:
    data = jpeg(scene())
    path = tmp_path / "photo.jpg"
    path.write_bytes(data)
    with Image.open(io.BytesIO(data)) as opened:
        from_image = sim.image_phash(opened)
    assert (
        sim.image_phash(data) == sim.image_phash(path) == sim.image_phash(str(path)) == from_image
    )
    assert 0 <= from_image < 2**64


def test_a_photo_stored_rotated_with_an_orientation_tag_hashes_as_shown() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    stored = scene().transpose(Image.Transpose.ROTATE_90)  # what a phone would store
    assert (
        sim.hamming(sim.image_phash(jpeg(scene())), sim.image_phash(jpeg(stored, exif=exif))) <= 4
    )


def test_flat_pictures_are_not_informative() -> None:
    assert not sim.is_informative(sim.image_phash(Image.new("RGB", (100, 100), "white")))
    assert not sim.is_informative(sim.image_phash(Image.new("RGB", (100, 100), "black")))
    assert sim.is_informative(sim.image_phash(scene()))


def test_chunks_are_four_16_bit_pieces_most_significant_first() -> None:
    h = 0x0123_4567_89AB_CDEF
    assert sim.phash_chunks(h) == [0x0123, 0x4567, 0x89AB, 0xCDEF]
    assert sim.phash_hex(h) == "0123456789abcdef"
    assert sim.hamming(h, h ^ 0b1011) == 3


def flip(h: int, bits: int, rng: random.Random) -> int:
    for bit in rng.sample(range(64), bits):
        h ^= 1 << bit
    return h


def test_any_pair_within_3_bits_shares_an_exact_chunk() -> None:
    rng = random.Random(1)
    for _ in range(500):
        h = rng.getrandbits(64)
        other = flip(h, rng.randint(0, 3), rng)
        assert set(enumerate(sim.phash_chunks(h))) & set(enumerate(sim.phash_chunks(other)))


def test_probing_within_the_radius_finds_every_pair_within_the_threshold() -> None:
    rng = random.Random(2)
    assert [len(sim.chunk_probes(0, r)) for r in (0, 1, 2)] == [1, 17, 137]
    assert sim.probe_radius(8) == 2
    for _ in range(300):
        h = rng.getrandbits(64)
        other = flip(h, rng.randint(4, 8), rng)
        probes = [set(sim.chunk_probes(c, 2)) for c in sim.phash_chunks(h)]
        assert any(c in probes[i] for i, c in enumerate(sim.phash_chunks(other)))


# --- time and place --------------------------------------------------------------------

T0 = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)
# Two points about 300 m apart in an invented city centre.
HERE = (53.8000, -1.5500)
NEARBY = (53.8027, -1.5500)
FAR = (53.8100, -1.5500)


def at(
    minutes: float = 0,
    where: tuple[float, float] | None = HERE,
    postcode: str | None = None,
    until: float | None = None,
) -> Place:
    return Place(
        when_start=T0 + timedelta(minutes=minutes),
        when_end=None if until is None else T0 + timedelta(minutes=until),
        where_lat=where[0] if where else None,
        where_lon=where[1] if where else None,
        where_postcode=postcode,
    )


def test_reports_40_minutes_and_300_metres_apart_are_close() -> None:
    found = sim.closeness(at(0), at(40, NEARBY))
    assert found is not None
    assert found.describe() == "within 40 min and 300 m"
    assert sim.close_in_time_and_place(at(0), at(40, NEARBY))


def test_reports_too_far_apart_in_time_or_place_are_not_close() -> None:
    assert not sim.close_in_time_and_place(at(0), at(90, NEARBY))
    assert not sim.close_in_time_and_place(at(0), at(10, FAR))
    assert sim.close_in_time_and_place(at(0), at(10, FAR), metres=2000)


def test_overlapping_spans_have_no_gap() -> None:
    found = sim.closeness(at(0, until=120), at(90, NEARBY))
    assert found is not None and found.gap == timedelta(0)
    assert found.describe().startswith("at overlapping times")


def test_without_coordinates_the_same_full_postcode_counts_as_the_same_place() -> None:
    assert sim.close_in_time_and_place(at(0, None, "ls6 2qt"), at(20, None, "LS62QT"))
    found = sim.closeness(at(0, None, "LS6 2QT"), at(20, HERE, "LS6 2QT"))
    assert found is not None and found.describe() == "within 20 min, same postcode LS6 2QT"
    assert not sim.close_in_time_and_place(at(0, None, "LS6"), at(20, None, "LS6"))
    assert not sim.close_in_time_and_place(at(0, None, "LS6 2QT"), at(20, None, "LS6 2QU"))


def test_a_report_without_a_time_or_a_place_is_never_close() -> None:
    untimed = Place(None, None, HERE[0], HERE[1], None)
    assert not sim.close_in_time_and_place(untimed, at(0))
    assert not sim.close_in_time_and_place(at(0, None), at(0, None))
    assert not sim.close_in_time_and_place(at(0, HERE), at(0, None, "LS6 2QT"))
