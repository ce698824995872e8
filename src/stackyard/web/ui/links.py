"""Where a signed-in visitor may be sent back to: only paths on this site (no open redirect)."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

HOME = "/"
_MAX_NEXT = 2000


def safe_next(target: str | None) -> str:
    """A `next` value is followed only when it is a relative path on this site.

    `//evil.example`, `/\\evil.example` and `https://evil.example` all name another host to some
    browser, so anything with a scheme, a host, a backslash or a control character falls back to `/`.
    """
    if not target or len(target) > _MAX_NEXT or not target.startswith("/") or target.startswith("//"):
        return HOME
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return HOME
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return HOME
    return target


def login_url(next_path: str | None = None) -> str:
    wanted = safe_next(next_path)
    if wanted == HOME:
        return "/login"
    return "/login?next=" + quote(wanted, safe="/")
