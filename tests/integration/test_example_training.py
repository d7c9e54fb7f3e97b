"""examples/train_digits.py as a real job: stop on SIGTERM with the model saved, then resume and learn."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import numpy as np

from trainplane import runtime
from trainplane.artifacts.environment import job_environment, write_config_files
from trainplane.artifacts.layout import JobLayout
from trainplane.artifacts.locations import to_local_path, to_uri
from trainplane.artifacts.metrics import final_metrics, read_failure_reason
from trainplane.artifacts.packaging import package_model
from trainplane.artifacts.staging import stage_inputs
from trainplane.domain.job import JobSpec, MetricDefinition

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "train_digits.py"
EPOCH_LINE = re.compile(r"^epoch=(\d+) train_loss=([0-9.]+) val_accuracy=([0-9.]+)$")
ACCURACY = MetricDefinition("val_accuracy", r"val_accuracy=([0-9.]+)")


class _Output:
    """The job's output lines, drained by a thread so waits can have deadlines; also logged to a file."""

    def __init__(self, stream: IO[str], log_path: Path) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._log_path = log_path
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        with self._log_path.open("a") as log:
            for line in stream:
                log.write(line)
                log.flush()
                self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, predicate: Callable[[str], bool], timeout_seconds: float) -> str:
        deadline = time.monotonic() + timeout_seconds
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no matching line within {timeout_seconds} s: {self.lines}") from None
            assert line is not None, f"the job closed its output first: {self.lines}"
            self.lines.append(line)
            if predicate(line):
                return line

    def drain(self, timeout_seconds: float) -> None:
        try:
            self.wait_for(lambda line: False, timeout_seconds)
        except AssertionError as exc:
            assert "closed its output" in str(exc), exc


def _spec(tmp_path: Path, hyperparameters: dict[str, str]) -> JobSpec:
    return JobSpec(
        image="trainplane/python",
        command=(sys.executable, str(SCRIPT)),
        environment={},
        hyperparameters=hyperparameters,
        output_uri=to_uri(tmp_path / "output"),
        checkpoint_uri=to_uri(tmp_path / "durable-checkpoints"),
        metric_definitions=(ACCURACY,),
    )


@contextmanager
def _job(
    tmp_path: Path, name: str, spec: JobSpec, extra_env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[str], _Output, JobLayout]]:
    layout = JobLayout(tmp_path / name / "base")
    stage_inputs(spec, layout)
    write_config_files(spec=spec, layout=layout)
    env = job_environment(job_name=name, job_arn=f"arn:{name}", spec=spec, layout=layout, base_env=os.environ)
    env.update(extra_env)
    with subprocess.Popen(
        spec.command,
        cwd=layout.base_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            yield process, _Output(process.stdout, tmp_path / name / "job.log"), layout
        finally:
            process.kill()


@contextmanager
def _supervisor_listener() -> Iterator[subprocess.Popen[str]]:
    """A stand-in supervisor process: exits 42 when SIGUSR1 (checkpoint complete) arrives."""
    script = (
        "import signal, sys\n"
        "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])\n"
        "print('listening', flush=True)\n"
        "signal.sigwait([signal.SIGUSR1])\n"
        "sys.exit(42)\n"
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as listener:
        try:
            assert listener.stdout is not None and listener.stdout.readline() == "listening\n"
            yield listener
        finally:
            listener.kill()


def test_sigterm_saves_model_and_checkpoint_then_a_new_job_resumes_and_learns(tmp_path: Path) -> None:
    control_dir = tmp_path / "control"
    control_dir.mkdir()
    durable = tmp_path / "durable-checkpoints"
    spec = _spec(tmp_path, {"seconds_per_epoch": "0.05", "checkpoint_every": "1"})

    with (
        _supervisor_listener() as listener,
        _job(
            tmp_path,
            "job-1",
            spec,
            {runtime.CONTROL_DIR_ENV: str(control_dir), runtime.SUPERVISOR_PID_ENV: str(listener.pid)},
        ) as (process, output, layout),
    ):
        output.wait_for(lambda line: EPOCH_LINE.match(line) is not None, timeout_seconds=30)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        output.drain(timeout_seconds=5)
        assert listener.wait(timeout=10) == 42

    assert any(line.startswith("stop requested: saved checkpoint and model") for line in output.lines)
    summary = json.loads((layout.model_dir / "model.json").read_text())
    assert summary["is_stopped"] is True and summary["epoch"] >= 1
    with np.load(layout.model_dir / "model.npz") as model:
        assert set(model.files) == {"w1", "b1", "w2", "b2"}
    with np.load(durable / "checkpoint.npz") as checkpoint:
        assert int(checkpoint["epoch"]) == summary["epoch"]
    assert "at" in json.loads((control_dir / runtime.CHECKPOINT_COMPLETE_FILE).read_text())

    packaged = package_model(
        layout=layout,
        output_uri=spec.output_uri,
        job_name="job-1",
        reason="user",
        stopped_at=datetime.now(UTC),
        has_complete_checkpoint=True,
        now=datetime.now(UTC),
    )
    with tarfile.open(to_local_path("test", packaged.model_uri)) as archive:
        assert {"model.npz", "model.json", "trainplane-manifest.json"} <= set(archive.getnames())

    saved_epoch = summary["epoch"]
    resumed_spec = _spec(tmp_path, {"epochs": str(saved_epoch + 3), "seconds_per_epoch": "0"})
    with _job(tmp_path, "job-2", resumed_spec, {}) as (process, output, layout_2):
        resumed = output.wait_for(lambda line: line.startswith("resumed from epoch="), timeout_seconds=30)
        assert process.wait(timeout=30) == 0
        output.drain(timeout_seconds=5)

    assert int(resumed.removeprefix("resumed from epoch=")) >= saved_epoch
    epochs = [EPOCH_LINE.match(line) for line in output.lines]
    numbers = [int(match.group(1)) for match in epochs if match]
    assert numbers == [saved_epoch + 1, saved_epoch + 2, saved_epoch + 3]
    metrics = final_metrics(tmp_path / "job-2" / "job.log", [ACCURACY], datetime.now(UTC))
    assert metrics and metrics[0].value > 0.8
    assert json.loads((layout_2.model_dir / "model.json").read_text())["is_stopped"] is False


def test_bad_hyperparameters_fail_with_a_failure_reason(tmp_path: Path) -> None:
    spec = _spec(tmp_path, {"epochs": "-1"})
    with _job(tmp_path, "bad", spec, {}) as (process, output, layout):
        assert process.wait(timeout=30) == 1
        output.drain(timeout_seconds=5)
    reason = read_failure_reason(layout)
    assert reason is not None and "epochs" in reason and "-1" in reason
