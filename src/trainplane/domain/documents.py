"""Job values to and from JSON-ready dicts: one codec for the store, executors and status files."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from trainplane.domain.job import (
    Channel,
    ExecutorHandle,
    Failure,
    FailureKind,
    Job,
    JobSpec,
    Metric,
    MetricDefinition,
    Outcome,
    StopIntent,
    StopReport,
    Transition,
)
from trainplane.domain.status import JobKind, Secondary, StopReason


def instant_to_wire(at: datetime | None) -> float | None:
    return None if at is None else at.timestamp()


def instant_from_wire(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def _instant(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def spec_to_dict(spec: JobSpec) -> dict[str, Any]:
    return {
        "image": spec.image,
        "command": list(spec.command),
        "environment": dict(spec.environment),
        "hyperparameters": dict(spec.hyperparameters),
        "channels": [
            {"name": c.name, "source": c.source, "content_type": c.content_type} for c in spec.channels
        ],
        "output_uri": spec.output_uri,
        "checkpoint_uri": spec.checkpoint_uri,
        "checkpoint_local_path": spec.checkpoint_local_path,
        "max_runtime_seconds": spec.max_runtime_seconds,
        "max_runtime_warning_seconds": spec.max_runtime_warning_seconds,
        "grace_seconds": spec.grace_seconds,
        "signal_policy": spec.signal_policy,
        "metric_definitions": [{"name": m.name, "regex": m.regex} for m in spec.metric_definitions],
        "instance_type": spec.instance_type,
        "instance_count": spec.instance_count,
        "executor": spec.executor,
        "payload": dict(spec.payload),
    }


def spec_from_dict(doc: Mapping[str, Any]) -> JobSpec:
    return JobSpec(
        image=doc["image"],
        command=tuple(doc["command"]),
        environment=dict(doc["environment"]),
        hyperparameters=dict(doc["hyperparameters"]),
        channels=tuple(Channel(c["name"], c["source"], c.get("content_type")) for c in doc["channels"]),
        output_uri=doc["output_uri"],
        checkpoint_uri=doc.get("checkpoint_uri"),
        checkpoint_local_path=doc.get("checkpoint_local_path"),
        max_runtime_seconds=doc.get("max_runtime_seconds"),
        max_runtime_warning_seconds=doc.get("max_runtime_warning_seconds"),
        grace_seconds=float(doc["grace_seconds"]),
        signal_policy=doc.get("signal_policy", "group"),
        metric_definitions=tuple(MetricDefinition(m["name"], m["regex"]) for m in doc["metric_definitions"]),
        instance_type=doc.get("instance_type", "ml.m5.large"),
        instance_count=int(doc.get("instance_count", 1)),
        executor=doc.get("executor", "local"),
        payload=dict(doc.get("payload") or {}),
    )


def metric_to_dict(metric: Metric) -> dict[str, Any]:
    return {"name": metric.name, "value": metric.value, "at": metric.at.timestamp()}


def metric_from_dict(doc: Mapping[str, Any]) -> Metric:
    return Metric(doc["name"], float(doc["value"]), _instant(doc["at"]))


def stop_report_to_dict(report: StopReport) -> dict[str, Any]:
    return {
        "term_sent_at": instant_to_wire(report.term_sent_at),
        "term_pids": report.term_pids,
        "kill_sent_at": instant_to_wire(report.kill_sent_at),
        "kill_pids": report.kill_pids,
        "survivors": list(report.survivors),
    }


def stop_report_from_dict(doc: Mapping[str, Any]) -> StopReport:
    return StopReport(
        term_sent_at=instant_from_wire(doc.get("term_sent_at")),
        term_pids=int(doc.get("term_pids", 0)),
        kill_sent_at=instant_from_wire(doc.get("kill_sent_at")),
        kill_pids=int(doc.get("kill_pids", 0)),
        survivors=tuple(doc.get("survivors", ())),
    )


def _history_to_list(history: tuple[Transition, ...]) -> list[dict[str, Any]]:
    return [
        {
            "status": t.status.value,
            "started_at": t.started_at.timestamp(),
            "ended_at": instant_to_wire(t.ended_at),
            "message": t.message,
        }
        for t in history
    ]


def _history_from_list(items: list[dict[str, Any]]) -> tuple[Transition, ...]:
    return tuple(
        Transition(
            status=Secondary(t["status"]),
            started_at=_instant(t["started_at"]),
            message=t["message"],
            ended_at=instant_from_wire(t.get("ended_at")),
        )
        for t in items
    )


def stop_to_dict(stop: StopIntent) -> dict[str, Any]:
    return {
        "requested_at": stop.requested_at.timestamp(),
        "deadline_at": stop.deadline_at.timestamp(),
        "reason": stop.reason.value,
        "grace_seconds": stop.grace_seconds,
    }


def stop_from_dict(doc: Mapping[str, Any] | None) -> StopIntent | None:
    if doc is None:
        return None
    return StopIntent(
        requested_at=_instant(doc["requested_at"]),
        deadline_at=_instant(doc["deadline_at"]),
        reason=StopReason(doc["reason"]),
        grace_seconds=float(doc["grace_seconds"]),
    )


# Stored records from before Failure was structured carry SageMaker's prefixed string.
_LEGACY_PREFIXES = {
    "ClientError:": FailureKind.USER,
    "AlgorithmError:": FailureKind.ALGORITHM,
    "InternalServerError:": FailureKind.PLATFORM,
}


def failure_to_dict(failure: Failure | None) -> dict[str, str] | None:
    return None if failure is None else {"kind": failure.kind.value, "message": failure.message}


def failure_from_dict(doc: Mapping[str, Any] | None, legacy_reason: str | None = None) -> Failure | None:
    """The failure in `doc`, or one parsed from a legacy `failure_reason` string."""
    if doc is not None:
        return Failure(FailureKind(doc["kind"]), str(doc["message"]))
    if legacy_reason is None:
        return None
    for prefix, kind in _LEGACY_PREFIXES.items():
        if legacy_reason.startswith(prefix):
            return Failure(kind, legacy_reason.removeprefix(prefix).strip())
    return Failure(FailureKind.ALGORITHM, legacy_reason)


def _outcome_to_dict(outcome: Outcome | None) -> dict[str, Any] | None:
    if outcome is None:
        return None
    return {
        "exit_code": outcome.exit_code,
        "failure": failure_to_dict(outcome.failure),
        "model_uri": outcome.model_uri,
        "output_uri": outcome.output_uri,
        "has_complete_checkpoint": outcome.has_complete_checkpoint,
        "model_digest": outcome.model_digest,
        "metrics": [metric_to_dict(m) for m in outcome.metrics],
        "stop_report": None if outcome.stop_report is None else stop_report_to_dict(outcome.stop_report),
    }


def _outcome_from_dict(doc: Mapping[str, Any] | None) -> Outcome | None:
    if doc is None:
        return None
    report = doc.get("stop_report")
    return Outcome(
        exit_code=doc.get("exit_code"),
        failure=failure_from_dict(doc.get("failure"), doc.get("failure_reason")),
        model_uri=doc.get("model_uri"),
        output_uri=doc.get("output_uri"),
        has_complete_checkpoint=bool(doc.get("has_complete_checkpoint")),
        model_digest=doc.get("model_digest"),
        metrics=tuple(metric_from_dict(m) for m in doc.get("metrics", ())),
        stop_report=None if report is None else stop_report_from_dict(report),
    )


def job_state_to_dict(job: Job) -> dict[str, Any]:
    """The mutable part of a job (what `Store.save` rewrites)."""
    return {
        "history": _history_to_list(job.history),
        "stop": None if job.stop is None else stop_to_dict(job.stop),
        "handle": None
        if job.handle is None
        else {"executor": job.handle.executor, "ref": dict(job.handle.ref)},
        "outcome": _outcome_to_dict(job.outcome),
    }


def job_to_dict(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "tenant": job.tenant,
        "kind": job.kind.value,
        "name": job.name,
        "arn": job.arn,
        "spec": spec_to_dict(job.spec),
        "request": dict(job.request),
        "dialect": job.dialect,
        "status": job.status.value,
        "version": job.version,
        "created_at": job.created_at.timestamp(),
        "last_modified_at": job.last_modified_at.timestamp(),
        "started_at": instant_to_wire(job.started_at),
        "ended_at": instant_to_wire(job.ended_at),
        "group_id": job.group_id,
        "run_number": job.run_number,
        "delete_when_ended": job.delete_when_ended,
        **job_state_to_dict(job),
    }


def job_from_dict(doc: Mapping[str, Any]) -> Job:
    handle = doc.get("handle")
    return Job(
        id=doc["id"],
        tenant=doc["tenant"],
        kind=JobKind(doc["kind"]),
        name=doc["name"],
        arn=doc["arn"],
        spec=spec_from_dict(doc["spec"]),
        request=doc["request"],
        dialect=doc["dialect"],
        status=Secondary(doc["status"]),
        version=int(doc["version"]),
        created_at=_instant(doc["created_at"]),
        last_modified_at=_instant(doc["last_modified_at"]),
        history=_history_from_list(doc["history"]),
        started_at=instant_from_wire(doc.get("started_at")),
        ended_at=instant_from_wire(doc.get("ended_at")),
        stop=stop_from_dict(doc.get("stop")),
        handle=None if handle is None else ExecutorHandle(handle["executor"], dict(handle["ref"])),
        outcome=_outcome_from_dict(doc.get("outcome")),
        group_id=doc.get("group_id"),
        run_number=doc.get("run_number"),
        delete_when_ended=bool(doc.get("delete_when_ended", False)),
    )
