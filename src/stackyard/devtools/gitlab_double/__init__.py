"""A faithful in-process GitLab API and webhook double that python-gitlab talks to unchanged."""

from .app import DoubleApp
from .double import GitLabDouble
from .records import Delivery, RecordedRequest
from .server import serve_asgi, serve_double

__all__ = ["Delivery", "DoubleApp", "GitLabDouble", "RecordedRequest", "serve_asgi", "serve_double"]
