"""`stackyard run …`: list, show, follow and act on runs over the REST API."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from stackyard.cli.client import call, show

run_app = typer.Typer(help="Runs: one plan (and apply) of a stack at one commit.", no_args_is_help=True)

# How often `logs --follow` asks for new lines; the server stores output about this often.
_FOLLOW_EVERY = 0.5


def register(app: typer.Typer) -> None:
    app.add_typer(run_app, name="run")


@run_app.command("list")
def run_list(
    stack: Annotated[str | None, typer.Option(help="Only this stack's runs.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
) -> None:
    """Newest first."""
    path = f"/api/v1/stacks/{stack}/runs" if stack else "/api/v1/runs"
    show(call("GET", path, params={"limit": limit})["items"])


@run_app.command("show", help="A run: state, commit, plan summary.")
def run_show(run_id: int) -> None:
    show(call("GET", f"/api/v1/runs/{run_id}"))


@run_app.command("logs")
def run_logs(
    run_id: int,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until the run ends or awaits confirmation.")
    ] = False,
) -> None:
    """The run's output; secret values appear as ***."""
    if not follow:
        typer.echo(call("GET", f"/api/v1/runs/{run_id}/logs", raw=True), nl=False)
        return
    after = 0
    while True:
        page = call("GET", f"/api/v1/runs/{run_id}/log-lines", params={"after": after, "limit": 500})
        for line in page["lines"]:
            typer.echo(line["line"])
            after = line["seq"]
        # An unconfirmed run waits for a person: there is nothing more to follow until then.
        if (page["done"] or page["state"] == "unconfirmed") and not page["lines"]:
            typer.echo(f"-- run {run_id} {page['state']}", err=True)
            return
        if not page["lines"]:
            time.sleep(_FOLLOW_EVERY)


@run_app.command("trigger", help="Start a run of a stack by hand.")
def run_trigger(
    stack: str,
    run_type: Annotated[str, typer.Option("--type", help="tracked (plan, then apply) or proposed (plan only).")]
    = "tracked",
    sha: Annotated[str | None, typer.Option(help="A commit; default: the head of the stack's branch.")] = None,
) -> None:
    body: dict[str, str] = {"type": run_type}
    if sha:
        body["sha"] = sha
    show(call("POST", f"/api/v1/stacks/{stack}/runs", body=body))


@run_app.command("confirm")
def run_confirm(run_id: int) -> None:
    """Apply an unconfirmed tracked run's plan."""
    show(call("POST", f"/api/v1/runs/{run_id}/confirm"))


@run_app.command("discard")
def run_discard(run_id: int) -> None:
    """Throw away an unconfirmed plan; the next tracked run of the stack may start."""
    show(call("POST", f"/api/v1/runs/{run_id}/discard"))


@run_app.command("cancel")
def run_cancel(run_id: int) -> None:
    """Stop a run: a waiting one at once, a running one by killing its processes."""
    show(call("POST", f"/api/v1/runs/{run_id}/cancel"))
