"""The closed family of errors the core raises; each dialect renders them in one place.

TrainplaneError
├── NotFound(kind, name)          the job (or other resource) does not exist for this tenant
├── Invalid(field, reason)        the request is malformed; `field` is the wire path
│   └── InvalidState(status)      the request is well formed but the job's status forbids it
├── Conflict
│   ├── IllegalTransition         a status move the table does not allow
│   ├── NameInUse(kind, name)     a job with that name exists
│   └── StaleWrite                a compare-and-swap lost a race
├── LimitExceeded(reason)         a configured limit (e.g. concurrent jobs) was reached
├── Unauthorized(reason)          credentials missing or wrong
└── Unavailable(reason)           a retryable outage of the store or an engine
"""

from __future__ import annotations


class TrainplaneError(Exception):
    """Base of every error the core raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(TrainplaneError):
    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"{kind} {name!r} does not exist")
        self.kind = kind
        self.name = name


class Invalid(TrainplaneError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


class InvalidState(Invalid):
    """The job's current status forbids the operation (stop a finished job, delete a running one)."""

    def __init__(self, operation: str, status: str) -> None:
        super().__init__("", f"cannot {operation}: the job is in status {status}")
        self.operation = operation
        self.status = status


class Conflict(TrainplaneError):
    pass


class IllegalTransition(Conflict):
    def __init__(self, status: str, event: str) -> None:
        super().__init__(f"no transition from {status} on {event}")
        self.status = status
        self.event = event


class NameInUse(Conflict):
    def __init__(self, kind: str, name: str, arn: str | None = None) -> None:
        super().__init__(f"a {kind} named {name!r} already exists")
        self.kind = kind
        self.name = name
        self.arn = arn


class StaleWrite(Conflict):
    def __init__(self, job_id: str, expected_version: int) -> None:
        super().__init__(f"job {job_id} changed since version {expected_version}")
        self.job_id = job_id
        self.expected_version = expected_version


class LimitExceeded(TrainplaneError):
    def __init__(self, reason: str, *, limit: int | None = None, setting: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.limit = limit  # the configured number that was reached, when there is one
        self.setting = setting  # the server setting that configures it


class Unauthorized(TrainplaneError):
    pass


class Unavailable(TrainplaneError):
    pass
