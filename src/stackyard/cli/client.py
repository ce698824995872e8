"""Client commands: thin wrappers over the REST API, printing JSON (or plain logs)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import httpx
import typer

from stackyard.settings import ClientSettings

integration_app = typer.Typer(help="GitLab servers Stackyard talks to.", no_args_is_help=True)
stack_app = typer.Typer(help="Stacks: repository + branch + folder of infrastructure code.", no_args_is_help=True)
delivery_app = typer.Typer(help="Webhook deliveries GitLab sent, and what became of them.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(integration_app, name="integration")
    app.add_typer(stack_app, name="stack")
    app.add_typer(delivery_app, name="delivery")


def call(method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None,
         raw: bool = False) -> Any:
    settings = ClientSettings()
    token = settings.token.get_secret_value().strip() if settings.token is not None else ""
    if not token:
        # Empty too: `export STACKYARD_TOKEN=$(stackyard token create …)` leaves it empty when that failed.
        typer.echo("error: set STACKYARD_TOKEN (create one with `stackyard token create --name me`)", err=True)
        raise typer.Exit(2)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        response = httpx.request(method, settings.url.rstrip("/") + path, json=body, params=params,
                                 headers=headers, timeout=60)
    except httpx.HTTPError as exc:
        typer.echo(f"error: cannot reach Stackyard at {settings.url}: {exc}", err=True)
        raise typer.Exit(1) from exc
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        typer.echo(f"error {response.status_code}: {detail if isinstance(detail, str) else json.dumps(detail)}",
                   err=True)
        raise typer.Exit(1)
    if raw:
        return response.text
    return response.json() if response.content else None


def show(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=True))


def parse_pairs(pairs: list[str], what: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            typer.echo(f"error: {what} {pair!r} must look like NAME=value", err=True)
            raise typer.Exit(2)
        result[key] = value
    return result


def read_secret(value: str | None, what: str) -> str | None:
    """'-' reads the value from stdin, so it stays out of the shell history and the process list."""
    if value != "-":
        return value
    line = sys.stdin.readline().strip()
    if not line:
        typer.echo(f"error: expected the {what} on standard input", err=True)
        raise typer.Exit(2)
    return line


@integration_app.command("create")
def integration_create(
    name: Annotated[str, typer.Option(help="Name used in the webhook URL.")],
    api_url: Annotated[str, typer.Option(help="GitLab URL, e.g. https://gitlab.com")],
    token: Annotated[str, typer.Option(help="Access token with the api scope ('-' reads it from stdin).")],
    signing_token: Annotated[str | None, typer.Option(
        help="whsec_… signing token of hooks you install by hand (GitLab 19.0+; '-' reads it from stdin).")] = None,
) -> None:
    """Link a GitLab server; prints the webhook URL and secret."""
    token = read_secret(token, "token") or ""
    body: dict[str, Any] = {"kind": "gitlab", "name": name, "api_url": api_url, "token": token}
    if signing_token is not None:
        body["signing_token"] = read_secret(signing_token, "signing token")
    show(call("POST", "/api/v1/integrations", body=body))


@integration_app.command("update")
def integration_update(
    name: str,
    token: Annotated[str | None, typer.Option(help="New access token ('-' reads it from stdin).")] = None,
    signing_token: Annotated[str | None, typer.Option(
        help="whsec_… signing token of hooks installed by hand ('-' reads it from stdin).")] = None,
    remove_signing_token: Annotated[bool, typer.Option(
        "--remove-signing-token", help="Stop checking signatures of hooks installed by hand.")] = False,
) -> None:
    """Replace the GitLab token, or set or remove the signing token."""
    if token == "-" and signing_token == "-":
        typer.echo("error: only one of --token and --signing-token can be read from stdin", err=True)
        raise typer.Exit(2)
    body: dict[str, Any] = {}
    if token is not None:
        body["token"] = read_secret(token, "token")
    if signing_token is not None:
        body["signing_token"] = read_secret(signing_token, "signing token")
    if remove_signing_token:
        body["signing_token"] = None
    if not body:
        typer.echo("error: nothing to change: give --token, --signing-token or --remove-signing-token", err=True)
        raise typer.Exit(2)
    show(call("PATCH", f"/api/v1/integrations/{name}", body=body))


@integration_app.command("list", help="Every linked GitLab server, newest first.")
def integration_list() -> None:
    show(call("GET", "/api/v1/integrations", params={"limit": 500})["items"])


@integration_app.command("show")
def integration_show(name: str) -> None:
    """The integration, its token health (problems) and the hooks Stackyard manages."""
    show(call("GET", f"/api/v1/integrations/{name}"))


@integration_app.command("delete")
def integration_delete(
    name: str,
    force: Annotated[bool, typer.Option("--force", help="Leave hooks GitLab may still have (GitLab is gone).")] = False,
) -> None:
    """Unlink a GitLab server: refused while stacks or modules use it, and (without --force) while hooks
    Stackyard installed may still be in GitLab (`hooks --repair` removes them)."""
    call("DELETE", f"/api/v1/integrations/{name}", params={"force": "true"} if force else None)
    typer.echo(f"deleted integration {name}")


@integration_app.command("check")
def integration_check(name: str) -> None:
    """Verify the token against GitLab: user, api scope, expiry."""
    result = call("POST", f"/api/v1/integrations/{name}/check")
    show(result)
    if not result.get("ok"):
        raise typer.Exit(1)


@integration_app.command("rotate-secret")
def integration_rotate(name: str) -> None:
    """New webhook secret for hooks installed by hand (hooks Stackyard installed keep their own)."""
    show(call("POST", f"/api/v1/integrations/{name}/rotate-secret"))


@integration_app.command("rotate-signing-token")
def integration_rotate_signing(name: str) -> None:
    """New whsec_ signing token for hooks installed by hand: paste it into each hook in GitLab."""
    show(call("POST", f"/api/v1/integrations/{name}/rotate-signing-token"))


def _hook_line(hook: dict[str, Any]) -> str:
    where = hook.get("project") or f"project {hook.get('project_id')}"
    state = hook.get("state")
    line = f"{where}: {state}"
    if hook.get("hook_id") is not None:
        line += f" (hook {hook['hook_id']})"
    if hook.get("removed_duplicates"):
        line += f", removed {hook['removed_duplicates']} duplicate hook(s)"
    if hook.get("error"):
        line += f"\n    {hook['error']}"
    return line


@integration_app.command("hooks")
def integration_hooks(
    name: str,
    repair: Annotated[bool, typer.Option("--repair", help="Re-check and fix every project's hook.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of one line per project.")] = False,
) -> None:
    """Show the project hooks Stackyard manages; --repair re-checks every project that has a stack."""
    if repair:
        hooks = call("POST", f"/api/v1/integrations/{name}/hooks/repair")["items"]
    else:
        hooks = call("GET", f"/api/v1/integrations/{name}").get("hooks", [])
    if as_json:
        show(hooks)
    elif not hooks:
        typer.echo(f"no project hooks on integration {name}: create a stack with install_webhook on "
                   "(the default) and Stackyard installs one per project")
    else:
        for hook in hooks:
            typer.echo(_hook_line(hook))
    if any(hook.get("state") == "failed" for hook in hooks):
        raise typer.Exit(1)


@stack_app.command("create", help="A stack; installs the project's webhook unless --no-install-webhook.")
def stack_create(
    name: Annotated[str, typer.Option()],
    integration: Annotated[str, typer.Option()],
    repository: Annotated[str, typer.Option(help="GitLab project path (group/sub/project) or id.")],
    vendor: Annotated[str, typer.Option(help="opentofu, terraform, ansible or commands.")] = "opentofu",
    branch: Annotated[str, typer.Option(help="Tracked branch.")] = "main",
    project_root: Annotated[str, typer.Option(help="Folder inside the repository.")] = "",
    watch: Annotated[list[str] | None, typer.Option(help="Extra watched path (glob); repeatable.")] = None,
    plan: Annotated[list[str] | None, typer.Option(help="Plan command (commands vendor); repeatable.")] = None,
    apply: Annotated[list[str] | None, typer.Option(help="Apply command (commands vendor); repeatable.")] = None,
    env: Annotated[list[str] | None, typer.Option(help="NAME=value environment variable; repeatable.")] = None,
    secret: Annotated[list[str] | None, typer.Option(help="NAME=value secret variable; repeatable.")] = None,
    autodeploy: Annotated[bool, typer.Option(help="Apply tracked runs without confirmation.")] = False,
    allow_forks: Annotated[bool, typer.Option(help="Let merge requests from forks run.")] = False,
    install_webhook: Annotated[bool, typer.Option(help="Install the project hook.")] = True,
    report_untouched: Annotated[
        bool, typer.Option(help="Post a passing status on commits that do not touch this stack.")
    ] = False,
    time_limit: Annotated[
        int | None, typer.Option(help="Seconds a plan or an apply may take (default: the server's).", min=1)
    ] = None,
) -> None:
    commands: dict[str, list[str]] = {}
    if plan:
        commands["plan"] = plan
    if apply:
        commands["apply"] = apply
    show(call("POST", "/api/v1/stacks", body={
        "name": name, "integration": integration, "repository": repository, "vendor": vendor,
        "branch": branch, "project_root": project_root, "watched_paths": watch or [], "commands": commands,
        "environment": parse_pairs(env or [], "--env"), "secrets": parse_pairs(secret or [], "--secret"),
        "autodeploy": autodeploy, "allow_forks": allow_forks, "install_webhook": install_webhook,
        "report_untouched": report_untouched, "time_limit": time_limit,
    }))


@stack_app.command("list", help="Stacks, newest first.")
def stack_list(limit: Annotated[int, typer.Option(min=1, max=500)] = 100) -> None:
    show(call("GET", "/api/v1/stacks", params={"limit": limit})["items"])


@stack_app.command("show", help="A stack's settings (secret names, never their values).")
def stack_show(name: str) -> None:
    show(call("GET", f"/api/v1/stacks/{name}"))


@stack_app.command("feedback")
def stack_feedback(
    name: str,
    commit: Annotated[str | None, typer.Option(help="Only this commit (full or abbreviated SHA).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
) -> None:
    """What Stackyard sent GitLab for this stack (statuses, comments, deployments) and whether it got there."""
    show_feedback(f"/api/v1/stacks/{name}/feedback", commit=commit, limit=limit)


def show_feedback(path: str, *, commit: str | None, limit: int) -> None:
    params: dict[str, Any] = {"limit": limit}
    if commit:
        params["commit"] = commit
    show(call("GET", path, params=params)["items"])


@stack_app.command("set")
def stack_set(
    name: str,
    settings: Annotated[list[str], typer.Argument(help="field=JSON value, e.g. autodeploy=true branch='\"prod\"'")],
) -> None:
    """Change fields of a stack (values are JSON)."""
    body: dict[str, Any] = {}
    for key, value in parse_pairs(settings, "setting").items():
        try:
            body[key] = json.loads(value)
        except ValueError:
            body[key] = value
    show(call("PATCH", f"/api/v1/stacks/{name}", body=body))


@stack_app.command("delete")
def stack_delete(
    name: str,
    force: Annotated[bool, typer.Option("--force", help="Drop updates still on their way to GitLab.")] = False,
) -> None:
    """Delete a stack and its ended runs; the project's hook too, if no other stack or module uses it.

    Refused while a run has not ended (cancel or discard it first) or, without --force, while GitLab has
    not yet been told how runs ended.
    """
    call("DELETE", f"/api/v1/stacks/{name}", params={"force": "true"} if force else None)
    typer.echo(f"deleted stack {name}")


@delivery_app.command("list", help="Webhook deliveries, newest first: event, outcome, runs created.")
def delivery_list(limit: Annotated[int, typer.Option(min=1, max=500)] = 20) -> None:
    show(call("GET", "/api/v1/deliveries", params={"limit": limit})["items"])
