"""Job groups: a tenant's named set of runs (ModelArts' training job with versions, Baseten's training
project with jobs). A run is an ordinary job record; the group only names and numbers them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from trainplane.domain import errors, fields

MAX_NAME_CHARS = 128  # the store's column: a longer name must be refused before it gets there
MAX_DESCRIPTION_CHARS = 1024


@dataclass(frozen=True)
class JobGroup:
    id: int  # server-wide unique and never reused: ModelArts' job_id, Baseten's project id
    tenant: str
    name: str  # unique per tenant regardless of case
    description: str
    created_at: datetime
    updated_at: datetime
    run_count: int  # runs in the group now
    latest_job_id: str | None  # the run with the highest run number still present


@dataclass(frozen=True)
class Placement:
    """Where a new run goes: the group named `name` (created if missing), or the existing `group_id`."""

    name: str | None = None
    group_id: int | None = None


def check_name(name: str) -> str:
    """Raises: errors.Invalid when `name` cannot name a group (empty, or longer than the store holds)."""
    if not name or len(name) > MAX_NAME_CHARS:
        raise errors.Invalid(fields.GROUP, f"a job group's name must be 1 to {MAX_NAME_CHARS} characters")
    return name


def check_description(description: str) -> str:
    """Raises: errors.Invalid when `description` is longer than the store holds."""
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise errors.Invalid(
            fields.GROUP, f"a job group's description must be at most {MAX_DESCRIPTION_CHARS} characters"
        )
    return description
