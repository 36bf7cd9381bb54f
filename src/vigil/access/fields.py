"""Field-level rules: which parts of a record each role is shown.

Row rules (``policy``) decide whether a user may see a report at all; these decide which of
its fields they are shown once they may. Responses are built from a per-role allow-list, so
a field added to a response later is withheld from a restricted role until someone decides
that role needs it (fail closed), and the response names what was withheld, so a reader can
tell "withheld from you" from "the reporter did not say".

Health and social-care details (what a health trust's or social services' staff write on a
shared case: an action's detail, an update's note) are shown to the writer's own agency, and
to another agency's user only when a sharing agreement in force between the two agencies
names that user's role (``SharingAgreement.sensitive_roles``). Everyone on the case still
sees that the action exists, who owns it, its state and due date: the risk is visible to
all, the sensitive detail only to those named (domain facts, section 8).

The reporter-contact custodian reads a report only to decide on disclosing its reporter's
identity: they are shown that it exists, when and how it came in and whether the reporter
gave contact details, never what it says. Every other role that may read reports is shown
all of it (the reporter's identity is never part of a report response for anyone).

The same allow-list governs every other response built from a report's fields (a point on
the map, a message of the report's thread): each of their fields is named under the report
field it comes from (:class:`DerivedFields`), so a reader is shown a point's place only if
they are shown the report's ``where``, and a message's words only if they are shown its
``description``. No read path decides that for itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.models import Organisation, User
from vigil.access.permissions import OrganisationKind, Role
from vigil.access.sharing import agreements_in_force

M = TypeVar("M", bound=BaseModel)

# Fields of a report response (vigil.intake.schemas.ReportOut). A test checks these names
# against the schema, so a rename cannot silently widen or narrow a role's view.
REPORT_FIELDS: frozenset[str] = frozenset(
    {
        "reference",
        "received_at",
        "channel",
        "kind",
        "description",
        "anonymous",
        "when",
        "where",
        "people",
        "vehicles",
        "online",
        "attachments",
        "followups",
        "triage",
    }
)
_REPORT_SHOWN: Mapping[Role, frozenset[str]] = {
    Role.reporter_custodian: frozenset(
        {"reference", "received_at", "channel", "kind", "anonymous", "followups"}
    ),
}


def report_fields(role: Role) -> frozenset[str]:
    """The report fields ``role`` is shown; roles without a list are shown every field."""
    return _REPORT_SHOWN.get(role, REPORT_FIELDS)


def restrict_report(out: M, role: Role) -> M:
    """``out`` with every report field ``role`` is not shown emptied and named in
    ``out.withheld`` (the response model declares those fields optional)."""
    hidden = sorted(REPORT_FIELDS - report_fields(role))
    for name in hidden:
        setattr(out, name, None)
    if hidden:
        out.withheld = hidden  # type: ignore[attr-defined]
    return out


@dataclass(frozen=True)
class DerivedFields:
    """A response built from a report's fields, each of its fields named under the report
    field it comes from, so that a role's allow-list decides it as it decides the report's.

    ``essential`` are the fields the record is nothing without: when a role is not shown one
    of them, the record is left out of the response altogether (and out of any count of it),
    rather than shown with a hole where, say, its place would be. Tests check ``sources``
    against the response models, so a field added to one is not shown until someone names
    the report field it comes from."""

    sources: Mapping[str, str]
    essential: frozenset[str]

    def withheld(self, role: Role) -> list[str]:
        """The fields of this response ``role`` is not shown, sorted."""
        shown = report_fields(role)
        return sorted(name for name, field in self.sources.items() if field not in shown)

    def shown(self, role: Role) -> bool:
        """Whether ``role`` is shown such a record at all."""
        return not self.essential.intersection(self.withheld(role))

    def restrict(self, out: M, role: Role) -> M:
        """``out`` with every field ``role`` is not shown emptied (a list to ``[]``, so a
        reader that walks it needs no change; anything else to None) and named in
        ``out.withheld``, as :func:`restrict_report` does for a report."""
        hidden = self.withheld(role)
        for name in hidden:
            setattr(out, name, [] if isinstance(getattr(out, name), list) else None)
        if hidden:
            out.withheld = hidden  # type: ignore[attr-defined]
        return out


# A point on the map (vigil.triage.map.MapPoint). Every field is essential: the map draws a
# point at its place in its priority's colour and lists it in a table beside its categories,
# and neither can say "withheld" where a place or a priority would be ("not yet scored" would
# be a false answer), so a reader not shown all of it is shown no point.
MAP_POINT = DerivedFields(
    sources={
        "reference": "reference",
        "received_at": "received_at",
        "lat": "where",
        "lon": "where",
        "place": "where",
        "priority": "triage",
        "categories": "triage",
    },
    essential=frozenset(
        {"reference", "received_at", "lat", "lon", "place", "priority", "categories"}
    ),
)

# A message of a report's thread (vigil.intake.thread.MessageOut): the reporter's follow-ups
# and staff questions (which quote or answer what the reporter said) are the report's words,
# their files its attachments; that there was a message, from whom and when is what the
# report's count of follow-ups already tells.
THREAD_MESSAGE = DerivedFields(
    sources={
        "id": "followups",
        "author": "followups",
        "author_user_id": "followups",
        "received_at": "followups",
        "text": "description",
        "attachments": "attachments",
    },
    essential=frozenset({"id", "author", "author_user_id", "received_at"}),
)


# Organisations whose notes are health or social-care details.
SENSITIVE_KINDS = frozenset({OrganisationKind.health.value, OrganisationKind.social_services.value})


class SensitiveDetail:
    """Answers, for one response, whose writing a user is shown: each writer's organisation
    and each organisation's agreements are looked up once."""

    def __init__(self, session: Session, org_id: int, role: Role) -> None:
        self._session = session
        self._org_id = org_id
        self._role = role
        self._org_of: dict[int, int | None] = {}
        self._known: dict[int, bool] = {}

    def shown(self, writer_id: int | None) -> bool:
        """Whether text written by user ``writer_id`` is shown (None: the system wrote it)."""
        if writer_id is None:
            return True
        if writer_id not in self._org_of:
            self._org_of[writer_id] = self._session.scalar(
                select(User.organisation_id).where(User.id == writer_id)
            )
        org_id = self._org_of[writer_id]
        if org_id is None or org_id == self._org_id:
            return True
        if org_id not in self._known:
            self._known[org_id] = self._decide(org_id)
        return self._known[org_id]

    def _decide(self, writer_org_id: int) -> bool:
        kind = self._session.scalar(
            select(Organisation.kind).where(Organisation.id == writer_org_id)
        )
        if kind not in SENSITIVE_KINDS:
            return True
        agreements = agreements_in_force(self._session, writer_org_id, self._org_id)
        return any(self._role.value in (a.sensitive_roles or []) for a in agreements)
