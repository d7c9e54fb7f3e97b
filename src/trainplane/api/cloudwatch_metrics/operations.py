"""CloudWatch's metric reads for training jobs: `GetMetricStatistics`, `GetMetricData` and `ListMetrics`.

Namespace "/aws/sagemaker/TrainingJobs", dimension `TrainingJobName`: the metrics a job's
MetricDefinitions parse from its log (see series.py); dimension `Host` ("<job>/algo-1"): CPUUtilization
and MemoryUtilization from the usage its supervisor samples. A metric nobody wrote (another namespace, another
tenant's job, a job that does not exist) has no datapoints, as on CloudWatch: never an error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from trainplane.api.cloudwatch_metrics import log_lines, series
from trainplane.api.memo import Memo
from trainplane.api.sagemaker import constraints
from trainplane.domain import errors
from trainplane.domain.job import Job
from trainplane.domain.status import JobKind
from trainplane.service.jobs import JobService
from trainplane.service.ports import ListQuery

NAMESPACE = "/aws/sagemaker/TrainingJobs"
DIMENSION = "TrainingJobName"
HOST_DIMENSION = "Host"  # "<job>/algo-1": SageMaker's dimension of the instance metrics
HOST_SUFFIX = "/algo-1"
INSTANCE_METRICS = ("CPUUtilization", "MemoryUtilization")
MAX_DATAPOINTS = 1440  # GetMetricStatistics' own limit per call
LIST_METRICS_JOBS = 500  # jobs one ListMetrics call looks at
Samples = Mapping[str, Sequence[series.Sample]]
Handler = Callable[["Metrics", str, Mapping[str, Any]], dict[str, Any]]


class Metrics:
    """Reads a job's samples once per log size (a poller asks for each metric in turn)."""

    def __init__(self, service: JobService) -> None:
        self.service = service
        self._samples: Memo[tuple[str, str, int, bool], Samples] = Memo(64)

    def samples(self, tenant: str, metric: Mapping[str, Any]) -> Sequence[series.Sample]:
        """The samples of one metric ({Namespace, MetricName, Dimensions}); none for an unknown one."""
        name = _job_name(metric)
        if metric.get("Namespace") != NAMESPACE or name is None:
            return ()
        try:
            job = self.service.describe(tenant, JobKind.TRAINING, name)
        except errors.NotFound:
            return ()
        if metric.get("MetricName") in INSTANCE_METRICS:
            usage = self.service.read_usage(tenant, job.kind, job.name)
            return series.utilization(usage, _memory_total_bytes())[metric["MetricName"]]
        marks = self.service.read_log_marks(tenant, job.kind, job.name)
        key = (tenant, job.id, marks.size, job.is_terminal)
        every = self._samples.get(key, lambda: self._read(tenant, job))
        return every.get(metric.get("MetricName", ""), ())

    def _read(self, tenant: str, job: Job) -> Samples:
        patterns = series.compiled(job.spec.metric_definitions)
        if not patterns:
            return {}
        marks = self.service.read_log_marks(tenant, job.kind, job.name)
        lines = list(log_lines.lines(self.service, tenant, job, marks))
        return {name: series.samples(pattern, lines) for name, pattern in patterns.items()}


def get_metric_statistics(metrics: Metrics, tenant: str, body: Mapping[str, Any]) -> dict[str, Any]:
    stats = list(body.get("Statistics") or ())
    extended = list(body.get("ExtendedStatistics") or ())
    if not stats and not extended:
        raise errors.Invalid("Statistics", "Must specify either Statistics or ExtendedStatistics.")
    if any(not re.fullmatch(r"p\d{1,2}(\.\d{1,2})?", name) for name in extended):
        raise errors.Invalid("ExtendedStatistics", "The extended statistics must be percentiles like p99.")
    start, end = _time(body, "StartTime"), _time(body, "EndTime")
    period = int(body["Period"])
    points = series.datapoints(metrics.samples(tenant, body), start, end, period)[:MAX_DATAPOINTS]
    unit = body.get("Unit") or "None"
    datapoints = []
    for point in points:
        doc: dict[str, Any] = {
            "Timestamp": _instant(point.start),
            "Unit": unit,
            **series.statistics_of(point, stats),
        }
        if extended:
            doc["ExtendedStatistics"] = series.statistics_of(point, extended)
        datapoints.append(doc)
    return {"Label": body["MetricName"], "Datapoints": datapoints}


def get_metric_data(metrics: Metrics, tenant: str, body: Mapping[str, Any]) -> dict[str, Any]:
    start, end = _time(body, "StartTime"), _time(body, "EndTime")
    is_descending = body.get("ScanBy", "TimestampDescending") == "TimestampDescending"
    results = []
    for query in body["MetricDataQueries"]:
        stat = query.get("MetricStat")
        if stat is None:
            raise errors.Invalid(
                "MetricDataQueries", "Only MetricStat queries are supported, not Expression."
            )
        points = series.datapoints(metrics.samples(tenant, stat["Metric"]), start, end, int(stat["Period"]))
        if is_descending:
            points.reverse()
        if query.get("ReturnData", True):
            results.append(
                {
                    "Id": query["Id"],
                    "Label": query.get("Label") or stat["Metric"]["MetricName"],
                    "Timestamps": [_instant(point.start) for point in points],
                    "Values": [point.statistic(stat["Stat"]) for point in points],
                    "StatusCode": "Complete",
                }
            )
    return {"MetricDataResults": results, "Messages": []}


def list_metrics(metrics: Metrics, tenant: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The metrics of the tenant's training jobs: each MetricDefinition that parses (dimension
    TrainingJobName) and, once a job started, its instance metrics (dimension Host)."""
    if body.get("Namespace", NAMESPACE) != NAMESPACE:
        return {"Metrics": []}
    wanted_job = _job_name(body)
    named = {dimension.get("Name") for dimension in body.get("Dimensions") or ()}
    query = ListQuery(name_contains=wanted_job, limit=LIST_METRICS_JOBS)
    found = []
    for job in metrics.service.list(tenant, JobKind.TRAINING, query).jobs:
        if wanted_job is not None and job.name != wanted_job:
            continue
        candidates: list[tuple[str, str, str]] = []
        if named <= {DIMENSION}:
            candidates += [
                (name, DIMENSION, job.name) for name in series.compiled(job.spec.metric_definitions)
            ]
        if named <= {HOST_DIMENSION} and job.started_at is not None:
            candidates += [(name, HOST_DIMENSION, f"{job.name}{HOST_SUFFIX}") for name in INSTANCE_METRICS]
        for name, dimension, value in candidates:
            if body.get("MetricName") in (None, name):
                dimensions = [{"Name": dimension, "Value": value}]
                found.append({"Namespace": NAMESPACE, "MetricName": name, "Dimensions": dimensions})
    return {"Metrics": found}


OPERATIONS: Mapping[str, Handler] = {
    "GetMetricStatistics": get_metric_statistics,
    "GetMetricData": get_metric_data,
    "ListMetrics": list_metrics,
}


def _job_name(metric: Mapping[str, Any]) -> str | None:
    for dimension in metric.get("Dimensions") or ():
        value = str(dimension.get("Value", ""))
        if dimension.get("Name") == DIMENSION:
            return value
        if dimension.get("Name") == HOST_DIMENSION and value.endswith(HOST_SUFFIX):
            return value.removesuffix(HOST_SUFFIX)
    return None


def _memory_total_bytes() -> int:
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _time(body: Mapping[str, Any], field: str) -> float:
    at = constraints.timestamp_from_wire(body[field])
    if at is None:
        raise errors.Invalid(field, f"{field} is not a timestamp")
    return at.timestamp()


def _instant(epoch_seconds: float) -> datetime:
    """A timestamp member: each protocol's codec writes it its own way (CBOR tag 1, JSON epoch seconds)."""
    return datetime.fromtimestamp(epoch_seconds, UTC)
