"""The rule every piece of typed text follows, the public's and staff's alike.

NFC-normalised; control characters, surrogates, private-use characters and non-characters
refused; text-direction controls refused (they can disguise what an analyst reads) and hidden
tag characters refused outside an emoji flag; invisible characters kept where real writing
needs them but never counted toward a minimum length, and trimmed from the ends like spaces.
Intake's report schema and triage's staff forms both use it, so one rule holds everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

from vigil.web.said import said

# Control characters (category Cc, but tab and line breaks) and surrogates (Cs); then private
# use (Co) and the two non-characters. Regular expressions scan 2 KB far faster than a loop.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_NON_CHARACTER = re.compile("[\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd\ufffe\uffff]")

# Invisible format characters (Unicode's default-ignorable code points) come in three kinds.
# Embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) change the order text is
# shown in, so what an analyst reads can differ from what was sent ("Trojan Source"): refused.
# The implicit marks (LRM, RLM, ALM) are the safe way to mix Arabic or Hebrew with Latin and
# are kept. Tag characters are refused unless they spell an emoji flag (Wales, Scotland,
# England): elsewhere they carry hidden text. The rest are kept (ZWJ joins emoji and Indic
# letters, ZWNJ shapes Persian, ZWSP breaks Thai and Khmer lines), but none counts towards a
# minimum length, and those that stand alone are stripped from the ends like spaces.
_BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")
_TAG = re.compile("[\U000e0000-\U000e007f]")
_EMOJI_TAG_SEQUENCE = re.compile("\U0001f3f4[\U000e0020-\U000e007e]{1,32}\U000e007f")
_STANDALONE_INVISIBLE = (
    "\u00ad\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064"
    "\u206a\u206b\u206c\u206d\u206e\u206f\u3164\ufeff\uffa0"
)
_ATTACHED_INVISIBLE = (  # marks that modify the character before them
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f"
    + "".join(map(chr, range(0xFE00, 0xFE10)))
    + "".join(map(chr, range(0xE0020, 0xE0080)))
    + "".join(map(chr, range(0xE0100, 0xE01F0)))
)
_INVISIBLE = re.compile(f"[{_STANDALONE_INVISIBLE}{_ATTACHED_INVISIBLE}]")
_SPACES = "".join(c for c in map(chr, range(0x3001)) if c.isspace())  # U+3000 is the last
_LEADING = _SPACES + _STANDALONE_INVISIBLE + _ATTACHED_INVISIBLE  # nothing before to modify
_TRAILING = _SPACES + _STANDALONE_INVISIBLE


def visible_length(value: str) -> int:
    """How many characters of ``value`` show: zero-width and other invisible ones do not."""
    if value.isascii():
        return len(value)
    return len(value) - sum(1 for _ in _INVISIBLE.finditer(value))


def clean_text(value: str) -> str:
    if not unicodedata.is_normalized("NFC", value):
        value = unicodedata.normalize("NFC", value)
    if bad := _CONTROL.search(value):
        raise ValueError(
            said("contains a control character (U+%(code)s)", code=format(ord(bad.group()), "04X"))
        )
    if bad := _NON_CHARACTER.search(value):
        raise ValueError(
            said("contains a non-character (U+%(code)s)", code=format(ord(bad.group()), "04X"))
        )
    if value.isascii():
        return value.strip()
    if bad := _BIDI_CONTROL.search(value):
        raise ValueError(
            said(
                "contains a text direction control (U+%(code)s), which can disguise text",
                code=format(ord(bad.group()), "04X"),
            )
        )
    if _TAG.search(value) and (bad := _TAG.search(_EMOJI_TAG_SEQUENCE.sub("", value))):
        raise ValueError(
            said(
                "contains a hidden tag character (U+%(code)s)", code=format(ord(bad.group()), "04X")
            )
        )
    return value.lstrip(_LEADING).rstrip(_TRAILING)


def single_line(value: str) -> str:
    value = clean_text(value)
    if "\n" in value or "\r" in value:
        raise ValueError(said("must be a single line"))
    return value


Text = Annotated[str, AfterValidator(clean_text)]
Line = Annotated[str, AfterValidator(single_line)]
