"""Fixtures for the runner tests."""

from support.run_setup import run_setup

__all__ = ["run_setup"]
