"""Assembling the FastAPI application from its routers."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from stackyard.bootstrap import Platform
from stackyard.web import health, ui, webhooks
from stackyard.web.api import router as api_router
from stackyard.web.errors import install_error_handlers
from stackyard.web.metrics import Metrics, MetricsMiddleware
from stackyard.web.webhook_secrets import WebhookSecrets


def build_app(platform: Platform) -> FastAPI:
    app = FastAPI(
        title="Stackyard",
        version="0.1.0",
        description="Self-hosted GitOps for infrastructure code on GitLab.",
    )
    app.state.platform = platform
    app.state.metrics = Metrics(platform)
    app.state.webhook_secrets = WebhookSecrets(platform)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(api_router)
    app.include_router(webhooks.router)
    app.include_router(ui.router)
    app.mount("/static", StaticFiles(directory=ui.STATIC_DIR), name="static")
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app
