"""The priority weights and service levels in force, and an administrator changing them.

The shipped default lives in ``data/priority.yaml``; a change is a new numbered version in
the database (validated first, audited in the same transaction, never edited in place), so
every triage result can say which version scored it.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.services import StaffUser
from vigil.audit.services import record_event
from vigil.db import utcnow
from vigil.triage.config import TriageConfigModel, config_from_mapping, load_default_config
from vigil.triage.models import TriageConfig
from vigil.triage.schemas import ConfigIn, ConfigOut
from vigil.triage.views import emails
from vigil.web.problems import Problem, field_error
from vigil.web.runtime import Runtime
from vigil.web.said import said


def _newest(session: Session) -> TriageConfig | None:
    return session.scalar(select(TriageConfig).order_by(TriageConfig.version.desc()).limit(1))


def config_in_force(session: Session) -> tuple[int | None, TriageConfigModel]:
    row = _newest(session)
    if row is None:
        return None, load_default_config()
    return row.version, config_from_mapping(row.body)


def show_config(rt: Runtime, user: StaffUser, client: str | None) -> ConfigOut:
    def work(session: Session) -> ConfigOut:
        row = _newest(session)
        record_event(session, user.actor(client), "triage.config.viewed")
        if row is None:
            return ConfigOut(
                version=None,
                body=load_default_config().model_dump(mode="json"),
                reason=None,
                changed_by=None,
                changed_at=None,
            )
        who = emails(session, [row.created_by_user_id])
        return ConfigOut(
            version=row.version,
            body=row.body,
            reason=row.reason,
            changed_by=who.get(row.created_by_user_id or 0),
            changed_at=row.created_at,
        )

    return rt.db.write_sync(work, as_user=user.id)


def change_config(rt: Runtime, user: StaffUser, body: ConfigIn, client: str | None) -> ConfigOut:
    """Validate and store a new version; a bad body changes nothing and says what is wrong."""
    try:
        model = config_from_mapping(body.body)
    except ValidationError as exc:
        raise Problem(
            422,
            said("Invalid request"),
            said("The configuration is not valid; nothing was changed."),
            errors=[
                field_error(
                    "#/body/" + "/".join(str(p) for p in err["loc"]),
                    str(err["msg"]),
                )
                for err in exc.errors()
            ],
            kind="invalid-request",
        ) from exc
    stored: dict[str, Any] = model.model_dump(mode="json")

    def work(session: Session) -> ConfigOut:
        latest = session.scalar(select(TriageConfig.version).order_by(TriageConfig.version.desc()))
        row = TriageConfig(
            version=(latest or 0) + 1,
            body=stored,
            reason=body.reason,
            created_by_user_id=user.id,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        record_event(
            session,
            user.actor(client),
            "triage.config.changed",
            record_type="triage_config",
            record_ids=[row.version],
            purpose=body.reason,
        )
        return ConfigOut(
            version=row.version,
            body=stored,
            reason=row.reason,
            changed_by=user.email,
            changed_at=row.created_at,
        )

    return rt.db.write_sync(work, as_user=user.id)
