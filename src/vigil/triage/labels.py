"""What staff pages call the codes triage stores: outcomes, item kinds, behaviour categories,
and the priority a report has before it is scored.

The codes are the API's vocabulary and stay in the data; people read labels. Each mapping is
kept here once and used by every page that shows these codes (the report page, the
dashboard, the search facets), so one code never reads two ways. Labels are marked with
``said`` and turned into the page's language with ``spoken``; behaviour categories are named
by the shipped rules (``categories.yaml``), which hold their labels in English only.
"""

from __future__ import annotations

from functools import lru_cache

from vigil.triage.categories import load_rules
from vigil.web.said import Said, said

# The same words as the outcome form on the report page.
OUTCOMES: dict[str, Said] = {
    "no_further_action": said("No further action"),
    "add_to_case": said("Add to a case"),
    "open_case": said("Open a case"),
    "refer_to_partner": said("Refer to a partner"),
    "escalate": said("Escalate"),
}
# The same words as the report page's item table (triage/report_macros.html).
ITEM_KINDS: dict[str, Said] = {
    "phone": said("phone number"),
    "email": said("email address"),
    "url": said("web address"),
    "handle": said("online handle"),
    "vrm": said("vehicle registration"),
    "postcode": said("postcode"),
    "datetime": said("date and time"),
    "money": said("money"),
    "place": said("place"),
    "person": said("person"),
    "organisation": said("organisation"),
    "weapon": said("weapon"),
}
# A report the pipeline has not scored yet has the priority "pending"; the queue says this.
NOT_YET_SCORED = said("Not yet scored")


def readable(code: str) -> str:
    """A code no mapping knows (one retired from the rules, say), at least without its
    underscores: "retired_code" reads "Retired code"."""
    return code.replace("_", " ").capitalize()


@lru_cache(maxsize=1)
def _category_labels() -> dict[str, str]:
    return {c.code: c.label for c in load_rules().categories}


def category_label(code: str) -> str:
    """A behaviour category's label from the shipped rules, as the queue shows it."""
    return _category_labels().get(code) or readable(code)


def outcome_label(code: str) -> Said | str:
    return OUTCOMES.get(code) or readable(code)


def item_kind_label(kind: str) -> Said | str:
    return ITEM_KINDS.get(kind) or readable(kind)
