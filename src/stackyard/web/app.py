"""Assembling the FastAPI application from its routers, with the webhook intake in front of it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from stackyard.bootstrap import Platform
from stackyard.services.intake import DeliveryStore
from stackyard.web import health, registry, ui
from stackyard.web.api import router as api_router
from stackyard.web.delivery_batcher import DeliveryBatcher
from stackyard.web.errors import install_error_handlers
from stackyard.web.metrics import Metrics, MetricsMiddleware
from stackyard.web.webhook_secrets import WebhookSecrets
from stackyard.web.webhooks import PREFIX, WebhookIntake


class StackyardApp(FastAPI):
    """FastAPI, except that webhook deliveries go straight to the intake, before any middleware.

    FastAPI's own layers (telemetry check, error and body-limit middleware) cost a webhook more CPU than
    reading its body does; the intake answers every one of its requests itself and never raises.
    """

    intake: WebhookIntake | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.intake is not None and scope["type"] == "http" and scope["path"].startswith(PREFIX):
            await self.intake(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def build_app(platform: Platform) -> FastAPI:
    store = DeliveryStore(platform)
    batcher = DeliveryBatcher(store.store, store.hand_over)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            batcher.close()
            store.close()

    app = StackyardApp(
        title="Stackyard",
        version="0.1.0",
        description="Self-hosted GitOps for infrastructure code on GitLab.",
        lifespan=lifespan,
    )
    app.state.platform = platform
    app.state.metrics = Metrics(platform)
    app.state.webhook_secrets = WebhookSecrets(platform)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(api_router)
    app.include_router(registry.router)
    app.include_router(ui.router)
    app.mount("/static", StaticFiles(directory=ui.STATIC_DIR), name="static")
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.intake = WebhookIntake(
        app.router, platform=platform, secrets=app.state.webhook_secrets, batcher=batcher, metrics=app.state.metrics
    )
    return app
