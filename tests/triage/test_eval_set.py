"""The labelled triage evaluation set is well formed, and the benchmark scores it correctly.

The set (benchmarks/data/triage_eval.jsonl) is checked against its own conventions
(benchmarks/data/README.md): spans, normalised values, taxonomy, priorities, synthetic-only
identifiers. Datetime labels are re-derived by a small resolver written here independently of
the generator. The benchmark's scoring is tested with fake predictors, so these tests do not
depend on the extractors they will measure.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
from benchmarks import triage_quality as tq

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "benchmarks" / "data" / "triage_eval.jsonl"
GENERATOR = ROOT / "tools" / "make_triage_eval.py"
LONDON = ZoneInfo("Europe/London")

KINDS = {"behaviour", "item", "vehicle", "purchase", "threat", "online", "other"}
FIELD_NAMES = {"people", "vehicles", "urls", "postcode", "phones", "emails"}
WEAPON_TERMS = {
    "hydrogen peroxide",
    "acetone",
    "ammonium nitrate",
    "nitromethane",
    "knife",
    "machete",
    "gun",
    "shotgun",
    "pipe bomb",
    "detonator",
    "ricin",
    "bomb",
    "crossbow",
}
EXAMPLE_DOMAINS = {"example.com", "example.org", "example.net"}
URL_HOSTS = {
    "t.me",
    "www.youtube.com",
    "youtube.com",
    "m.youtube.com",
    "youtu.be",
    "x.com",
    "twitter.com",
    "www.facebook.com",
    "facebook.com",
    "m.facebook.com",
    "www.instagram.com",
    "instagram.com",
    "www.tiktok.com",
    "tiktok.com",
    "discord.gg",
}
RESERVED_PHONE = re.compile(r"^\+44(7700900\d{3}|1632960\d{3}|1134960\d{3}|2079460\d{3})$")
TRACKING = re.compile(r"^(utm_.*|fbclid|gclid|si|igshid)$", re.IGNORECASE)


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return tq.load(DATA)


def _items(records: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(rec, it) for rec in records for it in rec["expected"]["items"]]


# --------------------------------------------------------------------------- the set itself


def test_set_is_big_enough_and_well_formed(records: list[dict[str, Any]]) -> None:
    assert len(records) >= 300
    ids = [r["id"] for r in records]
    assert len(set(ids)) == len(ids)
    for rec in records:
        assert re.fullmatch(r"E\d{4}", rec["id"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rec["reported_at"])
        assert rec["kind"] in KINDS
        assert rec["description"].strip()
        assert set(rec["fields"]) == FIELD_NAMES
        assert rec["fields"]["postcode"] is None or isinstance(rec["fields"]["postcode"], str)
        exp = rec["expected"]
        assert set(exp) >= {"items", "categories", "priority", "duplicate_group"}


def test_the_file_is_what_the_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location("make_triage_eval", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    assert module.dumps(module.build()) == DATA.read_text(encoding="utf-8"), (
        "stale: run .venv/bin/python tools/make_triage_eval.py"
    )


def test_every_span_is_the_text_it_labels(records: list[dict[str, Any]]) -> None:
    for rec, it in _items(records):
        start, end = it["start"], it["end"]
        assert (start is None) == (end is None)
        if start is None:  # typed only into a structured field
            continue
        assert rec["description"][start:end] == it["text"], (rec["id"], it)
        assert it["text"] == it["text"].strip() and it["text"]


def test_field_only_items_come_from_the_fields(records: list[dict[str, Any]]) -> None:
    field_of = {"postcode": "postcode", "vrm": "vehicles", "person": "people", "url": "urls"}
    field_of |= {"phone": "phones", "email": "emails"}
    for rec, it in _items(records):
        if it["start"] is not None:
            continue
        typed = rec["fields"][field_of[it["kind"]]]
        assert it["text"] == typed or it["text"] in typed, (rec["id"], it)


def test_every_field_value_is_an_expected_item(records: list[dict[str, Any]]) -> None:
    for rec in records:
        values = {tq.key(it["kind"], it["value"]) for it in rec["expected"]["items"]}
        f = rec["fields"]
        wanted = [("person", " ".join(p.split()).title()) for p in f["people"]]
        wanted += [("vrm", v.replace(" ", "").upper()) for v in f["vehicles"]]
        wanted += [("phone", _e164(p)) for p in f["phones"]]
        wanted += [("email", e.lower()) for e in f["emails"]]
        wanted += [("url", _canonical_url(u)) for u in f["urls"]]
        if f["postcode"]:
            wanted.append(("postcode", _postcode(f["postcode"])))
        for kind, value in wanted:
            assert tq.key(kind, value) in values, (rec["id"], kind, value)


def _e164(text: str) -> str:
    digits = re.sub(r"\D", "", text.replace("(0)", ""))
    for prefix in ("0044", "44", "0"):
        if digits.startswith(prefix):
            return "+44" + digits[len(prefix) :]
    return "+" + digits


def _postcode(text: str) -> str:
    compact = re.sub(r"\s", "", text).upper()
    return f"{compact[:-3]} {compact[-3:]}"


def _canonical_url(text: str) -> str:
    if not re.match(r"(?i)https?://", text):
        text = "https://" + text
    parts = urlsplit(text)
    kept = [
        f"{k}={v}"
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not TRACKING.match(k)
    ]
    path = "" if parts.path == "/" else parts.path
    query = ("?" + "&".join(kept)) if kept else ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}{query}"


def test_values_follow_the_normalisation_rules(records: list[dict[str, Any]]) -> None:
    seen: Counter[str] = Counter()
    for rec, it in _items(records):
        kind, value, text = it["kind"], it["value"], it["text"]
        seen[kind] += 1
        where = (rec["id"], it)
        if kind == "phone":
            assert value == _e164(text), where
            assert RESERVED_PHONE.match(value), where
        elif kind == "email":
            assert value == text.lower() == value.lower(), where
            assert re.fullmatch(r"[a-z0-9._+-]+@([a-z0-9-]+\.)+[a-z]+", value), where
        elif kind == "url":
            assert value == _canonical_url(text), where
            parts = urlsplit(value)
            assert parts.scheme in {"http", "https"} and not parts.fragment, where
            assert parts.netloc == parts.netloc.lower() and parts.path != "/", where
            assert not any(TRACKING.match(k) for k, _ in parse_qsl(parts.query)), where
        elif kind == "handle":
            assert re.fullmatch(r"@[a-z0-9_.]+", value) and value == text.lower(), where
        elif kind == "vrm":
            assert value == re.sub(r"\s", "", text).upper(), where
            assert re.fullmatch(
                r"[A-Z]{2}\d{2}[A-Z]{3}|[A-Z]\d{1,3}[A-Z]{3}|[A-Z]{3}\d{1,3}[A-Z]|[A-Z]{1,3}\d{1,4}",
                value,
            ), where
        elif kind == "postcode":
            assert value == _postcode(text), where
            assert re.fullmatch(r"[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}", value), where
        elif kind == "datetime":
            assert re.fullmatch(r"\d{4}-\d\d-\d\d(T\d\d:\d\dZ)?", value), where
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif kind == "money":
            assert re.fullmatch(r"(GBP|USD|EUR) \d+\.\d\d", value), where
        elif kind == "weapon":
            assert value in WEAPON_TERMS, where
        elif kind in {"person", "place", "organisation"}:
            assert value == " ".join(value.split()), where
            assert value.casefold() == " ".join(text.split()).casefold(), where
            assert all(w[0].isupper() for w in value.split() if w[0].isalpha()), where
        else:
            pytest.fail(f"unknown item kind {kind!r}")
    assert set(seen) == set(tq.ITEM_KINDS)  # every kind is represented


def test_categories_and_priorities(records: list[dict[str, Any]]) -> None:
    prios = Counter(r["expected"]["priority"] for r in records)
    assert set(prios) <= set(tq.PRIORITIES)
    assert prios["P1"] >= 30
    assert prios["P4"] >= max(prios["P1"], prios["P2"], prios["P3"])  # most reports are noise
    used: Counter[str] = Counter()
    for rec in records:
        cats = rec["expected"]["categories"]
        assert all(c in tq.CATEGORY_CODES for c in cats), rec["id"]
        assert len(set(cats)) == len(cats)
        used.update(cats)
        if rec["expected"]["priority"] == "P4":
            assert cats == [], rec["id"]  # no intelligence, no behaviour category
        else:
            assert cats, rec["id"]
    assert set(used) == set(tq.CATEGORY_CODES)  # every category has examples


def test_reports_resting_on_who_people_are_are_p4_without_category(
    records: list[dict[str, Any]],
) -> None:
    protected = [r for r in records if r["expected"].get("scenario") == "protected"]
    assert len(protected) >= 20
    for rec in protected:
        assert rec["expected"]["priority"] == "P4" and rec["expected"]["categories"] == []


def test_duplicate_groups(records: list[dict[str, Any]]) -> None:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        if rec["expected"]["duplicate_group"]:
            groups[rec["expected"]["duplicate_group"]].append(rec)
    assert 15 <= len(groups) <= 25
    for members in groups.values():
        assert 2 <= len(members) <= 6
        assert len({m["expected"]["priority"] for m in members}) == 1
        assert len({m["description"] for m in members}) == len(members)  # each in own words


def test_no_real_looking_phone_or_email(records: list[dict[str, Any]]) -> None:
    for rec in records:
        text = rec["description"]
        for it in rec["expected"]["items"]:  # URLs and e-mails hold long digit runs
            if it["kind"] in {"url", "email"} and it["start"] is not None:
                text = text[: it["start"]] + " " * (it["end"] - it["start"]) + text[it["end"] :]
        for m in re.finditer(r"[+(]?\d[\d ()\-]{7,}\d", text):
            if len(re.sub(r"\D", "", m.group())) >= 10:
                assert RESERVED_PHONE.match(_e164(m.group())), (rec["id"], m.group())
        for phone in rec["fields"]["phones"]:
            assert RESERVED_PHONE.match(_e164(phone)), (rec["id"], phone)
        for source in (rec["description"], *rec["fields"]["emails"]):
            for m in re.finditer(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)", source):
                assert m.group(1).lower() in EXAMPLE_DOMAINS, (rec["id"], m.group())


def test_urls_are_on_example_or_platform_hosts(records: list[dict[str, Any]]) -> None:
    for rec, it in _items(records):
        if it["kind"] == "url":
            host = urlsplit(it["value"]).netloc
            assert (
                host in URL_HOSTS
                or host.split(".", 1)[-1] in EXAMPLE_DOMAINS
                or (host in EXAMPLE_DOMAINS)
            ), (rec["id"], host)


# --------------------------------------------------------------------------- datetimes

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PARTS = {"morning": 9, "lunchtime": 12, "afternoon": 15, "evening": 19, "night": 22}
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")  # fmt: skip
NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


def _resolve(text: str, reported_at: str) -> str | None:
    """An independent reading of the set's datetime conventions (None when not understood)."""
    now = datetime.fromisoformat(reported_at.replace("Z", "+00:00")).astimezone(LONDON)
    today = now.date()
    t = " ".join(text.lower().split())
    day: date | None = None
    if m := re.search(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b", t):
        day = date(int(m[3]), int(m[2]), int(m[1]))
        t = t.replace(m[0], " ")
    elif m := re.search(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?(?: of)? ({'|'.join(MONTHS)})\b", t):
        year = int(y[1]) if (y := re.search(r"\b(20\d\d)\b", t)) else today.year
        day = date(year, MONTHS.index(m[2]) + 1, int(m[1]))
        t = t.replace(m[0], " ").replace(str(year), " ")
    elif m := re.search(rf"\b({'|'.join(MONTHS)}) (\d{{1,2}})(?:st|nd|rd|th)\b", t):
        day = date(today.year, MONTHS.index(m[1]) + 1, int(m[2]))
        t = t.replace(m[0], " ")
    elif m := re.search(r"\b(\d|two|three|four|five|six) days ago\b", t):
        day = today - timedelta(days=int(NUMBERS.get(m[1], m[1])))
    elif "yesterday" in t or "last night" in t:
        day = today - timedelta(days=1)
    elif "tomorrow" in t:
        day = today + timedelta(days=1)
    elif m := re.search(rf"\b({'|'.join(WEEKDAYS)})\b", t):
        back = (today.weekday() - WEEKDAYS.index(m[1])) % 7
        if back == 0:
            return None  # the ambiguous case the set never labels
        day = today - timedelta(days=back)
    elif re.search(r"\b(today|this|tonight)\b", t) or re.search(r"\d", t):
        day = today
    if day is None:
        return None
    clock: tuple[int, int] | None = None
    if m := re.search(r"\b(\d{1,2})(?:[:.](\d\d))? ?(am|pm)\b", t):
        hour = int(m[1]) % 12 + (12 if m[3] == "pm" else 0)
        clock = (hour, int(m[2] or 0))
    elif m := re.search(r"\b(\d\d)[:.]?(\d\d)(?:hrs)?\b", t):
        clock = (int(m[1]), int(m[2]))
    elif m := re.search(r"\bhalf (\d{1,2})\b", t):
        hour = int(m[1])
        clock = (hour + 12 if hour < 12 and re.search(r"afternoon|evening|night", t) else hour, 30)
    else:
        parts = re.findall(r"\b(morning|lunchtime|afternoon|evening|night|tonight)\b", t)
        if parts:
            clock = (PARTS["night" if parts[-1] == "tonight" else parts[-1]], 0)
    if clock is None:
        return day.isoformat()
    local = datetime.combine(day, time(*clock), tzinfo=LONDON)
    return local.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def test_datetime_labels_agree_with_an_independent_resolver(
    records: list[dict[str, Any]],
) -> None:
    checked = 0
    total = 0
    for rec, it in _items(records):
        if it["kind"] != "datetime":
            continue
        total += 1
        resolved = _resolve(it["text"], rec["reported_at"])
        if resolved is None:
            continue
        checked += 1
        assert resolved == it["value"], (rec["id"], rec["reported_at"], it)
    assert total >= 150 and checked >= 0.9 * total


def test_times_said_to_be_past_or_future_are_so(records: list[dict[str, Any]]) -> None:
    for rec, it in _items(records):
        if it["kind"] != "datetime":
            continue
        now = datetime.fromisoformat(rec["reported_at"].replace("Z", "+00:00"))
        text = it["text"].lower()
        if "T" in it["value"]:
            moment = datetime.fromisoformat(it["value"].replace("Z", "+00:00"))
            if re.search(r"yesterday|ago|last|earlier", text):
                assert moment < now, (rec["id"], it)
            if re.search(r"tomorrow|later|tonight", text):
                assert moment > now, (rec["id"], it)
        else:
            today = now.astimezone(LONDON).date()
            day = date.fromisoformat(it["value"])
            if re.search(r"yesterday|ago|last", text):
                assert day < today, (rec["id"], it)
            if "tomorrow" in text:
                assert day > today, (rec["id"], it)


def test_the_resolver_knows_british_summer_time() -> None:
    # Saturday 28 March 2026 is GMT; Monday 30 March is BST (clocks went forward on the 29th).
    assert _resolve("Saturday at 3pm", "2026-03-30T09:00:00Z") == "2026-03-28T15:00Z"
    assert _resolve("yesterday afternoon", "2026-03-30T09:00:00Z") == "2026-03-29T14:00Z"
    assert _resolve("last night", "2025-10-27T09:00:00Z") == "2025-10-26T22:00Z"
    assert _resolve("2 days ago", "2026-01-02T10:00:00Z") == "2025-12-31"
    assert _resolve("Friday", "2026-03-13T10:00:00Z") is None  # same weekday: never labelled


# --------------------------------------------------------------------------- the scorer


def _perfect(record: dict[str, Any]) -> tq.Prediction:
    exp = record["expected"]
    return tq.Prediction(
        items=tq.expected_items(record),
        categories=list(exp["categories"]),
        priority=exp["priority"],
    )


def _record(items: list[dict[str, Any]], cats: list[str], prio: str, rid: str = "E0001") -> dict:
    return {
        "id": rid,
        "reported_at": "2026-03-14T10:22:00Z",
        "kind": "other",
        "description": "x",
        "fields": {},
        "expected": {"items": items, "categories": cats, "priority": prio},
    }


TINY = [
    _record(
        [
            {"kind": "phone", "value": "+447700900123", "text": "07700 900123"},
            {"kind": "person", "value": "Dave Smith", "text": "dave smith"},
            {"kind": "datetime", "value": "2026-03-13", "text": "yesterday"},
        ],
        ["photography"],
        "P2",
    ),
    _record(
        [
            {
                "kind": "url",
                "value": "https://t.me/invented_channel",
                "text": "t.me/invented_channel",
            }
        ],
        ["expressed_threat", "online_material"],
        "P1",
        "E0002",
    ),
]


def test_perfect_output_scores_one(records: list[dict[str, Any]]) -> None:
    fig = tq.figures(tq.evaluate(records, _perfect))
    for kind in tq.ITEM_KINDS:
        assert fig["items"][kind]["f1"] == 1.0, kind
    assert fig["groups"]["identifiers"]["f1"] == 1.0
    assert all(c["f1"] == 1.0 for c in fig["categories"].values())
    assert fig["priority"]["accuracy"] == 1.0 and fig["priority"]["p1_recall"] == 1.0
    assert all(t["pass"] for t in fig["targets"].values())
    json.dumps(fig)  # plain data


def test_a_missing_item_lowers_recall_only() -> None:
    def drop_person(record: dict[str, Any]) -> tq.Prediction:
        pred = _perfect(record)
        pred.items = [i for i in pred.items if i.kind != "person"]
        return pred

    fig = tq.figures(tq.evaluate(TINY, drop_person))
    person = fig["items"]["person"]
    assert (person["tp"], person["fp"], person["fn"]) == (0, 0, 1)
    assert person["recall"] == 0.0 and person["f1"] == 0.0
    assert fig["groups"]["all_items"]["precision"] == 1.0
    assert fig["groups"]["all_items"]["recall"] == pytest.approx(3 / 4)
    assert fig["groups"]["identifiers"]["f1"] == 1.0


def test_a_wrong_value_is_both_a_false_positive_and_a_false_negative() -> None:
    def wrong_phone(record: dict[str, Any]) -> tq.Prediction:
        pred = _perfect(record)
        pred.items = [
            tq.Item(i.kind, "+447700900999") if i.kind == "phone" else i for i in pred.items
        ]
        return pred

    results = tq.evaluate(TINY, wrong_phone)
    phone = results.items["phone"]
    assert (phone.tp, phone.fp, phone.fn) == (0, 1, 1)
    lines = tq.error_lines(results, TINY, "phone")
    assert any("FP phone '+447700900999'" in line for line in lines)
    assert any("FN phone '+447700900123'" in line for line in lines)
    assert tq.error_lines(results, TINY, "identifiers") == lines


def test_matching_rules() -> None:
    expected = [tq.Item("person", "Dave Smith"), tq.Item("url", "https://example.com/Page")]
    got = [
        tq.Item("person", "DAVE  smith"),  # names match whatever the case and spacing
        tq.Item("person", "dave smith"),  # the same value twice counts once
        tq.Item("url", "https://example.com/page"),  # a URL path keeps its case
    ]
    match = tq.match_items(expected, got)
    assert [i.value for i in match.tp] == ["DAVE  smith"]
    assert [i.value for i in match.fp] == ["https://example.com/page"]
    assert [i.value for i in match.fn] == ["https://example.com/Page"]


def test_categories_priority_and_crashes_are_counted() -> None:
    def guess(record: dict[str, Any]) -> tq.Prediction:
        if record["id"] == "E0002":
            raise RuntimeError("boom")
        return tq.Prediction(categories=["photography", "weapons", "made_up"], priority="P3")

    results = tq.evaluate(TINY, guess)
    fig = tq.figures(results)
    assert fig["crashes"] == 1 and results.crashes[0][0] == "E0002"
    assert fig["categories"]["photography"]["tp"] == 1
    assert fig["categories"]["weapons"]["fp"] == 1
    assert fig["categories"]["made_up"]["fp"] == 1
    assert fig["categories"]["expressed_threat"]["fn"] == 1
    assert fig["priority"]["confusion"]["P2"]["P3"] == 1
    assert fig["priority"]["confusion"]["P1"][tq.NO_ANSWER] == 1
    assert fig["priority"]["p1_recall"] == 0.0
    assert fig["targets"]["p1_recall"]["pass"] is False
    assert tq.error_lines(results, TINY, "priority")[0].startswith("E0001  expected P2 got P3")
    assert "missing ['expressed_threat', 'online_material']" in "".join(
        tq.error_lines(results, TINY, "categories")
    )


def test_call_by_name_adapts_to_signatures() -> None:
    def positional(text: str, /, *, reported_at: datetime) -> tuple[str, datetime]:
        return text, reported_at

    def aliased(description: str, now: str, cluster_size: int = 5) -> tuple[str, str, int]:
        return description, now, cluster_size

    at = datetime(2026, 3, 14, 10, 22, tzinfo=UTC)
    available = {"text": "hello", "reported_at": at, "cluster_size": 1}
    assert tq.call_by_name(positional, available) == ("hello", at)
    assert tq.call_by_name(aliased, available) == ("hello", "2026-03-14T10:22:00Z", 1)
    with pytest.raises(TypeError, match="cannot supply"):
        tq.call_by_name(lambda mystery: mystery, available)


def test_main_prints_json_and_always_exits_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "tiny.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in TINY))
    assert tq.main(["--data", str(data), "--json"], predictor=_perfect) == 0
    fig = json.loads(capsys.readouterr().out)
    assert fig["reports"] == 2 and fig["targets"]["identifiers"]["pass"]
    assert tq.main(["--data", str(data), "--errors", "person"], predictor=_perfect) == 0
    assert "no errors for person" in capsys.readouterr().out
    assert tq.main(["--data", str(data)], predictor=lambda r: tq.Prediction()) == 0
    assert "MISS" in capsys.readouterr().out
