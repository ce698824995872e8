"""The server-rendered web UI: pages for people, signed in with an API token.

`router` holds every page and form; `STATIC_DIR` is mounted at /static by web/app.py.
"""

from __future__ import annotations

from fastapi import APIRouter

from stackyard.web.ui import actions, auth, ops_pages, pages, run_pages
from stackyard.web.ui.templating import STATIC_DIR

router = APIRouter(include_in_schema=False)
router.include_router(auth.router)
router.include_router(pages.router)
router.include_router(run_pages.router)
router.include_router(actions.router)
router.include_router(ops_pages.router)

__all__ = ["STATIC_DIR", "router"]
