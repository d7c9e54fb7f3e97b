"""ModelService: models that name a training or compilation job's artifact, with where it came from.

A model is refused when its artifact's manifest says the job was stopped before it saved anything:
such a model.tar.gz holds no model, and deploying it could only fail later.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from trainplane.domain import errors, names
from trainplane.domain.job import Job
from trainplane.domain.models import ArtifactManifest, Model, ModelSource, manifest_from_dict
from trainplane.service.jobs import JobService
from trainplane.service.ports import Artifacts, Clock

log = logging.getLogger("trainplane.service.models")
MODEL_DATA_FIELD = "primaryContainer.modelDataUrl"


class ModelSortBy(enum.StrEnum):
    NAME = "Name"
    CREATION_TIME = "CreationTime"


@dataclass(frozen=True)
class ModelQuery:
    name_contains: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    sort_by: ModelSortBy = ModelSortBy.CREATION_TIME
    ascending: bool = False  # SageMaker lists models newest first by default
    limit: int = 10
    page_token: str | None = None


@dataclass(frozen=True)
class ModelPage:
    models: Sequence[Model]
    next_token: str | None


class ModelStore(Protocol):
    """Durable models, one per tenant and case-insensitive name."""

    def insert(self, model: Model) -> None:
        """Raises: errors.NameInUse."""
        ...

    def get(self, tenant: str, name: str) -> Model:
        """Raises: errors.NotFound."""
        ...

    def list_models(self, tenant: str, query: ModelQuery) -> ModelPage:
        """Raises: errors.Invalid (a bad page token)."""
        ...

    def delete(self, tenant: str, name: str) -> None:
        """Raises: errors.NotFound."""
        ...


class ModelService:
    def __init__(
        self,
        store: ModelStore,
        jobs: JobService,
        artifacts: Artifacts,
        clock: Clock,
        *,
        region: str = names.DEFAULT_REGION,
        account: str = names.DEFAULT_ACCOUNT,
    ) -> None:
        self._store = store
        self._jobs = jobs
        self._artifacts = artifacts
        self._clock = clock
        self._region = region
        self._account = account

    def create(
        self,
        tenant: str,
        name: str,
        model_data_url: str,
        request: Mapping[str, Any],
        account: str | None = None,
    ) -> Model:
        """Record a model of the artifact at `model_data_url`.

        Raises:
            errors.Invalid: no readable trainplane artifact there, or its job stopped before saving anything.
            errors.NameInUse: a model of that name exists.
        """
        manifest = self._manifest(model_data_url)
        if manifest.is_stop_without_model:
            raise errors.Invalid(
                MODEL_DATA_FIELD,
                f"the {manifest.job_kind.value} job {manifest.job_name!r} was stopped ({manifest.reason}) "
                "before it saved a model: its artifact holds nothing to deploy",
            )
        model = Model(
            tenant=tenant,
            name=name,
            arn=f"arn:aws:sagemaker:{self._region}:{account or self._account}:model/{name.lower()}",
            created_at=self._clock.now(),
            request=dict(request),
            source=self._source(tenant, model_data_url, manifest),
        )
        self._store.insert(model)
        log.info("event=model_created name=%s source_job=%s", name, model.source.job_id)
        return model

    def _manifest(self, model_data_url: str) -> ArtifactManifest:
        document = self._artifacts.read_manifest(MODEL_DATA_FIELD, model_data_url)
        try:
            return manifest_from_dict(document)
        except (KeyError, ValueError, TypeError):
            raise errors.Invalid(
                MODEL_DATA_FIELD, f"{model_data_url}: its manifest is not one trainplane wrote"
            ) from None

    def _source(self, tenant: str, uri: str, manifest: ArtifactManifest) -> ModelSource:
        job = self._job(tenant, manifest)
        return ModelSource(
            artifact_uri=uri,
            job_kind=None if job is None else job.kind,
            job_name=None if job is None else job.name,
            job_id=None if job is None else job.id,
            reason=manifest.reason,
            has_complete_checkpoint=manifest.has_complete_checkpoint,
        )

    def _job(self, tenant: str, manifest: ArtifactManifest) -> Job | None:
        """The tenant's job that made the artifact, if it still exists."""
        if not manifest.job_name:
            return None
        try:
            return self._jobs.describe(tenant, manifest.job_kind, manifest.job_name)
        except errors.NotFound:
            return None

    def describe(self, tenant: str, name: str) -> Model:
        """Raises: errors.NotFound."""
        return self._store.get(tenant, name)

    def list(self, tenant: str, query: ModelQuery) -> ModelPage:
        return self._store.list_models(tenant, query)

    def delete(self, tenant: str, name: str) -> None:
        """Raises: errors.NotFound."""
        self._store.delete(tenant, name)
