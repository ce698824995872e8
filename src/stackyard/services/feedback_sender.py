"""Sending the outbox to GitLab: in order per channel, with backoff, honouring Retry-After.

A pass claims the oldest open item of a due channel (compare-and-set on its state, so two workers
never send one channel at once), settles which of the channel's waiting items are stale, sends one,
and records the outcome; GitLab calls happen outside any transaction. A claim is a lease: if the
worker dies mid-send, the item is claimed again once the lease runs out (the sweep looks every minute).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session, aliased

from stackyard.core.ports import Forge
from stackyard.core.reports import CommitStatusUpdate, choose_status
from stackyard.logs import get_logger
from stackyard.services.feedback import (
    COMMENT,
    DEPLOYMENT,
    FAILED,
    OPEN_STATES,
    PENDING,
    SENDING,
    SENT,
    SKIPPED,
    STATUS,
    record_fallback_comment,
)
from stackyard.services.feedback_delivery import RETRY, Claim, Outcome, deliver
from stackyard.services.integrations import forge_for
from stackyard.storage.tables import Feedback, Integration, Run, Stack, utcnow

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform

log = get_logger(__name__)

LEASE = timedelta(minutes=5)
BACKOFF_BASE = 5.0
BACKOFF_CAP = 900.0
# About two and a half hours of trying before an update is given up and shown as failed.
MAX_ATTEMPTS = 15
PASS_LIMIT = 500
# How last_error starts while GitLab's Retry-After holds an integration back.
RATE_LIMITED = "rate limited by GitLab"


def backoff(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones: 5 s doubling to 15 minutes."""
    return float(min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** max(0, attempts - 1)))


def _due_heads(session: Session, now: datetime, held: set[int]) -> list[tuple[Feedback, Stack]]:
    """Oldest open item of each channel whose turn it is (a pending item due, or a lapsed lease)."""
    older = aliased(Feedback)
    query = (
        select(Feedback, Stack)
        .join(Stack, Stack.id == Feedback.stack_id)
        .where(
            Feedback.state.in_(OPEN_STATES),
            Feedback.next_attempt_at <= now,
            ~exists().where(
                and_(older.channel == Feedback.channel, older.state.in_(OPEN_STATES), older.id < Feedback.id)
            ),
        )
        .order_by(Feedback.next_attempt_at, Feedback.id)
        .limit(20)
    )
    if held:
        query = query.where(Stack.integration_id.notin_(held))
    return [(row[0], row[1]) for row in session.execute(query)]


def _take(session: Session, item: Feedback, now: datetime) -> bool:
    """Compare-and-set: only one worker moves an item from its seen state to `sending`."""
    result = session.execute(
        update(Feedback)
        .where(Feedback.id == item.id, Feedback.state == item.state, Feedback.next_attempt_at <= now)
        .values(state=SENDING, next_attempt_at=now + LEASE, attempts=Feedback.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def _open_items(session: Session, channel: str) -> list[Feedback]:
    query = (
        select(Feedback)
        .where(Feedback.channel == channel, Feedback.state.in_(OPEN_STATES))
        .order_by(Feedback.id)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))


def _last_sent(session: Session, channel: str, kind: str, *, run_id: int | None = None) -> Feedback | None:
    query = select(Feedback).where(Feedback.channel == channel, Feedback.kind == kind, Feedback.state == SENT)
    if run_id is not None:
        query = query.where(Feedback.run_id == run_id)
    return session.scalar(query.order_by(Feedback.id.desc()).limit(1))


def _skip(items: list[Feedback], reason: str) -> None:
    for item in items:
        item.state = SKIPPED
        item.last_error = reason


def _choose(session: Session, items: list[Feedback]) -> Feedback | None:
    """Which waiting item of the channel goes now; the ones before it are stale and skipped."""
    untouched = [i for i in items if i.run_id is None]
    if untouched and session.scalar(
        select(Feedback.id).where(Feedback.channel == items[0].channel, Feedback.run_id.is_not(None)).limit(1)
    ) is not None:
        # A run reports on this commit now: its statuses, not "untouched", say what happened.
        _skip(untouched, "a run of the stack reports on this commit")
        items = [i for i in items if i.run_id is not None]
        if not items:
            return None
    head = items[0]
    if head.kind == STATUS:
        sent = _last_sent(session, head.channel, STATUS)
        last = (
            CommitStatusUpdate(str(sent.payload["state"]), str(sent.payload["description"])) if sent else None
        )
        waiting = [CommitStatusUpdate(str(i.payload["state"]), str(i.payload["description"])) for i in items]
        index = choose_status(last, waiting)
        if index is None:
            _skip(items, f"GitLab already shows {last.state if last else 'nothing'}; it would refuse these")
            return None
    elif head.kind == COMMENT:
        # One comment shows the latest state: every older version of it is stale.
        index = len(items) - 1
    else:
        # Deployments go step by step: created `running`, then moved (GITLAB.md C4).
        index = 0
    chosen = items[index]
    _skip(items[:index], f"superseded by #{chosen.id}")
    if chosen is not head:
        chosen.state, chosen.attempts = SENDING, chosen.attempts + 1
        chosen.next_attempt_at = head.next_attempt_at
    return chosen


def _known_notes(session: Session, stack_id: int) -> dict[str, int]:
    query = (
        select(Feedback.result)
        .join(Run, Run.id == Feedback.run_id)
        .where(Run.stack_id == stack_id, Feedback.kind == COMMENT, Feedback.state == SENT)
        .order_by(Feedback.id.desc())
        .limit(50)
    )
    notes: dict[str, int] = {}
    for result in session.scalars(query):
        for iid, note_id in (result or {}).get("notes", {}).items():
            notes.setdefault(str(iid), int(note_id))
    return notes


def _owned_deployments(session: Session, stack_id: int, commit_sha: str) -> frozenset[int]:
    """Deployments our sent items recorded for this stack's runs of this commit: a retried create
    must never adopt one of them as the one its lost attempt made."""
    query = (
        select(Feedback.result)
        .join(Run, Run.id == Feedback.run_id)
        .where(Run.stack_id == stack_id, Run.commit_sha == commit_sha, Feedback.kind == DEPLOYMENT,
               Feedback.state == SENT)
    )
    return frozenset(
        int(result["deployment_id"]) for result in session.scalars(query) if result and "deployment_id" in result
    )


def _unheard_create_since(session: Session, chosen: Feedback, run_id: int) -> datetime | None:
    """When a create of this run's deployment was first tried without GitLab's answer being heard.

    A create retried after a failed attempt, or the run's final update after its create gave up
    (`MAX_ATTEMPTS`; or was refused, and then the final update asks once more): either may find a
    deployment that attempt made.
    """
    if chosen.payload.get("status") == "running":
        return chosen.created_at if chosen.attempts > 1 else None
    return session.scalar(
        select(Feedback.created_at)
        .where(Feedback.channel == chosen.channel, Feedback.kind == DEPLOYMENT, Feedback.run_id == run_id,
               Feedback.state == FAILED, Feedback.id < chosen.id)
        .order_by(Feedback.id)
        .limit(1)
    )


def _claim(session: Session, platform: Platform, chosen: Feedback, stack: Stack) -> Claim:
    run = session.get(Run, chosen.run_id) if chosen.run_id is not None else None
    fell_back = False
    deployment: dict[str, Any] | None = None
    lost_since: datetime | None = None
    owned: frozenset[int] = frozenset()
    notes: dict[str, int] = {}
    if chosen.kind == STATUS:
        refused = select(Feedback.result).where(
            Feedback.channel == chosen.channel, Feedback.kind == STATUS, Feedback.state == FAILED
        )
        fell_back = any((result or {}).get("fallback") for result in session.scalars(refused))
    elif chosen.kind == DEPLOYMENT:
        assert run is not None, "deployments are written by runs"
        sent = _last_sent(session, chosen.channel, DEPLOYMENT, run_id=run.id)
        if sent is not None and "deployment_id" in (sent.result or {}):
            deployment = {"deployment_id": sent.result["deployment_id"], "status": sent.payload["status"]}
        else:
            lost_since = _unheard_create_since(session, chosen, run.id)
            if lost_since is not None:
                owned = _owned_deployments(session, stack.id, run.commit_sha)
    else:
        notes = _known_notes(session, stack.id)
    return Claim(
        item_id=chosen.id, kind=chosen.kind, payload=dict(chosen.payload), attempts=chosen.attempts,
        run_id=run.id if run else None, run_type=run.type if run else "", plan_text=run.plan_text if run else None,
        stack_id=stack.id, stack_name=stack.name,
        integration_id=stack.integration_id, public_url=platform.settings.public_url,
        fell_back=fell_back, deployment=deployment, known_notes=notes,
        lost_since=lost_since, owned_deployments=owned,
    )


def claim_next(platform: Platform, now: datetime, held: set[int]) -> Claim | bool:
    """A claimed item; True when only stale items were settled (look again); False when nothing is due."""
    with platform.sessions.begin() as session:
        held = held | rate_limited_integrations(session, now)
        for head, stack in _due_heads(session, now, held):
            if not _take(session, head, now):
                continue
            items = _open_items(session, head.channel)
            if not items or items[0].id != head.id:
                continue
            chosen = _choose(session, items)
            if chosen is None:
                return True
            return _claim(session, platform, chosen, stack)
    return False


def _problem(integration: Integration, stack_name: str, message: str) -> None:
    integration.feedback_problem = f"stack {stack_name}: {message}"


def _finish(platform: Platform, claim: Claim, outcome: Outcome, now: datetime) -> datetime | None:
    """Records what the attempt came to; returns when the item is due again, if it is."""
    with platform.sessions.begin() as session:
        item = session.get_one(Feedback, claim.item_id)
        integration = session.get_one(Integration, claim.integration_id)
        again: datetime | None = None
        if outcome.state == RETRY and item.attempts >= MAX_ATTEMPTS:
            item.state, item.last_error = FAILED, f"gave up after {item.attempts} attempts: {outcome.error}"
            _problem(integration, claim.stack_name, item.last_error)
        elif outcome.state == RETRY:
            wait = max(outcome.retry_after or 0.0, backoff(item.attempts))
            again = now + timedelta(seconds=wait)
            error = outcome.error
            if outcome.retry_after is not None:
                error = f"{RATE_LIMITED} for {wait:g} s: {error}"
            item.state, item.next_attempt_at, item.last_error = PENDING, again, error
        else:
            item.state, item.last_error = outcome.state, outcome.error
            item.result = outcome.result
            if outcome.state == SENT:
                item.sent_at = now
        if outcome.auth:
            integration.token_failing_since = integration.token_failing_since or now
            _problem(integration, claim.stack_name, outcome.error or "the token was refused")
        elif outcome.problem:
            _problem(integration, claim.stack_name, outcome.error or "GitLab refused an update")
        elif outcome.state == SENT:
            integration.token_failing_since = None
            if (integration.feedback_problem or "").startswith(f"stack {claim.stack_name}:"):
                integration.feedback_problem = None
        if outcome.fallback and not claim.fell_back and claim.run_id is not None:
            run = session.get_one(Run, claim.run_id)
            record_fallback_comment(session, run, session.get_one(Stack, claim.stack_id), due=now)
    log.info("feedback attempt", item=claim.item_id, kind=claim.kind, outcome=outcome.state,
             error=outcome.error)
    return again


def rate_limited_integrations(session: Session, now: datetime) -> set[int]:
    """Integrations GitLab told to wait (429 Retry-After): the limit is the token's, not one
    request's (GITLAB.md C10), so none of their updates go before it passes, whichever worker asks."""
    query = (
        select(Stack.integration_id)
        .join(Feedback, Feedback.stack_id == Stack.id)
        .where(Feedback.state == PENDING, Feedback.next_attempt_at > now,
               Feedback.last_error.startswith(RATE_LIMITED))
        .distinct()
    )
    return set(session.scalars(query))


def send_due_feedback(platform: Platform, *, now: datetime | None = None, limit: int = PASS_LIMIT) -> int:
    """One pass over everything due; schedules itself again for what it had to put off. Returns how
    many attempts it made."""
    moment = now or utcnow()
    forges: dict[int, Forge] = {}
    held: set[int] = set()
    next_due: datetime | None = None
    attempts = 0
    while attempts < limit:
        claim = claim_next(platform, moment, held)
        if claim is False:
            break
        if claim is True:
            continue
        if claim.integration_id not in forges:
            with platform.sessions() as session:
                forges[claim.integration_id] = forge_for(
                    platform, session.get_one(Integration, claim.integration_id), wait_on_rate_limit=False
                )
        outcome = deliver(forges[claim.integration_id], claim)
        attempts += 1
        again = _finish(platform, claim, outcome, moment)
        if outcome.state == RETRY and outcome.retry_after is not None:
            held.add(claim.integration_id)
        if again is not None and again > moment:
            next_due = again if next_due is None else min(next_due, again)
    if attempts >= limit:
        platform.tasks.send_feedback()
    elif next_due is not None:
        platform.tasks.send_feedback_after(max(1.0, (next_due - utcnow()).total_seconds()))
    return attempts
