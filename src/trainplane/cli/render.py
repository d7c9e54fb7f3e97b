"""How the CLI shows things: aws-CLI JSON on stdout, and Rich tables and lines for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from trainplane.client import StatusTransition, TrainingJob, TrainingJobSummary

_STATUS_STYLES = {
    "InProgress": "cyan",
    "Stopping": "yellow",
    "Stopped": "yellow",
    "Completed": "green",
    "Failed": "bold red",
}


def print_json(value: Mapping[str, Any]) -> None:
    """Like the aws CLI: 4-space indent, wire values (epoch timestamps) verbatim."""
    sys.stdout.write(json.dumps(value, indent=4) + "\n")
    sys.stdout.flush()


def format_instant(at: datetime | None) -> str:
    if at is None:
        return "-"
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def format_duration(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{seconds:.1f}s"


def status_text(status: str | None) -> Text:
    return Text(status or "-", style=_STATUS_STYLES.get(status or "", ""))


def transition_line(transition: StatusTransition) -> Text:
    """One status change as a line: `<start>  <status>  <message>`."""
    line = Text(f"{format_instant(transition.started_at)}  ")
    line.append_text(status_text(transition.status))
    if transition.message:
        line.append(f"  {transition.message}")
    return line


def training_job_view(job: TrainingJob) -> RenderableType:
    """A DescribeTrainingJob answer for people: summary, transitions, metrics."""
    parts: list[RenderableType] = [_summary_table(job)]
    stop = _stop_table(job.raw.get("TrainplaneDetails") or {})
    if stop is not None:
        parts.append(stop)
    if job.transitions:
        parts.append(_transitions_table(job))
    if job.final_metrics:
        metrics = Table(title="Final metrics", title_justify="left")
        metrics.add_column("Metric")
        metrics.add_column("Value", justify="right")
        metrics.add_column("At", no_wrap=True)
        for metric in job.final_metrics:
            metrics.add_row(metric.name, f"{metric.value:g}", format_instant(metric.at))
        parts.append(metrics)
    return Group(*parts)


def _summary_table(job: TrainingJob) -> Table:
    rows: dict[str, RenderableType] = {
        "Name": job.name,
        "ARN": job.arn,
        "Status": status_text(job.status),
        "Secondary status": status_text(job.secondary_status),
        "Created": format_instant(job.created_at),
        "Training started": format_instant(job.training_started_at),
        "Training ended": format_instant(job.training_ended_at),
        "Last modified": format_instant(job.last_modified_at),
    }
    if job.model_artifacts:
        rows["Model artifact"] = job.model_artifacts
    if job.failure_reason:
        rows["Failure reason"] = Text(job.failure_reason, style="red")
    return key_value_table(rows)


def _stop_table(details: Mapping[str, Any]) -> Table | None:
    """How the job was stopped, from trainplane's TrainplaneDetails (None when nobody stopped it)."""
    if not details.get("StopReason"):
        return None
    signals = details.get("Signals") or {}
    rows: dict[str, RenderableType] = {
        "Stop reason": str(details["StopReason"]),
        "Stop requested": _at(details.get("StopRequestedTime")),
        "Grace window": format_duration(float(details.get("StopGraceSeconds") or 0)),
        "Kill deadline": _at(details.get("KillDeadline")),
    }
    if "SigtermProcesses" in signals:
        rows["SIGTERM"] = f"{signals['SigtermProcesses']} processes at {_at(signals.get('SigtermTime'))}"
    if signals.get("SigkillTime") is not None:
        rows["SIGKILL"] = f"{signals.get('SigkillProcesses', 0)} processes at {_at(signals['SigkillTime'])}"
    if signals.get("Survivors"):
        rows["Survivors"] = Text(", ".join(str(pid) for pid in signals["Survivors"]), style="red")
    rows["Model from the stop"] = "yes" if details.get("ModelFromStop") else "no"
    if details.get("CompleteCheckpoint") is not None:
        rows["Complete checkpoint"] = "yes" if details["CompleteCheckpoint"] else "no"
    table = key_value_table(rows)
    table.title, table.title_justify = "Stop", "left"
    return table


def _at(epoch: Any) -> str:
    return format_instant(None if epoch is None else datetime.fromtimestamp(float(epoch), UTC))


def _transitions_table(job: TrainingJob) -> Table:
    table = Table(title="Status transitions", title_justify="left")
    for column in ("Status", "Started", "Ended"):
        table.add_column(column, no_wrap=True)
    table.add_column("Message")
    for transition in job.transitions:
        table.add_row(
            status_text(transition.status),
            format_instant(transition.started_at),
            format_instant(transition.ended_at),
            transition.message,
        )
    return table


def training_jobs_table(summaries: Iterable[TrainingJobSummary]) -> Table:
    table = Table()
    for column in ("Name", "Status", "Secondary", "Created", "Ended"):
        table.add_column(column, no_wrap=True)
    for summary in summaries:
        table.add_row(
            summary.name,
            status_text(summary.status),
            status_text(summary.secondary_status),
            format_instant(summary.created_at),
            format_instant(summary.training_ended_at),
        )
    return table


def key_value_table(values: Mapping[str, RenderableType]) -> Table:
    """A two-column grid of labels and values, for one job's details or a small answer like an ARN."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for key, value in values.items():
        table.add_row(key, value)
    return table
