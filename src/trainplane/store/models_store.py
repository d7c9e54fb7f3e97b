"""The ModelStore port on SQLAlchemy Core (the same engine, and database, as the jobs)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from trainplane.domain import errors
from trainplane.domain.models import Model, ModelSource
from trainplane.domain.status import JobKind
from trainplane.service.models import ModelPage, ModelQuery, ModelSortBy
from trainplane.store.tables import models

TOKEN_FIELD = "nextToken"


class SqlModelStore:
    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def insert(self, model: Model) -> None:
        row = {
            "tenant": model.tenant,
            "name_key": model.name.lower(),
            "name": model.name,
            "arn": model.arn,
            "created_at": model.created_at.timestamp(),
            "request": json.dumps(dict(model.request)),
            "source": json.dumps(_source_to_dict(model.source)),
        }
        try:
            with self._engine.begin() as connection:
                connection.execute(models.insert().values(**row))
        except sa_exc.IntegrityError:
            raise errors.NameInUse("model", model.name, model.arn) from None

    def get(self, tenant: str, name: str) -> Model:
        statement = models.select().where(models.c.tenant == tenant, models.c.name_key == name.lower())
        with self._engine.connect() as connection:
            row = connection.execute(statement).first()
        if row is None:
            raise errors.NotFound("model", name)
        return _model(row)

    def list_models(self, tenant: str, query: ModelQuery) -> ModelPage:
        offset = _offset(query.page_token)
        statement = models.select().where(models.c.tenant == tenant)
        if query.name_contains:
            statement = statement.where(
                models.c.name_key.contains(query.name_contains.lower(), autoescape=True)
            )
        if query.created_after is not None:
            statement = statement.where(models.c.created_at > query.created_after.timestamp())
        if query.created_before is not None:
            statement = statement.where(models.c.created_at < query.created_before.timestamp())
        columns = (
            [models.c.name_key]
            if query.sort_by is ModelSortBy.NAME
            else [models.c.created_at, models.c.name_key]
        )
        order = [column.asc() if query.ascending else column.desc() for column in columns]
        statement = statement.order_by(*order).offset(offset).limit(query.limit + 1)
        with self._engine.connect() as connection:
            rows = connection.execute(statement).all()
        more = len(rows) > query.limit
        token = _token(offset + query.limit) if more else None
        return ModelPage([_model(row) for row in rows[: query.limit]], token)

    def delete(self, tenant: str, name: str) -> None:
        statement = models.delete().where(models.c.tenant == tenant, models.c.name_key == name.lower())
        with self._engine.begin() as connection:
            if connection.execute(statement).rowcount == 0:
                raise errors.NotFound("model", name)


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def _offset(token: str | None) -> int:
    """Raises: errors.Invalid for a token this store did not issue."""
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["o"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise errors.Invalid(TOKEN_FIELD, "the pagination token is invalid") from None
    if not isinstance(offset, int) or offset < 0:
        raise errors.Invalid(TOKEN_FIELD, "the pagination token is invalid")
    return offset


def _source_to_dict(source: ModelSource) -> dict[str, Any]:
    return {
        "artifact_uri": source.artifact_uri,
        "job_kind": None if source.job_kind is None else source.job_kind.value,
        "job_name": source.job_name,
        "job_id": source.job_id,
        "reason": source.reason,
        "has_complete_checkpoint": source.has_complete_checkpoint,
    }


def _model(row: Any) -> Model:
    source = json.loads(row.source)
    kind = source.get("job_kind")
    return Model(
        tenant=row.tenant,
        name=row.name,
        arn=row.arn,
        created_at=datetime.fromtimestamp(row.created_at, tz=UTC),
        request=json.loads(row.request),
        source=ModelSource(
            artifact_uri=source["artifact_uri"],
            job_kind=None if kind is None else JobKind(kind),
            job_name=source.get("job_name"),
            job_id=source.get("job_id"),
            reason=source.get("reason"),
            has_complete_checkpoint=bool(source.get("has_complete_checkpoint")),
        ),
    )
