"""Helpers the test suite shares: real servers started on loopback, and queue draining."""
