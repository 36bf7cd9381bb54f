"""The step-up, on both databases: signing in is not re-authentication.

Disclosing a reporter's identity, and adding or removing a security key, each need the
session to have proved its second factor again after signing in, within the last 5 minutes.
Without that the user is sent to ``/staff/reauthenticate`` and back; the refusal is audited,
nothing changes, and (for keys) the owner's other sessions are not ended. A hijacked or
unattended session can neither read a reporter's name nor plant its own key.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.access.stepup import lapse_step_up, reauthenticate, session_id_of
from tests.access.test_disclosure import REASON, REPORTER, make_user, path_for, submit
from tests.access.test_disclosure import app as app  # fixture
from tests.access.test_disclosure import web as web  # fixture
from tests.access.test_sign_in import Staff, events, make_staff, sign_in
from tests.access.test_sign_in import cheap_hashing as cheap_hashing  # autouse fixture
from tests.access.test_webauthn import SoftKey, call, page_csrf
from vigil.access import pages, signin
from vigil.access import webauthn as keys
from vigil.access import webauthn_pages as kp
from vigil.access.models import StaffSession
from vigil.db import utcnow
from vigil.web.runtime import Runtime

REAUTH_FOR_KEYS = f"{kp.REAUTH}?next={kp.KEYS}"


def other_session(rt: Runtime, staff: Staff) -> str:
    """The owner's session elsewhere (another browser): its id."""
    token: str = rt.db.write_sync(lambda s: signin.start_signed_in_session(s, staff.user_id))
    return signin.session_id(token)


def ended_reason(rt: Runtime, sid: str) -> str | None:
    with rt.db.session() as session:
        row = session.get(StaffSession, sid)
        assert row is not None
        return row.ended_reason if row.ended_at is not None else None


def key_count(rt: Runtime, staff: Staff) -> int:
    with rt.db.session() as session:
        return len(keys.credentials_of(session, staff.user_id))


def challenges(rt: Runtime) -> list[keys.WebAuthnChallenge]:
    with rt.db.session() as session:
        return list(session.scalars(select(keys.WebAuthnChallenge)))


# --- what counts as a step-up -------------------------------------------------------------


def test_only_a_second_factor_proved_after_sign_in_and_within_5_minutes_counts() -> None:
    now = utcnow()
    minute = timedelta(minutes=1)

    def row(**values: object) -> StaffSession:
        made = {"created_at": now - minute, "second_factor_at": now - minute, **values}
        return StaffSession(id="x", user_id=1, **made)

    assert not signin.stepped_up(row(second_factor_at=None), now)  # half-way
    assert not signin.stepped_up(row(), now)  # just signed in: sign-in is not a step-up
    assert row().reauthenticated_at is None
    stepped = row(second_factor_at=now - timedelta(seconds=30))
    assert signin.stepped_up(stepped, now) and stepped.reauthenticated_at is not None
    lapsed = row(created_at=now - 10 * minute, second_factor_at=now - 6 * minute)
    assert lapsed.reauthenticated_at is not None and not signin.stepped_up(lapsed, now)
    assert not signin.stepped_up(row(second_factor_at=now, ended_at=now), now)  # ended
    assert not signin.stepped_up(None, now)


def test_no_kind_of_sign_in_counts_as_a_step_up(rt: Runtime, web: TestClient) -> None:
    staff = make_staff(rt)
    sign_in(web, staff)  # password and code
    assert not signin.fresh_step_up(rt, session_id_of(web))
    sso = other_session(rt, staff)  # as single sign-on opens it
    assert not signin.fresh_step_up(rt, sso)
    with rt.db.session() as session:
        row = session.get(StaffSession, sso)
        assert row is not None and row.second_factor_at is not None  # still a whole session
        assert row.reauthenticated_at is None


def test_reauthenticating_counts_even_in_the_same_instant_as_sign_in(rt: Runtime) -> None:
    staff = make_staff(rt)

    def work(session: Session) -> bool:
        token = signin.start_signed_in_session(session, staff.user_id)
        row = session.get(StaffSession, signin.session_id(token))
        assert row is not None
        signin.mark_reauthenticated(row, row.created_at)  # a clock that has not moved on
        return signin.stepped_up(row, row.created_at + timedelta(seconds=1))

    assert rt.db.write_sync(work)


# --- disclosure ---------------------------------------------------------------------------


def test_a_custodian_who_has_just_signed_in_must_still_reauthenticate_to_disclose(
    rt: Runtime, web: TestClient
) -> None:
    reference = submit(web)
    custodian = make_user(rt)
    sign_in(web, custodian, steps=-1)
    sent = web.get(path_for(reference))
    assert (sent.status_code, sent.headers["location"]) == (
        303,
        f"{kp.REAUTH}?next={path_for(reference)}",
    )
    token = page_csrf(web, pages.HOME)
    refused = web.post(path_for(reference), data={"csrf_token": token, "justification": REASON})
    assert refused.status_code == 403
    assert REPORTER["name"] not in refused.text and "Confirm it is you" in refused.text
    (event,) = events(rt, "reporter.identity_refused")
    assert (event.purpose, event.outcome) == ("reauthentication_required", "denied")
    assert events(rt, "reporter.identity_disclosed") == []

    reauthenticate(web, custodian, path_for(reference), steps=0)
    assert web.get(path_for(reference)).status_code == 200
    shown = web.post(path_for(reference), data={"csrf_token": token, "justification": REASON})
    assert shown.status_code == 200 and REPORTER["name"] in shown.text


def test_a_step_up_older_than_5_minutes_no_longer_discloses(rt: Runtime, web: TestClient) -> None:
    reference = submit(web)
    custodian = make_user(rt)
    sign_in(web, custodian)
    reauthenticate(web, custodian, path_for(reference))
    lapse_step_up(rt, web)
    token = page_csrf(web, pages.HOME)
    refused = web.post(path_for(reference), data={"csrf_token": token, "justification": REASON})
    assert refused.status_code == 403 and REPORTER["name"] not in refused.text
    assert events(rt, "reporter.identity_disclosed") == []


# --- security keys ------------------------------------------------------------------------


def test_managing_keys_starts_with_reauthentication_and_comes_back(
    rt: Runtime, web: TestClient
) -> None:
    staff = make_staff(rt)
    sign_in(web, staff, steps=-1)
    sent = web.get(kp.KEYS)
    assert (sent.status_code, sent.headers["location"]) == (303, REAUTH_FOR_KEYS)
    asked = web.get(REAUTH_FOR_KEYS)
    assert asked.status_code == 200 and f'name="next" value="{kp.KEYS}"' in asked.text
    reauthenticate(web, staff, kp.KEYS, steps=0)
    assert web.get(kp.KEYS).status_code == 200
    token = page_csrf(web, kp.KEYS)
    options = call(web, kp.REGISTER_OPTIONS, token, {}).json()["options"]
    added = call(web, kp.REGISTER_VERIFY, token, {"credential": SoftKey().create(options)})
    assert added.json() == {"redirect": f"{kp.KEYS}?added=1"}
    assert key_count(rt, staff) == 1


def test_a_session_that_has_not_reauthenticated_gets_no_challenge_to_add_a_key(
    rt: Runtime, web: TestClient
) -> None:
    staff = make_staff(rt)
    sign_in(web, staff)
    elsewhere = other_session(rt, staff)
    token = page_csrf(web, pages.HOME)
    refused = call(web, kp.REGISTER_OPTIONS, token, {"name": "Planted"})
    assert refused.status_code == 403
    assert refused.json() == {"redirect": REAUTH_FOR_KEYS}  # the page's script goes there
    assert challenges(rt) == []
    (event,) = events(rt, "staff.security_key_refused")
    assert (event.outcome, event.purpose) == ("denied", "reauthentication_required")
    assert event.record_ids == [str(staff.user_id)]
    assert ended_reason(rt, elsewhere) is None


def test_a_step_up_that_lapsed_before_the_key_arrived_plants_nothing_and_ends_nothing(
    rt: Runtime, web: TestClient
) -> None:
    staff = make_staff(rt)
    sign_in(web, staff)
    reauthenticate(web, staff, kp.KEYS)
    elsewhere = other_session(rt, staff)
    token = page_csrf(web, kp.KEYS)
    options = call(web, kp.REGISTER_OPTIONS, token, {}).json()["options"]
    lapse_step_up(rt, web)
    planted = call(web, kp.REGISTER_VERIFY, token, {"credential": SoftKey().create(options)})
    assert planted.status_code == 403
    assert planted.json() == {"redirect": REAUTH_FOR_KEYS}
    assert key_count(rt, staff) == 0
    assert ended_reason(rt, elsewhere) is None  # the owner is not signed out elsewhere
    assert challenges(rt) == []  # spent: the same answer cannot be replayed after a step-up
    assert events(rt, "staff.security_key_added") == []
    assert events(rt, "staff.security_key_refused")[-1].purpose == "reauthentication_required"


def test_a_session_that_has_not_reauthenticated_cannot_remove_a_key(
    rt: Runtime, web: TestClient
) -> None:
    staff = make_staff(rt)
    sign_in(web, staff, steps=-1)
    reauthenticate(web, staff, kp.KEYS, steps=0)
    token = page_csrf(web, kp.KEYS)
    options = call(web, kp.REGISTER_OPTIONS, token, {}).json()["options"]
    call(web, kp.REGISTER_VERIFY, token, {"credential": SoftKey().create(options)})
    with rt.db.session() as session:
        (key,) = keys.credentials_of(session, staff.user_id)
    elsewhere = other_session(rt, staff)
    lapse_step_up(rt, web)
    form = {"csrf_token": token, "action": "remove", "key": str(key.id)}
    refused = web.post(kp.KEYS, data=form)
    assert (refused.status_code, refused.headers["location"]) == (303, REAUTH_FOR_KEYS)
    assert key_count(rt, staff) == 1
    assert ended_reason(rt, elsewhere) is None
    (event,) = events(rt, "staff.security_key_removal_refused")
    assert (event.outcome, event.purpose) == ("denied", "reauthentication_required")
    assert events(rt, "staff.security_key_removed") == []

    reauthenticate(web, staff, kp.KEYS)
    removed = web.post(kp.KEYS, data=form)
    assert (removed.status_code, removed.headers["location"]) == (303, kp.KEYS)
    assert key_count(rt, staff) == 0
    assert ended_reason(rt, elsewhere) == "credential_changed"
