"""Re-authenticating through one's own OpenID provider, against the real, certified provider
(npm ``oidc-provider``, started by :mod:`tests.access.test_oidc` for this module too).

Staff who sign in only through their organisation's provider have no code and no key, yet
disclosing a reporter's identity needs a step-up after sign-in. They sign in again at their
provider, which Vigil asks to authenticate them anew (``prompt=login``, ``max_age=0``); the
answer counts only for the session's own user and only if the provider's ``auth_time``
shows an authentication after the step-up began (and after the session's sign-in).

The browser at the provider is an httpx client that keeps the provider's cookies, as a real
browser would, so a provider that ignored ``max_age`` could answer from its own session. The
redirect back is a cross-site navigation: it arrives with the Lax flow cookie only, never the
Strict staff cookie, and so do these tests' callbacks.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.access.test_disclosure import REASON, REPORTER, csrf_of, path_for, submit
from tests.access.test_oidc import CALLBACK, CLIENT_ID, CLIENT_SECRET, Forms, events, staff_cookie
from tests.access.test_oidc import app as app  # fixture
from tests.access.test_oidc import issuer as issuer  # fixture: the running provider
from tests.access.test_oidc import start as start_sign_in
from tests.access.test_oidc import web as web  # fixture

from vigil.access import oidc, oidc_pages, signin
from vigil.access import webauthn_pages as kp
from vigil.access.models import StaffSession, User
from vigil.access.permissions import OrganisationKind, Role
from vigil.access.services import create_user, ensure_organisation
from vigil.audit.services import SYSTEM
from vigil.web.runtime import Runtime

IDP = "Receiving organisation IdP"
CUSTODIAN = "analyst.sso@example.org"  # the provider's account "analyst"
COLLEAGUE = "stranger.sso@example.org"  # the provider's account "stranger"
REFUSED = "could not confirm it is you"


@pytest.fixture
def provider_id(rt: Runtime, issuer: str) -> int:
    """The receiving organisation's provider; a custodian of the receiving team who signs in
    only through it (no password, no code, no key), and a colleague the provider knows too."""

    def work(session: Session) -> int:
        org = ensure_organisation(session, rt.settings.receiving_org, OrganisationKind.ct_policing)
        for email in (CUSTODIAN, COLLEAGUE):
            create_user(
                session,
                SYSTEM,
                email,
                org.name,
                Role.reporter_custodian,
                teams=(rt.settings.receiving_team,),
            )
        provider = oidc.add_provider(
            session,
            rt.sealer,
            SYSTEM,
            org,
            name=IDP,
            issuer=issuer,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            email_domain="example.org",
        )
        return provider.id

    return rt.db.write_sync(work)


class ProviderBrowser:
    """A browser at the provider that keeps its cookies (so the provider remembers who has
    signed in there) and counts the login forms it was shown."""

    def __init__(self) -> None:
        self.client = httpx.Client(follow_redirects=False, timeout=10)
        self.logins = 0

    def go(self, auth_url: str, login: str) -> str:
        """Sign in as ``login`` if asked, consent if asked; the URL sent back to Vigil."""
        response = self.client.get(auth_url)
        for _ in range(12):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if target.startswith(CALLBACK):
                    return target
                response = self.client.get(target)
                continue
            assert response.status_code == 200, response.text
            parser = Forms()
            parser.feed(response.text)
            action, fields = parser.forms[0]
            if fields.get("prompt") == "login":
                self.logins += 1
                fields.update(login=login, password="any password at all")
            response = self.client.post(urljoin(str(response.url), action), data=fields)
        raise AssertionError("the provider never sent the browser back")

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def browser() -> Iterator[ProviderBrowser]:
    found = ProviderBrowser()
    yield found
    found.close()


def user_id(rt: Runtime, email: str) -> int:
    with rt.db.session() as session:
        found = session.scalar(select(User.id).where(User.email == email))
        assert isinstance(found, int)
        return found


def sign_in(web: TestClient, browser: ProviderBrowser, provider_id: int, login: str) -> None:
    done = web.get(browser.go(start_sign_in(web, provider_id), login))
    assert done.status_code == 200 and "You are signed in" in done.text, done.text


def past_the_sign_in(rt: Runtime, web: TestClient) -> None:
    """``auth_time`` counts whole seconds, and a step-up must be later than the sign-in: wait
    until a new authentication at the provider would carry a later one (at most a second)."""
    with rt.db.session() as session:
        row = session.get(StaffSession, signin.session_id(staff_cookie(web) or ""))
        assert row is not None
        signed_in = row.authenticated_at.timestamp()
    time.sleep(max(0.0, signed_in + 1.05 - time.time()))


def leave_to_reauthenticate(web: TestClient, provider_id: int, target: str) -> str:
    """Press "Sign in again with ..." on the re-authentication page; the provider's URL."""
    page = web.get(kp.reauth_url(target))
    assert page.status_code == 200, page.text
    token = csrf_of(web, kp.reauth_url(target))
    sent = {"csrf_token": token, "next": target, "provider": str(provider_id)}
    left = web.post(kp.REAUTH_SSO, data=sent)
    assert left.status_code == 303, left.text
    location: str = left.headers["location"]
    return location


def come_back(app: FastAPI, web: TestClient, back: str, staff: str | None = None) -> httpx.Response:
    """The provider's redirect back, as a browser makes it: a cross-site navigation carries
    the Lax flow cookie but not the Strict staff and visitor cookies (unless ``staff``)."""
    flow = web.cookies.get(oidc_pages.FLOW_COOKIE)
    assert flow
    cookies = {oidc_pages.FLOW_COOKIE: flow} | ({signin.COOKIE: staff} if staff else {})
    navigation = TestClient(app, follow_redirects=False, cookies=cookies)
    try:
        response = navigation.get(back)
    finally:
        navigation.close()
    web.cookies.delete(oidc_pages.FLOW_COOKIE)  # the answer removed it
    assert oidc_pages.FLOW_COOKIE in response.headers.get("set-cookie", "")
    return response


def stepped_up(rt: Runtime, web: TestClient) -> bool:
    return signin.fresh_step_up(rt, signin.session_id(staff_cookie(web) or ""))


def last_failure(rt: Runtime) -> tuple[str, list[str], int | None]:
    failures = events(rt, "staff.reauthentication_failed")
    assert failures, "no audit event"
    event = failures[-1]
    assert event.outcome == "failure"
    return event.purpose or "", [str(x) for x in event.record_ids], event.actor_user_id


# --- the whole way: sign in, re-authenticate at the provider, disclose --------------------


def test_a_custodian_who_signs_in_through_their_provider_reauthenticates_there_and_discloses(
    rt: Runtime, app: FastAPI, web: TestClient, provider_id: int, browser: ProviderBrowser
) -> None:
    reference = submit(web)
    sign_in(web, browser, provider_id, "analyst")
    assert browser.logins == 1
    disclose = path_for(reference)
    sent = web.get(disclose)  # signing in is not re-authenticating
    assert (sent.status_code, sent.headers["location"]) == (303, kp.reauth_url(disclose))
    page = web.get(sent.headers["location"])
    assert f"Sign in again with {IDP}" in page.text
    assert 'name="code"' not in page.text  # no authenticator app to ask a code from
    past_the_sign_in(rt, web)

    location = leave_to_reauthenticate(web, provider_id, disclose)
    query = parse_qs(urlsplit(location).query)
    assert (query["prompt"], query["max_age"]) == (["login"], ["0"])  # OIDC Core 3.1.2.1
    assert query["redirect_uri"] == [CALLBACK] and query["code_challenge_method"] == ["S256"]
    back = browser.go(location, "analyst")
    assert browser.logins == 2  # the provider asked again, though it had a session
    done = come_back(app, web, back)
    assert done.status_code == 200, done.text
    assert f'<meta http-equiv="refresh" content="0; url={disclose}">' in done.text
    assert stepped_up(rt, web)
    (event,) = events(rt, "staff.reauthenticated")
    custodian = user_id(rt, CUSTODIAN)
    assert (event.actor_user_id, [str(x) for x in event.record_ids]) == (
        custodian,
        [str(custodian)],
    )
    assert (event.outcome, event.purpose) == ("success", f"oidc:{IDP}")
    assert events(rt, "staff.sign_in_failed") == []

    form = web.get(disclose)
    assert form.status_code == 200, form.text
    token = csrf_of(web, disclose)
    shown = web.post(disclose, data={"csrf_token": token, "justification": REASON})
    assert shown.status_code == 200, shown.text
    assert str(REPORTER["name"]) in shown.text
    (disclosed,) = events(rt, "reporter.identity_disclosed")
    assert disclosed.actor_user_id == custodian


# --- refusals -----------------------------------------------------------------------------


def test_signing_in_again_as_someone_else_is_refused_and_audited(
    rt: Runtime, app: FastAPI, web: TestClient, provider_id: int, browser: ProviderBrowser
) -> None:
    reference = submit(web)
    sign_in(web, browser, provider_id, "analyst")
    past_the_sign_in(rt, web)
    location = leave_to_reauthenticate(web, provider_id, path_for(reference))
    # A colleague, a Vigil user of the same organisation, signs in at the provider instead.
    refused = come_back(app, web, browser.go(location, "stranger"))
    assert refused.status_code == 400, refused.text
    assert REFUSED in refused.text and "http-equiv" not in refused.text
    assert f'href="{kp.reauth_url(path_for(reference))}"' in refused.text
    assert not stepped_up(rt, web)
    purpose, ids, actor = last_failure(rt)
    assert purpose == f"other_user (oidc:{IDP})"
    custodian, colleague = user_id(rt, CUSTODIAN), user_id(rt, COLLEAGUE)
    assert (actor, ids) == (custodian, [str(custodian), str(colleague)])
    assert events(rt, "staff.reauthenticated") == []
    still = web.get(path_for(reference))
    assert (still.status_code, still.headers["location"]) == (
        303,
        kp.reauth_url(path_for(reference)),
    )


@pytest.mark.parametrize(
    ("max_age", "reason"),
    [
        (None, "no_auth_time"),  # then the provider does not say when it authenticated
        ("86400", "stale_authentication"),  # it says: at the sign-in
    ],
)
def test_a_provider_answering_from_its_old_session_is_refused(
    rt: Runtime,
    app: FastAPI,
    web: TestClient,
    provider_id: int,
    browser: ProviderBrowser,
    max_age: str | None,
    reason: str,
) -> None:
    """A provider that ignores prompt=login and max_age=0 answers at once from the session
    it holds (here the request is rewritten on its way so the real provider behaves so)."""
    sign_in(web, browser, provider_id, "analyst")
    past_the_sign_in(rt, web)
    location = leave_to_reauthenticate(web, provider_id, kp.KEYS)
    parts = urlsplit(location)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query.pop("prompt") == "login" and query.pop("max_age") == "0"
    if max_age is not None:
        query["max_age"] = max_age
    ignoring = urlunsplit(parts._replace(query=urlencode(query)))
    back = browser.go(ignoring, "analyst")
    assert browser.logins == 1  # the provider did not authenticate anybody again
    refused = come_back(app, web, back)
    assert refused.status_code == 400 and REFUSED in refused.text
    assert not stepped_up(rt, web)
    purpose, ids, actor = last_failure(rt)
    assert purpose == f"{reason} (oidc:{IDP})"
    assert (actor, ids) == (user_id(rt, CUSTODIAN), [str(user_id(rt, CUSTODIAN))])
    assert events(rt, "staff.reauthenticated") == []


def test_a_step_up_comes_back_only_to_the_session_that_started_it(
    rt: Runtime, app: FastAPI, web: TestClient, provider_id: int, browser: ProviderBrowser
) -> None:
    sign_in(web, browser, provider_id, "analyst")
    past_the_sign_in(rt, web)
    location = leave_to_reauthenticate(web, provider_id, kp.KEYS)
    elsewhere = rt.db.write_sync(
        lambda s: signin.start_signed_in_session(s, user_id(rt, CUSTODIAN))
    )
    refused = come_back(app, web, browser.go(location, "analyst"), staff=elsewhere)
    assert refused.status_code == 400
    assert last_failure(rt)[0] == "other_session"
    assert not stepped_up(rt, web)
    assert not signin.fresh_step_up(rt, signin.session_id(elsewhere))


def test_only_the_users_own_providers_are_offered_or_accepted(
    rt: Runtime, web: TestClient, provider_id: int, browser: ProviderBrowser
) -> None:
    sign_in(web, browser, provider_id, "analyst")
    token = csrf_of(web, kp.reauth_url(kp.KEYS))
    forged = {"csrf_token": token, "next": kp.KEYS, "provider": str(provider_id + 1000)}
    refused = web.post(kp.REAUTH_SSO, data=forged)
    assert refused.status_code == 400 and REFUSED in refused.text
    assert "location" not in refused.headers
    purpose, _ids, actor = last_failure(rt)
    assert (purpose, actor) == ("unknown_provider", user_id(rt, CUSTODIAN))
    assert not web.cookies.get(oidc_pages.FLOW_COOKIE)


def test_a_step_up_flow_never_signs_anybody_in(rt: Runtime, provider_id: int) -> None:
    pending = oidc.Pending(
        provider_id, "s", "n", "v", CALLBACK, time.time(), oidc.STEP_UP, "sid", "/staff"
    )
    with pytest.raises(oidc.Refused, match="wrong_flow"):
        oidc.complete(rt, pending.seal(rt.sealer), {"state": "s", "code": "c"}, "test")
    assert oidc.step_up_flow(rt.sealer, pending.seal(rt.sealer)) == pending
    sign_in_flow = oidc.Pending(provider_id, "s", "n", "v", CALLBACK, time.time())
    assert oidc.step_up_flow(rt.sealer, sign_in_flow.seal(rt.sealer)) is None
    assert oidc.step_up_flow(rt.sealer, "not a sealed flow") is None


# --- the auth_time check, directly ----------------------------------------------------------


def test_only_an_authentication_after_the_step_up_began_counts() -> None:
    started = time.time()
    signed_in = datetime.fromtimestamp(started, UTC) - timedelta(minutes=3)

    def refusal(at: datetime | None) -> str | None:
        return oidc.step_up_refusal(at, started, signed_in)

    now = datetime.fromtimestamp(started, UTC)
    assert refusal(None) == "no_auth_time"  # the provider did not say when
    assert refusal(now + timedelta(seconds=20)) is None
    assert refusal(now.replace(microsecond=0)) is None  # auth_time is in whole seconds
    skew = oidc.STEP_UP_CLOCK_SKEW_S
    assert refusal(now - timedelta(seconds=skew - 1)) is None  # a provider clock a little behind
    assert refusal(now - timedelta(seconds=skew + 1)) == "stale_authentication"
    assert refusal(now - timedelta(minutes=2)) == "stale_authentication"  # after sign-in, but old
    assert refusal(signed_in) == "stale_authentication"  # the sign-in itself
    # However recent the start, the sign-in's own authentication never counts again.
    assert oidc.step_up_refusal(signed_in, signed_in.timestamp(), signed_in) is not None
