"""The Baseten dialect's pure parts: the status map both ways (exhaustive over the transition table),
compute -> instance type, memory quantities, job names, log paging and presigned-URL safety."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trainplane.api.baseten import errors as baseten_errors
from trainplane.api.baseten import files, logs, metrics, schemas, translate
from trainplane.api.baseten.translate import WireStatus
from trainplane.api.cloudwatch_logs.streams import Event as LogEvent
from trainplane.domain import errors, fields, transitions
from trainplane.domain.job import Job, JobSpec, new_job
from trainplane.domain.status import JobKind, Secondary
from trainplane.service.ports import UsageSample

AT = datetime(2026, 1, 1, tzinfo=UTC)


def a_job() -> Job:
    spec = JobSpec(image="python:3.11-slim", command=("true",), environment={})
    return new_job(
        job_id="j",
        tenant="t",
        kind=JobKind.TRAINING,
        name="n",
        arn="a",
        spec=spec,
        request={},
        dialect="baseten",
        at=AT,
    )


def every_reachable_job(depth: int = 5) -> list[Job]:
    """Every job the table can produce from a new one within `depth` events (with and without a start)."""
    found, frontier = [], [a_job()]
    for _ in range(depth):
        following = []
        for job in frontier:
            for (status, event), _target in transitions.TRANSITIONS.items():
                if status is job.status:
                    moved = job.advance(event, AT + timedelta(seconds=1), "m")
                    if event is transitions.Event.PROCESS_STARTED:
                        moved = dataclasses.replace(moved, started_at=AT)
                    following.append(moved)
        found.extend(frontier)
        frontier = following
    return found + frontier


def test_every_status_a_job_reaches_maps_and_parses_back() -> None:
    jobs = every_reachable_job()
    assert {job.status for job in jobs} == set(Secondary)
    for job in jobs:
        assert job.status in translate.secondaries_of(translate.wire_status(job))


def test_every_wire_status_parses() -> None:
    never_shown = {WireStatus.PENDING, WireStatus.PREEMPTED, WireStatus.QUEUED}
    for status in WireStatus:
        assert bool(translate.secondaries_of(status)) is (status not in never_shown)
    shown = {translate.wire_status(job) for job in every_reachable_job()}
    assert shown == set(WireStatus) - never_shown


def test_a_stopping_job_shows_what_it_showed_before_the_stop() -> None:
    running = dataclasses.replace(a_job().advance(transitions.Event.PROCESS_STARTED, AT, "m"), started_at=AT)
    assert (
        translate.wire_status(running.advance(transitions.Event.STOP_REQUESTED, AT, "m"))
        is WireStatus.RUNNING
    )
    assert (
        translate.wire_status(a_job().advance(transitions.Event.STOP_REQUESTED, AT, "m"))
        is WireStatus.CREATED
    )
    stopped = running.advance(transitions.Event.STOP_REQUESTED, AT, "m").advance(
        transitions.Event.STOP_FINISHED, AT, "m"
    )
    assert translate.wire_status(stopped) is WireStatus.STOPPED
    assert (
        translate.wire_status(a_job().advance(transitions.Event.FAILED, AT, "m")) is WireStatus.DEPLOY_FAILED
    )
    assert translate.wire_status(running.advance(transitions.Event.FAILED, AT, "m")) is WireStatus.FAILED


@pytest.mark.parametrize(
    ("compute", "expected"),
    [
        (schemas.Compute(), "ml.c7i.large"),
        (schemas.Compute(cpu_count=4, memory_mib=16 * 1024), "ml.m4.xlarge"),
        (schemas.Compute(accelerator="H100", accelerator_count=1), "ml.p5.4xlarge"),
        (schemas.Compute(accelerator="L4", accelerator_count=1), "ml.g6.xlarge"),
        (schemas.Compute(accelerator="L40S", accelerator_count=4), "ml.g6e.12xlarge"),
    ],
)
def test_compute_picks_the_smallest_instance_type_that_fits(compute: schemas.Compute, expected: str) -> None:
    assert translate.instance_type_for(compute) == expected


def test_compute_nothing_offers_is_refused_naming_it() -> None:
    with pytest.raises(errors.Invalid) as caught:
        translate.instance_type_for(schemas.Compute(accelerator="TPU", accelerator_count=1))
    assert caught.value.field == "training_job.compute"


@pytest.mark.parametrize(
    ("text", "mib"), [("2Gi", 2048), ("512Mi", 512), ("1G", 954), ("1", 1), ("1Ti", 1024**2)]
)
def test_memory_quantities(text: str, mib: int) -> None:
    assert schemas.memory_mib(text, "m") == mib


@pytest.mark.parametrize("project", ["my project", "---", "ü" * 10, "a" * 300, "x_y.z"])
def test_job_names_follow_sagemakers_pattern(project: str) -> None:
    name = translate.job_name_for(project, "0123456789")
    assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name)


def _event(ms: int) -> LogEvent:
    return LogEvent(0, 1, ms, f"at {ms}")


def test_an_ascending_page_never_ends_inside_one_millisecond() -> None:
    events = [_event(1), _event(2), _event(2), _event(2), _event(3)]
    assert [e.timestamp_ms for e in logs._first(iter(events), 3)] == [1]  # the 2s come whole next time
    assert [e.timestamp_ms for e in logs._first(iter(events), 4)] == [1, 2, 2, 2]
    same = [_event(5)] * 4
    assert len(logs._first(iter(same), 2)) == 2  # nothing else to cut to


def test_a_file_outside_the_checkpoint_dir_is_never_served(tmp_path: Path) -> None:
    root = tmp_path / "checkpoints"
    (root / "c1").mkdir(parents=True)
    (root / "c1" / "w.bin").write_text("w")
    (tmp_path / "secret").write_text("s")
    os.symlink(tmp_path / "secret", root / "c1" / "link")
    os.symlink(tmp_path, root / "up")
    assert files.inside(root, "c1/w.bin") == (root / "c1" / "w.bin").resolve()
    for relative in ("../secret", "/etc/passwd", "c1/link", "up/secret", "c1", "", "c1/\x00", "missing"):
        with pytest.raises(errors.NotFound):
            files.inside(root, relative)
    assert [e.relative for e in files.walk(root)] == ["c1/w.bin"]  # links are not listed either


def test_presigned_tokens_cannot_be_forged_or_outlive_their_expiry() -> None:
    signer = files.Signer(b"k" * 32)
    token = signer.token("t", "j", files.CHECKPOINT, "c1/w.bin", expires_at=100)
    assert signer.claims(token, now=99) == ("t", "j", files.CHECKPOINT, "c1/w.bin")
    with pytest.raises(errors.NotFound):
        signer.claims(token, now=101)
    with pytest.raises(errors.NotFound):
        files.Signer(b"x" * 32).claims(token, now=0)
    payload, _, mac = token.partition(".")
    with pytest.raises(errors.NotFound):
        signer.claims(payload[:-2] + "AA." + mac, now=0)


def test_unknown_keys_are_ignored_and_null_is_absent() -> None:
    request = schemas.create_job(
        {
            "training_job": {
                "image": {"base_image": "img", "docker_auth": None},
                "compute": None,
                "runtime": {"start_commands": ["a"], "environment_variables": None, "cache_config": None},
                "workspace": None,
                "truss_user_env": {"x": 1},
            },
            "extra": True,
        }
    )
    assert (
        request.start_commands == ("a",)
        and request.environment == {}
        and request.compute == schemas.Compute()
    )
    assert schemas.search({"statuses": None, "project_id": None, "job_id": None}, []).statuses is None


def test_metrics_are_cores_between_samples_within_the_window_one_per_step() -> None:
    samples = [
        UsageSample(AT + timedelta(seconds=s), cpu_seconds=s * 0.5, memory_bytes=100 + s) for s in range(6)
    ]
    start_ms = int((AT + timedelta(seconds=1)).timestamp() * 1000)
    doc = metrics.metrics_doc(samples, schemas.MetricsWindow(start_ms, None, 2))
    assert [point["value"] for point in doc["cpu_memory_usage_bytes"]] == [101.0, 103.0, 105.0]
    assert [point["value"] for point in doc["cpu_usage"]] == [0.5, 0.5]
    assert doc["per_node_metrics"][0]["metrics"]["cpu_usage"] == doc["cpu_usage"]
    assert metrics.metrics_doc([], schemas.MetricsWindow(None, None, None))["cpu_usage"] == []


def test_errors_render_in_basetens_shape_and_an_unexpected_one_without_its_text() -> None:
    status, headers, body = baseten_errors.render(errors.NotFound("job group", "7"))
    assert (status, json.loads(body)) == (
        404,
        {"code": "NOT_FOUND", "message": "training project '7' not found"},
    )
    status, _, body = baseten_errors.render(errors.Invalid(fields.ENTRYPOINT, "has no command"))
    assert status == 400 and json.loads(body)["message"].startswith("training_job.runtime.start_commands:")
    status, _, body = baseten_errors.render(errors.InvalidState("delete", "InProgress"))
    assert status == 409 and json.loads(body)["code"] == "CONFLICT"
    status, headers, body = baseten_errors.render(RuntimeError("secret detail"))
    assert status == 500 and b"secret detail" not in body and headers["Content-Type"] == "application/json"
