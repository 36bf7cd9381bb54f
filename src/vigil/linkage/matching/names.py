"""Name variants: nicknames, transliterations and the parts of double-barrelled surnames.

People are recorded under the name they gave that day: Bob for Robert, Liz for Elizabeth,
Mohamed for Muhammad, Smith for Smith-Jones. An exact comparison calls those different
people; a string distance calls Bob and Robert strangers and Bob and Rob near-twins. So
each name is expanded into a small set of keys and two names are "variants" when their sets
share a key — a test that works the same in Python, DuckDB and Spark (array intersection).

The keys of a first name are the name itself, the canonical forms the ``nicknames``
package gives for it (bob → robert) and the key of its transliteration group
(mohamed → muhammad, from ``data/transliterations.yaml``). Canonicals only, never all
nicknames of a canonical, so Albert and Alfred do not become variants through "Al".

Inputs are names already cleaned by ``normalise.clean_name`` (lower-case ASCII letters and
single spaces); every function here is cached because a million people share a few
thousand first names.
"""

from __future__ import annotations

from functools import cache, lru_cache
from importlib import resources

import jellyfish
import yaml
from nicknames import NickNamer

SURNAME_PARTICLES = frozenset(
    {
        "al",
        "el",
        "bin",
        "ibn",
        "bint",
        "abu",
        "van",
        "von",
        "der",
        "den",
        "de",
        "da",
        "del",
        "della",
        "di",
        "du",
        "le",
        "la",
        "mc",
        "mac",
        "st",
        "ul",
        "ud",
    }
)
"""Surname parts too common to say two surnames share anything (al, van, de…)."""

_CACHE_SIZE = 1 << 18


@cache
def transliteration_groups() -> dict[str, str]:
    """Every spelling in the packaged groups → the key of its group (its first spelling).

    A spelling listed in two groups would make the variant relation depend on file order,
    so the file is refused rather than silently half-used.
    """
    text = resources.files("vigil.linkage").joinpath("data/transliterations.yaml").read_text()
    data = yaml.safe_load(text)
    keys: dict[str, str] = {}
    for group in data["groups"]:
        spellings = [str(s) for s in group]
        for spelling in spellings:
            if spelling in keys:
                raise ValueError(f"transliterations.yaml lists {spelling!r} in two groups")
            keys[spelling] = spellings[0]
    return keys


@cache
def _nicknamer() -> NickNamer:
    return NickNamer()


@lru_cache(maxsize=_CACHE_SIZE)
def first_name_variants(first_name: str | None) -> tuple[str, ...] | None:
    """Sorted keys of a cleaned first name; two names are variants when these intersect.

    A multi-word first name ("mary ann") contributes its whole form and its first word.
    """
    if not first_name:
        return None
    forms = {first_name}
    words = first_name.split()
    if len(words) > 1:
        forms.add(words[0])
    keys: set[str] = set()
    translit = transliteration_groups()
    nicknamer = _nicknamer()
    for form in forms:
        keys.add(form)
        keys.update(c for c in nicknamer.canonicals_of(form) if c.isascii())
        if form in translit:
            keys.add(translit[form])
    return tuple(sorted(keys))


@lru_cache(maxsize=_CACHE_SIZE)
def surname_keys(last_name: str | None) -> tuple[str, ...] | None:
    """Sorted keys of a cleaned surname: its whole form without spaces, each meaningful part
    and each part's transliteration key, so Smith-Jones ~ Smith ~ Jones, Mc Donald ~
    McDonald and Chaudhry ~ Choudhury."""
    if not last_name:
        return None
    translit = transliteration_groups()
    keys = {last_name.replace(" ", "")}
    for part in last_name.split():
        if len(part) < 2 or part in SURNAME_PARTICLES:
            continue
        keys.add(part)
        if part in translit:
            keys.add(translit[part])
    whole = last_name.replace(" ", "")
    if whole in translit:
        keys.add(translit[whole])
    return tuple(sorted(keys))


@lru_cache(maxsize=_CACHE_SIZE)
def phonetic(name: str | None) -> str | None:
    """Metaphone code of a cleaned name (spaces removed): Smith and Smyth share SM0."""
    if not name:
        return None
    code = jellyfish.metaphone(name.replace(" ", ""))
    return code or None
