"""The HTTP client of a trainplane server. Imports only `trainplane.domain`, httpx and the stdlib."""

from __future__ import annotations

from trainplane.client.client import Client
from trainplane.client.kinds import JobKindWire
from trainplane.client.models import (
    JobPage,
    LogChunk,
    MetricValue,
    StatusTransition,
    TrainingJob,
    TrainingJobPage,
    TrainingJobSummary,
)
from trainplane.client.signing import SigningKeys

__all__ = [
    "Client",
    "JobKindWire",
    "JobPage",
    "LogChunk",
    "MetricValue",
    "SigningKeys",
    "StatusTransition",
    "TrainingJob",
    "TrainingJobPage",
    "TrainingJobSummary",
]
