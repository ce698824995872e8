"""Project hook routes: CRUD with write-only tokens, test deliveries and resend (GITLAB.md C5)."""

from __future__ import annotations

from urllib.parse import urlparse

from . import entities, payloads, webhooks
from .api import Answer, Context, paginate
from .entities import HOOK_DEFAULTS
from .errors import ApiError, bad_request, invalid, not_found
from .records import ZERO_SHA, Hook
from .repository import ancestors
from .routing import Route, route

BOOLEAN_FIELDS = tuple(name for name, value in HOOK_DEFAULTS.items() if isinstance(value, bool))
TEXT_FIELDS = ("name", "description", "push_events_branch_filter", "custom_webhook_template")
STRATEGIES = ("wildcard", "regex", "all_branches")


def _hook(ctx: Context) -> Hook:
    row = ctx.double.hook_rows.get(ctx.int_path("hook_id", "Hook"))
    if row is None or row.project_id != ctx.project().id:
        raise not_found("Hook")
    return row


def _check_url(url: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise invalid({"url": ["is blocked: Only allowed schemes are http, https"]})


def _apply(ctx: Context, row: Hook) -> None:
    for name in BOOLEAN_FIELDS:
        if ctx.has(name):
            row.options[name] = ctx.flag(name)
    for name in TEXT_FIELDS:
        if ctx.has(name):
            row.options[name] = ctx.text(name)
    strategy = ctx.choice("branch_filter_strategy", STRATEGIES)
    if strategy is not None:
        row.options["branch_filter_strategy"] = strategy
    if ctx.has("token"):
        row.token = ctx.text("token") or None
    if ctx.has("signing_token"):
        row.signing_token = ctx.text("signing_token") or None
    headers = ctx.params.get("custom_headers")
    if isinstance(headers, list):
        row.custom_headers = {str(h["key"]): str(h.get("value", "")) for h in headers if "key" in h}


def list_hooks(ctx: Context) -> Answer:
    double = ctx.double
    with double.lock:
        project = ctx.project()
        rows = [h for h in double.hook_rows.values() if h.project_id == project.id]
        return paginate(ctx, rows, lambda h: entities.hook(double, h))


def get_hook(ctx: Context) -> Answer:
    with ctx.double.lock:
        return Answer(entities.hook(ctx.double, _hook(ctx)))


def create_hook(ctx: Context) -> Answer:
    url = ctx.required_text("url")
    _check_url(url)
    double = ctx.double
    with double.lock:
        project = ctx.project()
        row = Hook(
            id=double.next_id("hook"),
            project_id=project.id,
            url=url,
            token=None,
            signing_token=None,
            created_at=double.now(),
            options=dict(HOOK_DEFAULTS),
        )
        _apply(ctx, row)
        double.hook_rows[row.id] = row
        return Answer(entities.hook(double, row), status=201)


def edit_hook(ctx: Context) -> Answer:
    url = ctx.required_text("url")
    _check_url(url)
    with ctx.double.lock:
        row = _hook(ctx)
        if url != row.url:
            # GITLAB.md A4: changing the URL resets the secret token.
            row.token = None
            row.url = url
        _apply(ctx, row)
        return Answer(entities.hook(ctx.double, row))


def delete_hook(ctx: Context) -> Answer:
    with ctx.double.lock:
        row = _hook(ctx)
        del ctx.double.hook_rows[row.id]
        return Answer(None, status=204)


def test_hook(ctx: Context) -> Answer:
    """Synchronous sample delivery: 201 on a 2xx answer, else 422 (GITLAB.md C5 "Test")."""
    double = ctx.double
    trigger = ctx.path_params["trigger"]
    with double.lock:
        project = ctx.project()
        row = _hook(ctx)
        if trigger in {"push_events", "tag_push_events"}:
            head = project.branches[project.default_branch]
            recent = list(reversed(ancestors(double.commits, head)[:3]))
            kind, ref = ("push", f"refs/heads/{project.default_branch}")
            if trigger == "tag_push_events":
                kind, ref = "tag_push", "refs/tags/sample"
            payload = payloads.push(
                double, project, kind=kind, ref=ref, before=recent[0] if len(recent) > 1 else ZERO_SHA,
                after=head, checkout_sha=head, commit_shas=recent, user=ctx.caller,
            )
        elif trigger == "merge_requests_events":
            mrs = double.project_mrs(project)
            if not mrs:
                raise ApiError(422, {"message": "Ensure the project has merge requests."})
            payload = payloads.merge_request(double, mrs[-1], action="open", user=ctx.caller)
        elif trigger == "note_events":
            notes = [n for n in double.note_rows.values() if n.project_id == project.id and not n.system]
            if not notes:
                raise ApiError(422, {"message": "Ensure the project has notes."})
            payload = payloads.note(double, notes[-1], action="create")
        else:
            raise bad_request("trigger does not have a valid value")
        planned = webhooks.plan(double, [row], payload, event_uuid=ctx.event_uuid)
    delivery = webhooks.send(double, planned)[0]
    if delivery.status is not None and 200 <= delivery.status < 300:
        return Answer({"message": "201 Created"}, status=201)
    raise ApiError(422, {"message": delivery.response_body or delivery.error or "Hook execution failed"})


def list_events(ctx: Context) -> Answer:
    double = ctx.double
    with double.lock:
        row = _hook(ctx)
        events = [
            {
                "id": index + 1,
                "url": delivery.url,
                "trigger": delivery.event,
                "request_headers": {
                    k: ("[REDACTED]" if k == "X-Gitlab-Token" else v) for k, v in delivery.headers.items()
                },
                "request_data": delivery.payload,
                "response_status": delivery.status if delivery.status is not None else "internal error",
                "response_body": delivery.response_body,
                "execution_duration": 0.01,
            }
            for index, delivery in enumerate(double.deliveries)
            if delivery.hook_id == row.id
        ]
        return paginate(ctx, list(reversed(events)))


def resend_event(ctx: Context) -> Answer:
    double = ctx.double
    with double.lock:
        row = _hook(ctx)
        index = ctx.int_path("event_id", "Hook Event") - 1
        if not 0 <= index < len(double.deliveries) or double.deliveries[index].hook_id != row.id:
            raise not_found("Hook Event")
    delivery = double.resend(index)
    return Answer({"response_status": delivery.status}, status=201)


HOOKS = "/projects/{id}/hooks"
ROUTES: tuple[Route, ...] = (
    route("GET", HOOKS, list_hooks),
    route("POST", HOOKS, create_hook),
    route("GET", HOOKS + "/{hook_id}", get_hook),
    route("PUT", HOOKS + "/{hook_id}", edit_hook),
    route("DELETE", HOOKS + "/{hook_id}", delete_hook),
    route("POST", HOOKS + "/{hook_id}/test/{trigger}", test_hook),
    route("GET", HOOKS + "/{hook_id}/events", list_events),
    route("POST", HOOKS + "/{hook_id}/events/{event_id}/resend", resend_event),
)
