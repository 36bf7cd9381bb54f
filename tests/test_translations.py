"""Every string a person can see exists in both the English and the Welsh catalogues."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).parent.parent
SOURCE = ROOT / "src" / "vigil"
CATALOGUES = SOURCE / "translations"
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {
    "**/templates/**.html": {
        "extensions": "jinja2.ext.i18n",
        "trim_blocks": "True",
        "lstrip_blocks": "True",
    }
}
KEYWORDS = {**DEFAULT_KEYWORDS, "said": None}  # vigil.web.said: refusals pages translate
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def source_messages() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(SOURCE), METHODS, OPTIONS, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def catalogue(lang: str) -> dict[str, str]:
    with open(CATALOGUES / lang / "LC_MESSAGES" / "messages.po", "rb") as handle:
        entries = read_po(handle)
    found = {}
    for m in entries:
        if not m.id or m.fuzzy:
            continue
        if isinstance(m.id, str) and isinstance(m.string, str):
            found[m.id] = m.string
        elif isinstance(m.id, (list, tuple)) and isinstance(m.string, (list, tuple)):
            forms = [str(s) for s in m.string]
            # every plural form must be filled; the key is the singular source text
            found[str(m.id[0])] = forms[0] if all(forms) else ""
    return found


@pytest.mark.parametrize("lang", ["en", "cy"])
def test_every_visible_string_is_translated(lang: str) -> None:
    messages = source_messages()
    assert len(messages) > 5
    entries = catalogue(lang)
    missing = sorted(m for m in messages if not entries.get(m))
    assert missing == [], f"{len(missing)} strings missing from {lang}: run `make messages`"


@pytest.mark.parametrize("lang", ["en", "cy"])
def test_translations_keep_their_placeholders(lang: str) -> None:
    for source, translated in catalogue(lang).items():
        assert set(PLACEHOLDER.findall(source)) == set(PLACEHOLDER.findall(translated)), source


def test_english_catalogue_is_the_source_text() -> None:
    assert all(source == text for source, text in catalogue("en").items())


def test_compiled_catalogues_match_the_sources() -> None:
    for lang in ("en", "cy"):
        mo = CATALOGUES / lang / "LC_MESSAGES" / "messages.mo"
        with open(mo, "rb") as handle:
            compiled = {
                str(m.id[0] if isinstance(m.id, (list, tuple)) else m.id): str(
                    m.string[0] if isinstance(m.string, (list, tuple)) else m.string
                )
                for m in read_mo(handle)
                if m.id
            }
        for source, text in catalogue(lang).items():
            assert compiled.get(source) == text, f"{mo} is stale: run `make translations`"
