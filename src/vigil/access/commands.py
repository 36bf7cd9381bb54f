"""``vigil orgs|teams|users|tokens|agreements``: administering who may see what.

Every command is an administrative action and leaves an audit event. Sign-in credentials
(``users set-password``, ``users enrol-totp``) are set here too: a secret is shown once and
only its hash (password) or its sealed form (TOTP secret) is kept.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar

import typer
from email_validator import EmailNotValidError, validate_email
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.markings import Classification
from vigil.access.models import ApiToken, Organisation, SharingAgreement, Team, User
from vigil.access.permissions import OrganisationKind, Permission, Role, permissions_for
from vigil.access.services import (
    TOKEN_DAYS,
    ScopeRefused,
    UserExists,
    create_user,
    ensure_organisation,
    ensure_team,
    issue_token,
    join_team,
)
from vigil.access.sharing import create_agreement
from vigil.access.signin import (
    WeakPassword,
    enrol_totp,
    new_password_hash,
    provisioning_uri,
    set_password,
)
from vigil.audit.services import Actor, record_event
from vigil.db import utcnow
from vigil.settings import get_settings
from vigil.web.runtime import Runtime

orgs_app = typer.Typer(help="Organisations (agencies).", no_args_is_help=True)
teams_app = typer.Typer(help="Teams inside organisations.", no_args_is_help=True)
users_app = typer.Typer(help="Staff users.", no_args_is_help=True)
tokens_app = typer.Typer(help="Bearer API tokens for integrations.", no_args_is_help=True)
agreements_app = typer.Typer(help="Data-sharing agreements.", no_args_is_help=True)
err = Console(stderr=True)
CLI_ACTOR = Actor(label="cli")
T = TypeVar("T")


class Refused(Exception):
    """A clear, specific reason the command changed nothing."""


def run(work: Callable[[Session], T]) -> T:
    """Run ``work`` in one committed transaction; a refusal exits 1 with its reason."""
    rt = Runtime.build(get_settings())
    try:
        return rt.db.write_sync(work)
    except (Refused, UserExists, ValueError) as exc:  # WeakPassword is a ValueError
        err.print(f"[red]{exc}[/red]", markup=True, highlight=False)
        raise typer.Exit(1) from exc
    finally:
        rt.db.close()


def _org(session: Session, name: str) -> Organisation:
    org = session.scalar(select(Organisation).where(Organisation.name == name))
    if org is None:
        raise Refused(f"No organisation called {name!r}.")
    return org


def _user(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise Refused(f"No user {email.strip().lower()}.")
    return user


@orgs_app.command("create")
def orgs_create(
    name: Annotated[str, typer.Argument(help="Organisation name")],
    kind: Annotated[OrganisationKind, typer.Option(help="Kind of agency")],
) -> None:
    """Create an organisation."""

    def work(session: Session) -> None:
        if session.scalar(select(Organisation.id).where(Organisation.name == name)):
            raise Refused(f"An organisation called {name!r} already exists.")
        org = ensure_organisation(session, name, kind)
        record_event(
            session,
            CLI_ACTOR,
            "organisation.created",
            record_type="organisation",
            record_ids=[org.id],
        )

    run(work)
    err.print(f"Created organisation {name} ({kind.value}).")


@teams_app.command("create")
def teams_create(
    name: Annotated[str, typer.Argument(help="Team name")],
    org: Annotated[str, typer.Option(help="Organisation the team belongs to")],
) -> None:
    """Create a team in an organisation."""

    def work(session: Session) -> None:
        organisation = _org(session, org)
        exists = select(Team.id).where(Team.organisation_id == organisation.id, Team.name == name)
        if session.scalar(exists) is not None:
            raise Refused(f"A team called {name!r} already exists in {org}.")
        team = ensure_team(session, organisation, name)
        record_event(session, CLI_ACTOR, "team.created", record_type="team", record_ids=[team.id])

    run(work)
    err.print(f"Created team {name} in {org}.")


def _email(value: str) -> str:
    """A syntactically valid address (never looked up), or a usage error naming it."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise typer.BadParameter(f"{value!r} is not an e-mail address: {exc}") from None


@users_app.command("create")
def users_create(
    email: Annotated[
        str, typer.Argument(help="E-mail address (the sign-in name)", callback=_email)
    ],
    org: Annotated[str, typer.Option(help="Organisation name (created if missing)")],
    role: Annotated[Role, typer.Option(help="Role")],
    org_kind: Annotated[
        OrganisationKind, typer.Option(help="Kind, if the organisation is new")
    ] = OrganisationKind.other,
    token: Annotated[
        bool, typer.Option("--token", help="Also print a bearer API token (once)")
    ] = False,
    token_days: Annotated[
        int, typer.Option(min=1, max=366, help="Days until the --token expires")
    ] = TOKEN_DAYS,
    team: Annotated[
        list[str] | None,
        typer.Option(help="Team in the organisation (created if missing); repeatable"),
    ] = None,
    clearance: Annotated[
        Classification, typer.Option(help="Highest classification the user may see")
    ] = Classification.official_sensitive,
) -> None:
    """Create a staff user (new reports are seen by the receiving organisation's team only)."""

    def work(session: Session) -> tuple[str, str | None]:
        user = create_user(
            session,
            CLI_ACTOR,
            email,
            org,
            role,
            org_kind,
            teams=tuple(team or ()),
            clearance=clearance,
        )
        if not token:
            return user.email, None
        expires = utcnow() + timedelta(days=token_days)
        return user.email, issue_token(session, CLI_ACTOR, user, expires_at=expires)

    created, secret = run(work)
    err.print(f"[green]Created {created} ({role.value}) in {org}.[/green]")
    if secret:
        err.print(f"API token, expiring in {token_days} days (shown once; store it safely):")
        typer.echo(secret)


@users_app.command("disable")
def users_disable(email: Annotated[str, typer.Argument(help="The user's e-mail address")]) -> None:
    """Disable a user: their tokens and sessions stop working on the next request."""

    def work(session: Session) -> None:
        user = _user(session, email)
        if user.disabled_at is None:
            user.disabled_at = utcnow()
        record_event(session, CLI_ACTOR, "user.disabled", record_type="user", record_ids=[user.id])

    run(work)
    err.print(f"Disabled {email}.")


@users_app.command("grant")
def users_grant(
    email: Annotated[str, typer.Argument(help="The user's e-mail address")],
    role: Annotated[Role | None, typer.Option(help="New role")] = None,
    team: Annotated[list[str] | None, typer.Option(help="Add to this team; repeatable")] = None,
    clearance: Annotated[Classification | None, typer.Option(help="New clearance")] = None,
) -> None:
    """Change a user's role, teams or clearance."""
    if role is None and not team and clearance is None:
        err.print("[red]Say what to grant: --role, --team or --clearance.[/red]")
        raise typer.Exit(1)

    def work(session: Session) -> None:
        user = _user(session, email)
        changes = []
        if role is not None:
            user.role = role.value
            changes.append(f"role={role.value}")
        if clearance is not None:
            user.clearance = clearance.value
            changes.append(f"clearance={clearance.value}")
        org = session.get(Organisation, user.organisation_id)
        assert org is not None
        for name in team or ():
            join_team(session, user, ensure_team(session, org, name))
            changes.append(f"team={name}")
        record_event(
            session,
            CLI_ACTOR,
            "user.granted",
            record_type="user",
            record_ids=[user.id],
            purpose=", ".join(changes),
        )

    run(work)
    err.print(f"Updated {email}.")


@tokens_app.command("create")
def tokens_create(
    email: Annotated[str, typer.Argument(help="The user the token acts as")],
    days: Annotated[int, typer.Option(min=1, max=366, help="Days until it expires")] = TOKEN_DAYS,
    scope: Annotated[
        list[str] | None,
        typer.Option(help="A permission the token may use, e.g. stats:summary:read; repeatable"),
    ] = None,
) -> None:
    """Issue a bearer token (printed once; only its hash is kept).

    With ``--scope`` the token may use only those permissions of the user's role.
    """
    scopes = _scopes(scope) if scope else None

    def work(session: Session) -> str:
        user = _user(session, email)
        if user.disabled_at is not None:
            raise Refused(f"{user.email} is disabled.")
        expires = utcnow() + timedelta(days=days)
        try:
            return issue_token(session, CLI_ACTOR, user, expires_at=expires, scopes=scopes)
        except ScopeRefused as exc:
            raise Refused(str(exc)) from exc

    secret = run(work)
    limited = f", limited to {len(scopes)} permission(s)" if scopes else ""
    err.print(f"Token for {email}, expiring in {days} days{limited} (shown once):")
    typer.echo(secret)


def _scopes(values: list[str]) -> frozenset[Permission]:
    known = {p.value: p for p in Permission}
    unknown = [v for v in values if v not in known]
    if unknown:
        err.print(f"Unknown permission(s): {', '.join(unknown)}.", soft_wrap=True)
        err.print("`vigil tokens permissions` lists them.", soft_wrap=True)
        raise typer.Exit(2)
    return frozenset(known[v] for v in values)


@tokens_app.command("permissions")
def tokens_permissions(
    role: Annotated[Role | None, typer.Option(help="Only this role's permissions")] = None,
) -> None:
    """List the permissions a token may be scoped to (all, or one role's)."""
    chosen = permissions_for(role) if role else frozenset(Permission)
    for value in sorted(p.value for p in chosen):
        typer.echo(value)


@tokens_app.command("list")
def tokens_list(
    email: Annotated[str, typer.Argument(help="Whose tokens")],
) -> None:
    """A user's tokens: when issued, when they expire, their scope and whether revoked."""

    def work(session: Session) -> list[ApiToken]:
        user = _user(session, email)
        rows = list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)))
        record_event(
            session,
            CLI_ACTOR,
            "token.listed",
            record_type="api_token",
            record_ids=[row.id for row in rows],
        )
        return rows

    table = Table("Id", "Issued", "Expires", "Scope", "State")
    now = utcnow()
    for row in run(work):
        state = "revoked" if row.revoked_at else "expired" if _ended(row, now) else "live"
        scope = ", ".join(row.scopes) if row.scopes is not None else "the role's permissions"
        table.add_row(str(row.id), _day(row.created_at), _day(row.expires_at), scope, state)
    Console().print(table, soft_wrap=True)


def _ended(row: ApiToken, now: datetime) -> bool:
    return row.expires_at is not None and row.expires_at <= now


def _day(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "never"


@tokens_app.command("revoke")
def tokens_revoke(
    email: Annotated[str, typer.Argument(help="Revoke every live token of this user")],
) -> None:
    """Revoke a user's tokens; they stop working on the next request."""

    def work(session: Session) -> int:
        user = _user(session, email)
        live = list(
            session.scalars(
                select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            )
        )
        for row in live:
            row.revoked_at = utcnow()
        record_event(
            session,
            CLI_ACTOR,
            "token.revoked",
            record_type="api_token",
            record_ids=[row.id for row in live],
        )
        return len(live)

    count = run(work)
    err.print(f"Revoked {count} token(s) of {email}.")


@agreements_app.command("create")
def agreements_create(
    between: Annotated[str, typer.Option(help="One organisation")],
    and_: Annotated[str, typer.Option("--and", help="The other organisation")],
    records: Annotated[
        list[str], typer.Option(help="Kind of record covered (report, case, ...); repeatable")
    ],
    max_classification: Annotated[Classification, typer.Option(help="Highest marking covered")],
    purpose: Annotated[str, typer.Option(help="The purpose sharing serves")],
    days: Annotated[int | None, typer.Option(min=1, help="Ends after this many days")] = None,
    sensitive_role: Annotated[
        list[Role] | None,
        typer.Option(help="A role shown the other side's health and social-care details"),
    ] = None,
) -> None:
    """Record a data-sharing agreement between two organisations."""
    ends = datetime.now(UTC) + timedelta(days=days) if days else None
    agreement_id = run(
        lambda session: (
            create_agreement(
                session,
                CLI_ACTOR,
                between,
                and_,
                records,
                max_classification,
                purpose,
                ends,
                sensitive_roles=sensitive_role or (),
            ).id
        )
    )
    err.print(f"Agreement {agreement_id} between {between} and {and_} recorded.")


@agreements_app.command("list")
def agreements_list() -> None:
    """Show every agreement."""

    def work(session: Session) -> list[tuple[str, ...]]:
        orgs = session.execute(select(Organisation.id, Organisation.name))
        names = {org_id: name for org_id, name in orgs}
        return [
            (
                str(a.id),
                names[a.org_a_id],
                names[a.org_b_id],
                ", ".join(a.record_types),
                a.max_classification,
                a.ends_at.isoformat() if a.ends_at else "open-ended",
                a.purpose,
            )
            for a in session.scalars(select(SharingAgreement).order_by(SharingAgreement.id))
        ]

    table = Table("Id", "Between", "And", "Records", "Up to", "Ends", "Purpose")
    for row in run(work):
        table.add_row(*row)
    Console().print(table)


@users_app.command("set-password")
def users_set_password(
    email: Annotated[str, typer.Argument(help="The user's e-mail address")],
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin", help="Read the password from the first line of standard input"
        ),
    ] = False,
) -> None:
    """Set a user's sign-in password (asked for twice, not shown). Ends their sessions."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        password_hash = new_password_hash(password, email)  # slow on purpose: outside the writer
    except WeakPassword as exc:
        err.print(f"[red]{exc}[/red]", markup=True, highlight=False)
        raise typer.Exit(1) from exc
    run(lambda session: set_password(session, CLI_ACTOR, _user(session, email), password_hash))
    err.print(f"Password set for {email.strip().lower()}; their sessions have ended.")


@users_app.command("enrol-totp")
def users_enrol_totp(
    email: Annotated[str, typer.Argument(help="The user's e-mail address")],
) -> None:
    """Give a user a new authenticator-app (TOTP) secret, shown once. Ends their sessions."""
    rt = Runtime.build(get_settings())
    try:
        user_email, secret = rt.db.write_sync(lambda session: _enrol(session, rt, email))
    except Refused as exc:
        err.print(f"[red]{exc}[/red]", markup=True, highlight=False)
        raise typer.Exit(1) from exc
    finally:
        rt.db.close()
    err.print(
        f"New authenticator secret for {user_email} (shown once). Add it to the user's app "
        "from this URI (as a QR code) or by typing the secret:"
    )
    typer.echo(provisioning_uri(secret, user_email))
    typer.echo(secret)


def _enrol(session: Session, rt: Runtime, email: str) -> tuple[str, str]:
    user = _user(session, email)
    return user.email, enrol_totp(session, rt.sealer, CLI_ACTOR, user)
