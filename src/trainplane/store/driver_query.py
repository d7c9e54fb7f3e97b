"""A prebuilt one-row SELECT run straight on a pooled DB-API cursor.

For the version probe that every read starts with (store.decoded_jobs), SQLAlchemy's execution context
and result machinery cost three times the query itself. The statement is still built and compiled by
SQLAlchemy for the engine's dialect (placeholders and parameter order included); only the execution is
the driver's. The connection comes from, and returns to, the engine's pool (its connect-time pragmas
applied).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from trainplane.domain import errors


class DriverQuery:
    def __init__(self, statement: sa.Select[Any], engine: sa.Engine) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self._sql = str(compiled)
        self._order = list(compiled.positiontup or []) if compiled.positional else None
        self._engine = engine
        self._outage = engine.dialect.loaded_dbapi.OperationalError

    def first(self, params: Mapping[str, Any]) -> Any:
        """The first row (a tuple), or None. Raises: errors.Unavailable."""
        return self._run(params, lambda cursor: cursor.fetchone())

    def all(self, params: Mapping[str, Any]) -> list[Any]:
        """Every row (tuples). Raises: errors.Unavailable."""
        rows: list[Any] = self._run(params, lambda cursor: cursor.fetchall())
        return rows

    def _run(self, params: Mapping[str, Any], fetch: Callable[[Any], Any]) -> Any:
        args = [params[name] for name in self._order] if self._order is not None else dict(params)
        try:
            try:
                return self._fetch(args, fetch)
            except _Disconnected:
                # A dead pooled connection (a restarted database; there is no pre-ping): the others
                # are dead too, so start a new pool and read once more.
                self._engine.dispose()
            return self._fetch(args, fetch)
        except (self._outage, _Disconnected) as exc:
            raise errors.Unavailable(f"the job store is unavailable: {exc.__cause__ or exc}") from exc

    def _fetch(self, args: Any, fetch: Callable[[Any], Any]) -> Any:
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute(self._sql, args)
            rows = fetch(cursor)
            cursor.close()
            return rows
        except self._outage as exc:
            if self._engine.dialect.is_disconnect(exc, connection.dbapi_connection, None):
                connection.invalidate(exc)  # never back to the pool
                raise _Disconnected() from exc
            raise
        finally:
            connection.close()  # back to the pool, rolled back


class _Disconnected(Exception):
    """The pooled connection turned out dead."""
