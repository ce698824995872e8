"""The Terraform/OpenTofu module registry protocol (v1), discovered at /.well-known/terraform.json.

Registry calls take a Stackyard API token as bearer (readers may use them), as the tools send the
token configured for the host (a `credentials` block or TF_TOKEN_<host>). The archive the download
answer points at is fetched by go-getter *without* that token, so it is a short-lived signed link.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from stackyard.services import module_versions as versions
from stackyard.web.deps import PlatformDep, SessionDep, get_principal

MODULES_V1 = "/api/registry/v1/modules/"

router = APIRouter(tags=["registry"])
protocol = APIRouter(prefix="/api/registry/v1/modules", dependencies=[Depends(get_principal)])


@router.get("/.well-known/terraform.json")
def discovery() -> dict[str, str]:
    """Remote service discovery: open to anyone, it only says where the registry lives."""
    return {"modules.v1": MODULES_V1}


@protocol.get("/{namespace}/{name}/{provider}/versions")
def list_versions(namespace: str, name: str, provider: str, session: SessionDep) -> dict[str, Any]:
    return versions.registry_versions(session, namespace, name, provider)


@protocol.get("/{namespace}/{name}/{provider}/{version}/download", status_code=204)
def download(namespace: str, name: str, provider: str, version: str, platform: PlatformDep,
             session: SessionDep) -> Response:
    link = versions.download_link(platform, session, namespace, name, provider, version)
    return Response(status_code=204, headers={"X-Terraform-Get": link})


_ARCHIVE = versions.ARCHIVE_PREFIX + "/{namespace}/{name}/{provider}/{version}.tar.gz"


@router.get(_ARCHIVE)
@router.head(_ARCHIVE, include_in_schema=False)  # go-getter may ask HEAD first when resuming a download
def archive(namespace: str, name: str, provider: str, version: str, platform: PlatformDep, session: SessionDep,
            expires: str = "", signature: str = "") -> Response:
    """No token here: the signature in the query is the permission (403 when wrong or expired)."""
    found = versions.signed_download(
        platform, session, namespace=namespace, name=name, provider=provider, version=version,
        expires=int(expires) if expires.isdigit() and len(expires) < 16 else 0, signature=signature,
    )
    return Response(
        content=found.archive,
        media_type="application/gzip",
        headers={
            "Content-Disposition": f'attachment; filename="{found.filename}"',
            "Cache-Control": "private, no-store",
        },
    )


router.include_router(protocol)

