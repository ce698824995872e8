"""Operating pages: deliveries GitLab sent, and integrations (webhook URL and secret, token, hooks)."""

from __future__ import annotations

from collections import defaultdict

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from stackyard.core.errors import NotFound
from stackyard.services.integrations import get_integration, webhook_url
from stackyard.storage.tables import Delivery, DeliveryRun, Integration, ManagedHook, Stack
from stackyard.web.api.pagination import newest_first
from stackyard.web.deps import PlatformDep
from stackyard.web.ui.queries import clean_cursor, integration_names
from stackyard.web.ui.templating import not_found, render
from stackyard.web.ui.viewer import SignedIn

router = APIRouter()


@router.get("/deliveries", response_class=HTMLResponse)
def deliveries_page(request: Request, platform: PlatformDep, viewer: SignedIn,
                    cursor: str | None = None) -> HTMLResponse:
    with platform.sessions() as session:
        rows, next_cursor = newest_first(session, select(Delivery), Delivery.id, limit=50,
                                         cursor=clean_cursor(cursor))
        runs: dict[int, list[int]] = defaultdict(list)
        links = select(DeliveryRun).where(DeliveryRun.delivery_id.in_([r.id for r in rows]))
        for link in session.scalars(links):
            runs[link.delivery_id].append(link.run_id)
        return render(request, "deliveries.html", viewer=viewer, deliveries=rows, next_cursor=next_cursor,
                      runs={key: sorted(ids) for key, ids in runs.items()},
                      integrations=integration_names(session))


@router.get("/settings/integrations", response_class=HTMLResponse)
def integrations_page(request: Request, platform: PlatformDep, viewer: SignedIn) -> HTMLResponse:
    with platform.sessions() as session:
        rows = list(session.scalars(select(Integration).order_by(Integration.name)))
        return render(request, "integrations.html", viewer=viewer, integrations=rows,
                      webhook_urls={r.name: webhook_url(platform, r.name) for r in rows})


@router.get("/settings/integrations/{name}", response_class=HTMLResponse)
def integration_page(request: Request, platform: PlatformDep, viewer: SignedIn, name: str) -> HTMLResponse:
    """The webhook secret is decrypted for admins only; a reader's page never contains it."""
    with platform.sessions() as session:
        try:
            row = get_integration(session, name)
        except NotFound:
            return not_found(request, viewer, what="integration", name=name)
        hooks = list(session.scalars(
            select(ManagedHook).where(ManagedHook.integration_id == row.id).order_by(ManagedHook.project_path)))
        users = list(session.scalars(select(Stack).where(Stack.integration_id == row.id).order_by(Stack.name)))
        return render(
            request, "integration.html", viewer=viewer, integration=row, hooks=hooks, users=users,
            webhook_url=webhook_url(platform, row.name),
            webhook_secret=platform.box.decrypt(row.webhook_secret_encrypted) if viewer.is_admin else None,
        )
