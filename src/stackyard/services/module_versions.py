"""Published module versions: listing, yanking, and serving them through the registry protocol.

A yanked version stays stored (its run and commit remain visible) but the registry neither lists nor
serves it, so `version = "~> 1.0"` stops selecting it while the history is kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from stackyard.core.errors import Conflict, Forbidden, NotFound
from stackyard.core.modules import link_is_valid, link_signature, newest_first, version_from_tag
from stackyard.services.stacks import get_stack
from stackyard.storage.tables import ModuleVersion, Stack, utcnow

if TYPE_CHECKING:
    from stackyard.bootstrap import Platform

PUBLISHED = "published"
YANKED = "yanked"
_LINK_PURPOSE = "module-download-links"
ARCHIVE_PREFIX = "/api/registry/archives"


def describe_version(row: ModuleVersion) -> dict[str, Any]:
    """SPEC's fields, plus the tag and run that published it."""
    return {
        "version": row.version,
        "commit_sha": row.commit_sha,
        "state": row.state,
        "published_at": row.published_at.isoformat(),
        "tag": row.tag,
        "run_id": row.run_id,
        "yanked_at": row.yanked_at.isoformat() if row.yanked_at else None,
        "size": row.size,
        "archive_sha256": row.archive_sha256,
    }


def versions_query(module_id: int) -> Any:
    """Without the archive column: lists never load the packed sources."""
    return select(ModuleVersion).where(ModuleVersion.module_id == module_id).options(defer(ModuleVersion.archive))


def _get_version(session: Session, module: Stack, version: str, *, with_archive: bool = False) -> ModuleVersion:
    """`v1.2.0` names version 1.2.0 too. The archive (up to the size limit) is loaded only when asked for."""
    normalised = version_from_tag(version) or version
    query = select(ModuleVersion).where(ModuleVersion.module_id == module.id, ModuleVersion.version == normalised)
    if not with_archive:
        query = query.options(defer(ModuleVersion.archive))
    row = session.scalar(query)
    if row is None:
        raise NotFound(f"module {module.name} has no version {version}")
    return row


def set_yanked(platform: Platform, name: str, version: str, *, yanked: bool) -> dict[str, Any]:
    with platform.sessions.begin() as session:
        row = _get_version(session, get_stack(session, name, kind="module"), version)
        wanted = YANKED if yanked else PUBLISHED
        if row.state == wanted:
            raise Conflict(f"version {row.version} of module {name} is already {wanted}")
        row.state = wanted
        row.yanked_at = utcnow() if yanked else None
        return describe_version(row)


# --- registry protocol -------------------------------------------------------------------------


def registry_module(session: Session, namespace: str, name: str, provider: str) -> Stack:
    """The registry's 404 covers a module that does not exist under that address (module registry protocol)."""
    row = session.scalar(
        select(Stack).where(
            Stack.kind == "module", Stack.name == name, Stack.namespace == namespace, Stack.provider == provider
        )
    )
    if row is None:
        raise NotFound(f"no module {namespace}/{name}/{provider}")
    return row


def registry_versions(session: Session, namespace: str, name: str, provider: str) -> dict[str, Any]:
    module = registry_module(session, namespace, name, provider)
    versions = session.scalars(
        select(ModuleVersion.version).where(ModuleVersion.module_id == module.id, ModuleVersion.state == PUBLISHED)
    )
    # A single-element `modules` list, as the protocol asks of third-party registries.
    return {"modules": [{"versions": [{"version": v} for v in newest_first(list(versions))]}]}


@dataclass(frozen=True)
class Download:
    archive: bytes
    filename: str
    sha256: str


def _published(session: Session, module: Stack, version: str, *, with_archive: bool = False) -> ModuleVersion:
    row = _get_version(session, module, version, with_archive=with_archive)
    if row.state != PUBLISHED:
        raise NotFound(f"version {row.version} of module {module.name} was yanked")
    return row


def archive_path(namespace: str, name: str, provider: str, version: str) -> str:
    """Ends in .tar.gz: go-getter picks its unpacker from the URL path's extension."""
    parts = (quote(p, safe="") for p in (namespace, name, provider))
    return f"{ARCHIVE_PREFIX}/{'/'.join(parts)}/{quote(version, safe='')}.tar.gz"


def download_link(platform: Platform, session: Session, namespace: str, name: str, provider: str,
                  version: str) -> str:
    """An absolute URL valid for `registry_link_ttl` seconds; the tool fetches it without credentials."""
    module = registry_module(session, namespace, name, provider)
    row = _published(session, module, version)
    path = archive_path(namespace, name, provider, row.version)
    expires = int(time.time()) + platform.settings.registry_link_ttl
    signature = link_signature(platform.box.derive_key(_LINK_PURPOSE), path=path, expires=expires)
    return f"{platform.settings.public_url}{path}?{urlencode({'expires': expires, 'signature': signature})}"


def signed_download(platform: Platform, session: Session, *, namespace: str, name: str, provider: str,
                    version: str, expires: int, signature: str) -> Download:
    """Forbidden for a wrong or expired signature, before anything about the module is revealed."""
    key = platform.box.derive_key(_LINK_PURPOSE)
    path = archive_path(namespace, name, provider, version)
    if not link_is_valid(key, path=path, expires=expires, signature=signature, now=time.time()):
        raise Forbidden("this download link is invalid or has expired: ask the registry for a new one")
    module = registry_module(session, namespace, name, provider)
    row = _published(session, module, version, with_archive=True)
    return Download(archive=row.archive, filename=f"{name}-{row.version}.tar.gz", sha256=row.archive_sha256)
