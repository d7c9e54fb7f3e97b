"""ModelArts wire <-> service: a checked config to NewJob; runs and groups to version and job
documents (reference/modelarts_baseten.md §1.3, §1.4). Pure."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from trainplane.api.modelarts import catalog, shapes, statuses
from trainplane.domain import errors, images, instance_types
from trainplane.domain.groups import JobGroup
from trainplane.domain.job import Channel, Job
from trainplane.domain.status import JobKind
from trainplane.service.admission import NewJob

DIALECT = "modelarts"
DATA_CHANNEL = "data"  # data_url is the job's SM_CHANNEL_DATA
CHECKPOINTS = "checkpoints"  # <train_url>/checkpoints is the durable SM_CHECKPOINT_DIR: versions resume


def version_name(run_number: int | None) -> str:
    return f"V{run_number or 0:04d}"


def epoch_ms(at: datetime | None) -> int | None:
    return None if at is None else int(at.timestamp() * 1000)


# --- create ---------------------------------------------------------------------------------------


def new_version(
    config: shapes.Config,
    raw_config: Mapping[str, Any],
    *,
    name: str,
    group_id: int,
    job_desc: str,
    job_name: str,
    rules: Sequence[images.ImageRule],
) -> NewJob:
    """The run a version's config asks for. Raises: errors.Invalid (unknown spec or engine)."""
    spec = catalog.spec(config.spec_id)
    if config.log_url is not None:
        local_path("config.log_url", config.log_url)  # recorded only: the log is served from the job
    image, entrypoint, arguments, environment = _code(config, rules)
    train_url = config.train_url.rstrip("/") or config.train_url
    return NewJob(
        name=name,
        kind=JobKind.TRAINING,
        dialect=DIALECT,
        image=image,
        request={"job_name": job_name, "job_desc": job_desc, "config": dict(raw_config)},
        entrypoint=entrypoint,
        arguments=arguments,
        environment=environment,
        hyperparameters={p.label: p.value for p in config.parameters},
        channels=_channels(config.data_urls),
        output_uri=train_url,
        checkpoint_uri=f"{train_url}/{CHECKPOINTS}",
        max_runtime_seconds=None,
        instance_type=spec.spec_code,
        instance_count=1,
        group_id=group_id,
    )


def _code(
    config: shapes.Config, rules: Sequence[images.ImageRule]
) -> tuple[str, tuple[str, ...], tuple[str, ...], dict[str, str]]:
    """Image, entrypoint, arguments and environment: a custom image runs `user_command` in a shell
    with the parameters as environment variables; an engine runs the boot file with them as
    `--label=value` arguments, as ModelArts does."""
    parameters = config.parameters
    if config.user_image_url is not None:
        environment = {p.label: p.value for p in parameters}
        return config.user_image_url, ("/bin/sh", "-c", config.user_command or ""), (), environment
    engine = catalog.engine(rules, config.engine_id)
    boot_file = local_path("config.boot_file_url", config.boot_file_url or "")
    prefix = next((rule.runtime.command for rule in rules if rule.pattern == engine.image), ())
    entrypoint = (boot_file,) if prefix else ("python", boot_file)
    return engine.image, entrypoint, tuple(f"--{p.label}={p.value}" for p in parameters), {}


def local_path(field: str, url: str) -> str:
    """An absolute path or a file:// URI as a path. Raises: errors.Invalid."""
    if url.startswith("file://"):
        parsed = urlsplit(url)
        if parsed.netloc not in ("", "localhost"):
            raise errors.Invalid(field, "a file:// URI must name this machine (file:///path)")
        url = unquote(parsed.path)
    if not url.startswith("/"):
        raise errors.Invalid(field, "must be an absolute path or a file:// URI")
    return url


def _channels(urls: Sequence[str]) -> tuple[Channel, ...]:
    names = [DATA_CHANNEL, *(f"{DATA_CHANNEL}_{index}" for index in range(2, len(urls) + 1))]
    return tuple(Channel(name, url) for name, url in zip(names, urls, strict=False))


def merged_config(previous: Job, given: Mapping[str, Any]) -> dict[str, Any]:
    """A new version's config: the previous version's (when ModelArts created it), then what is given."""
    base = previous.request.get("config") if previous.dialect == DIALECT else None
    inherited = dict(base) if isinstance(base, dict) else {}
    inherited.pop("pre_version_id", None)
    return {**inherited, **given}


# --- documents ------------------------------------------------------------------------------------


def _config_of(job: Job) -> Mapping[str, Any]:
    config = job.request.get("config") if job.dialect == DIALECT else None
    return config if isinstance(config, dict) else {}


def version(
    job: Job, now: datetime, rules: Sequence[images.ImageRule], *, is_listed: bool = False
) -> dict[str, Any]:
    """The version object (§1.4) of a run, whichever dialect created it."""
    config = _config_of(job)
    spec = job.spec
    metrics = job.outcome.metrics if job.outcome else ()
    system_metrics = {"cpuUsage": [], "memUsage": [], "gpuUtil": [], "gpuMemUsage": [], "interval": 1}
    return {
        "version_id": job.run_number,
        "version_name": version_name(job.run_number),
        "pre_version_id": config.get("pre_version_id"),
        **_engine(job, config, rules),
        "status": statuses.status_code(job.status),
        "app_url": config.get("app_url"),
        "boot_file_url": config.get("boot_file_url"),
        "create_time": epoch_ms(job.created_at),
        "parameter": [{"label": k, "value": v} for k, v in spec.hyperparameters.items()],
        "duration": int(job.runtime_seconds(now) * 1000),
        **_resources(spec.instance_type),
        "data_url": spec.channels[0].source if spec.channels else None,
        "data_source": [{"type": "obs", "data_url": c.source} for c in spec.channels],
        "train_url": config.get("train_url") or spec.output_uri,
        "log_url": config.get("log_url"),
        **dict.fromkeys(("dataset_id", "dataset_version_id", "dataset_name", "dataset_version_name")),
        "model_id": None,
        "model_metric_list": json.dumps([{"metric": m.name, "value": m.value} for m in metrics]),
        "system_metric_list": json.dumps(system_metrics) if is_listed else system_metrics,
        "user_image_url": config.get("user_image_url") if config else spec.image,
        "user_command": config.get("user_command") if config else shlex.join(spec.command),
        "resource_id": job.id,
        "start_time": epoch_ms(job.started_at),
        "volumes": [],
        "pool_id": None,
        "pool_name": None,
        "trainplane": _details(job),
    }


def _engine(job: Job, config: Mapping[str, Any], rules: Sequence[images.ImageRule]) -> dict[str, Any]:
    """The engine a boot file ran on; none for a custom image."""
    engine = catalog.engine_of_image(rules, job.spec.image) if config.get("user_image_url") is None else None
    if engine is None:
        return dict.fromkeys(("engine_type", "engine_name", "engine_id", "engine_version"))
    return catalog.engine_document(engine)


def _resources(instance_type: str) -> dict[str, Any]:
    resources = instance_types.resources_of(instance_type)
    return {
        "spec_id": catalog.spec_id_of(instance_type),
        "spec_code": instance_type,
        "core": str(resources.vcpus) if resources else None,
        "cpu": f"{resources.memory_mib // 1024}GiB" if resources else None,
        "gpu": bool(resources and resources.gpus),
        "gpu_num": resources.gpus if resources else 0,
        "gpu_type": resources.gpu_model if resources else "",
        "worker_server_num": 1,
    }


def _details(job: Job) -> dict[str, Any]:
    """trainplane's own member (clients ignore it): the fine status, why it stopped, the model."""
    outcome, stop = job.outcome, job.stop
    return {
        "status": job.status.value,
        "stop_reason": stop.reason.value if stop else None,
        "model_url": outcome.model_uri if outcome else None,
        "has_complete_checkpoint": outcome.has_complete_checkpoint if outcome else None,
        "failure_reason": outcome.failure.message if outcome and outcome.failure else None,
    }


def job_summary(group: JobGroup, latest: Job | None, now: datetime) -> dict[str, Any]:
    """One entry of the job list (§1.2 row 2): the job and its latest version."""
    return {
        "job_id": group.id,
        "job_name": group.name,
        "version_id": latest.run_number if latest else None,
        "status": statuses.status_code(latest.status) if latest else int(statuses.JobStat.UNKNOWN),
        "create_time": epoch_ms(group.created_at),
        "duration": int(latest.runtime_seconds(now) * 1000) if latest else 0,
        "job_desc": group.description,
        "version_count": group.run_count,
    }


def job_header(group: JobGroup) -> dict[str, Any]:
    return {"job_id": group.id, "job_name": group.name, "job_desc": group.description}
