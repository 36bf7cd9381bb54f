"""Refusals that can be said in the page's language.

A service refuses in English: the API answers in English, and the same words reach a staff or
public page. A :class:`Said` is that English text which also remembers its catalogue template
and the values put into it, so a Welsh page can look the template up and fill it in Welsh.
``said()`` is the marker ``make messages`` extracts (as it does ``_``), and ``spoken()`` turns
any refusal text, marked or not, into the page's language.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Gettext = Callable[..., str]


class Said(str):
    """English text (a plain ``str`` to everything else) with its template and values kept."""

    template: str
    values: dict[str, Any]

    def __new__(cls, template: str, values: dict[str, Any]) -> Said:
        text = super().__new__(cls, template % values if values else template)
        text.template = template
        text.values = values
        return text


def said(template: str, **values: Any) -> Said:
    """Mark a refusal for translation: ``said("No team called %(team)s.", team=name)``.

    A value that is itself ``said(...)`` (a record's kind, say) is translated in turn; any other
    value is data (a name someone typed) and is put in as it is."""
    return Said(template, values)


def spoken(gettext: Gettext, text: str) -> str:
    """``text`` in the language of ``gettext``: a marked text through its template, any other
    through the catalogue as it stands (English when the catalogue does not know it)."""
    if isinstance(text, Said):
        values = {
            k: spoken(gettext, v) if isinstance(v, Said) else v for k, v in text.values.items()
        }
        return gettext(text.template, **values)
    return gettext(text) if text else text
