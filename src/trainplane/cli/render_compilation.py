"""Rich views of compilation jobs for people (the JSON output is the wire answer itself)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import RenderableType
from rich.table import Table

from trainplane.cli.render import format_instant, key_value_table, status_text
from trainplane.client.compilation import CompilationJob, CompilationJobSummary


def compilation_job_view(job: CompilationJob) -> RenderableType:
    rows: dict[str, RenderableType] = {
        "Name": job.name,
        "ARN": job.arn,
        "Status": status_text(job.status),
        "Created": format_instant(job.created_at),
        "Compilation started": format_instant(job.compilation_started_at),
        "Compilation ended": format_instant(job.compilation_ended_at),
    }
    if job.model_artifacts:
        rows["Compiled model"] = job.model_artifacts
    if job.artifact_digest:
        rows["Digest"] = job.artifact_digest
    if job.failure_reason:
        rows["Failure reason"] = job.failure_reason
    return key_value_table(rows)


def compilation_jobs_table(summaries: Iterable[CompilationJobSummary]) -> Table:
    table = Table()
    for column in ("Name", "Status", "Target", "Created", "Ended"):
        table.add_column(column, no_wrap=True)
    for summary in summaries:
        table.add_row(
            summary.name,
            status_text(summary.status),
            summary.target,
            format_instant(summary.created_at),
            format_instant(summary.compilation_ended_at),
        )
    return table
