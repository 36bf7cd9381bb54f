"""A case as a PDF meeting pack: what the reader may see of it, marked on every page.

A pack leaves the system on paper or by e-mail, so every page carries its protective marking
in the header and the footer (a page torn out is still marked), with "Page N of M" and who
made it and when. It is built from the same :class:`CaseOut` the case page shows, so it holds
exactly what the reader may see: no linked record, action or timeline entry they may not
see is printed, counted or hinted at. The marking is the most restrictive of the case's and
of every linked record printed (domain-facts §4: when markings combine, the most restrictive
wins), with the case's handling code. Making a pack is audited as its own event, naming every
record printed in it (a disclosure of combined records, DPA 2018 s.62).

The drawing is :mod:`vigil.cases.pack_pdf`, imported when a pack is made: fpdf2 and its fonts
cost each web process some 60 MB that most never need.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session
from starlette.responses import Response

from vigil.access.services import StaffUser
from vigil.audit.services import record_event
from vigil.cases import views
from vigil.cases.schemas import CaseOut
from vigil.cases.services import visible_case
from vigil.cases.views import english
from vigil.db import utcnow
from vigil.web.runtime import Runtime
from vigil.web.said import Gettext

# --- the service --------------------------------------------------------------------------


@dataclass(frozen=True)
class Pack:
    filename: str
    content: bytes

    def response(self) -> Response:
        """A download, never cached (it holds marked material)."""
        return Response(
            self.content,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="{self.filename}"',
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )


def export_pack(
    rt: Runtime,
    user: StaffUser,
    reference: str,
    purpose: str | None,
    client: str | None,
    _: Gettext = english,
) -> Pack:
    """The case as this reader may see it, as a PDF. Reading it is audited as
    ``case.pack.exported`` with every record printed and the reader's purpose, in the
    transaction that reads them; a case the reader may not see is the same 404 as none. The
    PDF is drawn after that transaction, off the single writer every commit waits for."""
    purpose = (purpose or "").strip()[:500] or None

    def work(session: Session) -> tuple[CaseOut, datetime]:
        case = visible_case(session, user, reference)
        found = views.case_out(session, user, case)
        record_event(
            session,
            user.actor(client),
            "case.pack.exported",
            record_type="case",
            record_ids=views.records_shown(found),
            purpose=f"meeting pack: {purpose}" if purpose else "meeting pack",
        )
        return found, utcnow()

    from vigil.cases.pack_pdf import render_pack

    found, at = rt.db.write_sync(work, as_user=user.id)
    content = render_pack(found, generated_by=user.email, generated_at=at, purpose=purpose, _=_)
    return Pack(f"{found.reference}-meeting-pack.pdf", content)
