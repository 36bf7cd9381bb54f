"""Identifiers in a report's free text: phones, e-mails, URLs, handles, vehicle marks,
postcodes and sums of money.

Identifiers are what link a report to people, vehicles and places already known, so each
value is normalised (domain-facts §10) and a false positive costs an analyst a wasted
look-up: every pattern here prefers missing an odd form over inventing an identifier.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from functools import cache, lru_cache
from urllib.parse import urlsplit

import phonenumbers

from vigil.triage.items import Extracted, ItemKind
from vigil.triage.lexicon import common_words, fold, load_yaml, mostly_upper

# --- phones -----------------------------------------------------------------------------

# A run that starts like a phone number (+, 00, (0 or 0) and holds digits with the
# separators people type. Money, times and dates cannot start one: "£", ":" and "/" are
# not in it, and the look-behind refuses a run glued to a word, a symbol or a number.
_PHONE_RUN = re.compile(
    r"(?<![\w+£$€#=@.\-])(?:\+[ \t]?\d|\([ \t]?0|0)[\d \t\-.()]{7,28}(?<=\d)(?!\w)"
)
_DIGIT_GROUP = re.compile(r"\d+")


@lru_cache(maxsize=4096)  # the same numbers recur across reports; parsing one is dear
def _phone_value(candidate: str) -> tuple[str, float] | None:
    digits = sum(c.isdigit() for c in candidate)
    international = candidate.lstrip("( \t").startswith(("+", "00"))
    if not (10 <= digits <= 15 if international else 10 <= digits <= 11):
        return None
    try:
        number = phonenumbers.parse(candidate, "GB")
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_valid_number(number):
        confidence = 0.95
    elif phonenumbers.is_possible_number(number):
        confidence = 0.85 if number.country_code == 44 else 0.7
    else:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), confidence


def _split_run(text: str, start: int, end: int) -> Iterator[tuple[int, int, str, float]]:
    """Numbers in one run: the whole run, or, when that fails (two numbers typed side by
    side), the longest valid prefixes of digit groups, left to right."""
    whole = _phone_value(text[start:end])
    if whole is not None:
        yield start, end, *whole
        return
    groups = [(m.start() + start, m.end() + start) for m in _DIGIT_GROUP.finditer(text[start:end])]
    i = 0
    while i < len(groups):
        best: tuple[int, str, float] | None = None
        for j in range(i, min(len(groups), i + 6)):
            span_start = start if i == 0 else groups[i][0]
            if text[span_start - 1 : span_start] in ("(", "+"):
                span_start -= 1
            value = _phone_value(text[span_start : groups[j][1]])
            if value is not None:
                best = (j, *value)
        if best is None:
            i += 1
            continue
        span_start = start if i == 0 else groups[i][0]
        if text[span_start - 1 : span_start] in ("(", "+"):
            span_start -= 1
        yield span_start, groups[best[0]][1], best[1], best[2]
        i = best[0] + 1


def find_phones(text: str) -> list[Extracted]:
    found: list[Extracted] = []
    for match in _PHONE_RUN.finditer(text):
        start = match.start()
        if text[start] == "(" and ")" not in match.group():
            start += 1
        for s, e, value, confidence in _split_run(text, start, match.end()):
            found.append(Extracted(ItemKind.phone, value, text[s:e], s, e, confidence))
    return found


def normalise_phone(value: str) -> str | None:
    result = _phone_value(value.strip())
    return result[0] if result else None


# --- e-mails ----------------------------------------------------------------------------

_AT = r"(?:@|[ \t]?[\[(]at[\])][ \t]?)"
_DOT = r"(?:\.|[ \t]?[\[(]dot[\])][ \t]?)"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(
    rf"(?<![\w.+%-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{{0,62}}[A-Za-z0-9_%+-])?{_AT}"
    rf"{_LABEL}(?:{_DOT}{_LABEL})*{_DOT}[A-Za-z]{{2,24}}(?![\w-])",
    re.IGNORECASE,
)
_AT_FORM = re.compile(r"[ \t]?[\[(]at[\])][ \t]?", re.IGNORECASE)
_DOT_FORM = re.compile(r"[ \t]?[\[(]dot[\])][ \t]?", re.IGNORECASE)


def normalise_email(value: str) -> str:
    return _DOT_FORM.sub(".", _AT_FORM.sub("@", value.strip())).lower()


def find_emails(text: str) -> list[Extracted]:
    if "@" not in text and _AT_FORM.search(text) is None:
        return []  # every address holds "@" or "[at]": most reports, without the long scan
    return [
        Extracted(ItemKind.email, normalise_email(m.group()), m.group(), m.start(), m.end(), 0.95)
        for m in _EMAIL.finditer(text)
    ]


# --- URLs and platforms -----------------------------------------------------------------

_URL_CHARS = r"[^\s<>\"`{}|\\^]"
# Top-level domains that make a bare "name.tld" a web address on their own; others (".me",
# ".to", ".so") also end ordinary words, so they need a path or a known platform host.
_STRONG_TLDS = (
    "com|org|net|uk|io|info|biz|ru|xyz|onion|online|site|top|app|dev|eu|de|fr|nl|pk|ir|"
    "tk|gov|edu|ac|website|store|shop|club|blog|news|live|social|chat|media"
)
_WEAK_TLDS = (
    "me|to|be|is|in|so|ly|gg|co|tv|fm|la|cc|ai|ph|moe|su|ws|link|page|today|dog|gl|am|ms|nz"
)
_URL = re.compile(
    rf"(?:(?:https?|hxxps?|ftp)://|www\d?\.){_URL_CHARS}+"
    rf"|(?<![\w@.\-/])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+"
    rf"(?P<tld>{_STRONG_TLDS}|{_WEAK_TLDS})(?::\d{{2,5}})?(?P<path>/{_URL_CHARS}*)?(?![\w@\-])",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?'\"”’)]}>…"
_STRONG_TLD_SET = frozenset(_STRONG_TLDS.split("|"))
_TRACKING = frozenset({"fbclid", "gclid", "si", "igshid"})
_DEFAULT_PORTS = {"http": "80", "https": "443", "ftp": "21"}


@cache
def _platform_hosts() -> dict[str, str]:
    data: dict[str, dict[str, list[str]]] = load_yaml("platforms.yaml")
    return {host: name for name, entry in data.items() for host in entry.get("hosts") or ()}


def platform_of(host: str) -> str | None:
    """The platform a host belongs to: the listed domain equal to it or ending it."""
    hosts = _platform_hosts()
    parts = host.lower().rstrip(".").split(".")[-5:]  # no listed domain has more labels
    for i in range(len(parts) - 1):
        name = hosts.get(".".join(parts[i:]))
        if name is not None:
            return name
    return None


def _trim(candidate: str) -> str:
    while candidate and candidate[-1] in _TRAILING:
        if candidate[-1] == ")" and candidate.count("(") >= candidate.count(")"):
            break
        candidate = candidate[:-1]
    return candidate


def canonical_url(raw: str) -> tuple[str, str | None] | None:
    """(canonical URL, platform) or None when it is no usable web address."""
    text = raw.strip()
    lowered = text.lower()
    if lowered.startswith("hxxp"):
        text = "http" + text[4:]
    elif "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").rstrip(".")
    if "." not in host:
        return None
    scheme = parts.scheme.lower()
    netloc = host
    if port is not None and str(port) != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    path = "" if parts.path == "/" else parts.path
    kept = [
        pair
        for pair in parts.query.split("&")
        if pair
        and not ((key := pair.split("=", 1)[0].lower()).startswith("utm_") or key in _TRACKING)
    ]
    query = "?" + "&".join(kept) if kept else ""
    return f"{scheme}://{netloc}{path}{query}", platform_of(host)


def find_urls(text: str) -> list[Extracted]:
    found: list[Extracted] = []
    for match in _URL.finditer(text):
        candidate = _trim(match.group())
        tld = match.group("tld")
        if tld is not None and tld.lower() not in _STRONG_TLD_SET and not match.group("path"):
            host = candidate.split("/", 1)[0]
            if platform_of(host) is None:
                continue
        result = canonical_url(candidate)
        if result is None or len(candidate) < 4:
            continue
        start = match.start()
        found.append(
            Extracted(
                ItemKind.url,
                result[0],
                candidate,
                start,
                start + len(candidate),
                0.95,
                detail=result[1],
            )
        )
    return found


# --- handles ----------------------------------------------------------------------------

_HANDLE = re.compile(r"(?<![\w@.+\-/])@([A-Za-z0-9_](?:[A-Za-z0-9_.]{0,29}[A-Za-z0-9_])?)(?![\w@])")
_TIME_LIKE = re.compile(r"\d{1,2}(?:[:.]\d{2})?(?:am|pm|ish)?", re.IGNORECASE)


@cache
def _platform_words() -> tuple[re.Pattern[str], tuple[str, ...]]:
    """One pattern for every word naming a platform, and the platform of each group."""
    data: dict[str, dict[str, list[str]]] = load_yaml("platforms.yaml")
    words = sorted(
        ((w, name) for name, entry in data.items() for w in entry.get("words") or ()),
        key=lambda pair: -len(pair[0]),
    )
    flexible_space = r"[ \t]?"
    groups = [
        f"(?P<p{i}>" + flexible_space.join(re.escape(part) for part in w.split()) + ")"
        for i, (w, _) in enumerate(words)
    ]
    pattern = re.compile(rf"(?<![\w@.])(?:{'|'.join(groups)})(?!\w)", re.IGNORECASE)
    return pattern, tuple(name for _, name in words)


def platform_near(text: str, start: int, end: int) -> str | None:
    """The platform named closest to a handle in the same stretch of text ("on telegram @x",
    "@x on insta"), looking a short way either side."""
    pattern, names = _platform_words()
    best: tuple[int, str] | None = None
    lo, hi = max(0, start - 40), min(len(text), end + 25)
    for match in pattern.finditer(text, lo, hi):
        if start <= match.start() < end:
            continue
        between = text[match.end() : start] if match.end() <= start else text[end : match.start()]
        if re.search(r"[.!?\n]", between):
            continue
        name = names[int((match.lastgroup or "p0")[1:])]
        distance = start - match.end() if match.end() <= start else match.start() - end
        if best is None or distance < best[0]:
            best = (distance, name)
    return best[1] if best else None


def find_handles(text: str) -> list[Extracted]:
    found: list[Extracted] = []
    for match in _HANDLE.finditer(text):
        name = match.group(1)
        if not any(c.isalpha() for c in name) or _TIME_LIKE.fullmatch(name):
            continue
        platform = platform_near(text, match.start(), match.end())
        if platform is None and fold(name) in common_words():
            continue  # "meet me @home": a word, not an account
        found.append(
            Extracted(
                ItemKind.handle,
                "@" + name.lower(),
                match.group(),
                match.start(),
                match.end(),
                0.9 if platform else 0.8,
                detail=platform,
            )
        )
    return found


# --- vehicle registration marks ---------------------------------------------------------

_SEP = r"[ \t-]?"
_VRM = re.compile(
    r"(?<![\w£$€#@/.\-])(?:"
    rf"(?P<current>[A-Za-z]{{2}}{_SEP}\d{{2}}{_SEP}[A-Za-z]{{3}})"
    rf"|(?P<prefix>[A-Za-z]{_SEP}\d{{1,3}}{_SEP}[A-Za-z]{{3}})"
    rf"|(?P<suffix>[A-Za-z]{{3}}{_SEP}\d{{1,3}}{_SEP}[A-Za-z])"
    rf"|(?P<dateless>[A-Za-z]{{1,3}}{_SEP}\d{{1,4}}|\d{{1,4}}{_SEP}[A-Za-z]{{1,3}})"
    r")(?![\w-])"
)
# Words right before a mark that say it is one ("reg AB12 CDE", "plate: 1234 AB").
# "reg" takes any ending so that a misspelt "registartion" still cues the mark.
_PLATE_CUE = re.compile(
    r"(?:\breg[a-z]{0,10}(?:[ \t]*(?:no|number|mark|plate))?|\bplates?|\bnumber[ \t]?plate"
    r"|\bvrm|\bindex)\.?[ \t]*(?:(?:is|was|of|number|no\.?|reads|read|looked like)[ \t]*)*"
    r"[:#\-(\"']?[ \t]*$",
    re.IGNORECASE,
)
_VEHICLE = re.compile(
    r"\b(?:reg|registration|plates?|numberplate|vrm|cars?|vans?|vehicles?|lorry|lorries|"
    r"trucks?|hgv|motorbike|motorcycle|moped|scooter|taxi|cab|minicab|4x4|suv|hatchback|"
    r"saloon|estate car|transit|sprinter|ford|vauxhall|audi|bmw|mercedes|merc|toyota|nissan|"
    r"volkswagen|vw|honda|peugeot|renault|citroen|fiat|skoda|kia|hyundai|volvo|tesla|mazda|"
    r"land rover|range rover|jeep|driving|drove|driver|parked|parking|reversed|people carrier|"
    r"minibus|pick-?up|campervan|luton|fiesta|corsa|astra|qashqai|yaris|prius|octavia|"
    r"clio|micra|insignia|mondeo|passat|tiguan|sportage|zafira|evoque)\b",
    re.IGNORECASE,
)
# Letters that make a short mark something else: times, units, ordinals.
_NOT_MARK = frozenset(
    "am pm mph kph kg km mm cm ft st nd rd th hr hrs min mins x m ml l g p yo yrs ish lb lbs "  # noqa: SIM905
    "k gb mb tb v w s pc".split()
)
# Current marks carry an age identifier: 02-29 (March issue) or 51-79 (September issue).
_AGE_OK = re.compile(r"0[2-9]|[12]\d|5[1-9]|[67]\d")


def _cued(text: str, start: int) -> bool:
    window = text[max(0, start - 40) : start].lower()
    if not any(word in window for word in ("reg", "plate", "vrm", "index")):
        return False  # the common case, without the regular expression
    return _PLATE_CUE.search(window) is not None


def _near_vehicle(text: str, match: re.Match[str]) -> bool:
    lo, hi = max(0, match.start() - 80), min(len(text), match.end() + 60)
    return _VEHICLE.search(text, lo, hi) is not None


def _loose_current(form: str | None, value: str, groups: list[str], words: frozenset[str]) -> bool:
    """A current-style mark with a real age identifier whose first pair is no word ("on
    12 may" is not a mark, and nor is "by 90 mph")."""
    return (
        form == "current"
        and _AGE_OK.fullmatch(value[2:4]) is not None
        and groups[0] not in words
        and groups[0] not in _NOT_MARK
    )


def normalise_vrm(value: str) -> str:
    return re.sub(r"[\s\-]", "", value).upper()


def find_vrms(text: str) -> list[Extracted]:
    """UK registration marks. Distinctive shapes (AB12 CDE, A123 BCD, ABC 123D) count
    when written as a mark (upper case, or without spaces); anything looser, and every
    dateless mark, needs words around it that speak of a vehicle or a plate."""
    shouting = mostly_upper(text)
    words = common_words()
    found: list[Extracted] = []
    for match in _VRM.finditer(text):
        raw, form = match.group(), match.lastgroup
        value = normalise_vrm(raw)
        letter_groups = [fold(g) for g in re.findall(r"[A-Za-z]+", raw)]
        # A unit or ordinal only ever follows the digits ("3pm", "30 mph", "50p"), so only
        # the trailing letters can make a shaped mark something else: "G417 LKC" and
        # "ST51 PHR" keep their leading letters. A dateless mark is too loose to risk any.
        unit_like = letter_groups[-1] in _NOT_MARK
        if form == "dateless" and any(g in _NOT_MARK for g in letter_groups):
            continue
        if form in ("current", "prefix") and unit_like:
            continue
        wordy = any(g in words for g in letter_groups if len(g) > 1)
        compact = value == raw.upper()
        upper = raw == raw.upper() and not shouting
        if form == "dateless":
            if wordy or not any(c.isdigit() for c in raw) or not _cued(text, match.start()):
                continue
            confidence = 0.6
        elif (compact or (upper and not wordy)) and not unit_like:
            confidence = 0.9 if form == "current" else 0.85
        elif _cued(text, match.start()) or (not wordy and _near_vehicle(text, match)):
            # A suffix mark ending in a unit letter ("SPF 415P") is only taken with a
            # plate or a vehicle nearby, and never after a word ("for 50p").
            confidence = 0.7
        elif _loose_current(form, value, letter_groups, words) and _near_vehicle(text, match):
            # "his van au70 sad": the two-letter area code and the age figures carry the
            # shape, so a last group that happens to spell a word does not sink it.
            confidence = 0.65
        else:
            continue
        if form == "current" and not _AGE_OK.fullmatch(value[2:4]):
            confidence -= 0.15
        found.append(Extracted(ItemKind.vrm, value, raw, match.start(), match.end(), confidence))
    return found


# --- postcodes --------------------------------------------------------------------------

# Postcode areas of the UK (Royal Mail), so that "at 1am" or a product code is not taken.
_AREAS = frozenset(
    """AB AL B BA BB BD BH BL BN BR BS BT CA CB CF CH CM CO CR CT CV CW DA DD DE DG DH DL DN DT
    DY E EC EH EN EX FK FY G GL GU GY HA HD HG HP HR HS HU HX IG IM IP IV JE KA KT KW KY L LA
    LD LE LL LN LS LU M ME MK ML N NE NG NN NP NR NW OL OX PA PE PH PL PO PR RG RH RM S SA SE
    SG SK SL SM SN SO SP SR SS ST SW SY TA TD TF TN TQ TR TS TW UB W WA WC WD WF WN WR WS WV
    YO ZE""".split()  # noqa: SIM905
)
_POSTCODE = re.compile(
    r"(?<![\w-])(?:(?P<gir>GIR[ \t]*0AA)|(?P<out>[A-Za-z]{1,2}\d[A-Za-z\d]?)[ \t]*"
    r"(?P<inward>\d[ABD-HJLNP-UW-Zabd-hjlnp-uw-z]{2}))(?![\w-])"
)


def normalise_postcode(value: str) -> str | None:
    match = _POSTCODE.fullmatch(value.strip())
    if match is None:
        return None
    if match.group("gir"):
        return "GIR 0AA"
    outward = match.group("out").upper()
    area = outward[:2] if outward[1].isalpha() else outward[:1]
    if area not in _AREAS:
        return None
    return f"{outward} {match.group('inward').upper()}"


def find_postcodes(text: str) -> list[Extracted]:
    found: list[Extracted] = []
    for match in _POSTCODE.finditer(text):
        value = normalise_postcode(match.group())
        if value is None:
            continue
        written = match.group()
        confidence = 0.95 if written.upper() == written and " " in written else 0.85
        found.append(
            Extracted(ItemKind.postcode, value, written, match.start(), match.end(), confidence)
        )
    return found


# --- money ------------------------------------------------------------------------------


def _amount(tag: str) -> str:
    return (
        rf"(?P<amount{tag}>\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.(?P<decimals{tag}>\d{{1,2}}))?"
        rf"(?:[ \t]?(?P<mult{tag}>k|m|mil|million|bn|billion|thousand|grand))?"
    )


_SYMBOLS = {"£": "GBP", "$": "USD", "€": "EUR", "gbp": "GBP", "usd": "USD", "eur": "EUR"}
_UNITS = {
    "pound": "GBP", "pounds": "GBP", "quid": "GBP", "gbp": "GBP", "grand": "GBP",
    "dollar": "USD", "dollars": "USD", "usd": "USD", "euro": "EUR", "euros": "EUR", "eur": "EUR",
}  # fmt: skip
_FACTORS = {
    "k": 1_000, "thousand": 1_000, "grand": 1_000, "m": 1_000_000, "mil": 1_000_000,
    "million": 1_000_000, "bn": 1_000_000_000, "billion": 1_000_000_000,
}  # fmt: skip
_MONEY = re.compile(
    rf"(?<![\w£$€])(?P<sym>£|\$|€|gbp|usd|eur)[ \t]?{_amount('')}(?![\w.,]\d|\w)"
    rf"|(?<![\w£$€.,]){_amount('2')}[ \t]?"
    r"(?P<unit>pounds?|quid|gbp|dollars?|usd|euros?|eur|grand)(?!\w)",
    re.IGNORECASE,
)


def find_money(text: str) -> list[Extracted]:
    found: list[Extracted] = []
    for match in _MONEY.finditer(text):
        tag = "" if match.group("sym") else "2"
        amount = Decimal(match.group("amount" + tag).replace(",", ""))
        if match.group("decimals" + tag):
            amount += Decimal("0." + match.group("decimals" + tag))
        multiplier = (match.group("mult" + tag) or "").lower()
        unit = (match.group("unit") or "").lower()
        if unit == "grand" and not multiplier:
            multiplier = "grand"
        amount *= _FACTORS.get(multiplier, 1)
        code = _SYMBOLS.get((match.group("sym") or "").lower()) or _UNITS[unit]
        found.append(
            Extracted(
                ItemKind.money,
                f"{code} {amount:.2f}",
                match.group(),
                match.start(),
                match.end(),
                0.9,
            )
        )
    return found
