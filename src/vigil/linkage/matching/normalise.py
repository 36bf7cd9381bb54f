"""Person records → the normalised columns the matching model compares.

Two paths share one set of per-value functions, so they cannot disagree: ``prepare_person``
for one record (online matching, the lead's store) and ``prepare_people`` for millions
(batch), which applies each function once per *distinct* value of a column with Arrow and
maps the results back — a million people have far fewer distinct names, towns and dates
than rows. Values as the source wrote them are never changed; these columns exist only to
be compared. Protected characteristics are never columns (principle 3).

Dates of birth are read in ISO form or "as people write them". Ambiguous numeric dates are
read the UK way, day first (03/04/1985 is 3 April 1985); only when the first number cannot
be a day-of-month-first reading (04/13/1985) is it read month first. Two-digit years are
20xx when that is not in the future, else 19xx.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import lru_cache
from typing import Any

import phonenumbers

from vigil.linkage.matching.names import first_name_variants, phonetic, surname_keys
from vigil.linkage.records import PersonRecord

PREPARED_COLUMNS: tuple[str, ...] = (
    "id",
    "first_name",
    "last_name",
    "first_name_variants",
    "last_name_keys",
    "first_name_phonetic",
    "last_name_phonetic",
    "dob",
    "birth_year",
    "postcode",
    "postcode_sector",
    "postcode_outward",
    "address",
    "address_tokens",
    "address_key",
    "town",
    "phone",
    "email",
    "id_number",
)
"""The prepared columns, in order; arrays are Python lists in a prepared dict."""
LIST_COLUMNS = frozenset({"first_name_variants", "last_name_keys", "address_tokens"})
"""The prepared columns that hold lists of strings (the others hold one string or null)."""

_CACHE = 1 << 18
_FOLD = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe",
     "Œ": "OE", "đ": "d", "Đ": "D", "ı": "i", "þ": "th", "Þ": "Th", "ð": "d", "Ð": "D"}
)  # fmt: skip
_APOSTROPHES = re.compile(r"['’‘`´]")
_NOT_LETTERS = re.compile(r"[^a-z]+")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_NOT_ALNUM_UPPER = re.compile(r"[^A-Z0-9]+")


def ascii_fold(value: str) -> str:
    """Accents off and a few letters NFKD cannot decompose spelled out (Łódź → Lodz)."""
    decomposed = unicodedata.normalize("NFKD", value.translate(_FOLD))
    return decomposed.encode("ascii", "ignore").decode("ascii")


@lru_cache(maxsize=_CACHE)
def clean_name(value: str | None) -> str | None:
    """Lower-case ASCII letters and single spaces: O'Brien → obrien, Smith-Jones → smith
    jones, José → jose. Empty → None (SQL NULL), never ""."""
    if not value:
        return None
    text = _APOSTROPHES.sub("", ascii_fold(value).lower())
    text = " ".join(_NOT_LETTERS.sub(" ", text).split())
    return text or None


# Dates of birth ------------------------------------------------------------------------

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[t ].*)?$")
_COMPACT = re.compile(r"^(\d{8})$")
_NUMERIC = re.compile(r"^(\d{1,2})[-/. ](\d{1,2})[-/. ](\d{2}|\d{4})$")
_DAY_MONTH_NAME = re.compile(
    rf"^(\d{{1,2}})(?:st|nd|rd|th)?[\s,./-]*(?:of\s+)?({_MONTH_RE})\.?[\s,./-]*(\d{{2}}|\d{{4}})$"
)
_MONTH_NAME_DAY = re.compile(
    rf"^({_MONTH_RE})\.?[\s,./-]*(\d{{1,2}})(?:st|nd|rd|th)?[\s,./-]+(\d{{2}}|\d{{4}})$"
)
_EARLIEST_YEAR = 1880


def _full_year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        this_year = date.today().year
        year += 2000 if year <= this_year % 100 else 1900
    return year


def _iso(year: int, month: int, day: int, *, may_swap: bool) -> str | None:
    """An ISO date string, or None when the numbers cannot be a date of birth.

    An impossible day for a real month (30 February) is kept: it is a typo of a real date,
    and the model's Damerau-Levenshtein level can still compare it.
    """
    if may_swap and month > 12 and 1 <= day <= 12:
        month, day = day, month
    if not (_EARLIEST_YEAR <= year <= date.today().year and 1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


@lru_cache(maxsize=_CACHE)
def parse_date_of_birth(value: str | None) -> str | None:
    """ISO ``YYYY-MM-DD`` from 1985-04-03, 19850403, 3/4/1985, 03.04.85, 3 April 1985,
    April 3rd 1985…; None when it cannot be read as a plausible date of birth."""
    if not value:
        return None
    text = " ".join(value.strip().lower().split())
    if match := _ISO.match(text):
        return _iso(int(match[1]), int(match[2]), int(match[3]), may_swap=False)
    if match := _COMPACT.match(text):
        digits = match[1]
        as_ymd = _iso(int(digits[:4]), int(digits[4:6]), int(digits[6:]), may_swap=False)
        if as_ymd is not None:
            return as_ymd
        return _iso(int(digits[4:]), int(digits[2:4]), int(digits[:2]), may_swap=True)
    if match := _NUMERIC.match(text):
        return _iso(_full_year(match[3]), int(match[2]), int(match[1]), may_swap=True)
    if match := _DAY_MONTH_NAME.match(text):
        return _iso(_full_year(match[3]), _MONTHS[match[2]], int(match[1]), may_swap=False)
    if match := _MONTH_NAME_DAY.match(text):
        return _iso(_full_year(match[3]), _MONTHS[match[1]], int(match[2]), may_swap=False)
    return None


def birth_year(dob: str | None) -> str | None:
    """The year of an ISO date of birth, for blocking on typo'd days and months."""
    return dob[:4] if dob else None


# Postcodes, addresses, towns ------------------------------------------------------------

_UK_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9])([A-Z]{2})$")


@lru_cache(maxsize=_CACHE)
def split_postcode(value: str | None) -> tuple[str | None, str | None, str | None]:
    """(postcode, sector, outward code): "sw1a1aa" → ("SW1A 1AA", "SW1A 1", "SW1A").

    A code that is not a UK postcode (FEBRL's Australian 2615) is kept upper-case without
    spaces, with no sector or outward code.
    """
    if not value:
        return None, None, None
    compact = _NOT_ALNUM_UPPER.sub("", value.upper())
    if not compact:
        return None, None, None
    if match := _UK_POSTCODE.match(compact):
        outward, sector_digit, unit = match[1], match[2], match[3]
        return f"{outward} {sector_digit}{unit}", f"{outward} {sector_digit}", outward
    return compact, None, None


_ADDRESS_WORDS = {
    "rd": "road",
    "ave": "avenue",
    "av": "avenue",
    "ln": "lane",
    "dr": "drive",
    "cres": "crescent",
    "cl": "close",
    "ct": "court",
    "pl": "place",
    "sq": "square",
    "gdns": "gardens",
    "gr": "grove",
    "tce": "terrace",
    "terr": "terrace",
    "blvd": "boulevard",
    "cresc": "crescent",
    "gdn": "gardens",
    "grv": "grove",
    "wlk": "walk",
    "pk": "park",
    "hse": "house",
    "apt": "flat",
    "apartment": "flat",
    "bldg": "building",
    "nth": "north",
    "sth": "south",
    "mt": "mount",
}
_GENERIC_ADDRESS_WORDS = frozenset(
    {
        "road",
        "street",
        "avenue",
        "lane",
        "drive",
        "crescent",
        "close",
        "court",
        "place",
        "square",
        "gardens",
        "grove",
        "terrace",
        "park",
        "house",
        "flat",
        "way",
        "walk",
        "view",
        "the",
        "of",
        "and",
        "building",
        "north",
        "south",
        "east",
        "west",
        "upper",
        "lower",
    }
)


def _clean_place(value: str | None) -> list[str]:
    if not value:
        return []
    words = _NOT_ALNUM.sub(" ", _APOSTROPHES.sub("", ascii_fold(value).lower())).split()
    cleaned = []
    for position, word in enumerate(words):
        if word == "st":
            # "St Albans", "St John's Road": saint first; "High St": street after a name.
            word = "saint" if position < len(words) - 1 else "street"
        cleaned.append(_ADDRESS_WORDS.get(word, word))
    return cleaned


@lru_cache(maxsize=_CACHE)
def clean_address(value: str | None) -> tuple[str | None, tuple[str, ...] | None]:
    """(cleaned address, its distinctive tokens): "12a, Acacia Rd." → ("12a acacia road",
    ("12a", "acacia")). Street-type words are not distinctive and are left out of tokens."""
    words = _clean_place(value)
    if not words:
        return None, None
    tokens = tuple(sorted({w for w in words if w not in _GENERIC_ADDRESS_WORDS}))
    return " ".join(words), tokens or None


@lru_cache(maxsize=_CACHE)
def address_key(address: str | None) -> str | None:
    """House number and the word after it ("flat 3 12 acacia road" → "12 acacia"), or the
    first two words when there is no number: the part of an address that survives
    different spellings of the rest, for blocking."""
    if not address:
        return None
    words = address.split()
    for i in range(len(words) - 2, -1, -1):
        if any(c.isdigit() for c in words[i]) and not any(c.isdigit() for c in words[i + 1]):
            return f"{words[i]} {words[i + 1]}"
    return " ".join(words[:2]) if len(words) > 1 else None


@lru_cache(maxsize=_CACHE)
def clean_town(value: str | None) -> str | None:
    """Lower-case words, St → saint: "St. Albans" and "Saint Albans" are one town."""
    return " ".join(_clean_place(value)) or None


# Contact details and identifiers --------------------------------------------------------

_NOT_DIGITS = re.compile(r"\D+")


def normalise_phone(value: str | None) -> str | None:
    """E.164 (+447700900123) as the phonenumbers library formats it for region GB.

    The common UK shapes (07700 900123, +44 7700 900123, 0044…) take a fast path that gives
    the library's answer without its cost (a million distinct numbers would take most of a
    minute); anything else goes to the library. A number it cannot read as possible is None.
    """
    if not value:
        return None
    text = value.strip()
    digits = _NOT_DIGITS.sub("", text)
    if not digits:
        return None
    plain = text[0].isdigit() and all(c.isdigit() or c in " -()" for c in text)
    if plain and len(digits) == 11 and digits[0] == "0" and digits[1] in "1237":
        return "+44" + digits[1:]
    if plain and len(digits) == 14 and digits.startswith("0044") and digits[4] in "1237":
        return "+" + digits[2:]
    if (
        text.startswith("+")
        and all(c.isdigit() or c in " -()" for c in text[1:])
        and len(digits) == 12
        and digits.startswith("44")
        and digits[2] in "1237"
        and "(" not in text
    ):
        return "+" + digits
    return _library_phone(text)


@lru_cache(maxsize=_CACHE)
def _library_phone(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, "GB")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(value: str | None) -> str | None:
    """Trimmed and lower-cased; None when it has no ``@`` with something either side."""
    if not value:
        return None
    text = value.strip().lower()
    local, at, domain = text.partition("@")
    if not at or not local or not domain or " " in text:
        return None
    return text


def clean_id_number(value: str | None) -> str | None:
    """Upper-case letters and digits only (QQ 12 34 56 C → QQ123456C); under 3 → None."""
    if not value:
        return None
    text = _NOT_ALNUM_UPPER.sub("", value.upper())
    return text if len(text) >= 3 else None


# One record -----------------------------------------------------------------------------


def as_list(values: tuple[str, ...] | None) -> list[str] | None:
    return list(values) if values is not None else None


def prepare_person(record: PersonRecord) -> dict[str, Any]:
    """The prepared columns of one person (JSON-able: strings, lists of strings, None)."""
    first = clean_name(record.first_name)
    last = clean_name(record.last_name)
    postcode, sector, outward = split_postcode(record.postcode)
    address, tokens = clean_address(record.address)
    dob = parse_date_of_birth(record.date_of_birth)
    return {
        "id": record.id,
        "first_name": first,
        "last_name": last,
        "first_name_variants": as_list(first_name_variants(first)),
        "last_name_keys": as_list(surname_keys(last)),
        "first_name_phonetic": phonetic(first),
        "last_name_phonetic": phonetic(last),
        "dob": dob,
        "birth_year": birth_year(dob),
        "postcode": postcode,
        "postcode_sector": sector,
        "postcode_outward": outward,
        "address": address,
        "address_tokens": as_list(tokens),
        "address_key": address_key(address),
        "town": clean_town(record.town),
        "phone": normalise_phone(record.phone),
        "email": normalise_email(record.email),
        "id_number": clean_id_number(record.id_number),
    }
