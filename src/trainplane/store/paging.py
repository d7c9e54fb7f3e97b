"""Listing queries: filters, sort order and opaque keyset page tokens (never OFFSET scans)."""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from trainplane.domain import errors
from trainplane.domain.job import Job
from trainplane.domain.status import JobKind
from trainplane.service.ports import ListQuery, SortBy
from trainplane.store import groups
from trainplane.store.tables import jobs

TOKEN_FIELD = "nextToken"


def _sort_columns(sort_by: SortBy) -> list[sa.ColumnElement[Any]]:
    if sort_by is SortBy.NAME:
        return [jobs.c.name_key, jobs.c.id]
    if sort_by is SortBy.STATUS:
        return [jobs.c.primary_status, jobs.c.created_at, jobs.c.id]
    return [jobs.c.created_at, jobs.c.id]


def _sort_key(job: Job, sort_by: SortBy) -> list[Any]:
    if sort_by is SortBy.NAME:
        return [job.name.lower(), job.id]
    if sort_by is SortBy.STATUS:
        return [job.primary.value, job.created_at.timestamp(), job.id]
    return [job.created_at.timestamp(), job.id]


def encode_token(query: ListQuery, key: list[Any]) -> str:
    doc = {"s": query.sort_by.value, "a": query.ascending, "k": key}
    return base64.urlsafe_b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()


def decode_token(query: ListQuery) -> list[Any] | None:
    """The last key of the previous page, or None on the first page.

    A token comes back from the client: it is checked as hostile input, field by field, so a forged
    one is a 400 naming the token, never a 500 from the database.

    Raises:
        errors.Invalid: the token is malformed or belongs to a different sort order.
    """
    if not query.page_token:
        return None
    doc = _token_document(query.page_token)
    sort_by, ascending, key = doc.get("s"), doc.get("a"), doc.get("k")
    if sort_by not in _SORT_VALUES or not isinstance(ascending, bool):
        raise errors.Invalid(TOKEN_FIELD, "the pagination token is invalid")
    if SortBy(sort_by) is not query.sort_by or ascending != query.ascending:
        raise errors.Invalid(TOKEN_FIELD, "the pagination token was issued for another sort order")
    if not isinstance(key, list) or not _key_fits(key, _KEY_TYPES[query.sort_by]):
        raise errors.Invalid(TOKEN_FIELD, "the pagination token is invalid")
    return key


def _token_document(token: str) -> dict[str, Any]:
    try:
        doc = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, RecursionError, binascii.Error) as exc:
        raise errors.Invalid(TOKEN_FIELD, "the pagination token is invalid") from exc
    if not isinstance(doc, dict):
        raise errors.Invalid(TOKEN_FIELD, "the pagination token is invalid")
    return doc


_SORT_VALUES = tuple(s.value for s in SortBy)  # a tuple: `in` on it never hashes a forged list
_MAX_TIMESTAMP = 1e12  # far past any creation time; keeps SQLite's REAL comparison exact

# The JSON type of each sort column's value, in _sort_columns' order (ids and names are strings,
# timestamps numbers).
_KEY_TYPES: dict[SortBy, tuple[type, ...]] = {
    SortBy.NAME: (str, str),
    SortBy.STATUS: (str, float, str),
    SortBy.CREATION_TIME: (float, str),
}


def _key_fits(key: list[Any], types: tuple[type, ...]) -> bool:
    if len(key) != len(types):
        return False
    for value, expected in zip(key, types, strict=True):
        if expected is float:
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            # abs() first: math.isfinite() of a 400-digit int raises OverflowError.
            if not is_number or abs(value) > _MAX_TIMESTAMP or not math.isfinite(value):
                return False
        elif not isinstance(value, str) or not _is_encodable(value):
            return False
    return True


def _is_encodable(text: str) -> bool:
    """False for a lone surrogate ("\\ud800"), which JSON allows and SQLite cannot bind, and for a NUL,
    which PostgreSQL text cannot hold."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _filters(tenant: str, kind: JobKind, query: ListQuery) -> list[sa.ColumnElement[bool]]:
    # A job whose delete waits for it to end is gone for every reader but the reconciler.
    clauses = [jobs.c.tenant == tenant, jobs.c.kind == kind.value, jobs.c.delete_when_ended.is_(False)]
    if query.group_id is not None and not groups.is_storable_id(query.group_id):
        clauses.append(sa.false())  # names no group, and PostgreSQL cannot even compare it
    elif query.group_id is not None:
        clauses.append(jobs.c.group_id == query.group_id)
    if query.statuses is not None:
        clauses.append(jobs.c.status.in_(sorted(s.value for s in query.statuses)))
    if query.name_contains and "\x00" in query.name_contains:
        clauses.append(sa.false())  # no name holds a NUL, and PostgreSQL cannot even compare one
    elif query.name_contains:
        clauses.append(jobs.c.name_key.contains(query.name_contains.lower(), autoescape=True))
    if query.status is not None:
        clauses.append(jobs.c.primary_status == query.status.value)
    bounds = (
        (jobs.c.created_at, query.created_after, query.created_before),
        (jobs.c.last_modified_at, query.modified_after, query.modified_before),
    )
    for column, after, before in bounds:
        if after is not None:
            clauses.append(column > after.timestamp())
        if before is not None:
            clauses.append(column < before.timestamp())
    return clauses


def list_statement(
    tenant: str, kind: JobKind, query: ListQuery
) -> tuple[sa.Select[Any], Callable[[Job], str]]:
    """One page's SELECT (limit + 1 rows, to know whether another page follows) and its token maker."""
    columns = _sort_columns(query.sort_by)
    clauses = _filters(tenant, kind, query)
    after = decode_token(query)
    if after is not None:
        row, last = sa.tuple_(*columns), sa.tuple_(*[sa.literal(v) for v in after])
        clauses.append(row > last if query.ascending else row < last)
    order = [c.asc() if query.ascending else c.desc() for c in columns]
    statement = jobs.select().where(*clauses).order_by(*order).limit(query.limit + 1)
    return statement, lambda job: encode_token(query, _sort_key(job, query.sort_by))
