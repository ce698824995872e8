"""Errors the domain and services raise, mapped to HTTP answers in one table in web/errors.py."""

from __future__ import annotations


class StackyardError(Exception):
    """Base of every error a user can cause and should read."""


class NotFound(StackyardError):
    pass


class Conflict(StackyardError):
    pass


class Invalid(StackyardError):
    pass


class Forbidden(StackyardError):
    pass


class Unauthorized(StackyardError):
    pass
