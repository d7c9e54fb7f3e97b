"""Alembic migrations for the trainplane store."""

from __future__ import annotations
