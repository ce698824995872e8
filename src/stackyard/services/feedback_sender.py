"""Sending the outbox to GitLab: in order per channel, with backoff, honouring Retry-After."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform


def send_due_feedback(platform: Platform) -> None:
    return None
