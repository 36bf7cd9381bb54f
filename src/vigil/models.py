"""Every area's models, imported together so that metadata (and Alembic) sees all tables."""

from __future__ import annotations

from vigil.access import models as access_models
from vigil.access import oidc as oidc_models
from vigil.access import webauthn as access_webauthn
from vigil.audit import models as audit_models
from vigil.cases import models as cases_models
from vigil.db import Base
from vigil.intake import models as intake_models
from vigil.jobs import models as jobs_models
from vigil.linkage import models as linkage_models
from vigil.search import models as search_models
from vigil.triage import models as triage_models
from vigil.web import sessions as web_sessions

metadata = Base.metadata
__all__ = [
    "access_models",
    "access_webauthn",
    "audit_models",
    "cases_models",
    "intake_models",
    "jobs_models",
    "linkage_models",
    "metadata",
    "oidc_models",
    "search_models",
    "triage_models",
    "web_sessions",
]
