"""Module registry rules: registry names, versions from tags, semver order, signed download links.

Names follow Terraform's module address rules (`hostname/namespace/name/system`,
terraform `internal/registry/regsrc`): namespace and name are 1-64 letters, digits, '-' and '_',
starting and ending with a letter or digit; the system (our `provider`) is 1-64 lowercase letters
and digits. Versions are Semantic Versioning 2.0 (semver.org), as the module registry protocol
assumes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import total_ordering
from urllib.parse import urlsplit

from stackyard.core.errors import Invalid

_NAME = re.compile(r"[0-9A-Za-z](?:[0-9A-Za-z_-]{0,62}[0-9A-Za-z])?\Z")
_PROVIDER = re.compile(r"[0-9a-z]{1,64}\Z")
_NAME_RULE = "1 to 64 letters, digits, '-' and '_', starting and ending with a letter or digit"
_PROVIDER_RULE = "1 to 64 lowercase letters and digits (like aws or azurerm)"

_SEMVER = re.compile(
    r"(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?\Z"
)

def check_registry_name(field: str, value: str) -> None:
    """`field` is namespace or name; raises Invalid with the rule in words."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise Invalid(f"{field} {value!r} is not a valid registry {field}: {_NAME_RULE}")


def check_provider(value: str) -> None:
    if not isinstance(value, str) or not _PROVIDER.match(value):
        raise Invalid(f"provider {value!r} is not a valid registry provider: {_PROVIDER_RULE}")


@total_ordering
@dataclass(frozen=True)
class Version:
    """A semver version; ordering is semver precedence (build metadata does not count)."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        found = _SEMVER.match(text)
        if found is None:
            raise ValueError(f"{text!r} is not a semantic version like 1.2.3")
        pre = found["pre"]
        return cls(
            int(found["major"]), int(found["minor"]), int(found["patch"]),
            tuple(pre.split(".")) if pre else (), found["build"] or "",
        )

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        if self.build:
            text += "+" + self.build
        return text

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        # semver.org 11: a pre-release sorts before its release; numeric identifiers sort numerically
        # and before alphanumeric ones.
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def version_from_tag(tag: str) -> str | None:
    """`v1.2.0` and `1.2.0` both publish version `1.2.0`; anything else is not a module version."""
    text = tag[1:] if tag.startswith("v") else tag
    try:
        return str(Version.parse(text))
    except ValueError:
        return None


def newest_first(versions: list[str]) -> list[str]:
    return sorted(versions, key=Version.parse, reverse=True)


def registry_host(public_url: str) -> str:
    """The hostname part of a module address: host[:port] of the public URL."""
    return urlsplit(public_url).netloc


def registry_source(public_url: str, *, namespace: str, name: str, provider: str) -> str:
    return f"{registry_host(public_url)}/{namespace}/{name}/{provider}"


# --- signed download links ---------------------------------------------------------------------
# OpenTofu and Terraform fetch the X-Terraform-Get URL with go-getter, without the registry's
# credentials, so the link itself carries the permission: an HMAC of what it names and when it
# expires.


def link_signature(key: bytes, *, path: str, expires: int) -> str:
    return hmac.new(key, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


def link_is_valid(key: bytes, *, path: str, expires: int, signature: str, now: float) -> bool:
    if expires < now:
        return False
    return hmac.compare_digest(link_signature(key, path=path, expires=expires), signature)
