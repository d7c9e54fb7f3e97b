"""The Slurm commands trainplane runs (sbatch, scancel, scontrol, squeue), errors translated once.

Facts these rest on (reference/engines.md section 1, Slurm 22.05):
- `scancel --signal=X` without `--batch`/`--full` never reaches a batch script; `--batch` signals
  only the batch shell, which is our supervisor (the script `exec`s it), so a wake-up reaches
  exactly it.
- `scancel --signal=KILL` is not immediate (slurmctld turns it into a cancel with KillWait);
  `scancel --batch --full --signal=KILL` is (13 ms).
- Without slurmdbd `sacct` does not work: `scontrol show job` knows a job until MinJobAge after it ends.
"""

from __future__ import annotations

import contextlib
import logging
import re
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from trainplane.domain import errors

_log = logging.getLogger(__name__)
COMMAND_TIMEOUT_SECONDS = 30.0
# States in which the job has not ended yet (COMPLETING: its processes are still being ended).
ACTIVE_STATES = frozenset(
    {
        "PENDING",
        "CONFIGURING",
        "RUNNING",
        "COMPLETING",
        "SUSPENDED",
        "REQUEUED",
        "REQUEUE_FED",
        "REQUEUE_HOLD",
        "RESIZING",
        "RESV_DEL_HOLD",
        "SIGNALING",
        "STAGE_OUT",
        "STOPPED",
    }
)
# Why a pending job can never start without an admin changing the cluster (a cluster that does not
# enforce partition limits queues such a job instead of refusing it at sbatch).
NEVER_STARTS_REASONS = frozenset(
    {
        "PartitionConfig",
        "BadConstraints",
        "InvalidAccount",
        "InvalidQOS",
        "AccountNotAllowed",
        "QOSNotAllowed",
    }
)
_UNKNOWN_JOB = "Invalid job id specified"
# sbatch refusals that are the request's or the configuration's to fix, not an outage.
_REFUSALS = re.compile(
    r"invalid|not available|permitted|denied|exceed|unrecognized|requires an argument|"
    r"not valid|no partition",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class JobState:
    """A Slurm job as `scontrol show job` reports it."""

    state: str  # JobState, e.g. RUNNING, CANCELLED, TIMEOUT
    reason: str  # Reason, e.g. None, TimeLimit, JobLaunchFailure
    exit_code: str  # ExitCode "code:signal" of the batch script

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def can_never_start(self) -> bool:
        return self.state == "PENDING" and self.reason in NEVER_STARTS_REASONS

    def describe(self) -> str:
        return f"{self.state} (reason {self.reason}, exit code {self.exit_code})"


class SlurmError(Exception):
    """A Slurm command failed; `output` is what it printed."""

    def __init__(self, command: Sequence[str], code: int, output: str) -> None:
        super().__init__(f"{command[0]} exited with {code}: {output.strip()[:500]}")
        self.output = output


def run(arguments: Sequence[str]) -> str:
    """Run one Slurm command; its stdout. Raises SlurmError, OSError (no such program)."""
    done = subprocess.run(
        list(arguments),
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if done.returncode != 0:
        raise SlurmError(arguments, done.returncode, done.stderr or done.stdout)
    return done.stdout


@contextlib.contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """SlurmError and OSError become errors.Invalid (a refusal) or errors.Unavailable (an outage)."""
    try:
        yield
    except SlurmError as exc:
        if _REFUSALS.search(exc.output) and "contact" not in exc.output:
            raise errors.Invalid("", f"Slurm refused to {action}: {exc}") from exc
        raise errors.Unavailable(f"Slurm could not {action}: {exc}") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise errors.Unavailable(f"Slurm could not {action}: {exc}") from exc


def submit(sbatch_arguments: Sequence[str]) -> str:
    """`sbatch --parsable ...`: the new job's id.

    Raises:
        errors.Invalid: Slurm refused the job (partition, account, resources, options).
        errors.Unavailable: Slurm could not be reached.
    """
    with translate_errors("submit the job"):
        out = run(["sbatch", "--parsable", *sbatch_arguments])
    return out.strip().split(";", 1)[0]


def find_by_name(name: str) -> str | None:
    """The id of a job named `name` that Slurm still knows, if any. Raises: errors.Unavailable."""
    with translate_errors("list jobs"):
        out = run(["squeue", "--noheader", "--states=all", f"--name={name}", "--format=%i"])
    ids = out.split()
    return ids[0] if ids else None


def state(slurm_job_id: str) -> JobState | None:
    """The job's state; None when Slurm has no record of it (never was, or purged after MinJobAge).

    Raises:
        errors.Unavailable: Slurm could not be asked.
    """
    try:
        out = run(["scontrol", "show", "job", "--oneliner", slurm_job_id])
    except SlurmError as exc:
        if _UNKNOWN_JOB in exc.output:
            return None
        raise errors.Unavailable(f"Slurm could not report job {slurm_job_id}: {exc}") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise errors.Unavailable(f"Slurm could not report job {slurm_job_id}: {exc}") from exc
    return JobState(_field(out, "JobState"), _field(out, "Reason"), _field(out, "ExitCode"))


def _field(line: str, key: str) -> str:
    # The first match: JobName (which we choose) comes before JobState, Reason and ExitCode.
    match = re.search(rf"(?:^|\s){key}=(\S*)", line)
    return match.group(1) if match else "unknown"


def wake(slurm_job_id: str, signal_name: str) -> bool:
    """Signal the batch script (our supervisor) only; False if Slurm refused (job not running)."""
    return _scancel("--batch", f"--signal={signal_name}", slurm_job_id)


def cancel_if_pending(slurm_job_id: str) -> bool:
    """Cancel the job only if it still waits in the queue: it never starts."""
    return _scancel("--state=PENDING", slurm_job_id)


def kill(slurm_job_id: str) -> None:
    """End the whole job at once, then sweep any other step (reference/engines.md section 1, item 4)."""
    _scancel("--batch", "--full", "--signal=KILL", slurm_job_id)
    _scancel(slurm_job_id)


def _scancel(*arguments: str) -> bool:
    try:
        run(["scancel", *arguments])
    except SlurmError as exc:
        _log.info("event=scancel_refused arguments=%s error=%s", arguments, exc)
        return False
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise errors.Unavailable(f"Slurm could not signal the job: {exc}") from exc
    return True
