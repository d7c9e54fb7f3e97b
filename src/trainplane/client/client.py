"""The sync HTTP client of a trainplane server: SageMaker JSON 1.1 calls plus the native log route.

Job calls are generic over a job kind (`kinds.TRAINING`); the `*_training_job` methods are those
calls for training jobs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from trainplane import protocol
from trainplane.client import kinds, wire
from trainplane.client.kinds import JobKindWire
from trainplane.client.models import JobPage, LogChunk, TrainingJob, TrainingJobPage, TrainingJobSummary
from trainplane.client.signing import SigningKeys, SigV4
from trainplane.domain import errors
from trainplane.domain.status import JobKind

DEFAULT_TIMEOUT_SECONDS = 30.0

T = TypeVar("T")
JobT = TypeVar("JobT")
SummaryT = TypeVar("SummaryT")


class Client:
    """A connection to one trainplane endpoint; use it as a context manager.

    With `keys`, every request is SigV4-signed for `region` (a server with a credentials file needs it).
    """

    def __init__(
        self,
        endpoint_url: str,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        region: str = "us-east-1",
        keys: SigningKeys | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.region = region  # the SigV4 credential scope
        auth = SigV4(keys, region) if keys is not None else None
        self._http = httpx.Client(
            base_url=self.endpoint_url, timeout=timeout_seconds, transport=transport, auth=auth
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def call(self, operation: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """One SageMaker operation; the raw response dict (`{}` for operations without output).

        Raises:
            errors.TrainplaneError: the server's error, decoded to its domain class.
            errors.Unavailable: the endpoint cannot be reached.
        """
        request = self._http.build_request(
            "POST", "/", headers=wire.request_headers(operation), content=wire.encode_body(body)
        )
        with self._translate_transport_errors():
            response = self._http.send(request)
        if response.status_code >= 300:
            raise wire.decode_error(
                response.status_code,
                response.content,
                response.reason_phrase,
                operation=operation,
                resource_name=_resource_name(body),
            )
        return _parsed(operation, lambda: wire.decode_body(response.content))

    def create_job(self, kind: JobKindWire[Any, Any], request: Mapping[str, Any]) -> str:
        """Submit a Create*Job request for `kind`; the new job's ARN."""
        operation = kind.operation("Create")
        body = self.call(operation, request)
        return _parsed(operation, lambda: str(body[kind.arn_member]))

    def describe_job(self, kind: JobKindWire[JobT, Any], name: str) -> JobT:
        operation = kind.operation("Describe")
        body = self.call(operation, {kind.name_member: name})
        return _parsed(operation, lambda: kind.parse_job(body))

    def list_jobs_page(self, kind: JobKindWire[Any, SummaryT], **filters: Any) -> JobPage[SummaryT]:
        """One List*Jobs page; `filters` are wire members (`StatusEquals=...`, `NextToken=...`)."""
        operation = kind.operation("List")
        body = self.call(operation, filters)

        def parse() -> JobPage[SummaryT]:
            summaries = tuple(kind.parse_summary(entry) for entry in body[kind.summaries_member])
            return JobPage(summaries, body.get("NextToken") or None)

        return _parsed(operation, parse)

    def list_jobs(self, kind: JobKindWire[Any, SummaryT], **filters: Any) -> Iterator[SummaryT]:
        """Every matching job, following NextToken; `MaxResults` is the page size."""
        while True:
            page = self.list_jobs_page(kind, **filters)
            yield from page.summaries
            if page.next_token is None:
                return
            filters = {**filters, "NextToken": page.next_token}

    def stop_job(self, kind: JobKindWire[Any, Any], name: str) -> None:
        """Ask the server to stop a job; returns once the stop intent is persisted."""
        self.call(kind.operation("Stop"), {kind.name_member: name})

    def delete_job(self, kind: JobKindWire[Any, Any], name: str) -> None:
        self.call(kind.operation("Delete"), {kind.name_member: name})

    def create_training_job(self, request: Mapping[str, Any]) -> str:
        """Submit a CreateTrainingJob request; the new job's ARN."""
        return self.create_job(kinds.TRAINING, request)

    def describe_training_job(self, name: str) -> TrainingJob:
        return self.describe_job(kinds.TRAINING, name)

    def list_training_jobs_page(self, **filters: Any) -> TrainingJobPage:
        """One ListTrainingJobs page; `filters` are wire members (`StatusEquals=...`, `NextToken=...`)."""
        page = self.list_jobs_page(kinds.TRAINING, **filters)
        return TrainingJobPage(page.summaries, page.next_token)

    def list_training_jobs(self, **filters: Any) -> Iterator[TrainingJobSummary]:
        """Every matching job, following NextToken; `MaxResults` is the page size."""
        return self.list_jobs(kinds.TRAINING, **filters)

    def stop_training_job(self, name: str) -> None:
        """Ask the server to stop a job; returns once the stop intent is persisted."""
        self.stop_job(kinds.TRAINING, name)

    def delete_training_job(self, name: str) -> None:
        self.delete_job(kinds.TRAINING, name)

    def resume_job(self, name: str, new_name: str | None = None, *, kind: JobKind = JobKind.TRAINING) -> str:
        """Start a new job with the finished job's spec and checkpoint location; the new job's name."""
        path = protocol.RESUME_ROUTE.format(kind=kind.value, name=quote(name, safe=""))
        body = {} if new_name is None else {"NewName": new_name}
        with self._translate_transport_errors():
            response = self._http.post(path, json=body)
        if response.status_code >= 300:
            raise wire.decode_error(
                response.status_code,
                response.content,
                response.reason_phrase,
                operation="ResumeJob",
                resource_name=name,
            )
        return _parsed("ResumeJob", lambda: str(response.json()["JobName"]))

    def read_log(self, name: str, offset: int = 0, *, kind: JobKind = JobKind.TRAINING) -> LogChunk:
        """The job's log from byte `offset` as far as it is written now."""
        params = {"offset": str(offset), "follow": "false"}
        with self._translate_transport_errors():
            response = self._http.get(_log_path(kind, name), params=params)
        _raise_for_log_status(response, name)
        header = response.headers.get(protocol.NEXT_OFFSET_HEADER)
        next_offset = int(header) if header else offset + len(response.content)
        return LogChunk(response.content, next_offset)

    def follow_log(self, name: str, offset: int = 0, *, kind: JobKind = JobKind.TRAINING) -> Iterator[bytes]:
        """The job's log from byte `offset`, streamed until the job is terminal and its log drained."""
        params = {"offset": str(offset), "follow": "true"}
        # A job may print nothing for hours: only connecting is bounded while following.
        timeout = httpx.Timeout(self.timeout_seconds, read=None)
        with (
            self._translate_transport_errors(),
            self._http.stream("GET", _log_path(kind, name), params=params, timeout=timeout) as response,
        ):
            if response.status_code >= 300:
                response.read()
            _raise_for_log_status(response, name)
            yield from response.iter_bytes()

    def health(self) -> bool:
        """True when the server answers its health check; never raises."""
        try:
            response = self._http.get("/healthz")
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    @contextlib.contextmanager
    def _translate_transport_errors(self) -> Iterator[None]:
        try:
            yield
        except httpx.TimeoutException as exc:
            raise errors.Unavailable(
                f"trainplane at {self.endpoint_url} did not answer within "
                f"{self.timeout_seconds:g} s ({type(exc).__name__})"
            ) from exc
        except httpx.TransportError as exc:
            raise errors.Unavailable(
                f"cannot reach trainplane at {self.endpoint_url}: {exc or type(exc).__name__}"
            ) from exc


def _log_path(kind: JobKind, name: str) -> str:
    return protocol.LOG_ROUTE.format(kind=kind.value, name=quote(name, safe=""))


def _raise_for_log_status(response: httpx.Response, name: str) -> None:
    if response.status_code >= 300:
        raise wire.decode_error(
            response.status_code,
            response.content,
            response.reason_phrase,
            operation="ReadLog",
            resource_name=name,
        )


def _resource_name(body: Mapping[str, Any]) -> str:
    """The name a request is about (`TrainingJobName`, `CompilationJobName`...), for NotFound."""
    for key, value in body.items():
        if key.endswith("Name") and isinstance(value, str):
            return value
    return ""


def _parsed(operation: str, parse: Callable[[], T]) -> T:
    """`parse()`, with a malformed answer reported as an error rather than a traceback."""
    try:
        return parse()
    except (KeyError, TypeError, ValueError) as exc:
        raise errors.TrainplaneError(
            f"unexpected {operation} response from the server: {type(exc).__name__}: {exc}"
        ) from exc
