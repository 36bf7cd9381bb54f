"""OpenID Connect sign-in for agencies that run their own identity provider.

An agency's provider vouches for *who* someone is; Vigil still decides *whether* they may
come in. So a verified e-mail is only ever matched to an existing, enabled Vigil user of the
organisation that registered the provider: users are never created here, and a provider of
one agency can never sign anybody into another agency's account.

What is checked, and why:

- The authorization code flow with PKCE (S256), a random ``state`` and ``nonce``. The three
  are kept, sealed with the master keys, in a short-lived cookie of their own (SameSite=Lax,
  because the provider's redirect back is a cross-site navigation that would not carry the
  Strict staff and visitor cookies), so the flow is bound to the browser that started it
  and nothing is stored on the server for abandoned attempts.
- The provider's discovery document must name exactly the configured issuer, and the ID token
  must carry a signature by a key of its JWKS (asymmetric algorithms only: no ``none``, no
  HMAC keyed with a public key), that issuer, this client as audience (``azp`` too), an
  unexpired ``exp``, and our ``nonce``. Authlib's ``CodeIDToken`` checks the claims.
- ``email_verified`` must be true: an unverified address proves nothing about its owner.
- Every refusal is one generic answer for the visitor and one ``staff.sign_in_failed`` audit
  event with a reason for the auditors; tokens and codes are never recorded.

The password lockout is not applied here: it limits guessing at Vigil, and no secret is
guessed at Vigil in this flow (the provider runs its own limits and second factor). Honouring
it would let anyone lock an SSO user out by typing wrong passwords for their address.

The same flow re-authenticates a signed-in user (the step-up that disclosing a reporter's
identity or changing security keys needs, :func:`vigil.access.signin.stepped_up`), for staff
whose only way in is their provider. It asks with ``prompt=login`` and ``max_age=0`` (OIDC
Core 3.1.2.1) and seals, besides the above, that it is a step-up, for which staff session
(the callback is a cross-site navigation that does not carry the Strict staff cookie) and
where to go back to. On the way back every sign-in check still applies, and further: the
provider must vouch for the session's own user (the address that would sign them in), and
its ``auth_time`` must be present, no older than the start of this step-up and later than
the session's own sign-in, so a provider that ignores ``max_age`` and answers from its old
session is refused. Refusals are ``staff.reauthentication_failed`` events, as for a code.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import secrets
import threading
import time
import warnings
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import ForeignKey, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from vigil.access import signin
from vigil.access.models import Organisation, StaffSession, User
from vigil.audit.services import Actor, record_event
from vigil.db import Base, UTCDateTime, utcnow
from vigil.sealing import Sealed, Sealer
from vigil.web.runtime import Runtime

with warnings.catch_warnings():
    # Authlib warns once, at import, that it would prefer the separate ``httpx2`` package;
    # the client works the same with httpx, which Vigil already depends on.
    warnings.simplefilter("ignore")
    from authlib.integrations.httpx_client import OAuth2Client  # type: ignore[import-untyped]

FLOW_TIMEOUT_S = 600  # from leaving Vigil to coming back from the provider
HTTP_TIMEOUT_S = 10.0
CACHE_S = 300  # discovery documents and key sets are re-read this often (or on a new kid)
LEEWAY_S = 60  # clock difference tolerated on exp and iat
# Asymmetric only: "none" and HMAC (keyed with a public key, in the classic attack) never.
RSA = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")
SIGNING_ALGORITHMS = (*RSA, "ES256", "ES384", "ES512", "EdDSA")
DEFAULT_SCOPES = "openid email"
SIGN_IN = "sign_in"
STEP_UP = "step_up"
# How far the provider's clock may be behind ours when its auth_time is compared with the
# moment a step-up started (auth_time is also in whole seconds).
STEP_UP_CLOCK_SKEW_S = 5


class IdentityProvider(Base):
    """An organisation's OpenID provider. The client secret is kept only sealed."""

    __tablename__ = "identity_providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    scopes: Mapped[str] = mapped_column(String(500), default=DEFAULT_SCOPES)
    email_claim: Mapped[str] = mapped_column(String(100), default="email")
    # When set, only addresses @ this domain are accepted from the provider (and the sign-in
    # page can find the provider from a typed address).
    allowed_email_domain: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="joined")


class Refused(Exception):
    """A sign-in refused for ``reason`` (for the audit log only; visitors see one page)."""

    def __init__(self, reason: str, provider: IdentityProvider | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.provider_name = provider.name if provider is not None else None


class UserRefused(Refused):
    """A refusal about a known user (their id goes into the audit event)."""

    def __init__(self, reason: str, provider: IdentityProvider, user_id: int) -> None:
        super().__init__(reason, provider)
        self.user_id = user_id


# --- configuration ------------------------------------------------------------------------


def check_issuer(url: str) -> str:
    """An issuer must be HTTPS; plain HTTP only on the loopback address (tests, development)."""
    parts = urlsplit(url)
    if parts.query or parts.fragment or not parts.hostname:
        raise ValueError("The issuer must be a plain URL, without query or fragment.")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and _loopback(parts.hostname):
        return url
    raise ValueError("The issuer must use https:// (http:// only on 127.0.0.1 or localhost).")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _secret_context(provider_id: int) -> bytes:
    return f"idp-client-secret:{provider_id}".encode()


def add_provider(
    session: Session,
    sealer: Sealer,
    actor: Actor,
    org: Organisation,
    *,
    name: str,
    issuer: str,
    client_id: str,
    client_secret: str,
    scopes: str = DEFAULT_SCOPES,
    email_claim: str = "email",
    email_domain: str | None = None,
) -> IdentityProvider:
    """Register a provider for ``org``; the secret is sealed to this provider's row."""
    if "openid" not in scopes.split():
        raise ValueError("The scopes must include openid.")
    domain = email_domain.strip().lower().lstrip("@") if email_domain else None
    provider = IdentityProvider(
        organisation_id=org.id,
        name=name.strip(),
        issuer=check_issuer(issuer.strip()),
        client_id=client_id.strip(),
        client_secret_sealed=b"",
        scopes=" ".join(scopes.split()),
        email_claim=email_claim.strip(),
        allowed_email_domain=domain or None,
    )
    session.add(provider)
    session.flush()  # the id is part of the sealing context
    sealed = sealer.seal(client_secret.encode(), _secret_context(provider.id))
    provider.client_secret_sealed = sealed.pack()
    record_event(
        session,
        actor,
        "identity_provider.added",
        record_type="identity_provider",
        record_ids=[provider.id],
        purpose=f"oidc:{provider.name}",
    )
    return provider


def client_secret(sealer: Sealer, provider: IdentityProvider) -> str:
    blob = Sealed.unpack(provider.client_secret_sealed)
    return sealer.open(blob, _secret_context(provider.id)).decode()


def providers(session: Session) -> list[IdentityProvider]:
    return list(session.scalars(select(IdentityProvider).order_by(IdentityProvider.name)))


def providers_for_email(session: Session, email: str) -> list[IdentityProvider]:
    """Providers whose allowed domain is the address's domain (for "sign in with my e-mail")."""
    domain = email.strip().lower().rpartition("@")[2]
    if not domain:
        return []
    query = select(IdentityProvider).where(IdentityProvider.allowed_email_domain == domain)
    return list(session.scalars(query.order_by(IdentityProvider.name)))


def providers_for_user(session: Session, user_id: int) -> list[IdentityProvider]:
    """The providers that would sign this user in (their organisation's, for their address's
    domain): the ones they may re-authenticate with."""
    user = session.get(User, user_id)
    if user is None:
        return []
    domain = user.email.rpartition("@")[2].lower()
    query = select(IdentityProvider).where(IdentityProvider.organisation_id == user.organisation_id)
    found = session.scalars(query.order_by(IdentityProvider.name))
    return [x for x in found if x.allowed_email_domain in (None, domain)]


# --- the provider's metadata and keys -----------------------------------------------------


class Discovery:
    """Discovery documents and key sets, cached per issuer for a few minutes."""

    def __init__(self, ttl_s: float = CACHE_S) -> None:
        self._ttl = ttl_s
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def metadata(self, issuer: str) -> dict[str, Any]:
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        found = self._get(url, refresh=False)
        if found.get("issuer") != issuer:
            raise Refused("discovery_issuer_mismatch")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(found.get(key), str):
                raise Refused("discovery_incomplete")
            check_endpoint(found[key])
        return found

    def keys(self, jwks_uri: str, refresh: bool = False) -> KeySet:
        try:
            return KeySet.import_key_set(self._get(jwks_uri, refresh=refresh))  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError) as exc:
            raise Refused("jwks_unreadable") from exc

    def _get(self, url: str, refresh: bool) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(url)
        if cached and not refresh and now - cached[0] < self._ttl:
            return cached[1]
        try:
            response = httpx.get(url, timeout=HTTP_TIMEOUT_S, follow_redirects=False)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise Refused("provider_unreachable") from exc
        if not isinstance(body, dict):
            raise Refused("provider_unreadable")
        with self._lock:
            self._cache[url] = (now, body)
        return body


def check_endpoint(url: str) -> None:
    """Endpoints follow the issuer's rule: HTTPS, or HTTP on the loopback address."""
    try:
        check_issuer(url)
    except ValueError as exc:
        raise Refused("insecure_endpoint") from exc


DISCOVERY = Discovery()


# --- the flow: leaving for the provider ---------------------------------------------------


@dataclass(frozen=True)
class Pending:
    """What must survive the trip to the provider, sealed in the flow cookie.

    A step-up also carries the staff session it re-authenticates (its id, the hash of the
    cookie's token, never the token) and the console address to go back to."""

    provider_id: int
    state: str
    nonce: str
    verifier: str
    redirect_uri: str
    started: float
    purpose: str = SIGN_IN
    session_id: str = ""
    next: str = ""

    def seal(self, sealer: Sealer) -> str:
        blob = sealer.seal(orjson.dumps(self.__dict__), FLOW_CONTEXT).pack()
        return base64.urlsafe_b64encode(blob).decode().rstrip("=")

    @classmethod
    def unseal(cls, sealer: Sealer, value: str | None) -> Pending:
        """The sealed flow, however old (see :meth:`open`)."""
        if not value or len(value) > 3000:
            raise Refused("no_flow")
        try:
            blob = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            data = orjson.loads(sealer.open(Sealed.unpack(blob), FLOW_CONTEXT))
            return cls(**data)
        except Exception as exc:  # tampered, truncated or sealed with a retired key
            raise Refused("flow_unreadable") from exc

    @classmethod
    def open(cls, sealer: Sealer, value: str | None, now: float) -> Pending:
        pending = cls.unseal(sealer, value)
        pending.check_age(now)
        return pending

    def check_age(self, now: float) -> None:
        if not 0 <= now - self.started <= FLOW_TIMEOUT_S:
            raise Refused("flow_expired")


FLOW_CONTEXT = b"oidc-flow"


def _client(provider: IdentityProvider, secret: str, redirect_uri: str) -> OAuth2Client:
    return OAuth2Client(
        client_id=provider.client_id,
        client_secret=secret,
        scope=provider.scopes,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
        timeout=HTTP_TIMEOUT_S,
        follow_redirects=False,
    )


def begin(rt: Runtime, provider: IdentityProvider, redirect_uri: str) -> tuple[str, str]:
    """The provider's authorization URL and the sealed flow cookie's value."""
    return _authorize(rt, provider, _new_pending(provider, redirect_uri))


def begin_step_up(
    rt: Runtime, provider: IdentityProvider, redirect_uri: str, session_id: str, next_path: str
) -> tuple[str, str]:
    """As :func:`begin`, to re-authenticate the staff session ``session_id`` and go back to
    ``next_path`` (a console path the caller has checked). ``prompt=login`` and ``max_age=0``
    ask the provider to authenticate the person now, not to answer from a session it holds;
    the callback checks that it did (:func:`step_up_refusal`)."""
    pending = replace(
        _new_pending(provider, redirect_uri),
        purpose=STEP_UP,
        session_id=session_id,
        next=next_path,
    )
    return _authorize(rt, provider, pending, prompt="login", max_age="0")


def _new_pending(provider: IdentityProvider, redirect_uri: str) -> Pending:
    return Pending(
        provider_id=provider.id,
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        verifier=secrets.token_urlsafe(48),  # 64 characters, within RFC 7636's 43-128
        redirect_uri=redirect_uri,
        started=time.time(),
    )


def _authorize(
    rt: Runtime, provider: IdentityProvider, pending: Pending, **extra: str
) -> tuple[str, str]:
    meta = DISCOVERY.metadata(provider.issuer)
    with _client(provider, "", pending.redirect_uri) as client:
        url, _state = client.create_authorization_url(
            meta["authorization_endpoint"],
            state=pending.state,
            code_verifier=pending.verifier,
            nonce=pending.nonce,
            **extra,
        )
    return str(url), pending.seal(rt.sealer)


# --- the flow: coming back ----------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """What the provider has vouched for, once every check has passed."""

    subject: str
    email: str
    authenticated_at: datetime | None


def verify_id_token(
    id_token: str,
    keys: KeySet,
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    access_token: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The ID token's claims, once signature, issuer, audience, expiry and nonce hold."""
    try:
        token = jwt.decode(id_token, keys, algorithms=list(SIGNING_ALGORITHMS))
        claims = CodeIDToken(
            token.claims,
            token.header,
            options={
                "iss": {"essential": True, "value": issuer},
                "aud": {"essential": True, "value": client_id},
                "sub": {"essential": True},
                "exp": {"essential": True},
                "nonce": {"essential": True},
            },
            params={"nonce": nonce, "client_id": client_id, "access_token": access_token},
        )
        claims.validate(now=int(now if now is not None else time.time()), leeway=LEEWAY_S)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise Refused(f"invalid_id_token:{type(exc).__name__}") from exc
    # Belt and braces: the nonce check above is skipped when no nonce is expected.
    if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise Refused("invalid_id_token:nonce")
    return dict(claims)


def _verified_token(
    provider: IdentityProvider, meta: dict[str, Any], pending: Pending, id_token: str, at: str
) -> dict[str, Any]:
    keys = DISCOVERY.keys(meta["jwks_uri"])
    kid = _kid(id_token)
    if kid and all(k.kid != kid for k in keys.keys):
        keys = DISCOVERY.keys(meta["jwks_uri"], refresh=True)  # the provider rotated its keys
    return verify_id_token(
        id_token,
        keys,
        issuer=provider.issuer,
        client_id=provider.client_id,
        nonce=pending.nonce,
        access_token=at,
    )


def _kid(id_token: str) -> str | None:
    try:
        head = id_token.split(".", 1)[0]
        kid = orjson.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))).get("kid")
    except Exception:
        return None
    return kid if isinstance(kid, str) else None


def exchange(
    rt: Runtime, provider: IdentityProvider, pending: Pending, query: dict[str, str]
) -> Identity:
    """Check the redirect back, trade the code for tokens and verify who it is."""
    if query.get("error"):  # an RFC 6749 error code; anything else is not worth recording
        code = "".join(c for c in query["error"][:40] if c.isascii() and (c.isalnum() or c == "_"))
        raise Refused(f"provider_error:{code}", provider)
    if not hmac.compare_digest(query.get("state", ""), pending.state):
        raise Refused("wrong_state", provider)
    if "iss" in query and query["iss"] != provider.issuer:  # RFC 9207: mix-up defence
        raise Refused("wrong_issuer", provider)
    code = query.get("code", "")
    if not code:
        raise Refused("no_code", provider)
    meta = DISCOVERY.metadata(provider.issuer)
    secret = client_secret(rt.sealer, provider)
    with _client(provider, secret, pending.redirect_uri) as client:
        try:
            token = client.fetch_token(
                meta["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                code_verifier=pending.verifier,
            )
        except Exception as exc:  # Authlib raises OAuthError, httpx its own errors
            raise Refused("token_exchange_failed", provider) from exc
        id_token, access_token = token.get("id_token"), token.get("access_token")
        if not isinstance(id_token, str):
            raise Refused("no_id_token", provider)
        claims = _verified_token(provider, meta, pending, id_token, str(access_token or ""))
        source = claims
        if provider.email_claim not in claims:  # many providers put it only in userinfo
            source = _userinfo(client, meta, claims["sub"], provider)
    email = source.get(provider.email_claim)
    if not isinstance(email, str) or "@" not in email:
        raise Refused("no_email", provider)
    if source.get("email_verified") is not True:
        raise Refused("email_not_verified", provider)
    email = email.strip().lower()
    domain = provider.allowed_email_domain
    if domain and email.rpartition("@")[2] != domain:
        raise Refused("email_domain_not_allowed", provider)
    auth_time = claims.get("auth_time")
    when = datetime.fromtimestamp(auth_time, UTC) if isinstance(auth_time, int | float) else None
    return Identity(str(claims["sub"]), email, when)


def _userinfo(
    client: OAuth2Client, meta: dict[str, Any], subject: str, provider: IdentityProvider
) -> dict[str, Any]:
    endpoint = meta.get("userinfo_endpoint")
    if not isinstance(endpoint, str):
        raise Refused("no_email", provider)
    check_endpoint(endpoint)
    try:
        response = client.get(endpoint)
        response.raise_for_status()
        info = response.json()
    except Exception as exc:
        raise Refused("userinfo_failed", provider) from exc
    if not isinstance(info, dict) or info.get("sub") != subject:  # OIDC Core 5.3.2
        raise Refused("userinfo_subject_mismatch", provider)
    return info


def sign_in(rt: Runtime, provider_id: int, identity: Identity, client: str) -> str:
    """Match the verified address to a user of the provider's organisation and start a whole
    session, as a password and code would. Returns the new session's cookie value."""

    def work(session: Session) -> str:
        provider = session.get(IdentityProvider, provider_id)
        if provider is None:
            raise Refused("unknown_provider")
        user = session.scalar(select(User).where(User.email == identity.email))
        if user is None:
            raise Refused("unknown_account", provider)
        if user.organisation_id != provider.organisation_id:
            raise UserRefused("other_organisation", provider, user.id)
        if user.disabled_at is not None:
            raise UserRefused("disabled", provider, user.id)
        token = signin.start_signed_in_session(session, user.id, identity.authenticated_at)
        actor = Actor(f"user:{user.id}", user.id, user.organisation_id, client)
        record_event(
            session,
            actor,
            "staff.signed_in",
            record_type="user",
            record_ids=[user.id],
            purpose=f"oidc:{provider.name}",
        )
        return token

    return rt.db.write_sync(work)


def audit_refusal(rt: Runtime, refused: Refused, client: str) -> None:
    """One ``staff.sign_in_failed`` event: the reason and provider, never a token or code."""
    name = refused.provider_name
    user_id = refused.user_id if isinstance(refused, UserRefused) else None
    purpose = f"{refused.reason} (oidc:{name})" if name else refused.reason
    rt.db.write_sync(
        lambda session: record_event(
            session,
            Actor(label="anonymous", client_address=client),
            "staff.sign_in_failed",
            record_type="user" if user_id is not None else None,
            record_ids=[user_id] if user_id is not None else [],
            outcome="failure",
            purpose=purpose,
        )
    )


def complete(rt: Runtime, flow_cookie: str | None, query: dict[str, str], client: str) -> str:
    """The whole return leg: the new staff session's token, or Refused (already audited)."""
    try:
        pending = Pending.open(rt.sealer, flow_cookie, time.time())
        if pending.purpose != SIGN_IN:  # a step-up never opens a session of its own
            raise Refused("wrong_flow")
        provider = _detached_provider(rt, pending.provider_id)
        identity = exchange(rt, provider, pending, query)
        return sign_in(rt, provider.id, identity, client)
    except Refused as refused:
        audit_refusal(rt, refused, client)
        raise


def _detached_provider(rt: Runtime, provider_id: int) -> IdentityProvider:
    with rt.db.session() as session:
        provider = session.get(IdentityProvider, provider_id)
        if provider is None:
            raise Refused("unknown_provider")
        session.expunge(provider)
    return provider


# --- the step-up: re-authenticating a signed-in user with their provider ------------------


class NotTheSameUser(UserRefused):
    """The provider vouched for someone else than the session's user (``other_user_id``
    when that someone is a Vigil user too: the auditors see both)."""

    def __init__(self, provider: IdentityProvider, user_id: int, other_user_id: int | None) -> None:
        super().__init__("other_user", provider, user_id)
        self.other_user_id = other_user_id


def step_up_flow(sealer: Sealer, flow_cookie: str | None) -> Pending | None:
    """The flow, when the cookie holds a step-up (however old: its age is checked, and
    audited, by :func:`complete_step_up`); None for a sign-in or an unreadable cookie."""
    try:
        pending = Pending.unseal(sealer, flow_cookie)
    except Refused:
        return None
    return pending if pending.purpose == STEP_UP and pending.session_id else None


def step_up_refusal(
    authenticated_at: datetime | None, started: float, signed_in_at: datetime
) -> str | None:
    """Why the provider's authentication does not count as a step-up, or None when it does.

    It must say when it happened (``auth_time``), and that must be after this step-up began
    (give or take :data:`STEP_UP_CLOCK_SKEW_S` between the provider's clock and ours) and
    after the session's own sign-in, so that neither an old session at the provider nor the
    sign-in itself can pass for a new authentication.
    """
    if authenticated_at is None:
        return "no_auth_time"
    if authenticated_at.timestamp() < started - STEP_UP_CLOCK_SKEW_S:
        return "stale_authentication"
    if authenticated_at <= signed_in_at:
        return "stale_authentication"
    return None


def complete_step_up(
    rt: Runtime, pending: Pending, query: dict[str, str], client: str, browser_sid: str | None
) -> str:
    """The return leg of a step-up: the session has re-authenticated, and this is the console
    address to go back to; or Refused, already audited as ``staff.reauthentication_failed``.

    ``browser_sid`` is the staff session the browser sent, if it sent one (the provider's
    redirect is cross-site, so browsers normally do not): it must be the one that started.
    """
    try:
        if pending.purpose != STEP_UP or not pending.session_id:
            raise Refused("wrong_flow")
        pending.check_age(time.time())
        if browser_sid is not None and not hmac.compare_digest(browser_sid, pending.session_id):
            raise Refused("other_session")
        provider = _detached_provider(rt, pending.provider_id)
        identity = exchange(rt, provider, pending, query)
        rt.db.write_sync(lambda session: _step_up(session, rt, pending, identity, client))
        return pending.next
    except Refused as refused:
        audit_step_up_refusal(rt, refused, pending.session_id, client)
        raise


def _step_up(
    session: Session, rt: Runtime, pending: Pending, identity: Identity, client: str
) -> None:
    provider = session.get(IdentityProvider, pending.provider_id)
    if provider is None:
        raise Refused("unknown_provider")
    row = session.get(StaffSession, pending.session_id)
    if row is None or row.second_factor_at is None:
        raise Refused("no_session", provider)
    user = row.user
    lim = signin.limits(rt.settings)
    now = utcnow()
    idle, absolute = (timedelta(seconds=s) for s in (lim.idle_timeout_s, lim.absolute_timeout_s))
    if row.ended_at is not None or signin._session_over(row, now, idle, absolute) is not None:
        raise UserRefused("session_ended", provider, user.id)  # ended as the next page will
    if provider.organisation_id != user.organisation_id or identity.email != user.email:
        other = session.scalar(select(User.id).where(User.email == identity.email))
        raise NotTheSameUser(provider, user.id, other)
    reason = step_up_refusal(identity.authenticated_at, pending.started, row.authenticated_at)
    if reason is not None:
        raise UserRefused(reason, provider, user.id)
    signin.mark_reauthenticated(row, now)
    record_event(
        session,
        Actor(f"user:{user.id}", user.id, user.organisation_id, client),
        "staff.reauthenticated",
        record_type="user",
        record_ids=[user.id],
        outcome="success",
        purpose=f"oidc:{provider.name}",
    )


def audit_step_up_refusal(rt: Runtime, refused: Refused, session_id: str, client: str) -> None:
    """One ``staff.reauthentication_failed`` event by the session's user: the reason and the
    provider, never a token or code. Unlike a wrong code it does not count towards the
    account's lockout: nothing is guessed at Vigil here (see the module's docstring)."""
    name = refused.provider_name
    purpose = f"{refused.reason} (oidc:{name})" if name else refused.reason

    def work(session: Session) -> None:
        row = session.get(StaffSession, session_id) if session_id else None
        if row is None:
            actor = Actor(label="anonymous", client_address=client)
            ids: list[int] = []
        else:
            user = row.user
            actor = Actor(f"user:{user.id}", user.id, user.organisation_id, client)
            ids = [user.id]
        if isinstance(refused, NotTheSameUser) and refused.other_user_id is not None:
            ids.append(refused.other_user_id)
        record_event(
            session,
            actor,
            "staff.reauthentication_failed",
            record_type="user" if ids else None,
            record_ids=ids,
            outcome="failure",
            purpose=purpose,
        )

    rt.db.write_sync(work)
