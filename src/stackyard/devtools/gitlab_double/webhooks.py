"""Choosing which project hooks get an event, and delivering to them as WebHookService does."""

from __future__ import annotations

import fnmatch
import json
import re
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from .. import sender
from .records import Delivery, Hook, Project

if TYPE_CHECKING:
    from .state import State

TEMPORARY_DISABLE_AFTER = 4
PERMANENT_DISABLE_AFTER = 40
"""GITLAB.md A6: 4 consecutive failures disable temporarily (1 min, doubling, 24 h cap), 40 for good."""


@dataclass(frozen=True)
class Planned:
    hook_id: int
    url: str
    headers: dict[str, str]
    body: bytes
    event: str
    verify: bool


def _branch_matches(hook: Hook, branch: str) -> bool:
    # GITLAB.md A8: the filter applies to push events only.
    strategy = hook.options.get("branch_filter_strategy") or "wildcard"
    pattern = hook.options.get("push_events_branch_filter")
    if strategy == "all_branches" or not pattern:
        return True
    if strategy == "regex":
        return re.search(str(pattern), branch) is not None
    return fnmatch.fnmatchcase(branch, str(pattern))


def _enabled(state: State, hook: Hook) -> bool:
    if hook.permanently_disabled:
        return False
    return hook.disabled_until is None or hook.disabled_until <= state.clock()


def select_hooks(state: State, project: Project, trigger: str, *, branch: str | None = None) -> list[Hook]:
    hooks = [
        hook
        for hook in state.hook_rows.values()
        if hook.project_id == project.id and hook.options.get(trigger) and _enabled(state, hook)
    ]
    if branch is not None:
        hooks = [hook for hook in hooks if _branch_matches(hook, branch)]
    return hooks


def plan(
    state: State, hooks: list[Hook], payload: dict[str, Any], *, event_uuid: str | None = None
) -> list[Planned]:
    """Freeze each delivery under the lock; sending happens after the lock is released."""
    body = json.dumps(payload).encode()
    event = sender.event_header_for(payload)
    planned = []
    for hook in hooks:
        # GITLAB.md A2: a fresh Event-UUID per hook, unless the causing request carried one.
        headers = sender.build_headers(
            body,
            event=event,
            token=hook.token,
            idempotency_key=str(uuid.uuid4()),
            signing_token=hook.signing_token,
            event_uuid=event_uuid,
            instance=state.external_url,
            custom_headers=hook.custom_headers,
            timestamp=int(state.clock()),
        )
        verify = bool(hook.options.get("enable_ssl_verification", True))
        planned.append(Planned(hook.id, hook.url, headers, body, event, verify))
    return planned


def _record_outcome(state: State, hook_id: int, ok: bool) -> None:
    with state.lock:
        hook = state.hook_rows.get(hook_id)
        if hook is None or not state.auto_disable_hooks:
            return
        if ok:
            hook.consecutive_failures = 0
            hook.disabled_until = None
            return
        hook.consecutive_failures += 1
        if hook.consecutive_failures >= PERMANENT_DISABLE_AFTER:
            hook.permanently_disabled = True
        elif hook.consecutive_failures >= TEMPORARY_DISABLE_AFTER:
            backoff = 60 * 2 ** (hook.consecutive_failures - TEMPORARY_DISABLE_AFTER)
            hook.disabled_until = state.clock() + min(backoff, 24 * 3600)


def _post(state: State, item: Planned) -> Delivery:
    delivery = Delivery(item.hook_id, item.url, item.event, dict(item.headers), item.body, status=None)
    try:
        response = sender.post(
            item.url, item.body, headers=item.headers, timeout=state.webhook_timeout, verify=item.verify
        )
    except httpx.HTTPError as error:
        delivery.error = f"{type(error).__name__}: {error}"
    else:
        delivery.status = response.status_code
        delivery.response_body = response.text[:8192]
    # GITLAB.md A5: 2xx and 3xx are "ok"; everything else counts towards auto-disable.
    _record_outcome(state, item.hook_id, delivery.status is not None and delivery.status < 400)
    with state.lock:
        state.deliveries.append(delivery)
    return delivery


def send(state: State, planned: list[Planned]) -> list[Delivery]:
    """Deliver once each, no retries (GITLAB.md A5); callers must not hold the lock."""
    items = list(planned)
    if state.delivery_order is not None:
        state.delivery_order.shuffle(items)
    return [_post(state, item) for item in items]


def send_later(state: State, planned: list[Planned]) -> None:
    """API-caused events go out from a worker, as Sidekiq's WebHookWorker does (GITLAB.md A1)."""
    if not planned:
        return
    worker = threading.Thread(target=send, args=(state, planned), name="gitlab-double-webhooks", daemon=True)
    with state.lock:
        state.outbox = [thread for thread in state.outbox if thread.is_alive()]
        state.outbox.append(worker)
    worker.start()


def wait_for_outbox(state: State, timeout: float) -> bool:
    with state.lock:
        pending = list(state.outbox)
    for thread in pending:
        thread.join(timeout)
    return not any(thread.is_alive() for thread in pending)


def resend(state: State, index: int) -> Delivery:
    """Same body and Idempotency-Key, fresh X-Gitlab-Webhook-UUID and signature (GITLAB.md A2, A5)."""
    with state.lock:
        original = state.deliveries[index]
        hook = state.hook_rows.get(original.hook_id) if original.hook_id is not None else None
        headers = dict(original.headers)
        headers["X-Gitlab-Webhook-UUID"] = str(uuid.uuid4())
        if hook is not None and hook.signing_token:
            stamp = int(state.clock())
            headers["webhook-timestamp"] = str(stamp)
            headers["webhook-signature"] = sender.sign(
                original.body,
                signing_token=hook.signing_token,
                webhook_id=headers["Idempotency-Key"],
                timestamp=stamp,
            )
        verify = bool(hook.options.get("enable_ssl_verification", True)) if hook else True
        item = Planned(
            original.hook_id or 0, original.url, headers, original.body, original.event, verify
        )
    return _post(state, item)
