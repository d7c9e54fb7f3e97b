"""status.json, typed: the one report a supervisor writes about its job, and its one decoder.

`Report` is built by the supervisor alone (its helpers return facts, they never touch the report) and
written by `ReportWriter` alone. A launcher decodes it with `read`; the control plane sees
`Report.observation`; `Report.process` is what a successor supervisor needs to adopt the job.
The JSON keys are flat and unchanged from the untyped dict, so reports of running jobs written by an
older version still decode.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainplane.domain import documents
from trainplane.domain.job import Outcome
from trainplane.executors.supervisor import run_dir, status_file
from trainplane.service.observations import Observation, Phase

_OUTCOME_FIELDS = frozenset(field.name for field in dataclasses.fields(Outcome))
wire = documents.instant_to_wire
instant = documents.instant_from_wire


@dataclass(frozen=True)
class ProcessRecord:
    """Which processes are the job: enough for a successor supervisor to find and end them."""

    main_pid: int
    main_start_ticks: int | None  # tells the real entrypoint apart from a reused pid
    cgroup: str | None  # the job's cgroup v2 leaf, where one could be made


@dataclass(frozen=True)
class Report:
    job_id: str
    observation: Observation
    process: ProcessRecord | None = None
    adoptions: int = 0  # successor supervisors that took the job over after one was lost

    @property
    def phase(self) -> Phase:
        return self.observation.phase

    def with_observation(self, **changes: Any) -> Report:
        return dataclasses.replace(self, observation=dataclasses.replace(self.observation, **changes))

    def with_outcome(self, **changes: Any) -> Report:
        return self.with_observation(outcome=dataclasses.replace(self.observation.outcome, **changes))

    def with_changes(self, **changes: Any) -> Report:
        """Observation and outcome fields in one call, each routed to its own value."""
        in_outcome = {key: value for key, value in changes.items() if key in _OUTCOME_FIELDS}
        in_observation = {key: value for key, value in changes.items() if key not in _OUTCOME_FIELDS}
        return self.with_observation(**in_observation).with_outcome(**in_outcome)


def to_dict(report: Report) -> dict[str, Any]:
    seen, outcome, process = report.observation, report.observation.outcome, report.process
    return {
        "job_id": report.job_id,
        "phase": seen.phase.value,
        "staged_at": wire(seen.staged_at),
        "started_at": wire(seen.started_at),
        "exited_at": wire(seen.exited_at),
        "finished_at": wire(seen.finished_at),
        "was_stopped": seen.was_stopped,
        "stop": None if seen.stop is None else documents.stop_to_dict(seen.stop),
        "exit_code": outcome.exit_code,
        "failure": documents.failure_to_dict(outcome.failure),
        "model_uri": outcome.model_uri,
        "output_uri": outcome.output_uri,
        "has_complete_checkpoint": outcome.has_complete_checkpoint,
        "model_digest": outcome.model_digest,
        "metrics": [documents.metric_to_dict(metric) for metric in outcome.metrics],
        "stop_report": None
        if outcome.stop_report is None
        else documents.stop_report_to_dict(outcome.stop_report),
        "main_pid": None if process is None else process.main_pid,
        "main_start_ticks": None if process is None else process.main_start_ticks,
        "cgroup": None if process is None else process.cgroup,
        "adoptions": report.adoptions,
        "warned_at": wire(seen.warned_at),
    }


def from_dict(doc: Mapping[str, Any]) -> Report:
    stop_report = doc.get("stop_report")
    outcome = Outcome(
        exit_code=doc.get("exit_code"),
        failure=documents.failure_from_dict(doc.get("failure"), doc.get("failure_reason")),
        model_uri=doc.get("model_uri"),
        output_uri=doc.get("output_uri"),
        has_complete_checkpoint=bool(doc.get("has_complete_checkpoint")),
        model_digest=doc.get("model_digest"),
        metrics=tuple(documents.metric_from_dict(m) for m in doc.get("metrics") or ()),
        stop_report=None if stop_report is None else documents.stop_report_from_dict(stop_report),
    )
    observation = Observation(
        phase=Phase(doc["phase"]),
        staged_at=instant(doc.get("staged_at")),
        started_at=instant(doc.get("started_at")),
        exited_at=instant(doc.get("exited_at")),
        finished_at=instant(doc.get("finished_at")),
        was_stopped=bool(doc.get("was_stopped")),
        stop=documents.stop_from_dict(doc.get("stop")),
        outcome=outcome,
        warned_at=instant(doc.get("warned_at")),
    )
    main_pid = doc.get("main_pid")
    process = None
    if isinstance(main_pid, int):
        process = ProcessRecord(main_pid, doc.get("main_start_ticks"), doc.get("cgroup"))
    return Report(str(doc.get("job_id", "")), observation, process, int(doc.get("adoptions") or 0))


def read(directory: run_dir.RunDir) -> Report | None:
    """The job's last report, or None before its supervisor wrote one."""
    doc = status_file.read(directory.status_file)
    return None if doc is None else from_dict(doc)


class ReportWriter:
    """The one writer of status.json; each write also sends the launcher a progress hint."""

    def __init__(self, directory: run_dir.RunDir, notify_socket_path: str | None) -> None:
        self._dir = directory
        self._notify_path = notify_socket_path

    def write(self, report: Report, *, is_hinted: bool = True) -> None:
        # Only the final report must outlive a power loss (pain 12: the exit code is known even if
        # the server was down); progress reports are re-derived from it or taken over by a successor.
        is_final = report.phase is Phase.FINISHED
        status_file.write_atomic(self._dir.status_file, to_dict(report), is_durable=is_final)
        if self._notify_path and (is_hinted or is_final):
            send_hint(Path(self._notify_path), report.job_id)


def send_hint(socket_path: Path, job_id: str) -> None:
    """A datagram naming the job to the launcher's listener; nothing when it is down or busy.

    A hint only lowers latency: status.json stays the truth, so every error on the way is ignored.
    """
    # Here, not at the top: no report before the job's spawn is hinted (start latency).
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.sendto(job_id.encode(), str(socket_path))
