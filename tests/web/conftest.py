"""Browsers already signed in to the UI, as an admin and as a reader."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from stackyard.bootstrap import Platform
from support.ui_rows import signed_in_client


@pytest.fixture
def admin_page(platform: Platform, admin_token: str) -> Iterator[TestClient]:
    with signed_in_client(platform, admin_token) as client:
        yield client


@pytest.fixture
def reader_page(platform: Platform, reader_token: str) -> Iterator[TestClient]:
    with signed_in_client(platform, reader_token) as client:
        yield client
