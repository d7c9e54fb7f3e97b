"""How a job that Slurm ended before our supervisor reported is judged (takeover.decide is pure).

States Slurm reaches only slowly or never on one test node (TIMEOUT: its limit is whole minutes,
checked every 30 s; NODE_FAIL; PREEMPTED without a preemption plugin) are judged here from the
record `scontrol show job` gives; the real paths are in test_slurm_executor.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

from trainplane.domain.job import FailureKind
from trainplane.domain.status import StopReason
from trainplane.executors.slurm import takeover
from trainplane.executors.slurm.commands import JobState
from trainplane.executors.supervisor.report import ProcessRecord, Report
from trainplane.service.ports import Observation, Phase

NOW = datetime(2026, 12, 1, tzinfo=UTC)
RUNNING = Report("job", Observation(Phase.RUNNING, started_at=NOW), ProcessRecord(42, 1, None))


def test_a_time_limit_fails_the_job_naming_the_slurm_state() -> None:
    verdict = takeover.decide("7", JobState("TIMEOUT", "TimeLimit", "0:15"), RUNNING, None, NOW)
    assert isinstance(verdict, takeover.Failed)
    assert verdict.failure.kind is FailureKind.PLATFORM
    assert "batch job 7: TIMEOUT (reason TimeLimit, exit code 0:15)" in verdict.failure.message


def test_a_node_failure_fails_the_job_and_running_out_of_memory_is_the_jobs_own() -> None:
    node = takeover.decide("8", JobState("NODE_FAIL", "NodeDown", "0:0"), RUNNING, None, NOW)
    memory = takeover.decide("9", JobState("OUT_OF_MEMORY", "OutOfMemory", "0:125"), RUNNING, None, NOW)
    assert isinstance(node, takeover.Failed) and "NODE_FAIL" in node.failure.message
    assert isinstance(memory, takeover.Failed) and memory.failure.kind is FailureKind.ALGORITHM


def test_a_preemption_is_a_stop_with_reason_preempted() -> None:
    verdict = takeover.decide("10", JobState("PREEMPTED", "None", "0:15"), RUNNING, None, NOW)
    assert isinstance(verdict, takeover.Stopped) and verdict.intent.reason is StopReason.PREEMPTED


def test_a_supervisor_that_died_while_the_job_ran_is_lost_so_its_leftovers_are_killed() -> None:
    assert isinstance(
        takeover.decide("11", JobState("FAILED", "NonZeroExitCode", "0:9"), RUNNING, None, NOW), takeover.Lost
    )
    assert isinstance(takeover.decide("11", None, RUNNING, None, NOW), takeover.Lost)


def test_a_job_that_never_started_fails_with_slurms_words() -> None:
    verdict = takeover.decide("12", JobState("FAILED", "JobLaunchFailure", "1:0"), None, None, NOW)
    assert isinstance(verdict, takeover.Failed) and "JobLaunchFailure" in verdict.failure.message
    purged = takeover.decide("13", None, None, None, NOW)
    assert isinstance(purged, takeover.Failed) and "no record of batch job 13" in purged.failure.message


def test_a_job_slurm_can_never_start_fails_as_the_requests_fault() -> None:
    never = JobState("PENDING", "PartitionConfig", "0:0")
    assert never.can_never_start and not JobState("PENDING", "Resources", "0:0").can_never_start
    verdict = takeover.decide("14", never, None, None, NOW)
    assert isinstance(verdict, takeover.Failed) and verdict.failure.kind is FailureKind.USER
    assert "can never start batch job 14: PENDING (reason PartitionConfig" in verdict.failure.message
