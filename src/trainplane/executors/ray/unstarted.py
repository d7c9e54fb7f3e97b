"""A stopped job Ray never started: its final report, written by the executor (no supervisor ran).

Ray keeps a job PENDING until its resources are free; a stop then goes to Ray (`stop_job`), and the
job ends as a local job stopped before it ran: `Stopped`, with an empty model.tar.gz saying why.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from trainplane.domain import documents
from trainplane.domain.job import Failure
from trainplane.executors.supervisor import outcome, run_dir, status_file
from trainplane.executors.supervisor import report as reports
from trainplane.service.ports import Observation, Phase

_log = logging.getLogger(__name__)


def finish(directory: run_dir.RunDir) -> Observation | None:
    """Package and report a job stopped before its supervisor ever started; None if it is not one."""
    intent = documents.stop_from_dict(status_file.read(directory.stop_file))
    launch = status_file.read(directory.launch_file)
    if intent is None or launch is None or directory.pid_file.exists():
        return None
    spec = documents.spec_from_dict(launch["spec"])
    packaged = outcome.package(
        directory,
        job_name=launch["job_name"],
        spec=spec,
        reason=intent.reason.value,
        stopped_at=intent.requested_at,
        has_complete_checkpoint=False,
        pinned_output_root=launch.get("output_root_real"),
    )
    final = reports.Report(
        launch["job_id"],
        Observation(Phase.FINISHED, finished_at=datetime.now(UTC), was_stopped=True, stop=intent),
    )
    if isinstance(packaged, Failure):
        final = final.with_outcome(
            failure=outcome.after_packaging_failed(None, intent.reason.value, packaged)
        )
    else:
        final = final.with_outcome(model_uri=packaged.model_uri, output_uri=packaged.output_uri)
    reports.ReportWriter(directory, None).write(final)
    _log.info("event=unstarted_job_stopped job=%s", launch["job_id"])
    return final.observation
