"""GOV.UK components rendered once per shape (vigil.web.components): the same HTML as the
macros, for any text a visitor could type, and nothing a visitor typed is ever kept."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from jinja2 import DictLoader, Environment, Undefined
from markupsafe import Markup, escape

from vigil.web import components
from vigil.web.components import Component, ComponentCache, Slot
from vigil.web.templating import env

MARKER = "QUOKKA-typed-by-a-visitor"
TYPED = [
    f"Mill Lane, Leeds {MARKER}",
    f"<script>alert(\"{MARKER}\")</script> & 'quoted'",
    f"   {MARKER} with spaces around   ",
    f"Line one {MARKER}\nLine two\r\nLine three\n",
    f"Caerdydd – ŵ ŷ 👀 {MARKER}",
    f"vgl000000000000s0e looks like a placeholder {MARKER}",
    f"{{{{ 7*7 }}}} {{% raw %}} %(name)s %s {MARKER}",
]
EMPTY: list[Any] = ["", None, Undefined()]


def _counter() -> dict[str, Any]:
    return {
        "textareaDescriptionText": "You can enter up to %{count} characters",
        "charactersUnderLimitText": {"one": "%{count} left", "other": "%{count} left"},
        "charactersAtLimitText": "None left",
        "charactersOverLimitText": {"one": "%{count} too many", "other": "%{count} too many"},
    }


# Parameters as the public templates build them, with the visitor's text in every slot.
BUILDERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "Input": lambda v: {
        "name": "postcode",
        "id": "postcode",
        "label": {"text": "Postcode (optional)", "classes": "govuk-label--s"},
        "hint": {"text": "For example, LS6 2QT"},
        "classes": "govuk-input--width-10",
        "value": v,
        "spellcheck": False,
    },
    "Textarea": lambda v: {
        "name": "address",
        "id": "address",
        "rows": 3,
        "label": {"text": "Address (optional)", "classes": "govuk-label--s"},
        "value": v,
    },
    "CharacterCount": lambda v: {
        "name": "description",
        "id": "description",
        "maxlength": 20000,
        "rows": 8,
        "label": {"text": "Describe what happened", "classes": "govuk-label--m"},
        "hint": {"text": "Tell us what you saw."},
        "value": v,
        **_counter(),
    },
    "DateInput": lambda v: {
        "id": "date",
        "namePrefix": "date",
        "fieldset": {"legend": {"text": "What date?", "isPageHeading": True}},
        "items": [
            {"name": "day", "label": "Day", "classes": "govuk-input--width-2", "value": v},
            {"name": "month", "label": "Month", "classes": "govuk-input--width-2", "value": "3"},
            {"name": "year", "label": "Year", "classes": "govuk-input--width-4", "value": v},
        ],
    },
    "SummaryList": lambda v: {
        "rows": [
            {
                "key": {"text": "Address"},
                "value": {"text": v},
                "actions": {"items": [{"href": "/x?return=check", "text": "Change"}]},
            },
            {
                "key": {"text": "Person 1"},
                "value": {"html": Markup("<br>").join([escape(v), "30s"]) if v else v},
            },
        ],
        "classes": "govuk-!-margin-bottom-9",
    },
    "Fieldset": lambda v: {
        "legend": {"text": "Link 1", "classes": "govuk-fieldset__legend--m"},
        "html": Markup('<input name="url-1" value="{}">').format(v) if v else v,
    },
}


@pytest.fixture
def cache() -> Iterator[ComponentCache]:
    yield ComponentCache(env)


def call(cache: ComponentCache, name: str, params: Any) -> tuple[str, str]:
    """(through the cache, straight from the macro)"""
    component = getattr(cache.govuk, name)
    return str(component(params)), str(component.macro()(params))


def kept_text(cache: ComponentCache) -> str:
    return repr(list(cache.shapes.items()))


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_each_component_renders_what_its_macro_renders_for_any_typed_text(
    cache: ComponentCache, name: str
) -> None:
    for value in [*TYPED, *EMPTY, *TYPED]:  # the second round comes from kept shapes
        cached, direct = call(cache, name, BUILDERS[name](value))
        assert cached == direct, (name, value)
    assert cache.hits > 0


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_nothing_a_visitor_typed_is_kept(cache: ComponentCache, name: str) -> None:
    for value in TYPED:
        call(cache, name, BUILDERS[name](value))
    assert cache.shapes
    assert MARKER not in kept_text(cache)


def test_one_shape_serves_every_value_typed_into_it(cache: ComponentCache) -> None:
    for value in ("one", "two", "three", "<four>"):
        call(cache, "Input", BUILDERS["Input"](value))
    assert len(cache.shapes) == 1
    assert cache.hits == 4


def test_a_call_with_an_error_message_is_rendered_by_the_macro_and_not_kept(
    cache: ComponentCache,
) -> None:
    params = BUILDERS["Input"]("LS6")
    params["errorMessage"] = {"text": f"The file {MARKER}.pdf is too large"}
    cached, direct = call(cache, "Input", params)
    assert cached == direct
    assert "govuk-input--error" in cached
    assert (cache.shapes, cache.direct_calls) == ({}, 1)


def test_radios_are_kept_only_for_a_value_among_their_items(cache: ComponentCache) -> None:
    def radios(value: str) -> dict[str, Any]:
        items = [{"value": "yes", "text": "Yes"}, {"value": "no", "text": "No"}]
        return {
            "name": "add",
            "fieldset": {"legend": {"text": "Add?"}},
            "items": items,
            "value": value,
        }

    for value in ("yes", "no", ""):
        cached, direct = call(cache, "Radios", radios(value))
        assert cached == direct
    assert 'value="yes" checked' in call(cache, "Radios", radios("yes"))[0]
    kept = len(cache.shapes)
    cached, direct = call(cache, "Radios", radios(MARKER))  # a posted value no item has
    assert cached == direct
    assert len(cache.shapes) == kept
    assert MARKER not in kept_text(cache)


def test_a_line_break_where_the_macro_would_indent_it_is_rendered_by_the_macro(
    cache: ComponentCache,
) -> None:
    cached, direct = call(cache, "DateInput", BUILDERS["DateInput"]("1\n2"))
    assert cached == direct
    assert cache.direct_calls == 1


def test_a_slot_the_macro_changes_is_never_filled_in_afterwards() -> None:
    shouting = Environment(
        loader=DictLoader(
            {
                "shout.html": "{% macro govukShout(params) %}<p>{{ params.value | upper }}</p>"
                "{% endmacro %}"
            }
        ),
        autoescape=True,
    )
    cache = ComponentCache(shouting, (Component("govukShout", "shout.html", (Slot(("value",)),)),))
    assert str(cache.govuk.Shout({"value": "quiet"})) == "<p>QUIET</p>"
    assert str(cache.govuk.Shout({"value": "calm"})) == "<p>CALM</p>"
    assert cache.direct_calls == 2


def test_kept_shapes_are_bounded(cache: ComponentCache, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(components, "MAX_SHAPES", 3)
    for n in range(10):
        cached, direct = call(cache, "Button", {"text": f"Button {n}"})
        assert cached == direct
    assert 0 < len(cache.shapes) <= 3


def test_turned_off_every_call_is_the_macro(cache: ComponentCache) -> None:
    cache.enabled = False
    cached, direct = call(cache, "Button", {"text": "Continue"})
    assert cached == direct
    assert cache.shapes == {}


def test_line_breaks_are_what_jinjas_indent_splits_lines_on() -> None:
    for code in range(0x3000):
        char = chr(code)
        splits = len(f"a{char}b".splitlines()) > 1
        assert bool(components._BREAKS.search(char)) == splits, hex(code)
