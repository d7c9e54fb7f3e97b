"""Helpers shared by the test suites (waiting on conditions, building jobs)."""

from __future__ import annotations
