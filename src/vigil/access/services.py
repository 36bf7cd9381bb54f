"""Organisations, users and API tokens: creating them and recognising a bearer token."""

from __future__ import annotations

import difflib
import hashlib
import secrets
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.markings import Classification
from vigil.access.models import ApiToken, Organisation, Team, TeamMembership, User
from vigil.access.permissions import OrganisationKind, Permission, Role, permissions_for
from vigil.audit.services import Actor, record_event
from vigil.db import utcnow
from vigil.web.text import single_line, visible_length

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
    """A staff user, with the organisation and teams made silently if missing (demo data and
    tests). An administrator's ``vigil users create`` makes them with
    :func:`create_organisation` and :func:`create_team` instead, named by the name rule and
    audited, and then calls :func:`add_user`."""
    refuse_taken_email(session, email)
    org = ensure_organisation(session, org_name, org_kind)
    members = [ensure_team(session, org, name) for name in teams]
    return add_user(session, actor, email, org, role, teams=members, clearance=clearance)


def refuse_taken_email(session: Session, email: str) -> None:
    email = email.strip().lower()
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise UserExists(f"a user with e-mail {email} already exists")


def add_user(
    session: Session,
    actor: Actor,
    email: str,
    org: Organisation,
    role: Role,
    *,
    teams: Sequence[Team] = (),
    clearance: Classification = Classification.official_sensitive,
) -> User:
    """A staff user in an organisation and teams that exist already (``user.created``)."""
    refuse_taken_email(session, email)
    email = email.strip().lower()
    user = User(email=email, organisation_id=org.id, role=role.value, clearance=clearance.value)
    session.add(user)
    session.flush()
    for team in teams:
        join_team(session, user, team)
    record_event(session, actor, "user.created", record_type="user", record_ids=[user.id])
    return user


# --- the name rule for organisations and teams ----------------------------------------------

NAME_MAX = 200
"""The longest organisation or team name, in characters (both columns are String(200))."""


class BadName(ValueError):
    """A name the name rule refuses, or one already taken: nothing was created."""


def checked_name(value: str, what: str) -> str:
    """``value`` as an organisation or team name is kept, or :class:`BadName` saying why.

    One rule for both, on every path that creates them: the rule every typed text follows
    (``web.text``: NFC, no control, bidirectional or hidden tag characters), on one line,
    with no tab and no invisible character at all (a name that looks like another must be
    that other), trimmed, runs of spaces made one space, and 1 to :data:`NAME_MAX`
    characters.
    """
    shown = _shown(value)
    try:
        name = single_line(value)
    except ValueError as exc:
        raise BadName(f"The {what} name {shown} {exc}.") from None
    for char in name:
        if char == "\t":
            raise BadName(f"The {what} name {shown} contains a control character (U+0009).")
        if visible_length(char) == 0 or unicodedata.category(char) == "Cf":
            raise BadName(
                f"The {what} name {shown} contains an invisible character (U+{ord(char):04X})."
            )
    name = " ".join(name.split())
    if not name:
        raise BadName(f"The {what} name {shown} is empty: give 1 to {NAME_MAX} characters.")
    if len(name) > NAME_MAX:
        raise BadName(
            f"The {what} name {shown} is {len(name):,} characters long: "
            f"at most {NAME_MAX} are allowed."
        )
    return name


def name_key(name: str) -> str:
    """What two names are compared by: two names differing only in case, spacing or a
    compatibility form (a full-width letter, a ligature) are one name."""
    return unicodedata.normalize("NFKC", " ".join(name.split())).casefold()


def _shown(value: str) -> str:
    """A name as an error message quotes it: escapes visible, long names cut short."""
    return repr(value[:60]) + ("…" if len(value) > 60 else "")


def _same_name(names: Iterable[str], name: str) -> str | None:
    key = name_key(name)
    return next((existing for existing in names if name_key(existing) == key), None)


def _taken(what: str, taken: str, name: str, where: str = "") -> BadName:
    alike = "" if taken == name else " (names are compared ignoring case and spacing)"
    article = "An" if what[0] in "aeiou" else "A"
    return BadName(f"{article} {what} called {taken!r} already exists{where}{alike}.")


def close_names(names: Iterable[str], name: str) -> list[str]:
    """Up to three of ``names`` a mistyped ``name`` may have meant, closest first."""
    by_key: dict[str, str] = {}
    for existing in names:
        by_key.setdefault(name_key(existing), existing)
    found = difflib.get_close_matches(name_key(name), list(by_key), n=3, cutoff=0.6)
    return [by_key[key] for key in found]


def find_organisation(session: Session, name: str) -> Organisation | None:
    """The organisation called ``name``, compared as the uniqueness rule compares names
    (:func:`name_key`: ignoring case and spacing), so whatever would be refused as taken is
    found. Organisations number in the hundreds at most: reading their names is cheap."""
    exact = session.scalar(select(Organisation).where(Organisation.name == name))
    if exact is not None:
        return exact
    same = _same_name(session.scalars(select(Organisation.name)).all(), name)
    if same is None:
        return None
    return session.scalar(select(Organisation).where(Organisation.name == same))


def find_team(session: Session, org: Organisation, name: str) -> Team | None:
    """The team of ``org`` called ``name``, compared as :func:`find_organisation` does."""
    teams = {t.name: t for t in session.scalars(select(Team).where(Team.organisation_id == org.id))}
    if name in teams:
        return teams[name]
    same = _same_name(teams, name)
    return teams[same] if same is not None else None


def create_organisation(
    session: Session, actor: Actor, name: str, kind: OrganisationKind
) -> Organisation:
    """A new organisation named by the name rule, audited (``organisation.created``); a name
    already taken, in any case or spacing, is refused."""
    name = checked_name(name, "organisation")
    taken = _same_name(session.scalars(select(Organisation.name)), name)
    if taken is not None:
        raise _taken("organisation", taken, name)
    org = Organisation(name=name, kind=kind.value)
    session.add(org)
    session.flush()
    record_event(
        session, actor, "organisation.created", record_type="organisation", record_ids=[org.id]
    )
    return org


def create_team(session: Session, actor: Actor, org: Organisation, name: str) -> Team:
    """A new team of ``org`` named by the name rule, audited (``team.created``); a name the
    organisation already has, in any case or spacing, is refused."""
    name = checked_name(name, "team")
    names = session.scalars(select(Team.name).where(Team.organisation_id == org.id))
    taken = _same_name(names, name)
    if taken is not None:
        raise _taken("team", taken, name, f" in {org.name}")
    team = Team(organisation_id=org.id, name=name)
    session.add(team)
    session.flush()
    record_event(session, actor, "team.created", record_type="team", record_ids=[team.id])
    return team


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
