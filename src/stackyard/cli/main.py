"""`stackyard`: run the server and worker, manage the database and tokens, and talk to the API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

import typer

from stackyard.cli import client, modules, runs
from stackyard.logs import configure_logging

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform
    from stackyard.settings import Settings

app = typer.Typer(
    help="Stackyard: self-hosted GitOps for infrastructure code on GitLab.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (works directly on the database).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
client.register(app)
modules.register(app)
runs.register(app)


def _platform(settings: Settings | None = None) -> Platform:
    from stackyard.bootstrap import create_platform
    from stackyard.settings import Settings

    settings = settings or Settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    return create_platform(settings)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Serve HTTP only; run `stackyard worker` elsewhere.")
    ] = False,
) -> None:
    """Web server (API, webhooks, UI), with a worker in the same process unless --no-worker.

    Applies pending database migrations first, so one command is a whole working system.
    """
    import uvicorn

    from stackyard.bootstrap import create_app
    from stackyard.settings import Settings, only_this_machine, serving_at
    from stackyard.storage.migrate import upgrade
    from stackyard.worker.consumer import start_embedded, stop_embedded

    platform = _platform(serving_at(Settings(), host, port))
    upgrade(platform.engine)
    application = create_app(platform)
    if not no_worker:
        inner = application.router.lifespan_context

        @contextlib.asynccontextmanager
        async def lifespan(app_: object) -> AsyncIterator[None]:
            consumer = start_embedded(platform)
            try:
                async with inner(app_):
                    yield
            finally:
                stop_embedded(platform, consumer)

        application.router.lifespan_context = lifespan
    public_url = platform.settings.public_url
    typer.echo(f"Stackyard listening on http://{host}:{port} (public URL {public_url})")
    if only_this_machine(public_url):
        typer.echo(
            f"Webhooks go to {public_url}/webhooks/gitlab/<integration>, which only a GitLab on this machine can "
            "reach: set STACKYARD_PUBLIC_URL to the address your GitLab reaches Stackyard at."
        )
    # No uvicorn access log: at this log level its lines were dropped anyway, after their arguments were
    # built for every request (~3 % of the webhook hot path). /metrics counts requests by route and status.
    uvicorn.run(application, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=30)


@app.command()
def worker() -> None:
    """A worker alone: runs deliveries, runs and GitLab feedback; start as many as you like."""
    from stackyard.storage.migrate import pending_revisions
    from stackyard.worker.consumer import run_standalone

    platform = _platform()
    if pending_revisions(platform.engine):
        typer.echo("the database schema is not up to date: run `stackyard db upgrade` first", err=True)
        raise typer.Exit(2)
    if not platform.settings.public_url_set:
        # `serve` guesses its own address; a worker cannot, and its links in GitLab would point elsewhere.
        typer.echo(
            f"STACKYARD_PUBLIC_URL is not set: links this worker puts into GitLab point at "
            f"{platform.settings.public_url}; give every process the address GitLab and people reach Stackyard at",
            err=True,
        )
    run_standalone(platform)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations (SQLite or PostgreSQL)."""
    from stackyard.storage.migrate import upgrade

    platform = _platform()
    upgrade(platform.engine)
    typer.echo("database is up to date")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="A name to recognise the token by.")],
    role: Annotated[str, typer.Option(help="admin (read and write) or reader (read only).")] = "admin",
) -> None:
    """Create an API token and print it once, alone on the last line (only its hash is stored)."""
    from stackyard.core.errors import StackyardError
    from stackyard.services.tokens import create_token
    from stackyard.storage.migrate import upgrade

    platform = _platform()
    upgrade(platform.engine)
    try:
        token = create_token(platform.sessions, name=name, role=role)
    except StackyardError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"Created {role} token {name!r}. It is shown once; store it now:")
    typer.echo(token)


if __name__ == "__main__":
    app()
