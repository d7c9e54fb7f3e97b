"""CloudWatch Logs operations the SageMaker SDK and `aws logs` use, answered from trainplane's job logs.

Log group "/aws/sagemaker/TrainingJobs"; one stream per started job ("<job>/algo-1-<start epoch>").
Reads are bounded: one call reads at most WINDOW_BYTES of a log, as CloudWatch returns at most 1 MB.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from trainplane.api.cloudwatch_logs import streams
from trainplane.api.sagemaker import constraints
from trainplane.domain import errors, transitions
from trainplane.domain.job import Job
from trainplane.domain.status import JobKind
from trainplane.service.jobs import JobService
from trainplane.service.ports import ListQuery, SortBy

LOG_GROUPS: Mapping[str, JobKind] = {"/aws/sagemaker/TrainingJobs": JobKind.TRAINING}
WINDOW_BYTES = 1024 * 1024
DEFAULT_EVENTS = 10_000
DEFAULT_STREAMS = 50
FILTER_STREAMS = 100  # streams one FilterLogEvents call searches at most
FILTER_BUDGET_BYTES = 4 * WINDOW_BYTES  # log bytes one FilterLogEvents call reads at most

Handler = Callable[[JobService, str, Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class _Stream:
    job: Job
    name: str


def describe_log_streams(service: JobService, tenant: str, body: Mapping[str, Any]) -> dict[str, Any]:
    kind = _kind(body)
    prefix = body.get("logStreamNamePrefix") or ""
    if prefix and body.get("orderBy") == "LastEventTime":
        raise errors.Invalid("orderBy", "Cannot order by LastEventTime with a logStreamNamePrefix.")
    limit = int(body.get("limit", DEFAULT_STREAMS))
    query = ListQuery(
        name_contains=prefix.partition("/")[0] or None,
        # LastEventTime: newest jobs first stands in (a job's events follow its start).
        sort_by=SortBy.NAME
        if body.get("orderBy", "LogStreamName") == "LogStreamName"
        else SortBy.CREATION_TIME,
        ascending=not body.get("descending", False),
        limit=limit,
        page_token=body.get("nextToken") or None,
    )
    page = service.list(tenant, kind, query)
    found = [stream for stream in _streams_of(page.jobs) if stream.name.startswith(prefix)]
    response: dict[str, Any] = {"logStreams": [_stream_doc(service, tenant, stream) for stream in found]}
    if page.next_token:
        response["nextToken"] = page.next_token
    return response


def get_log_events(service: JobService, tenant: str, body: Mapping[str, Any]) -> dict[str, Any]:
    token = body.get("nextToken")
    token_offset = streams.parse_token(token) if token else None  # a bad token is refused first
    stream = _stream(service, tenant, _kind(body), body["logStreamName"])
    marks = service.read_log_marks(tenant, stream.job.kind, stream.job.name)
    limit = int(body.get("limit", DEFAULT_EVENTS))
    is_forward = token.startswith("f/") if token else bool(body.get("startFromHead", False))
    if is_forward:
        start = (
            streams.parse_token(token) if token else streams.first_offset_at(marks, body.get("startTime", 0))
        )
        chosen, end = _forward(service, tenant, stream, start, limit, body)
        backward_at = chosen[0].start if chosen else start
    else:
        end = token_offset if token_offset is not None else marks.size
        chosen = _backward(service, tenant, stream, end, limit, body)
        backward_at = chosen[0].start if chosen else end
    return {
        "events": [_event_doc(event) for event in chosen],
        "nextForwardToken": f"f/{end}",
        "nextBackwardToken": f"b/{backward_at}",
    }


def filter_log_events(service: JobService, tenant: str, body: Mapping[str, Any]) -> dict[str, Any]:
    kind = _kind(body)
    matches = _pattern(body.get("filterPattern") or "")
    offsets = _filter_token(body.get("nextToken"))
    limit = int(body.get("limit", DEFAULT_EVENTS))
    found: list[tuple[int, str, streams.Event]] = []
    more: dict[str, int] = {}
    budget = FILTER_BUDGET_BYTES  # one call reads this much in all, however many streams match
    for stream in _filter_streams(service, tenant, kind, body):
        if body.get("nextToken") and stream.name not in offsets:
            continue  # finished on an earlier page
        marks = service.read_log_marks(tenant, kind, stream.job.name)
        start = offsets.get(stream.name, streams.first_offset_at(marks, body.get("startTime", 0)))
        if budget <= 0:
            if start < marks.size:
                more[stream.name] = start  # not read this call: the next page starts with it
            continue
        window = min(WINDOW_BYTES, budget, max(0, marks.size - start))
        chosen, end = _forward(service, tenant, stream, start, DEFAULT_EVENTS, body, window)
        budget -= end - start
        found.extend((event.timestamp_ms, stream.name, event) for event in chosen if matches(event.message))
        if start < end < marks.size:  # more to read; an unfinished last line alone is not "more"
            more[stream.name] = end
    found.sort(key=lambda item: (item[0], item[1], item[2].start))
    response: dict[str, Any] = {
        "events": [
            {**_event_doc(event), "logStreamName": name, "eventId": f"{name}:{event.start}"}
            for _, name, event in found[:limit]
        ],
        "searchedLogStreams": [],
    }
    if len(found) > limit:  # the next page starts at the first event left out, in each stream
        for _, name, event in found[limit:]:
            more[name] = min(more.get(name, event.start), event.start)
    if more:
        response["nextToken"] = base64.urlsafe_b64encode(json.dumps(more).encode()).decode()
    return response


OPERATIONS: Mapping[str, Handler] = {
    "DescribeLogStreams": describe_log_streams,
    "GetLogEvents": get_log_events,
    "FilterLogEvents": filter_log_events,
}


def _kind(body: Mapping[str, Any]) -> JobKind:
    group = body.get("logGroupName") or body.get("logGroupIdentifier") or ""
    kind = LOG_GROUPS.get(group)
    if kind is None:
        raise errors.NotFound("log group", group)
    return kind


def _streams_of(jobs: Iterable[Job]) -> Iterator[_Stream]:
    for job in jobs:
        name = streams.stream_name(job)
        if name is not None:
            yield _Stream(job, name)


def _stream(service: JobService, tenant: str, kind: JobKind, name: str) -> _Stream:
    job = service.describe(tenant, kind, streams.job_name_of(name))
    if streams.stream_name(job) != name:
        raise errors.NotFound("log stream", name)
    return _Stream(job, name)


def _stream_doc(service: JobService, tenant: str, stream: _Stream) -> dict[str, Any]:
    marks = service.read_log_marks(tenant, stream.job.kind, stream.job.name)
    region, account = stream.job.arn.split(":")[3:5]
    group = next(name for name, kind in LOG_GROUPS.items() if kind is stream.job.kind)
    started = stream.job.started_at or stream.job.created_at
    doc: dict[str, Any] = {
        "logStreamName": stream.name,
        "creationTime": int(started.timestamp() * 1000),
        "arn": f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream.name}",
        "storedBytes": 0,  # AWS reports 0 here too (deprecated)
    }
    if marks.marks:
        doc["firstEventTimestamp"] = int(marks.marks[0][1] * 1000)
    if marks.last_write_at is not None and marks.size:
        doc["lastEventTimestamp"] = doc["lastIngestionTime"] = int(marks.last_write_at * 1000)
    return doc


def _forward(
    service: JobService,
    tenant: str,
    stream: _Stream,
    start: int,
    limit: int,
    body: Mapping[str, Any],
    window: int = WINDOW_BYTES,
) -> tuple[list[streams.Event], int]:
    """Up to `limit` events from byte `start` within the time range, and the offset to go on from."""
    if window <= 0:
        return [], start
    data, is_final = service.read_log(tenant, stream.job.kind, stream.job.name, start, window)
    marks = service.read_log_marks(tenant, stream.job.kind, stream.job.name)
    chosen: list[streams.Event] = []
    end = start
    for event in streams.events(data, start, marks, is_final=is_final, now=datetime.now(UTC)):
        if len(chosen) >= limit:
            break
        end = event.end
        if _in_range(event, body):
            chosen.append(event)
    return chosen, end


def _backward(
    service: JobService, tenant: str, stream: _Stream, end: int, limit: int, body: Mapping[str, Any]
) -> list[streams.Event]:
    """The last `limit` events that end at or before byte `end`, within the time range."""
    start = max(0, end - WINDOW_BYTES)
    data, is_final = service.read_log(tenant, stream.job.kind, stream.job.name, start, end - start)
    marks = service.read_log_marks(tenant, stream.job.kind, stream.job.name)
    found = list(streams.events(data, start, marks, is_final=is_final, now=datetime.now(UTC)))
    if start > 0 and found:
        found = found[1:]  # the window began inside a line
    return [event for event in found if _in_range(event, body)][-limit:]


def _in_range(event: streams.Event, body: Mapping[str, Any]) -> bool:
    start_ms, end_ms = body.get("startTime"), body.get("endTime")
    return (start_ms is None or event.timestamp_ms >= start_ms) and (
        end_ms is None or event.timestamp_ms <= end_ms
    )


def _filter_streams(
    service: JobService, tenant: str, kind: JobKind, body: Mapping[str, Any]
) -> list[_Stream]:
    names = body.get("logStreamNames")
    if names:
        return [_stream(service, tenant, kind, name) for name in names]
    prefix = body.get("logStreamNamePrefix") or ""
    start_ms = body.get("startTime")
    query = ListQuery(
        name_contains=prefix.partition("/")[0] or None,
        sort_by=SortBy.CREATION_TIME,
        ascending=False,
        limit=FILTER_STREAMS,
    )
    if start_ms is None:
        jobs = list(service.list(tenant, kind, query).jobs)
    else:
        # Only a job that ended before startTime wrote nothing after it: a running one writes without
        # changing its record (`aws logs tail --follow` asks from its last event, over and over).
        after = constraints.timestamp_from_wire(start_ms / 1000)  # None: past any date (nothing ended then)
        queries = [dataclasses.replace(query, statuses=transitions.ACTIVE)]
        if after is not None:
            queries.append(dataclasses.replace(query, modified_after=after))
        found = {job.id: job for narrowed in queries for job in service.list(tenant, kind, narrowed).jobs}
        jobs = sorted(found.values(), key=lambda job: job.created_at, reverse=True)[:FILTER_STREAMS]
    return [stream for stream in _streams_of(jobs) if stream.name.startswith(prefix)]


def _filter_token(token: str | None) -> dict[str, int]:
    if not token:
        return {}
    try:
        offsets = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise errors.Invalid("nextToken", "The specified nextToken is invalid.") from None
    if not isinstance(offsets, dict) or not all(
        isinstance(key, str) and isinstance(value, int) and value >= 0 for key, value in offsets.items()
    ):
        raise errors.Invalid("nextToken", "The specified nextToken is invalid.")
    return offsets


_TERM = re.compile(r'"([^"]*)"|(\S+)')


def _pattern(pattern: str) -> Callable[[str], bool]:
    """CloudWatch's term patterns: every term (or "quoted phrase") must appear, case-sensitively."""
    if any(char in pattern for char in "{}[]"):
        raise errors.Invalid(
            "filterPattern",
            "only terms and quoted phrases are supported, not JSON or space-delimited patterns",
        )
    terms = [quoted or bare for quoted, bare in _TERM.findall(pattern)]
    return lambda message: all(term in message for term in terms)


def _event_doc(event: streams.Event) -> dict[str, Any]:
    return {"timestamp": event.timestamp_ms, "message": event.message, "ingestionTime": event.timestamp_ms}
