"""``vigil orgs|teams|users|tokens|agreements``: administering who may see what.

Every command is an administrative action and leaves an audit event. Sign-in credentials
(``users set-password``, ``users enrol-totp``) are set here too: a secret is shown once and
only its hash (password) or its sealed form (TOTP secret) is kept.
"""

from __future__ import annotations

import os
import pwd
import shlex
import socket
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, TypeVar

import typer
from email_validator import EmailNotValidError, validate_email
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.markings import Classification
from vigil.access.models import ApiToken, Organisation, SharingAgreement, Team, User
from vigil.access.permissions import OrganisationKind, Permission, Role, permissions_for
from vigil.access.services import (
    TOKEN_DAYS,
    BadName,
    ScopeRefused,
    UserExists,
    add_user,
    checked_name,
    close_names,
    create_organisation,
    create_team,
    find_organisation,
    find_team,
    issue_token,
    join_team,
    refuse_taken_email,
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
T = TypeVar("T")
# The audit column holding the label (audit_events.actor_label) is String(80).
_LABEL_MAX = 80


def cli_actor_label() -> str:
    """Who ran a command, as its audit events name them: ``cli:ACCOUNT@HOST``.

    The account is the operating system's name for the process's real user id, not $USER or
    $LOGNAME, which whoever runs the command sets as they please. Run through sudo as root,
    the account sudo says invoked it is added: ``cli:root@host(sudo:alice)``. A name and a
    host only, never a secret; anything but printable characters becomes ``?``.
    """
    uid = os.getuid()
    try:
        account = pwd.getpwuid(uid).pw_name
    except KeyError:  # an account without a passwd entry (a container's, say)
        account = f"uid={uid}"
    label = f"cli:{_plain(account)}@{_plain(socket.gethostname())}"
    invoker = os.environ.get("SUDO_USER")
    if uid == 0 and invoker:
        label += f"(sudo:{_plain(invoker)})"
    return label[:_LABEL_MAX]


def _plain(text: str) -> str:
    return "".join(c if c.isprintable() and not c.isspace() else "?" for c in text) or "?"


CLI_ACTOR = Actor(label=cli_actor_label())
"""The actor of every administrative command: the one place a CLI actor is built."""


class Refused(Exception):
    """A clear, specific reason the command changed nothing."""


# A name the name rule refuses exits as other invalid input does (Typer's usage errors).
BAD_INPUT = 2


def run(work: Callable[[Session], T]) -> T:
    """Run ``work`` in one committed transaction; a refusal exits 1 with its reason, a name
    the name rule refuses exits 2 (nothing is changed either way)."""
    rt = Runtime.build(get_settings())
    try:
        return rt.db.write_sync(work)
    except BadName as exc:
        _say_refused(exc)
        raise typer.Exit(BAD_INPUT) from exc
    except (Refused, UserExists, ValueError) as exc:  # WeakPassword is a ValueError
        _say_refused(exc)
        raise typer.Exit(1) from exc
    finally:
        rt.db.close()


def _say_refused(exc: Exception) -> None:
    err.print(f"[red]{escape(str(exc))}[/red]", highlight=False, soft_wrap=True)


def _org(session: Session, name: str) -> Organisation:
    org = find_organisation(session, name)
    if org is None:
        names = session.scalars(select(Organisation.name))
        raise Refused(f"No organisation called {name!r}.{_did_you_mean(names, name)}")
    return org


def _did_you_mean(names: Iterable[str], name: str) -> str:
    close = close_names(names, name)
    return f" Did you mean {' or '.join(map(repr, close))}?" if close else ""


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

    created = run(lambda session: create_organisation(session, CLI_ACTOR, name, kind).name)
    err.print(f"Created organisation {escape(created)} ({kind.value}).", highlight=False)


@teams_app.command("create")
def teams_create(
    name: Annotated[str, typer.Argument(help="Team name")],
    org: Annotated[str, typer.Option(help="Organisation the team belongs to")],
) -> None:
    """Create a team in an organisation."""

    def work(session: Session) -> tuple[str, str]:
        organisation = _org(session, org)
        return create_team(session, CLI_ACTOR, organisation, name).name, organisation.name

    team, in_org = run(work)
    err.print(f"Created team {escape(team)} in {escape(in_org)}.", highlight=False)


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
    org: Annotated[str, typer.Option(help="Organisation name (created if missing, and audited)")],
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
        typer.Option(help="Team in the organisation (created if missing, and audited); repeatable"),
    ] = None,
    clearance: Annotated[
        Classification, typer.Option(help="Highest classification the user may see")
    ] = Classification.official_sensitive,
) -> None:
    """Create a staff user (new reports are seen by the receiving organisation's team only).

    An organisation or team that does not exist yet is created under the same name rule as
    ``orgs create`` and ``teams create``, audited as they are, and said on the console.
    """

    def work(session: Session) -> tuple[str, str, list[str], str | None]:
        refuse_taken_email(session, email)
        made: list[str] = []
        organisation = find_organisation(session, org)
        if organisation is None:
            organisation = create_organisation(session, CLI_ACTOR, org, org_kind)
            made.append(f"Created organisation {organisation.name} ({org_kind.value}).")
        members = []
        for name in team or ():
            member = find_team(session, organisation, name)
            if member is None:
                member = create_team(session, CLI_ACTOR, organisation, name)
                made.append(f"Created team {member.name} in {organisation.name}.")
            members.append(member)
        user = add_user(
            session, CLI_ACTOR, email, organisation, role, teams=members, clearance=clearance
        )
        secret = None
        if token:
            expires = utcnow() + timedelta(days=token_days)
            secret = issue_token(session, CLI_ACTOR, user, expires_at=expires)
        return user.email, organisation.name, made, secret

    created, in_org, made, secret = run(work)
    for line in made:
        err.print(escape(line), highlight=False, soft_wrap=True)
    err.print(
        f"[green]Created {escape(created)} ({role.value}) in {escape(in_org)}.[/green]",
        highlight=False,
    )
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
    team: Annotated[
        list[str] | None,
        typer.Option(
            help="Add to this existing team of the user's organisation (`vigil teams create` "
            "makes one); repeatable"
        ),
    ] = None,
    clearance: Annotated[Classification | None, typer.Option(help="New clearance")] = None,
) -> None:
    """Change a user's role, teams or clearance.

    A team must exist already: an unknown one is refused, naming close existing teams, and
    nothing is changed.
    """
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
            member = _team(session, org, name)
            join_team(session, user, member)
            changes.append(f"team={member.name}")
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


def _team(session: Session, org: Organisation, name: str) -> Team:
    found = find_team(session, org, name)
    if found is not None:
        return found
    names = session.scalars(select(Team.name).where(Team.organisation_id == org.id))
    hint = _did_you_mean(names, name)
    command = "vigil teams create NAME --org ORGANISATION"
    try:
        command = f"vigil teams create {shlex.quote(checked_name(name, 'team'))}"
        command += f" --org {shlex.quote(org.name)}"
    except BadName:
        pass  # a name no team could have: the command's general form
    raise Refused(f"No team called {name!r} in {org.name}.{hint} To make it: {command}")


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


@tokens_app.command(
    "revoke",
    epilog=(
        "Without --id every live token of EMAIL is revoked. With --id only that token is, "
        "and EMAIL, if given, must be its user's. An unknown id, another user's token or "
        "one already revoked is refused (exit 1) and nothing is changed."
    ),
)
def tokens_revoke(
    email: Annotated[
        str | None,
        typer.Argument(help="Whose tokens: every live one, unless --id names one of them"),
    ] = None,
    token_id: Annotated[
        int | None,
        typer.Option("--id", min=1, help="Revoke only this token (its id in `tokens list`)"),
    ] = None,
) -> None:
    """Revoke a user's tokens, or one token by its id; they stop working on the next request."""
    if email is None and token_id is None:
        err.print("[red]Say whose tokens to revoke (EMAIL), or which one (--id N).[/red]")
        raise typer.Exit(BAD_INPUT)
    if token_id is not None:
        owner = run(lambda session: _revoke_one(session, token_id, email))
        err.print(f"Revoked token {token_id} of {escape(owner)}.", highlight=False)
    elif email is not None:
        count = run(lambda session: _revoke_all(session, email))
        err.print(f"Revoked {count} token(s) of {escape(email)}.", highlight=False)


def _revoke_all(session: Session, email: str) -> int:
    """Revoke every live token of ``email``'s user; how many there were."""
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


def _revoke_one(session: Session, token_id: int, email: str | None) -> str:
    """Revoke token ``token_id`` (of ``email``'s user, when given); the owner's address."""
    user = _user(session, email) if email is not None else None
    row = session.get(ApiToken, token_id)
    if row is None or (user is not None and row.user_id != user.id):
        whose = f" of {user.email}" if user is not None else ""
        raise Refused(f"No token {token_id}{whose}: `vigil tokens list EMAIL` shows the ids.")
    if row.revoked_at is not None:
        raise Refused(f"Token {token_id} was already revoked on {_day(row.revoked_at)} UTC.")
    row.revoked_at = utcnow()
    record_event(session, CLI_ACTOR, "token.revoked", record_type="api_token", record_ids=[row.id])
    return row.user.email


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
