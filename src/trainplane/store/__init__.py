"""SQLAlchemy implementation of the Store port (SQLite WAL embedded; PostgreSQL next)."""

from __future__ import annotations
