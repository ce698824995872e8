"""Routes for the caller, the project and repository reads (branch, commit, compare, archive)."""

from __future__ import annotations

from urllib.parse import unquote

from . import entities
from .api import Answer, Context
from .errors import ApiError, bad_request, not_found
from .repository import build_archive, commits_between, diff_trees, merge_base
from .routing import Route, route

ARCHIVE_FORMATS = {"tar.gz": "application/gzip", "tgz": "application/gzip", "gz": "application/gzip",
                   "tar": "application/x-tar", "zip": "application/zip"}
LIMITER_BODY = {"message": {"error": "This endpoint has been requested too many times. Try again later."}}


def get_user(ctx: Context) -> Answer:
    with ctx.double.lock:
        return Answer(entities.current_user(ctx.double, ctx.caller))


def get_token_self(ctx: Context) -> Answer:
    assert ctx.token is not None
    with ctx.double.lock:
        return Answer(entities.token(ctx.double, ctx.token))


def get_project(ctx: Context) -> Answer:
    with ctx.double.lock:
        return Answer(entities.project(ctx.double, ctx.project()))


def get_branch(ctx: Context) -> Answer:
    with ctx.double.lock:
        project = ctx.project()
        name = unquote(ctx.path_params["branch"])
        sha = project.branches.get(name)
        if sha is None:
            raise not_found("Branch")
        return Answer(
            {
                "name": name,
                "merged": False,
                "protected": name == project.default_branch,
                "default": name == project.default_branch,
                "developers_can_push": False,
                "developers_can_merge": False,
                "can_push": True,
                "web_url": f"{entities.project_web_url(ctx.double, project)}/-/tree/{name}",
                "commit": entities.commit(ctx.double, project, ctx.double.commits[sha]),
            }
        )


def get_commit(ctx: Context) -> Answer:
    with ctx.double.lock:
        project = ctx.project()
        sha = ctx.double.resolve(project, unquote(ctx.path_params["sha"]))
        if sha is None:
            raise not_found("Commit")
        commit = ctx.double.commits[sha]
        parent_tree = ctx.double.commits[commit.parents[0]].tree if commit.parents else {}
        diffs = diff_trees(parent_tree, commit.tree)
        additions = sum(
            1 for d in diffs for line in d.diff.splitlines() if line.startswith("+")
        )
        deletions = sum(1 for d in diffs for line in d.diff.splitlines() if line.startswith("-"))
        body = {
            **entities.commit(ctx.double, project, commit),
            "stats": {"additions": additions, "deletions": deletions, "total": additions + deletions},
            "status": None,
            "last_pipeline": None,
        }
        return Answer(body)


def get_tag(ctx: Context) -> Answer:
    """GET /projects/:id/repository/tags/:tag_name (Tags API): the tag and the commit it points at."""
    with ctx.double.lock:
        project = ctx.project()
        tag = project.tags.get(unquote(ctx.path_params["tag"]))
        if tag is None:
            raise not_found("Tag")
        return Answer(
            {
                "name": tag.name,
                "message": tag.message or "",
                "target": tag.target,
                "commit": entities.commit(ctx.double, project, ctx.double.commits[tag.commit_sha]),
                "release": None,
                "protected": False,
                "created_at": None,
            }
        )


def compare(ctx: Context) -> Answer:
    """from...to over the merge base unless straight=true (GITLAB.md C6)."""
    with ctx.double.lock:
        project = ctx.project()
        start_ref = ctx.required_text("from")
        end_ref = ctx.required_text("to")
        start = ctx.double.resolve(project, start_ref)
        end = ctx.double.resolve(project, end_ref)
        if start is None or end is None:
            raise not_found("Ref")
        base = start if ctx.flag("straight", False) else merge_base(ctx.double.commits, start, end)
        shas = commits_between(ctx.double.commits, start, end)
        base_tree = ctx.double.commits[base].tree if base else {}
        diffs = diff_trees(base_tree, ctx.double.commits[end].tree)
        rendered = [entities.commit(ctx.double, project, ctx.double.commits[sha]) for sha in shas]
        web = entities.project_web_url(ctx.double, project)
        return Answer(
            {
                "commit": rendered[-1] if rendered else None,
                "commits": rendered,
                "diffs": [d.as_api() for d in diffs],
                "compare_timeout": False,
                "compare_same_ref": start_ref == end_ref,
                "web_url": f"{web}/-/compare/{start}...{end}",
            }
        )


def archive(ctx: Context) -> Answer:
    """Archive of a commit's tree; optional gitlab.com limit of 5/min per user (GITLAB.md C6, C10)."""
    archive_format = ctx.path_params.get("format") or ctx.text("format") or "tar.gz"
    if archive_format not in ARCHIVE_FORMATS:
        raise bad_request("format does not have a valid value")
    double = ctx.double
    with double.lock:
        project = ctx.project()
        ref = ctx.text("sha") or project.default_branch
        sha = double.resolve(project, ref)
        if sha is None:
            raise not_found("File")
        limit = double.archive_rate_limit
        if limit is not None:
            now = double.clock()
            hits = [t for t in double.archive_hits[ctx.caller.id] if t > now - double.archive_rate_window]
            if len(hits) >= limit:
                wait = max(1, int(hits[0] + double.archive_rate_window - now) + 1)
                raise ApiError(429, LIMITER_BODY, headers={"Retry-After": str(wait)})
            double.archive_hits[ctx.caller.id] = [*hits, now]
        double.archive_downloads += 1
        tree = dict(double.commits[sha].tree)
    top = f"{project.name}-{ref}-{sha}"
    extension = "tar.gz" if archive_format in {"tgz", "gz"} else archive_format
    data = build_archive(tree, top_folder=top, archive_format=archive_format)
    return Answer(
        data,
        raw=True,
        media_type=ARCHIVE_FORMATS[archive_format],
        headers={"Content-Disposition": f'attachment; filename="{top}.{extension}"'},
    )


ROUTES: tuple[Route, ...] = (
    route("GET", "/user", get_user),
    route("GET", "/personal_access_tokens/self", get_token_self),
    route("GET", "/projects/{id}", get_project),
    route("GET", "/projects/{id}/repository/branches/{branch}", get_branch),
    route("GET", "/projects/{id}/repository/commits/{sha}", get_commit),
    route("GET", "/projects/{id}/repository/tags/{tag}", get_tag),
    route("GET", "/projects/{id}/repository/compare", compare),
    route("GET", "/projects/{id}/repository/archive", archive),
    route("GET", "/projects/{id}/repository/archive.{format}", archive),
)
