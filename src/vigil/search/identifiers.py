"""Identifiers in every spelling a reader may type: the system's own and the usual others.

Triage, linkage, alerts and subject pages show an identifier in its normalised form (a plate
as ``MN73VOX``, a phone as ``+447700900123``, a postcode as ``LS6 2QT``), while a report
holds it as its reporter typed it ("MN73 VOX", "07700 900123", "ls62qt"). The full-text
index cuts text into words, so "MN73 VOX" is two words and ``MN73VOX`` one, and a reader
following an alert's plate would miss the report that raised it. A document therefore also
carries each identifier it holds in the forms below, where the text does not already hold
them, so that any of them finds it:

- a vehicle mark: without spaces, and spaced as the DVLA prints it (``MN73 VOX``);
- a phone number: E.164 with and without its "+" (PostgreSQL keeps the sign on the word,
  FTS5 drops it) and the national form, spaced and not (``07700 900123``, ``07700900123``);
- an e-mail address: as triage normalises it (``jo@example.org`` for "jo [at] example.org");
- a postcode: with its one space and without (``LS6 2QT``, ``LS62QT``).

Identifiers are found with triage's own extractors (``vigil.triage.identifiers``), so a
document carries the same values triage, linkage and their alerts show; the extra words are
derived from the record's own text and disclose nothing the record does not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import phonenumbers

from vigil.triage.identifiers import (
    find_emails,
    find_phones,
    find_postcodes,
    find_vrms,
    normalise_email,
    normalise_phone,
    normalise_postcode,
    normalise_vrm,
)

# DVLA layouts whose printed plate has one space: current (AB12 CDE), prefix (A123 BCD),
# suffix (ABC 123D). Dateless marks are printed in too many ways to pick one.
_SPACED_VRM = (
    re.compile(r"^([A-Z]{2}[0-9]{2})([A-Z]{3})$"),
    re.compile(r"^([A-Z][0-9]{1,3})([A-Z]{3})$"),
    re.compile(r"^([A-Z]{3})([0-9]{1,3}[A-Z])$"),
)
_COMPACT_VRM = re.compile(r"^[A-Z0-9]{2,10}$")


def vrm_spellings(value: str) -> list[str]:
    """A registration mark without spaces and, for the DVLA's spaced layouts, with its
    space; nothing when it is no mark."""
    compact = normalise_vrm(value)
    if not _COMPACT_VRM.match(compact):
        return []
    forms = [compact]
    for layout in _SPACED_VRM:
        if match := layout.match(compact):
            forms.append(f"{match.group(1)} {match.group(2)}")
            break
    return forms


def phone_spellings(value: str) -> list[str]:
    """A phone number as E.164 (with and without "+") and in its national form, spaced and
    not; nothing when it is no phone number."""
    e164 = normalise_phone(value)
    if e164 is None:
        return []
    national = phonenumbers.format_number(
        phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.NATIONAL
    )
    digits = "".join(ch for ch in national if ch.isdigit())
    return [e164, e164.lstrip("+"), national, digits]


def email_spellings(value: str) -> list[str]:
    address = normalise_email(value)
    return [address] if "@" in address else []


def postcode_spellings(value: str) -> list[str]:
    """A postcode with its one space and without; nothing when it is no postcode."""
    postcode = normalise_postcode(value)
    if postcode is None:
        return []
    return [postcode, postcode.replace(" ", "")]


def in_text(text: str) -> list[str]:
    """Every spelling of each phone, e-mail address, vehicle mark and postcode that triage
    finds in ``text``."""
    forms: list[str] = []
    for item in find_phones(text):
        forms += phone_spellings(item.value)
    for item in find_emails(text):
        forms += email_spellings(item.value)
    for item in find_vrms(text):
        forms += vrm_spellings(item.value)
    for item in find_postcodes(text):
        forms += postcode_spellings(item.value)
    return forms


def missing_from(text: str, forms: Iterable[str]) -> str:
    """The forms ``text`` does not already hold as whole words (ignoring case), once each,
    as one line for the end of a document ("" when none is missing)."""
    missing: list[str] = []
    seen: set[str] = set()
    for form in forms:
        key = form.casefold()
        if not form or key in seen:
            continue
        seen.add(key)
        pattern = rf"(?<![\w+]){re.escape(form)}(?![\w])"
        if re.search(pattern, text, re.IGNORECASE) is None:
            missing.append(form)
    return " ".join(missing)
