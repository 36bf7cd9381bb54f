"""An item an analyst adds or corrects, normalised exactly as the extractors normalise theirs.

Clustering and linkage compare values, so "07700 900123" typed by an analyst must become the
"+447700900123" the extractors store, or the same phone is two identifiers. The normalisers
and the patterns that find each identifier are the extractors' own (``identifiers``); nothing
is redone here. A reporter's field value that does not validate is kept at half confidence
(the reporter meant it and cannot be asked again), but an analyst can retype: a value that is
not a phone, e-mail address, registration mark, postcode or web address is refused.
"""

from __future__ import annotations

from collections.abc import Callable

from vigil.triage.identifiers import (
    _EMAIL,
    _URL,
    _VRM,
    canonical_url,
    normalise_email,
    normalise_phone,
    normalise_postcode,
    normalise_vrm,
)
from vigil.triage.items import ItemKind
from vigil.web.said import Said, said


def _email(typed: str) -> str | None:
    value = normalise_email(typed)
    return value if _EMAIL.fullmatch(value) else None


def _vrm(typed: str) -> str | None:
    value = normalise_vrm(typed)
    return value if _VRM.fullmatch(value) else None


_IDENTIFIERS: dict[ItemKind, tuple[Callable[[str], str | None], Said]] = {
    ItemKind.phone: (normalise_phone, said("is not a phone number")),
    ItemKind.email: (_email, said("is not an e-mail address, for example jo@example.org")),
    ItemKind.vrm: (_vrm, said("is not a UK registration mark, for example AB12 CDE")),
    ItemKind.postcode: (normalise_postcode, said("is not a UK postcode, for example SW1A 1AA")),
}
_NOT_A_URL = said("is not a web address, for example https://example.org/page")


def analyst_value(kind: ItemKind, typed: str) -> tuple[str, str | None]:
    """(value, detail) as the extractors would have stored ``typed`` as a ``kind``: the
    detail is a web address's platform. Raises ``ValueError`` (its message marked) when
    ``typed`` is no such identifier. Other kinds are kept as typed."""
    typed = typed.strip()
    if kind is ItemKind.url:
        canonical = canonical_url(typed) if _URL.fullmatch(typed) else None
        if canonical is None:
            raise ValueError(_NOT_A_URL)
        return canonical
    if kind in _IDENTIFIERS:
        normalise, refusal = _IDENTIFIERS[kind]
        value = normalise(typed)
        if value is None:
            raise ValueError(refusal)
        return value, None
    return typed, None
