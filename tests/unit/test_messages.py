"""History messages per job kind (issue 5: status messages are not hard-wired to training)."""

from __future__ import annotations

import pytest

from trainplane.domain.messages import Step, status_message
from trainplane.domain.status import JobKind


@pytest.mark.parametrize("kind", list(JobKind))
@pytest.mark.parametrize("step", list(Step))
def test_every_step_has_a_message_for_every_kind(kind: JobKind, step: Step) -> None:
    message = status_message(kind, step, grace="5 s", reason="preempted")
    assert message and "{" not in message


def test_training_keeps_sagemakers_words_and_compilation_gets_its_own() -> None:
    assert status_message(JobKind.TRAINING, Step.STARTING) == "Starting the training job"
    assert (
        status_message(JobKind.TRAINING, Step.RUNNING)
        == "Training image download completed. Training in progress."
    )
    assert status_message(JobKind.COMPILATION, Step.STARTING) == "Starting the compilation job"
    assert (
        status_message(JobKind.COMPILATION, Step.STOPPED_BEFORE_START)
        == "Compilation job stopped before it started"
    )


def test_the_history_a_stop_writes_names_the_jobs_kind() -> None:
    from trainplane.domain.status import StopReason
    from trainplane.service.observing import stop_finished_event

    _, message = stop_finished_event(JobKind.COMPILATION, StopReason.USER, spawned=False)
    assert message == "Compilation job stopped before it started"
    _, message = stop_finished_event(JobKind.TRAINING, StopReason.MAX_RUNTIME, spawned=True)
    assert message == "Training job stopped: MaxRuntimeInSeconds exceeded"
