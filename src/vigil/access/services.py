"""Organisations, users and API tokens: creating them and recognising a bearer token."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.markings import Classification
from vigil.access.models import ApiToken, Organisation, Team, TeamMembership, User
from vigil.access.permissions import OrganisationKind, Permission, Role, permissions_for
from vigil.audit.services import Actor, record_event
from vigil.db import utcnow

TOKEN_PREFIX = "vgl_"  # noqa: S105 - a prefix, not a secret
# A scope naming a permission that no longer exists grants nothing (never an error at use).
_PERMISSION_VALUES = frozenset(p.value for p in Permission)


@dataclass(frozen=True)
class StaffUser:
    """The acting staff member, as every service function receives them."""

    id: int
    email: str
    org_id: int
    role: Role
    permissions: frozenset[Permission]
    team_ids: frozenset[int] = frozenset()
    clearance: Classification = Classification.official_sensitive

    def actor(self, client_address: str | None = None) -> Actor:
        return Actor(
            label=f"user:{self.id}",
            user_id=self.id,
            org_id=self.org_id,
            client_address=client_address,
        )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ensure_team(session: Session, org: Organisation, name: str) -> Team:
    team = session.scalar(select(Team).where(Team.organisation_id == org.id, Team.name == name))
    if team is None:
        team = Team(organisation_id=org.id, name=name)
        session.add(team)
        session.flush()
    return team


def join_team(session: Session, user: User, team: Team) -> None:
    if session.get(TeamMembership, (user.id, team.id)) is None:
        session.add(TeamMembership(user_id=user.id, team_id=team.id))
        session.flush()


def ensure_organisation(session: Session, name: str, kind: OrganisationKind) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        org = Organisation(name=name, kind=kind.value)
        session.add(org)
        session.flush()
    return org


class UserExists(ValueError):
    pass


def create_user(
    session: Session,
    actor: Actor,
    email: str,
    org_name: str,
    role: Role,
    org_kind: OrganisationKind = OrganisationKind.other,
    *,
    teams: tuple[str, ...] = (),
    clearance: Classification = Classification.official_sensitive,
) -> User:
    email = email.strip().lower()
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise UserExists(f"a user with e-mail {email} already exists")
    org = ensure_organisation(session, org_name, org_kind)
    user = User(email=email, organisation_id=org.id, role=role.value, clearance=clearance.value)
    session.add(user)
    session.flush()
    for team_name in teams:
        join_team(session, user, ensure_team(session, org, team_name))
    record_event(session, actor, "user.created", record_type="user", record_ids=[user.id])
    return user


class ScopeRefused(ValueError):
    """A token was asked for a permission its user's role does not hold."""


TOKEN_DAYS = 90
"""How long a bearer token lives unless its issuer says otherwise: every token expires."""


def issue_token(
    session: Session,
    actor: Actor,
    user: User,
    expires_at: datetime | None = None,
    scopes: frozenset[Permission] | None = None,
) -> str:
    """Create a bearer token; the secret is returned once and only its hash is kept. It
    expires at ``expires_at``, or :data:`TOKEN_DAYS` from now when none is given.

    ``scopes`` narrows the token to some of the role's permissions (least privilege for an
    integration); asking for one the role lacks is refused rather than silently dropped.
    """
    if scopes is not None:
        beyond = scopes - permissions_for(Role(user.role))
        if beyond:
            names = ", ".join(sorted(p.value for p in beyond))
            raise ScopeRefused(f"The role {user.role} does not hold: {names}.")
        if not scopes:
            raise ScopeRefused("A scoped token needs at least one permission.")
    row = ApiToken(
        user_id=user.id,
        token_hash=hash_token(token := TOKEN_PREFIX + secrets.token_urlsafe(32)),
        expires_at=expires_at or utcnow() + timedelta(days=TOKEN_DAYS),
        scopes=None if scopes is None else sorted(p.value for p in scopes),
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        actor,
        "token.issued",
        record_type="api_token",
        record_ids=[row.id],
        purpose=None if scopes is None else "scopes: " + ", ".join(row.scopes or []),
    )
    return token


def user_for_token(session: Session, token: str) -> StaffUser | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    now = utcnow()
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    user = row.user
    if user.disabled_at is not None:
        return None
    found = staff_user(session, user)
    if row.scopes is None:
        return found
    scoped = frozenset(Permission(v) for v in row.scopes if v in _PERMISSION_VALUES)
    return replace(found, permissions=found.permissions & scoped)


def staff_user(session: Session, user: User) -> StaffUser:
    """The acting user with everything the policy needs: role, teams, clearance."""
    role = Role(user.role)
    teams = frozenset(
        session.scalars(select(TeamMembership.team_id).where(TeamMembership.user_id == user.id))
    )
    return StaffUser(
        user.id,
        user.email,
        user.organisation_id,
        role,
        permissions_for(role),
        teams,
        Classification(user.clearance),
    )
