"""GOV.UK Frontend components for the public pages, each rendered once per shape and reused.

govuk-frontend-jinja's macros were most of a public page's cost: a question page ran about
17,000 Python calls in nested macros, imports, ``indent`` filters and attribute loops,
1-3.5 ms of CPU, while the page around them costs well under a millisecond. With 8 visitors
on 2 cores that alone broke the 30 ms p95 target. A macro's output is a pure function of its
parameters, so each call's output is kept and reused, keyed by the parameters.

What a visitor typed must never be kept (answers in progress live only sealed in the
database and expire; a process-wide cache would outlive both), so:

* each component declares its *slots*: the parameters that may hold the visitor's text (an
  input's value, a summary row's value). Before the macro runs, a slot's text is replaced
  by a placeholder; what is kept is the page's own markup with placeholders, and every use
  fills them in, escaped exactly as the macro escapes them. The visitor's text is never
  part of a key or of a kept output;
* a call with an error message is never kept (an error may quote what was typed), and the
  error summary and the confirmation panel (reference and follow-up code) are not
  components here at all: templates import those macros directly;
* radios are kept only when the chosen value is one of their own items (or none), so a
  posted value never becomes part of a key;
* anything not understood (a value of an unexpected type, a multi-line value where the
  macro would indent it, a placeholder the macro did not print as given) is rendered by the
  macro itself, every time.

The kept outputs depend only on the templates and the catalogues, which are read once per
process (``auto_reload`` is off), so there is nothing to invalidate. The number of shapes is
bounded by the templates; ``MAX_SHAPES`` still bounds memory should a template pass
something unbounded. Tests render every public page with and without this cache and require
identical HTML (``tests/web/test_components.py``, ``tests/intake/test_page_rendering.py``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

from jinja2 import Environment, Undefined
from jinja2.filters import do_indent
from markupsafe import Markup, escape

MAX_SHAPES = 2048
_NONCE = secrets.token_hex(6)
_PLACEHOLDER = re.compile(f"vgl{_NONCE}s([0-9]+)e")


def _placeholder(index: int) -> str:
    """Letters and digits only: escaping, ``trim`` and ``safe`` leave it as it is."""
    return f"vgl{_NONCE}s{index}e"


def _text(value: Any) -> Markup:
    """``{{ value }}`` under autoescape."""
    return escape(value)


def _safe(value: Any) -> Markup:
    """``{{ value | safe }}``: the template already marked it as markup."""
    return Markup(value)  # noqa: S704 - the same trust as the macro's own `| safe`


def _safe_trim_indent6(value: Any) -> Markup:
    """``{{ value | safe | trim | indent(6) }}`` (a summary list row's HTML value), with
    Jinja's own ``indent`` filter, which keeps Markup as Markup."""
    return cast(Markup, do_indent(_safe(value).strip(), 6))


@dataclass(frozen=True)
class Slot:
    """A parameter that may hold the visitor's text. ``path`` is a list of keys, ``*``
    for every item of a list; ``fill`` turns the value into what the macro prints in its
    place; ``multiline`` says whether the macro prints it without indenting line breaks."""

    path: tuple[str, ...]
    fill: Callable[[Any], Markup] = _text
    multiline: bool = False


@dataclass(frozen=True)
class Component:
    name: str
    template: str
    slots: tuple[Slot, ...] = ()
    choice: bool = False  # radios: kept only when "value" is one of the items' values


def _component(name: str, folder: str, *slots: Slot, choice: bool = False) -> Component:
    path = f"govuk_frontend_jinja/components/{folder}/macro.html"
    return Component(name, path, slots, choice)


# Only slots may carry what a visitor typed; every other parameter must be the page's own
# (labels, hints, ids, links). A template that passes typed text anywhere else imports the
# macro itself. tests/intake/test_page_rendering.py types a marker into every field of the
# public journeys and checks that no kept shape holds it.
COMPONENTS = (
    _component("govukBackLink", "back-link"),
    _component("govukButton", "button"),
    _component("govukCharacterCount", "character-count", Slot(("value",), multiline=True)),
    _component("govukDateInput", "date-input", Slot(("items", "*", "value"))),
    _component("govukDetails", "details"),
    # A fieldset's html is markup rendered around the visitor's answers (links page).
    _component("govukFieldset", "fieldset", Slot(("html",), _safe, multiline=True)),
    _component("govukFileUpload", "file-upload"),
    _component("govukInput", "input", Slot(("value",))),
    _component("govukInsetText", "inset-text"),
    _component("govukNotificationBanner", "notification-banner"),
    _component("govukRadios", "radios", choice=True),
    _component("govukServiceNavigation", "service-navigation"),
    _component("govukSkipLink", "skip-link"),
    _component(
        "govukSummaryList",
        "summary-list",
        Slot(("rows", "*", "value", "text"), multiline=True),
        Slot(("rows", "*", "value", "html"), _safe_trim_indent6, multiline=True),
    ),
    _component("govukTextarea", "textarea", Slot(("value",), multiline=True)),
    _component("govukWarningText", "warning-text"),
)


class Uncacheable(Exception):
    """This call is rendered by the macro itself."""


def _freeze(value: Any) -> Hashable:
    """A key for parameters. Types matter where the output differs though Python calls
    the values equal: Markup is not escaped, True is not 1, 1.0 is not 1. Exact type checks
    first: templates pass plain dicts, lists and strings, and ABC checks are slow."""
    kind = type(value)
    if kind is str or value is None or kind is int:
        return cast(Hashable, value)
    if kind is dict:
        if not all(type(k) is str for k in value):
            raise Uncacheable
        return ("d", *[(k, _freeze(v)) for k, v in value.items()])
    if kind is list or kind is tuple:
        return ("l", *[_freeze(v) for v in value])
    if kind is Markup:
        return ("m", str(value))
    if kind is bool or kind is float:
        return (kind.__name__, value)
    if isinstance(value, Undefined):
        return ("u",)
    raise Uncacheable  # a subclass of dict or str, or an object: not a shape this cache knows


# What str.splitlines (and so Jinja's indent filter) splits lines on.
_BREAKS = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_Paths = tuple[tuple[tuple[str, ...], Slot], ...]


class _Hollow:
    """One pass over a call's parameters, following only the slots' paths: the key, the
    parameters to render the shape with (a slot's text replaced by a placeholder; copies
    only along the slots' paths) and the fills, in placeholder order."""

    def __init__(self, params: Any, slots: tuple[Slot, ...]) -> None:
        self.fills: list[Markup] = []
        self.key, self.params = self.visit(params, tuple((s.path, s) for s in slots))

    def visit(self, value: Any, paths: _Paths) -> tuple[Hashable, Any]:
        if not paths:
            return _freeze(value), value
        for path, slot in paths:
            if not path:
                return self.hollow(value, slot)
        kind = type(value)
        if kind is dict:
            frozen: list[Hashable] = ["d"]
            copy: dict[str, Any] = {}
            for k, v in value.items():
                if type(k) is not str:
                    raise Uncacheable
                frozen_v, copy[k] = self.visit(v, tuple((p[1:], s) for p, s in paths if p[0] == k))
                frozen.append((k, frozen_v))
            return tuple(frozen), copy
        if kind is list or kind is tuple:
            inner = tuple((p[1:], s) for p, s in paths if p[0] == "*")
            pairs = [self.visit(v, inner) for v in value]
            return ("l", *[f for f, _ in pairs]), [c for _, c in pairs]
        return _freeze(value), value

    def hollow(self, value: Any, slot: Slot) -> tuple[Hashable, Any]:
        if not (isinstance(value, str) and value):
            return _freeze(value), value  # empty or not text: part of the key, as it is
        if not slot.multiline and _BREAKS.search(value):
            raise Uncacheable
        index = len(self.fills)
        self.fills.append(slot.fill(value))
        return ("p", index), _placeholder(index)


_NOT_KEPT = object()


class CachedComponent:
    """Called from templates as the macro would be: ``{{ govuk.Input({...}) }}``."""

    def __init__(self, cache: ComponentCache, component: Component) -> None:
        self.cache = cache
        self.component = component
        self._macro: Any = None

    def macro(self) -> Any:
        if self._macro is None:
            module = self.cache.env.get_template(self.component.template).module
            self._macro = getattr(module, self.component.name)
        return self._macro

    def __call__(self, params: Any = None, *args: Any, **kwargs: Any) -> Markup:
        # A macro returns Markup, which escape() hands back as it is.
        if args or kwargs or not self.cache.enabled:
            return escape(self.macro()(params, *args, **kwargs))
        try:
            return self._cached(params)
        except Uncacheable:
            self.cache.direct_calls += 1
            return escape(self.macro()(params))

    def _cached(self, params: Any) -> Markup:
        if not isinstance(params, Mapping) or params.get("errorMessage"):
            raise Uncacheable
        if self.component.choice and params.get("value"):
            items = params.get("items") or []
            if not any(isinstance(i, Mapping) and i.get("value") == params["value"] for i in items):
                raise Uncacheable
        hollow = _Hollow(params, self.component.slots)
        key = (self.component.name, hollow.key)
        fills = hollow.fills
        parts = self.cache.shapes.get(key)
        if parts is None:
            parts = self._shape(hollow.params, len(fills))
            self.cache.keep(key, parts)
        if parts is _NOT_KEPT:
            raise Uncacheable
        self.cache.hits += 1
        if len(parts) == 1:
            return cast(Markup, parts[0])
        return Markup("").join([p if i % 2 == 0 else fills[p] for i, p in enumerate(parts)])

    def _shape(self, shaped: Any, count: int) -> Any:
        """The macro's output for the hollow parameters, split at the placeholders (even
        items are markup, odd ones the index of a fill); _NOT_KEPT when a placeholder did
        not come out as it went in."""
        pieces = _PLACEHOLDER.split(str(self.macro()(shaped)))
        found = {int(index) for index in pieces[1::2]}
        if found != set(range(count)):
            return _NOT_KEPT
        # The macro's own output between placeholders: markup, as the macro returned it.
        return tuple(int(p) if i % 2 else Markup(p) for i, p in enumerate(pieces))  # noqa: S704


class ComponentCache:
    """The kept outputs of one Jinja environment's components.

    Templates reach them as ``govuk.Input``, ``govuk.Radios``… (``govuk`` is passed to every
    page's render). Not as Jinja globals under the macros' own names: GOV.UK's base template
    imports its skip link and service navigation under those names, which would hide ours,
    and each global slows down every ``{% from %}`` import Jinja runs."""

    def __init__(self, env: Environment, components: tuple[Component, ...] = COMPONENTS) -> None:
        self.env = env
        self.enabled = True  # off: every call is the macro (tests compare both ways)
        self.shapes: dict[Hashable, Any] = {}
        self.hits = 0  # calls answered from a kept shape (including the one that made it)
        self.direct_calls = 0  # calls the cache would not take, rendered by the macro
        self.govuk = SimpleNamespace(
            **{c.name.removeprefix("govuk"): CachedComponent(self, c) for c in components}
        )

    def keep(self, key: Hashable, parts: Any) -> None:
        if len(self.shapes) >= MAX_SHAPES:  # only if a template passes something unbounded
            self.shapes.clear()
        self.shapes[key] = parts

    def clear(self) -> None:
        self.shapes.clear()
        self.hits = self.direct_calls = 0
