"""Every bearer token expires, on both databases: one issued without a lifetime (the demo's,
an integration's) lives ``TOKEN_DAYS`` and is refused once that has passed."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from tests.factories import auth, staff_token
from vigil.access.models import ApiToken
from vigil.access.services import TOKEN_DAYS
from vigil.db import utcnow
from vigil.web.runtime import Runtime


def test_a_token_issued_without_a_lifetime_expires_after_the_default(
    client: TestClient, rt: Runtime
) -> None:
    token = staff_token(rt)
    with rt.db.session() as session:
        (expires,) = session.scalars(select(ApiToken.expires_at)).all()
    assert expires is not None
    assert abs(expires - (utcnow() + timedelta(days=TOKEN_DAYS))) < timedelta(minutes=5)
    assert client.get("/api/v1/reports", headers=auth(token)).status_code == 200
    rt.db.write_sync(
        lambda s: s.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    )
    assert client.get("/api/v1/reports", headers=auth(token)).status_code == 401
