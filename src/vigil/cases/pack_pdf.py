"""The meeting pack drawn as a PDF: every page marked in its header and footer, "Page N of M",
and who made it and when (see :mod:`vigil.cases.pack` for what goes in it and its audit).

Text needs a Unicode font (Welsh ŵ and ŷ, accented synthetic names). fpdf2 bundles none, so
a TrueType font is looked for where Linux distributions install DejaVu, Liberation or Noto;
without one the pack falls back to the PDF core font Helvetica (Latin-1 only) and every
other character is replaced by its unaccented letter, or "?" when there is none.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from vigil.access.markings import Classification, most_restrictive
from vigil.cases.schemas import CaseOut
from vigil.cases.views import english, level_meaning
from vigil.web.said import Gettext

# (regular, bold) TrueType pairs, first found wins: Debian/Ubuntu, Fedora, Arch, then others.
UNICODE_FONTS: tuple[tuple[str, str], ...] = (
    (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    ),
    ("/usr/share/fonts/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf"),
    (
        "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans-Bold.ttf",
    ),
    ("/usr/share/fonts/TTF/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf"),
    (
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    ),
    (
        "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
        "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf",
    ),
)
CORE_FONT = "Helvetica"
PAGES_ALIAS = "{#}"  # replaced by the page count once known; no letters for a translation to touch
# Punctuation with no Latin-1 form and no decomposition: its plain equivalent.
_PLAIN = str.maketrans(
    {"‘": "'", "’": "'", "‚": ",", "“": '"', "”": '"', "„": '"', "–": "-", "—": "-", "•": "*"}
)


def find_unicode_font(candidates: Iterable[tuple[str, str]]) -> tuple[Path, Path] | None:
    for regular, bold in candidates:
        if Path(regular).is_file() and Path(bold).is_file():
            return Path(regular), Path(bold)
    return None


def printable(text: str, has: Callable[[str], bool]) -> str:
    """``text`` in the characters a font ``has``: others become their plain punctuation or
    unaccented letter (``ŵ`` → ``w``), or ``?`` when there is none, so nothing vanishes."""
    out = []
    for ch in text:
        if has(ch) or ch in "\n\t":
            out.append(ch)
            continue
        plain = ch.translate(_PLAIN)
        if plain == ch:
            decomposed = unicodedata.normalize("NFKD", ch)
            plain = "".join(c for c in decomposed if not unicodedata.combining(c))
        out.append(plain if plain and all(has(c) for c in plain) else "?")
    return "".join(out)


def latin1(text: str) -> str:
    """``text`` for a core PDF font, which has Latin-1 only."""
    return printable(text, lambda ch: ord(ch) < 256)


def pack_marking(case: CaseOut, _: Gettext = english) -> str:
    """The case's classification raised to the most restrictive record printed in the pack,
    with its handling code."""
    markings = [case.classification]
    markings += [r.classification for r in case.reports]
    markings += [e.classification for e in case.entities]
    markings += [s.classification for s in case.subjects]
    known = [Classification(m) for m in markings if m in Classification.__members__.values()]
    marking = most_restrictive(known).value if known else case.classification
    if case.handling_code:
        return _("%(marking)s - handling code %(code)s", marking=marking, code=case.handling_code)
    return marking


class _Pack(FPDF):
    """A4 portrait, the marking at the top and bottom of every page."""

    def __init__(self, marking: str, colophon: str, _: Gettext, font: tuple[Path, Path] | None):
        super().__init__(orientation="P", unit="mm", format="A4")
        self._gettext = _
        self.glyphs: set[int] | None = None  # a Unicode font's characters; None: Latin-1
        if font is not None:
            self.add_font("PackSans", "", str(font[0]))
            self.add_font("PackSans", "B", str(font[1]))
            self.family_name = "PackSans"
            regular, bold = self.fonts["packsans"], self.fonts["packsansB"]
            self.glyphs = set(getattr(regular, "cmap", {})) & set(getattr(bold, "cmap", {}))
        else:
            self.family_name = CORE_FONT
        self.marking = self.clean(marking)
        self.colophon = self.clean(colophon)
        self.alias_nb_pages(PAGES_ALIAS)
        self.set_auto_page_break(auto=True, margin=24)
        self.set_margins(18, 18, 18)

    def clean(self, text: str) -> str:
        glyphs = self.glyphs
        return latin1(text) if glyphs is None else printable(text, lambda ch: ord(ch) in glyphs)

    def header(self) -> None:
        self.set_font(self.family_name, "B", 11)
        self.cell(0, 7, self.marking, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(3)

    def footer(self) -> None:
        self.set_y(-18)
        self.set_font(self.family_name, "B", 10)
        self.cell(0, 5, self.marking, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(self.family_name, "", 8)
        page = self.clean(
            self._gettext("Page %(page)s of %(pages)s", page=self.page_no(), pages=PAGES_ALIAS)
        )
        self.cell(0, 4, f"{self.colophon} | {page}", align="C")

    # --- writing ---------------------------------------------------------------------------

    def heading(self, text: str, size: int = 13) -> None:
        if self.get_y() > self.h - 50:  # never a heading alone at the bottom of a page
            self.add_page()
        self.ln(2)
        self.set_font(self.family_name, "B", size)
        self.multi_cell(0, 7, self.clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(1)

    def para(self, text: str, *, bold: bool = False, size: int = 10) -> None:
        self.set_font(self.family_name, "B" if bold else "", size)
        self.multi_cell(0, 5, self.clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def pairs(self, rows: list[tuple[str, str]]) -> None:
        for key, value in rows:
            self.set_font(self.family_name, "B", 10)
            self.cell(48, 5, self.clean(key))
            self.set_font(self.family_name, "", 10)
            self.multi_cell(0, 5, self.clean(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def none(self, text: str) -> None:
        self.para(text)
        self.ln(1)


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def render_pack(
    case: CaseOut,
    *,
    generated_by: str,
    generated_at: datetime,
    purpose: str | None = None,
    _: Gettext = english,
    fonts: Iterable[tuple[str, str]] | None = None,
) -> bytes:
    """The pack as PDF bytes, in the first of ``fonts`` found (default :data:`UNICODE_FONTS`;
    none found, or none given, is the core font)."""
    chosen = find_unicode_font(UNICODE_FONTS if fonts is None else fonts)
    colophon = _("Generated by %(who)s on %(when)s", who=generated_by, when=_when(generated_at))
    pdf = _Pack(pack_marking(case, _), colophon, _, chosen)
    pdf.set_title(f"{case.reference} {case.title}")
    pdf.set_author(generated_by)
    pdf.set_creator("Vigil")
    pdf.add_page()
    pdf.para(_("Meeting pack"), bold=True, size=11)
    pdf.heading(f"{case.reference}: {case.title}", size=16)
    level = _(
        "Level %(level)s: %(meaning)s", level=case.level, meaning=level_meaning(case.level, _)
    )
    facts = [
        (_("Status"), _("Open") if case.status == "open" else _("Closed")),
        (_("Management level"), level),
        (_("Lead officer"), case.lead or _("None")),
        (_("Review date"), case.review_date.isoformat() if case.review_date else _("None set")),
        (_("Managed by"), case.organisation + (f", {case.team}" if case.team else "")),
        (_("Classification"), case.classification),
    ]
    if case.handling_code:
        facts.append((_("Handling code"), case.handling_code))
    if case.handling_conditions:
        facts.append((_("Handling conditions"), case.handling_conditions))
    facts.append((_("Opened"), _when(case.created_at)))
    if purpose:
        facts.append((_("Purpose of this pack"), purpose))
    pdf.pairs(facts)
    if case.summary:
        pdf.heading(_("Summary"))
        pdf.para(case.summary)
    _linked(pdf, case, _)
    _actions(pdf, case, _)
    _minutes(pdf, case, _)
    return bytes(pdf.output())


def _linked(pdf: _Pack, case: CaseOut, _: Gettext) -> None:
    pdf.heading(_("Linked records"))
    if not (case.reports or case.entities or case.subjects):
        pdf.none(_("No linked records that you may see."))
    for r in case.reports:
        pdf.para(
            _("Report %(reference)s", reference=r.reference) + f" ({r.kind}, {r.classification})",
            bold=True,
        )
        pdf.para(_("Received %(when)s", when=_when(r.received_at)) + f". {r.excerpt}")
        pdf.ln(1)
    for e in case.entities:
        name = _("Entity %(id)s", id=e.id)
        pdf.para(f"{name}: {e.label} ({e.kind}, {e.classification})")
    for s in case.subjects:
        name = _("Subject %(reference)s", reference=s.reference)
        pdf.para(f"{name}: {s.name} ({s.status}, {s.classification})")


def _actions(pdf: _Pack, case: CaseOut, _: Gettext) -> None:
    pdf.heading(_("Actions"))
    if not case.actions:
        pdf.none(_("No actions that you may see."))
    for a in case.actions:
        pdf.para(a.title, bold=True)
        rows = [
            (_("Agency"), a.organisation + (f", {a.team}" if a.team else "")),
            (_("State"), a.state + (" " + _("(overdue)") if a.overdue else "")),
        ]
        if a.due_date:
            rows.append((_("Due"), a.due_date.isoformat()))
        if a.detail:
            rows.append((_("Detail"), a.detail))
        if a.detail_withheld:
            withheld = _(
                "Withheld: health or social-care detail held by %(agency)s. "
                "No sharing agreement names your role.",
                agency=a.organisation,
            )
            rows.append((_("Detail"), withheld))
        pdf.pairs(rows)
        for u in a.updates:
            change = _("now %(state)s.", state=u.state) if u.state else ""
            by = u.by or _("someone")
            text = u.text or ""
            if u.text_withheld:
                text = _(
                    "(a note withheld: health or social-care detail; "
                    "no sharing agreement names your role)"
                )
            pdf.para(f"{_when(u.at)}, {by}: {change} {text}".strip())
        pdf.ln(2)


def _minutes(pdf: _Pack, case: CaseOut, _: Gettext) -> None:
    pdf.heading(_("Meetings"))
    if not case.meetings:
        pdf.none(_("No meetings recorded."))
    for m in case.meetings:
        pdf.para(_("Meeting of %(date)s", date=m.held_on.isoformat()), bold=True)
        pdf.para(_("Attendees: %(names)s", names=m.attendees))
        pdf.para(m.minutes)
        pdf.ln(2)
    pdf.heading(_("Decisions"))
    if not case.decisions:
        pdf.none(_("No decisions recorded."))
    for d in case.decisions:
        pdf.para(d.decision, bold=True)
        pdf.para(_("Reason: %(reason)s", reason=d.reason))
        by = d.decided_by or _("someone")
        pdf.para(_("Decided by %(who)s on %(when)s", who=by, when=_when(d.decided_at)), size=9)
        pdf.ln(2)
    pdf.heading(_("Timeline"))
    for e in case.timeline:
        pdf.para(f"{_when(e.at)}{', ' + e.by if e.by else ''}: {e.summary}", size=9)
