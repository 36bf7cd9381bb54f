"""``vigil idp add|list``: registering an agency's own OpenID provider for staff sign-in.

The client secret is read from standard input (never from the command line, where it would
sit in shell history and the process list) and kept only sealed with the master keys.
Listing never shows it. Adding a provider is an administrative action and is audited.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session

from vigil.access.commands import CLI_ACTOR, Refused, _org
from vigil.access.oidc import DEFAULT_SCOPES, IdentityProvider, add_provider, providers
from vigil.settings import get_settings
from vigil.web.runtime import Runtime

idp_app = typer.Typer(
    help="Organisations' own OpenID Connect identity providers.", no_args_is_help=True
)
err = Console(stderr=True)


@idp_app.command("add")
def idp_add(
    org: Annotated[str, typer.Option(help="Organisation whose staff the provider signs in")],
    name: Annotated[str, typer.Option(help="A unique name, shown on the sign-in page")],
    issuer: Annotated[str, typer.Option(help="Issuer URL (https://; http:// on loopback only)")],
    client_id: Annotated[str, typer.Option(help="Vigil's client id at the provider")],
    client_secret_stdin: Annotated[
        bool,
        typer.Option(
            "--client-secret-stdin", help="Read the client secret from the first line of stdin"
        ),
    ] = False,
    email_domain: Annotated[
        str | None, typer.Option(help="Accept only addresses at this domain")
    ] = None,
    scopes: Annotated[str, typer.Option(help="Scopes to ask for")] = DEFAULT_SCOPES,
    email_claim: Annotated[str, typer.Option(help="Claim that holds the e-mail")] = "email",
) -> None:
    """Register an OpenID provider for an organisation (the secret is kept sealed)."""
    if client_secret_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    else:
        secret = typer.prompt("Client secret", hide_input=True)
    if not secret:
        err.print("[red]The client secret is empty.[/red]", markup=True, highlight=False)
        raise typer.Exit(1)
    rt = Runtime.build(get_settings())

    def work(session: Session) -> int:
        if session.scalar(select(IdentityProvider.id).where(IdentityProvider.name == name)):
            raise Refused(f"An identity provider called {name!r} already exists.")
        provider = add_provider(
            session,
            rt.sealer,
            CLI_ACTOR,
            _org(session, org),
            name=name,
            issuer=issuer,
            client_id=client_id,
            client_secret=secret,
            scopes=scopes,
            email_claim=email_claim,
            email_domain=email_domain,
        )
        return provider.id

    try:
        provider_id = rt.db.write_sync(work)
    except (Refused, ValueError) as exc:
        err.print(f"[red]{exc}[/red]", markup=True, highlight=False)
        raise typer.Exit(1) from exc
    finally:
        rt.db.close()
    err.print(f"Added identity provider {name} (id {provider_id}) for {org}.")
    typer.echo(provider_id)


@idp_app.command("list")
def idp_list() -> None:
    """List identity providers (never their secrets)."""
    rt = Runtime.build(get_settings())
    try:
        with rt.db.session() as session:
            rows = [
                (
                    str(p.id),
                    p.name,
                    p.organisation.name,
                    p.issuer,
                    p.client_id,
                    p.allowed_email_domain or "",
                )
                for p in providers(session)
            ]
    finally:
        rt.db.close()
    table = Table("Id", "Name", "Organisation", "Issuer", "Client id", "E-mail domain")
    for row in rows:
        table.add_row(*row)
    Console().print(table)
