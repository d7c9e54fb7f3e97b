"""Status messages of the history, per job kind: the state machine is shared, the words are not.

Training messages are SageMaker's own where SageMaker has one (its `SecondaryStatusTransitions`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from trainplane.domain.status import JobKind


class Step(enum.StrEnum):
    """The moments the history describes."""

    STARTING = "starting"
    STAGING = "staging"
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # the process exited 0; packaging its result
    COMPLETED = "completed"
    STOP_REQUESTED = "stop_requested"  # {grace}
    MAX_RUNTIME_REACHED = "max_runtime_reached"  # {grace}
    PREEMPTED = "preempted"  # {grace}
    STOPPED_FROM_OUTSIDE = "stopped_from_outside"  # {reason} {grace}
    STOPPED = "stopped"
    STOPPED_BEFORE_START = "stopped_before_start"
    STOPPED_AT_MAX_RUNTIME = "stopped_at_max_runtime"


# "{job}" is the kind's noun ("training job"); a kind's own table overrides any step.
_COMMON: Mapping[Step, str] = {
    Step.STARTING: "Starting the {job}",
    Step.STAGING: "Downloading input data and checkpoints",
    Step.RUNNING: "The {job} is running",
    Step.SUCCEEDED: "The {job}'s process completed; uploading the result",
    Step.COMPLETED: "{Job} completed",
    Step.STOP_REQUESTED: "Stopping the {job}: SIGTERM, then SIGKILL after {grace}",
    Step.MAX_RUNTIME_REACHED: "MaxRuntimeInSeconds reached: stopping the job (grace {grace})",
    Step.PREEMPTED: "The engine preempted the job: stopping it (grace {grace})",
    Step.STOPPED_FROM_OUTSIDE: "The job was stopped from outside trainplane ({reason}): grace {grace}",
    Step.STOPPED: "{Job} stopped; what it saved in the grace window is packaged",
    Step.STOPPED_BEFORE_START: "{Job} stopped before it started",
    Step.STOPPED_AT_MAX_RUNTIME: "{Job} stopped: MaxRuntimeInSeconds exceeded",
}

_BY_KIND: Mapping[JobKind, Mapping[Step, str]] = {
    JobKind.TRAINING: {
        Step.RUNNING: "Training image download completed. Training in progress.",
        Step.SUCCEEDED: "Training completed; uploading the model",
        Step.STOPPED: "Training job stopped; the model saved in the grace window is packaged",
    },
    JobKind.COMPILATION: {
        Step.RUNNING: "Compiling the model",
        Step.SUCCEEDED: "Compilation completed; uploading the compiled model",
    },
}


def status_message(kind: JobKind, step: Step, **values: str) -> str:
    """The history message for `step` of a job of `kind`."""
    template = _BY_KIND.get(kind, {}).get(step) or _COMMON[step]
    noun = f"{kind.value} job"
    return template.format(job=noun, Job=noun.capitalize(), **values)
