"""Deliver a webhook payload to a URL the way GitLab's WebHookService does."""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

GITLAB_VERSION = "18.6.0"
DEFAULT_INSTANCE = "https://gitlab.com"

# GITLAB.md A3: X-Gitlab-Event is the hook name singularized and titleized.
_EVENT_BY_KIND = {
    "push": "Push Hook",
    "tag_push": "Tag Push Hook",
    "merge_request": "Merge Request Hook",
    "note": "Note Hook",
    "issue": "Issue Hook",
    "work_item": "Issue Hook",
    "pipeline": "Pipeline Hook",
    "build": "Job Hook",
    "deployment": "Deployment Hook",
    "release": "Release Hook",
    "wiki_page": "Wiki Page Hook",
    "emoji": "Emoji Hook",
    "feature_flag": "Feature Flag Hook",
    "access_token": "Resource Access Token Hook",
}


def event_header_for(payload: Mapping[str, Any]) -> str:
    """The X-Gitlab-Event GitLab would send with this payload; confidential notes/issues differ."""
    kind = str(payload.get("object_kind", ""))
    event_type = payload.get("event_type")
    if kind == "note" and event_type == "confidential_note":
        return "Confidential Note Hook"
    if kind == "issue" and event_type == "confidential_issue":
        return "Confidential Issue Hook"
    try:
        return _EVENT_BY_KIND[kind]
    except KeyError:
        raise ValueError(f"no X-Gitlab-Event known for object_kind {kind!r}") from None


def sign(body: bytes, *, signing_token: str, webhook_id: str, timestamp: int) -> str:
    """Standard Webhooks v1 signature, keyed by the bytes after whsec_ (GITLAB.md A4)."""
    key = base64.b64decode(signing_token.removeprefix("whsec_"))
    message = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def build_headers(
    body: bytes,
    *,
    event: str,
    token: str | None,
    idempotency_key: str,
    signing_token: str | None = None,
    event_uuid: str | None = None,
    instance: str = DEFAULT_INSTANCE,
    custom_headers: Mapping[str, str] | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    # GITLAB.md A2: custom headers first, then the built-in ones override them.
    headers = dict(custom_headers or {})
    headers.update(
        {
            "Content-Type": "application/json",
            "User-Agent": f"GitLab/{GITLAB_VERSION}",
            "X-Gitlab-Event": event,
            "X-Gitlab-Instance": instance,
            "X-Gitlab-Webhook-UUID": str(uuid.uuid4()),
            "X-Gitlab-Event-UUID": event_uuid or str(uuid.uuid4()),
            "Idempotency-Key": idempotency_key,
        }
    )
    if token:
        headers["X-Gitlab-Token"] = token.replace("\r", "").replace("\n", "")
    if signing_token:
        stamp = int(time.time()) if timestamp is None else timestamp
        headers["webhook-id"] = idempotency_key
        headers["webhook-timestamp"] = str(stamp)
        headers["webhook-signature"] = sign(
            body, signing_token=signing_token, webhook_id=idempotency_key, timestamp=stamp
        )
    return headers


def encode_payload(payload: Mapping[str, Any] | bytes) -> bytes:
    if isinstance(payload, bytes):
        return payload
    return json.dumps(payload).encode()


def deliver(
    url: str,
    payload: Mapping[str, Any] | bytes,
    *,
    event: str,
    token: str | None,
    idempotency_key: str | None = None,
    signing_token: str | None = None,
    timeout: float = 10.0,
    event_uuid: str | None = None,
    instance: str = DEFAULT_INSTANCE,
    custom_headers: Mapping[str, str] | None = None,
    verify: bool = True,
) -> httpx.Response:
    """POST once, no retries: GitLab never re-sends a failed delivery by itself (GITLAB.md A5)."""
    body = encode_payload(payload)
    headers = build_headers(
        body,
        event=event,
        token=token,
        idempotency_key=idempotency_key or str(uuid.uuid4()),
        signing_token=signing_token,
        event_uuid=event_uuid,
        instance=instance,
        custom_headers=custom_headers,
    )
    return post(url, body, headers=headers, timeout=timeout, verify=verify)


def post(
    url: str, body: bytes, *, headers: Mapping[str, str], timeout: float = 10.0, verify: bool = True
) -> httpx.Response:
    # A 3xx counts as delivered (GITLAB.md A1), so redirects are not followed.
    with httpx.Client(timeout=timeout, verify=verify, follow_redirects=False) as client:
        return client.post(url, content=body, headers=dict(headers))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stackyard.devtools.sender", description="Deliver a GitLab webhook fixture."
    )
    parser.add_argument("url")
    parser.add_argument("fixture", type=Path)
    parser.add_argument("--token", default=None, help="secret token sent as X-Gitlab-Token")
    parser.add_argument("--signing-token", default=None, help="whsec_... signing token")
    parser.add_argument("--event", default=None, help="X-Gitlab-Event (default: from object_kind)")
    parser.add_argument("--repeat", type=int, default=1, help="re-send with the same Idempotency-Key")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    body = args.fixture.read_bytes()
    event = args.event or event_header_for(json.loads(body))
    key = str(uuid.uuid4())
    worst = 0
    for attempt in range(1, args.repeat + 1):
        try:
            response = deliver(
                args.url,
                body,
                event=event,
                token=args.token,
                idempotency_key=key,
                signing_token=args.signing_token,
                timeout=args.timeout,
            )
        except httpx.HTTPError as error:
            print(f"#{attempt} {event} -> error: {error}", file=sys.stderr)
            worst = 1
            continue
        print(f"#{attempt} {event} -> {response.status_code} {response.text[:200]}")
        if response.status_code >= 400:
            worst = 1
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
