"""Run axe-core (npm ``axe-core``, installed by ``make install``) in a page and report.

The pages' Content-Security-Policy allows scripts from 'self' plus one hash, so an injected
``<script>`` tag (``page.add_script_tag``) is refused, as it should be. Instead the axe
source is evaluated through the DevTools protocol (``page.evaluate``), which CSP does not
govern. That keeps the page's real CSP in force during the check (no ``bypass_csp``
context), so axe sees exactly what a visitor's browser renders.

One finding is waived, narrowly: GOV.UK Frontend's radios that reveal a question put
``aria-expanded`` on the radio input, which ARIA 1.2 does not list for ``role=radio``, so axe
reports ``aria-allowed-attr``. GOV.UK keeps it on purpose (screen readers announce the
reveal; research with the Digital Accessibility Centre found no harm) and lists it as a known
issue: alphagov/govuk-frontend#979 and #1280. Only that exact finding is dropped: rule
``aria-allowed-attr``, on a ``govuk-radios__input`` or ``govuk-checkboxes__input`` with
``aria-controls``, where ``aria-expanded`` is the only attribute refused. Anything else on the
same element, or the same rule anywhere else, still fails.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
_RUN = """async (tags) => {
  const refused = (c) => (c.data && Array.isArray(c.data.values)) ? c.data.values : [];
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']
  });
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 300),
                              summary: n.failureSummary,
                              refused: n.all.concat(n.any, n.none).flatMap(refused)}))
  }));
}"""


@cache
def axe_source() -> str:
    if not AXE_JS.exists():
        raise FileNotFoundError(f"{AXE_JS} is missing: run `make install` (npm ci)")
    return AXE_JS.read_text(encoding="utf-8")


_GOVUK_REVEAL = re.compile(r'class="govuk-(radios|checkboxes)__input"[^>]*aria-controls="')


def govuk_known_issue(violation: dict[str, Any], node: dict[str, Any]) -> bool:
    """GOV.UK Frontend's ``aria-expanded`` on a conditionally revealing radio or checkbox."""
    return (
        violation["id"] == "aria-allowed-attr"
        and bool(_GOVUK_REVEAL.search(node["html"]))
        and [str(a).split("=")[0] for a in node["refused"]] == ["aria-expanded"]
    )


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe's WCAG 2.2 A/AA violations on the page as it is now (less GOV.UK's known issue)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    found: list[dict[str, Any]] = page.evaluate(_RUN, TAGS)
    kept = []
    for violation in found:
        nodes = [n for n in violation["nodes"] if not govuk_known_issue(violation, n)]
        if nodes:
            kept.append({**violation, "nodes": nodes})
    return kept


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"]:
            lines.append(f"    at {node['target']}: {node['html']}")
            if node["summary"]:
                lines.append("      " + node["summary"].replace("\n", "\n      "))
    return "\n".join(lines)


def assert_accessible(page: Page, label: str = "") -> None:
    """Zero axe violations, or a failure listing each one with its nodes."""
    violations = axe_violations(page)
    where = f"{label} {page.url}".strip()
    assert not violations, f"axe found {len(violations)} violation(s) on {where}:\n" + describe(
        violations
    )
