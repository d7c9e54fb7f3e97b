"""Turn an executor's Observation into the events that bring a job's record up to date (pure)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from trainplane.domain import transitions
from trainplane.domain.job import Failure, FailureKind, Job, Outcome
from trainplane.domain.messages import Step, status_message
from trainplane.domain.status import JobKind, Secondary, StopReason
from trainplane.domain.transitions import Event
from trainplane.service.ports import Observation, PackagedModel, Phase

_STARTED_PHASES = (Phase.RUNNING, Phase.PACKAGING, Phase.FINISHED)
LOST = Failure(FailureKind.PLATFORM, "the job's supervisor disappeared without reporting how the job ended")
UNREPORTED = Failure(FailureKind.ALGORITHM, "the job failed without saying why")


def stop_finished_event(kind: JobKind, reason: StopReason, *, spawned: bool) -> tuple[Event, str]:
    if reason is StopReason.MAX_RUNTIME:
        return Event.MAX_RUNTIME_STOP_FINISHED, status_message(kind, Step.STOPPED_AT_MAX_RUNTIME)
    if not spawned:
        return Event.STOP_FINISHED, status_message(kind, Step.STOPPED_BEFORE_START)
    return Event.STOP_FINISHED, status_message(kind, Step.STOPPED)


def with_packaged(job: Job, packaged: PackagedModel, exit_code: int | None) -> Job:
    return dataclasses.replace(job, outcome=dataclasses.replace(packaged, exit_code=exit_code))


def with_failure(job: Job, failure: Failure) -> Job:
    outcome = job.outcome or Outcome()
    return dataclasses.replace(job, outcome=dataclasses.replace(outcome, failure=failure))


def apply(job: Job, observation: Observation, now: datetime) -> Job:
    """`job` advanced through every step the observation shows it has passed; `job` itself if none."""
    updated = _adopt_engine_stop(_catch_up_start(job, observation, now), observation)
    updated = _note_warning(updated, observation)
    if observation.phase is Phase.LOST:
        lost = dataclasses.replace(updated, outcome=observation.outcome)
        failure = LOST if observation.lost_reason is None else _lost_because(observation.lost_reason)
        return with_failure(lost, failure).advance(Event.FAILED, now, failure.message)
    if observation.phase is Phase.PACKAGING and updated.status is Secondary.TRAINING:
        if observation.outcome.exit_code == 0 and not observation.was_stopped:
            at = observation.exited_at or now
            return updated.advance(Event.PROCESS_SUCCEEDED, at, status_message(job.kind, Step.SUCCEEDED))
    if observation.phase is Phase.FINISHED:
        return _finish(updated, observation, now)
    return updated


WARNING_NOTE = "Max runtime warning (SIGUSR1) sent"


def _note_warning(job: Job, observation: Observation) -> Job:
    """Issue 10: the job's history says when it was warned of its max runtime (once)."""
    warned_at = observation.warned_at
    if warned_at is None or not job.history or any(WARNING_NOTE in t.message for t in job.history):
        return job
    last = job.history[-1]
    note = f"{last.message} {WARNING_NOTE} at {warned_at.isoformat(timespec='seconds')}."
    return job.touched(history=(*job.history[:-1], dataclasses.replace(last, message=note)))


def _lost_because(reason: str) -> Failure:
    return Failure(FailureKind.PLATFORM, f"{LOST.message}: {reason}")


def _catch_up_start(job: Job, observation: Observation, now: datetime) -> Job:
    if job.status is Secondary.STARTING and observation.phase is not Phase.PENDING:
        if observation.phase is not Phase.LOST or observation.staged_at is not None:
            job = job.advance(
                Event.SUPERVISOR_STARTED,
                observation.staged_at or now,
                status_message(job.kind, Step.STAGING),
            )
    if job.status is Secondary.DOWNLOADING and observation.started_at is not None:
        if observation.phase in _STARTED_PHASES:
            job = job.advance(
                Event.PROCESS_STARTED,
                observation.started_at,
                status_message(job.kind, Step.RUNNING),
            )
    if job.started_at is None and observation.started_at is not None:
        # Also when a stop overtook the start: Describe's TrainingStartTime is when the process ran.
        job = dataclasses.replace(job, started_at=observation.started_at)
    return job


def _adopt_engine_stop(job: Job, observation: Observation) -> Job:
    """reference/peers.md pain 15: a stop the engine began (e.g. preemption) runs our protocol and says so."""
    intent = observation.stop
    if intent is None or job.stop is not None or job.status not in transitions.STOPPABLE:
        return job
    grace = f"{intent.grace_seconds:g} s"
    if intent.reason is StopReason.MAX_RUNTIME:
        # The supervisor owns the max-runtime deadline too: it may have begun while we were down.
        message = status_message(job.kind, Step.MAX_RUNTIME_REACHED, grace=grace)
        return job.advance(Event.MAX_RUNTIME_REACHED, intent.requested_at, message).with_stop(intent)
    message = status_message(job.kind, Step.STOPPED_FROM_OUTSIDE, reason=intent.reason.value, grace=grace)
    return job.advance(Event.STOP_REQUESTED, intent.requested_at, message).with_stop(intent)


def _finish(job: Job, observation: Observation, now: datetime) -> Job:
    at = observation.finished_at or now
    outcome = observation.outcome
    job = dataclasses.replace(job, outcome=outcome)
    if job.status is Secondary.STOPPING and job.stop is not None and outcome.failure is None:
        spawned = observation.started_at is not None
        event, message = stop_finished_event(job.kind, job.stop.reason, spawned=spawned)
        return job.advance(event, at, message)
    # A stop whose model could not be written ends Failed: no status may claim a model that is not there.
    if outcome.model_uri is not None and outcome.exit_code == 0 and not observation.was_stopped:
        if job.status is Secondary.TRAINING:
            job = job.advance(
                Event.PROCESS_SUCCEEDED,
                observation.exited_at or at,
                status_message(job.kind, Step.SUCCEEDED),
            )
        return job.advance(Event.MODEL_PACKAGED, at, status_message(job.kind, Step.COMPLETED))
    failure = outcome.failure or UNREPORTED
    return with_failure(job, failure).advance(Event.FAILED, at, failure.message)
