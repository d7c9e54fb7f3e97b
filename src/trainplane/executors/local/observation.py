"""status.json (the supervisor's report) → ports.Observation (what the reconciler reads)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainplane.domain import documents
from trainplane.service.ports import Observation, Phase


def observation_from_status(status: Mapping[str, Any]) -> Observation:
    report = status.get("stop_report")
    instant = documents.instant_from_wire
    return Observation(
        phase=Phase(status["phase"]),
        staged_at=instant(status.get("staged_at")),
        started_at=instant(status.get("started_at")),
        exited_at=instant(status.get("exited_at")),
        finished_at=instant(status.get("finished_at")),
        exit_code=status.get("exit_code"),
        failure=documents.failure_from_dict(status.get("failure"), status.get("failure_reason")),
        model_uri=status.get("model_uri"),
        output_uri=status.get("output_uri"),
        has_complete_checkpoint=bool(status.get("has_complete_checkpoint")),
        was_stopped=bool(status.get("was_stopped")),
        metrics=tuple(documents.metric_from_dict(m) for m in status.get("metrics", ())),
        stop_report=None if report is None else documents.stop_report_from_dict(report),
        stop=documents.stop_from_dict(status.get("stop")),
    )
