"""Job statuses. Values are SageMaker's wire strings, which are persisted forever: never reuse one."""

from __future__ import annotations

import enum


class Primary(enum.StrEnum):
    """The coarse status a client polls (SageMaker `TrainingJobStatus`)."""

    IN_PROGRESS = "InProgress"  # accepted, launching or running
    STOPPING = "Stopping"  # stop intent persisted; grace window running
    STOPPED = "Stopped"  # ended by a stop request or max runtime; model packaged
    COMPLETED = "Completed"  # the process exited 0 and its model is packaged
    FAILED = "Failed"  # the process or the platform failed


class Secondary(enum.StrEnum):
    """The fine status (SageMaker `SecondaryStatus`); the state machine runs on these."""

    STARTING = "Starting"  # record accepted, nothing spawned yet
    DOWNLOADING = "Downloading"  # supervisor started, staging input channels and checkpoints
    TRAINING = "Training"  # the training process is running
    UPLOADING = "Uploading"  # the process exited 0; packaging the model
    STOPPING = "Stopping"  # stop in progress (SIGTERM sent or about to be)
    STOPPED = "Stopped"  # stopped on request
    MAX_RUNTIME_EXCEEDED = "MaxRuntimeExceeded"  # stopped by StoppingCondition.MaxRuntimeInSeconds
    COMPLETED = "Completed"  # finished successfully
    FAILED = "Failed"  # finished unsuccessfully


class JobKind(enum.StrEnum):
    """What a job does; every kind shares one record, one table and one stop protocol."""

    TRAINING = "training"
    COMPILATION = "compilation"


class StopReason(enum.StrEnum):
    """Why a stop was requested (reference/peers.md pain 9: say why a job stopped)."""

    USER = "user"  # a client asked
    MAX_RUNTIME = "max_runtime"  # StoppingCondition.MaxRuntimeInSeconds elapsed
    PREEMPTED = "preempted"  # the engine took the resources back
