"""Job groups: a tenant's named set of runs (ModelArts' training job with versions, Baseten's training
project with jobs). A run is an ordinary job record; the group only names and numbers them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
