"""Resume a finished job: a new job with its full spec, so it continues from its durable checkpoint."""

from __future__ import annotations

from collections.abc import Iterator

from trainplane.domain import errors, fields, names
from trainplane.domain.job import Job
from trainplane.service.ports import Artifacts

MAX_NAME_LENGTH = 63
MAX_GENERATED_NAMES = 100


def check_resumable(job: Job, artifacts: Artifacts) -> None:
    """Raises: errors.InvalidState while `job` runs; errors.Invalid when it has no checkpoint location."""
    if not job.is_terminal:
        # Two jobs writing one checkpoint directory would corrupt it: stop the job first.
        raise errors.InvalidState("resume", job.primary.value)
    if job.spec.checkpoint_uri is None:
        raise errors.Invalid(
            fields.CHECKPOINT_LOCATION,
            f"{job.kind.value} job {job.name!r} has no checkpoint location (CheckpointConfig): "
            "there is nothing to resume from",
        )
    # The allowed roots may have changed since it was created: its locations must still be usable.
    artifacts.check_location(fields.CHECKPOINT_LOCATION, job.spec.checkpoint_uri)
    artifacts.check_location(fields.OUTPUT_LOCATION, job.spec.output_uri)


def new_names(old_name: str, new_name: str | None) -> Iterator[str]:
    """`new_name` if given, else `<old>-r1`, `<old>-r2`, ... (cut to fit the 63 characters)."""
    if new_name is not None:
        if not names.is_valid_job_name(new_name):
            raise errors.Invalid("newName", f"{new_name!r} is not a valid job name")
        yield new_name
        return
    base = old_name
    for number in range(1, MAX_GENERATED_NAMES + 1):
        suffix = f"-r{number}"
        yield f"{base[: MAX_NAME_LENGTH - len(suffix)].rstrip('-')}{suffix}"
