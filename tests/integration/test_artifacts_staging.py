"""Channels and checkpoints a job sees in its tree, and resume through the durable checkpoint dir."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from trainplane.artifacts.layout import JobLayout
from trainplane.artifacts.locations import to_uri
from trainplane.artifacts.staging import stage_inputs
from trainplane.domain import errors
from trainplane.domain.job import Channel, JobSpec


def _spec(**changes: object) -> JobSpec:
    fields: dict[str, object] = {"image": "trainplane/python", "command": ("true",), "environment": {}}
    fields.update(changes)
    return JobSpec(**fields)  # type: ignore[arg-type]


def test_directory_and_single_file_channels_are_visible_in_the_tree(tmp_path: Path) -> None:
    train = tmp_path / "data" / "train"
    train.mkdir(parents=True)
    (train / "part-0.csv").write_text("1,2\n")
    single = tmp_path / "data" / "labels.json"
    single.write_text("{}")
    layout = JobLayout(tmp_path / "base")
    spec = _spec(channels=(Channel("train", str(train)), Channel("labels", to_uri(single))))

    stage_inputs(spec, layout)

    assert (layout.channel_dir("train") / "part-0.csv").read_text() == "1,2\n"
    assert (layout.channel_dir("labels") / "labels.json").read_text() == "{}"
    assert layout.model_dir.is_dir() and layout.output_data_dir.is_dir()


def test_staging_twice_is_harmless(tmp_path: Path) -> None:
    train = tmp_path / "train"
    train.mkdir()
    (train / "x").write_text("x")
    layout = JobLayout(tmp_path / "base")
    spec = _spec(channels=(Channel("train", str(train)),), checkpoint_uri=to_uri(tmp_path / "durable"))
    stage_inputs(spec, layout)
    stage_inputs(spec, layout)
    assert (layout.channel_dir("train") / "x").read_text() == "x"
    assert layout.checkpoint_dir(spec).resolve() == (tmp_path / "durable").resolve()


def test_a_missing_channel_source_names_the_channel_field_and_stages_nothing(tmp_path: Path) -> None:
    present = tmp_path / "present"
    present.mkdir()
    layout = JobLayout(tmp_path / "base")
    spec = _spec(channels=(Channel("ok", str(present)), Channel("test", str(tmp_path / "missing"))))
    with pytest.raises(errors.Invalid) as caught:
        stage_inputs(spec, layout)
    assert caught.value.field == "channels.2.source"
    assert "'test'" in caught.value.reason
    assert not layout.channel_dir("ok").exists()


def test_a_new_job_sees_the_checkpoints_an_earlier_job_left(tmp_path: Path) -> None:
    durable = tmp_path / "checkpoints"
    durable.mkdir()
    (durable / "step-100.pt").write_bytes(b"old")
    spec = _spec(checkpoint_uri=to_uri(durable))
    layout = JobLayout(tmp_path / "job-2" / "base")

    stage_inputs(spec, layout)

    assert (layout.checkpoint_dir(spec) / "step-100.pt").read_bytes() == b"old"


def test_checkpoints_a_killed_job_wrote_are_already_durable(tmp_path: Path) -> None:
    """SageMaker syncs checkpoints continuously; a SIGKILL right after the write loses nothing."""
    durable = tmp_path / "nested" / "checkpoints"  # created by staging
    spec = _spec(checkpoint_uri=to_uri(durable), checkpoint_local_path="/opt/ml/checkpoints/run")
    layout = JobLayout(tmp_path / "base")
    stage_inputs(spec, layout)
    local = layout.checkpoint_dir(spec)
    assert local == layout.base_dir / "checkpoints" / "run"
    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys, time\n"
            "path = os.path.join(sys.argv[1], 'step-1.npz')\n"
            "open(path + '.tmp', 'wb').write(b'weights')\n"
            "os.replace(path + '.tmp', path)\n"
            "print('saved', flush=True)\n"
            "time.sleep(60)\n",
            str(local),
        ],
        stdout=subprocess.PIPE,
        text=True,
    ) as writer:
        try:
            assert writer.stdout is not None and writer.stdout.readline() == "saved\n"
            os.kill(writer.pid, signal.SIGKILL)
            assert writer.wait(timeout=10) == -signal.SIGKILL
        finally:
            writer.kill()
    assert (durable / "step-1.npz").read_bytes() == b"weights"


@pytest.mark.parametrize("local_path", ["{tmp}/victim", "/opt/ml/../../{tmp}/victim", "/opt/ml"])
def test_a_local_path_outside_the_jobs_tree_is_refused_and_left_untouched(
    tmp_path: Path, local_path: str
) -> None:
    victim = tmp_path / "victim"  # stands for <data-dir>/trainplane.db or any file the server can write
    victim.write_text("precious")
    spec = _spec(
        checkpoint_uri=to_uri(tmp_path / "durable"), checkpoint_local_path=local_path.format(tmp=tmp_path)
    )
    with pytest.raises(errors.Invalid) as caught:
        stage_inputs(spec, JobLayout(tmp_path / "base"))
    assert caught.value.field == "checkpoint_local_path"
    assert victim.read_text() == "precious" and not victim.is_symlink()


def test_a_symlink_planted_in_the_tree_is_not_followed_out_of_it(tmp_path: Path) -> None:
    layout = JobLayout(tmp_path / "base")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "ckpt").write_text("precious")
    layout.base_dir.mkdir(parents=True)
    (layout.base_dir / "scratch").symlink_to(outside)
    spec = _spec(checkpoint_uri=to_uri(tmp_path / "durable"), checkpoint_local_path="/opt/ml/scratch/ckpt")
    with pytest.raises(errors.Invalid) as caught:
        stage_inputs(spec, layout)
    assert caught.value.field == "checkpoint_local_path"
    assert (outside / "ckpt").read_text() == "precious"


def test_staging_never_replaces_a_file_it_did_not_create(tmp_path: Path) -> None:
    layout = JobLayout(tmp_path / "base")
    (layout.base_dir / "checkpoints").parent.mkdir(parents=True)
    (layout.base_dir / "checkpoints").write_text("not staging's")
    spec = _spec(checkpoint_uri=to_uri(tmp_path / "durable"))
    with pytest.raises(errors.Invalid):
        stage_inputs(spec, layout)
    assert (layout.base_dir / "checkpoints").read_text() == "not staging's"


@pytest.mark.parametrize("name", ["..", ".", "a/../../x", "/etc"])
def test_a_channel_name_that_would_leave_input_data_is_refused(tmp_path: Path, name: str) -> None:
    source = tmp_path / "data"
    source.mkdir()
    with pytest.raises(errors.Invalid):
        stage_inputs(_spec(channels=(Channel(name, str(source)),)), JobLayout(tmp_path / "base"))
    assert not (tmp_path / "base" / "input").exists() or not any(
        (tmp_path / "base" / "input").rglob("*data*/*")
    )


def test_a_non_empty_local_checkpoint_dir_is_refused_rather_than_merged(tmp_path: Path) -> None:
    layout = JobLayout(tmp_path / "base")
    local = layout.base_dir / "scratch"
    local.mkdir(parents=True)
    (local / "unrelated").write_text("x")
    spec = _spec(checkpoint_uri=to_uri(tmp_path / "durable"), checkpoint_local_path="/opt/ml/scratch")
    with pytest.raises(errors.Invalid) as caught:
        stage_inputs(spec, layout)
    assert caught.value.field == "checkpoint_local_path"
    assert (local / "unrelated").read_text() == "x"


def test_without_a_checkpoint_uri_the_checkpoint_dir_is_a_plain_directory(tmp_path: Path) -> None:
    layout = JobLayout(tmp_path / "base")
    spec = _spec()
    stage_inputs(spec, layout)
    assert layout.checkpoint_dir(spec).is_dir() and not layout.checkpoint_dir(spec).is_symlink()
