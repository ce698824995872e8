"""`stackyard module …`: modules, their versions and their test runs, over the REST API."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from stackyard.cli.client import call, parse_pairs, show, show_feedback

module_app = typer.Typer(
    help="Modules: a folder of a repository published to Stackyard's module registry from semver tags.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(module_app, name="module")


@module_app.command("create")
def module_create(
    name: Annotated[str, typer.Option(help="Module name, the <name> of <namespace>/<name>/<provider>.")],
    integration: Annotated[str, typer.Option()],
    repository: Annotated[str, typer.Option(help="GitLab project path (group/sub/project) or id.")],
    namespace: Annotated[str, typer.Option(help="Registry namespace, e.g. your team.")],
    provider: Annotated[str, typer.Option(help="Registry provider (system), lowercase, e.g. aws.")],
    vendor: Annotated[str, typer.Option(help="opentofu, terraform or commands.")] = "opentofu",
    project_root: Annotated[str, typer.Option(help="The module's folder inside the repository.")] = "",
    test: Annotated[list[str] | None, typer.Option(help="Test command (commands vendor); repeatable.")] = None,
    env: Annotated[list[str] | None, typer.Option(help="NAME=value environment variable; repeatable.")] = None,
    secret: Annotated[list[str] | None, typer.Option(help="NAME=value secret variable; repeatable.")] = None,
    install_webhook: Annotated[bool, typer.Option(help="Install the project hook.")] = True,
) -> None:
    """Every semver tag pushed afterwards (v1.2.3 or 1.2.3) is tested and, when it passes, published."""
    body: dict[str, Any] = {
        "name": name, "integration": integration, "repository": repository, "project_root": project_root,
        "namespace": namespace, "provider": provider, "vendor": vendor,
        "commands": {"test": test} if test else {},
        "environment": parse_pairs(env or [], "--env"), "secrets": parse_pairs(secret or [], "--secret"),
        "install_webhook": install_webhook,
    }
    show(call("POST", "/api/v1/modules", body=body))


@module_app.command("list", help="Modules, newest first.")
def module_list() -> None:
    show(call("GET", "/api/v1/modules")["items"])


@module_app.command("show")
def module_show(name: str) -> None:
    """The module, with `source`: the address to use in a module block."""
    show(call("GET", f"/api/v1/modules/{name}"))


@module_app.command("delete")
def module_delete(
    name: str,
    force: Annotated[bool, typer.Option("--force", help="Drop updates still on their way to GitLab.")] = False,
) -> None:
    """Its published versions go with it, and the project's hook if nothing else there uses it.

    Refused while a test run has not ended or, without --force, while GitLab has not yet been told how
    runs ended.
    """
    call("DELETE", f"/api/v1/modules/{name}", params={"force": "true"} if force else None)
    typer.echo(f"deleted module {name}")


@module_app.command("versions")
def module_versions(name: str, limit: Annotated[int, typer.Option(min=1, max=500)] = 100) -> None:
    """Published and yanked versions, the most recently published first."""
    show(call("GET", f"/api/v1/modules/{name}/versions", params={"limit": limit})["items"])


@module_app.command("yank")
def module_yank(name: str, version: str) -> None:
    """Hide a version from the registry (it stays listed here, as yanked)."""
    show(call("POST", f"/api/v1/modules/{name}/versions/{version}/yank"))


@module_app.command("feedback")
def module_feedback(
    name: str,
    commit: Annotated[str | None, typer.Option(help="Only this commit (full or abbreviated SHA).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 20,
) -> None:
    """The commit statuses Stackyard sent GitLab for this module's test runs, and whether they got there."""
    show_feedback(f"/api/v1/modules/{name}/feedback", commit=commit, limit=limit)


@module_app.command("unyank", help="Offer a yanked version again.")
def module_unyank(name: str, version: str) -> None:
    show(call("POST", f"/api/v1/modules/{name}/versions/{version}/unyank"))


@module_app.command("test")
def module_test(
    name: str, tag: Annotated[str, typer.Option(help="The semver tag to test again, e.g. v1.2.0.")]
) -> None:
    """Test a tag again; it is published if it passes and its version is not published yet."""
    show(call("POST", f"/api/v1/modules/{name}/runs", body={"tag": tag}))
