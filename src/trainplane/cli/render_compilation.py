"""Rich views of compilation jobs for people (the JSON output is the wire answer itself)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import RenderableType
from rich.table import Table

from trainplane.cli.render import format_instant, status_text
from trainplane.client.compilation import CompilationJob, CompilationJobSummary


def compilation_job_view(job: CompilationJob) -> RenderableType:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    table.add_row("Name", job.name)
    table.add_row("ARN", job.arn)
    table.add_row("Status", status_text(job.status))
    table.add_row("Created", format_instant(job.created_at))
    table.add_row("Compilation started", format_instant(job.compilation_started_at))
    table.add_row("Compilation ended", format_instant(job.compilation_ended_at))
    if job.model_artifacts:
        table.add_row("Compiled model", job.model_artifacts)
    if job.artifact_digest:
        table.add_row("Digest", job.artifact_digest)
    if job.failure_reason:
        table.add_row("Failure reason", job.failure_reason)
    return table


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
