"""ModelArts' integer job statuses (`JOBSTAT_*`, reference/modelarts_baseten.md §1.5) <-> trainplane's."""

from __future__ import annotations

import enum
from collections.abc import Mapping

from trainplane.domain.status import Secondary


class JobStat(enum.IntEnum):
    """Every code ModelArts v1 documents; trainplane reports only the ones STATUS_OF maps to."""

    UNKNOWN = 0
    INIT = 1
    IMAGE_CREATING = 2
    IMAGE_FAILED = 3
    SUBMIT_TRYING = 4
    SUBMIT_FAILED = 5
    DELETE_FAILED = 6
    WAITING = 7  # accepted, not launched yet
    RUNNING = 8
    KILLING = 9  # a stop is in progress: the grace window runs
    COMPLETED = 10
    FAILED = 11
    KILLED = 12  # stopped: what the job saved is packaged
    CANCELED = 13
    LOST = 14
    SCALING = 15
    SUBMIT_MODEL_FAILED = 16
    DEPLOY_SERVICE_FAILED = 17
    CHECK_INIT = 18
    CHECK_RUNNING = 19
    CHECK_RUNNING_COMPLETED = 20
    CHECK_FAILED = 21


S = Secondary
STATUS_OF: Mapping[Secondary, JobStat] = {
    S.STARTING: JobStat.WAITING,
    S.DOWNLOADING: JobStat.RUNNING,  # staging inputs happens inside the running job on ModelArts
    S.TRAINING: JobStat.RUNNING,
    S.UPLOADING: JobStat.RUNNING,  # packaging the model: the job has not ended yet
    S.STOPPING: JobStat.KILLING,
    S.STOPPED: JobStat.KILLED,
    S.MAX_RUNTIME_EXCEEDED: JobStat.KILLED,  # stopped by its time limit, same protocol as a stop
    S.COMPLETED: JobStat.COMPLETED,
    S.FAILED: JobStat.FAILED,
}

# The list filter `status=<code>`: the trainplane statuses a code stands for (empty: none ever has it).
SECONDARIES_OF: Mapping[JobStat, frozenset[Secondary]] = {
    code: frozenset(status for status, mapped in STATUS_OF.items() if mapped is code) for code in JobStat
}


def status_code(status: Secondary) -> int:
    return int(STATUS_OF[status])
