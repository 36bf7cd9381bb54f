"""Priority factors as one reader may see them: no evidence counts or names a record the
reader may not see.

The pipeline scores a report knowing everything around it (every report in its cluster,
every alert a match raised on it) and stores the factors that way. Every reader is shown the
same factors — code, label and weight, since the score is their sum and the owner shared the
report with its priority — but a factor's evidence only as far as the records it rests on
are ones this reader may see (the access policy decides, as everywhere):

- a cluster-count factor ("several" or "many reports") says how many reports are in the
  cluster: never more than this reader may see, the count the report's cluster shows them
  (:func:`vigil.triage.views.visible_cluster_sizes`). A reader who may see as many as were
  counted reads the stored words; anyone else reads the same words with their own count, so
  a report not shared with them is neither counted nor hinted at;
- the known-subject factor rests on an alert raised on this report for a subject: its words
  stand when the reader may see such an alert and its subject, and are otherwise withheld
  with :data:`WITHHELD`.

Readers who may see everything are shown exactly what was stored. The API and the console
both take the factors from here (through ``triage_out``); the console then only puts them
into words (:func:`vigil.triage.report_view.factor_rows`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access import policy
from vigil.access.services import StaffUser
from vigil.linkage.models import Alert, Subject
from vigil.triage.priority import CLUSTER_FACTORS, cluster_evidence
from vigil.web.said import said

KNOWN_SUBJECT = "known_subject"
# The evidence of a factor resting on records the reader may not see. The API answers it in
# English; the report page says it in the page's language.
WITHHELD = said("based on records not shared with you")
_COUNTED = re.compile(r"(\d+) reports? in this cluster")  # what cluster_evidence writes


def factors_as_seen(
    session: Session,
    user: StaffUser,
    report_id: int,
    factors: Sequence[dict[str, Any]],
    visible_cluster_size: int,
) -> list[dict[str, Any]]:
    """The stored factors of a report the reader may see, each with the evidence this reader
    may be shown. ``visible_cluster_size`` is how many of the cluster's reports they may see
    (1 when the report is in no cluster)."""
    codes = {str(f.get("code") or "") for f in factors}
    subject_shown = KNOWN_SUBJECT not in codes or _sees_an_alert(session, user, report_id)
    shown = []
    for factor in factors:
        code = str(factor.get("code") or "")
        if code in CLUSTER_FACTORS:
            factor = {**factor, "evidence": _counted(factor, visible_cluster_size)}
        elif code == KNOWN_SUBJECT and not subject_shown:
            factor = {**factor, "evidence": str(WITHHELD)}
        shown.append(factor)
    return shown


def _counted(factor: dict[str, Any], visible: int) -> str:
    """The stored words when they count no more reports than the reader may see; otherwise
    the same words with the reader's count (an unreadable count is restated too)."""
    evidence = str(factor.get("evidence") or "")
    counted = _COUNTED.fullmatch(evidence)
    if counted is not None and int(counted.group(1)) <= visible:
        return evidence
    return cluster_evidence(visible)


def _sees_an_alert(session: Session, user: StaffUser, report_id: int) -> bool:
    """Whether the reader may see an alert raised on this report, and the subject it is
    for. Any alert will do, dismissed or not: each is a match with a known subject, which is
    all the factor's words say."""
    found = session.scalar(
        select(Alert.id)
        .join(Subject, Subject.id == Alert.subject_id)
        .where(
            Alert.record_type == "report",
            Alert.record_id == report_id,
            policy.visible(user, Alert, "alert"),
            policy.visible(user, Subject, "subject"),
        )
        .limit(1)
    )
    return found is not None
