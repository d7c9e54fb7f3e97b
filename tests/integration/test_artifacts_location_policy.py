"""Allowed roots: no spelling of a location outside them, or onto the server's own files, gets in."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainplane.artifacts.local import LocalArtifacts
from trainplane.config import Settings
from trainplane.domain import errors

FIELD = "output_location"


@pytest.fixture
def artifacts(tmp_path: Path) -> LocalArtifacts:
    data_dir = tmp_path / "data"
    (data_dir / "runs").mkdir(parents=True)
    (data_dir / "trainplane.db").write_text("db")
    (tmp_path / "allowed").mkdir()
    return LocalArtifacts(
        data_dir / "runs",
        allowed_roots=(data_dir, tmp_path / "allowed"),
        protected=(data_dir / "trainplane.db", data_dir / "trainplane.db-wal"),
    )


@pytest.mark.parametrize(
    "uri",
    [
        "/",
        "/etc",
        "/etc/shadow",
        "file:///etc",
        "file:///../../etc",
        "file://localhost/etc",
        "file:///{tmp}/allowed/%2e%2e/elsewhere",
        "file:///{tmp}/allowed/%2E%2E/%2e%2e/%2e%2e/etc",
        "{tmp}/allowed/../elsewhere",
        "{tmp}",
    ],
)
def test_locations_outside_the_allowed_roots_are_refused(
    artifacts: LocalArtifacts, tmp_path: Path, uri: str
) -> None:
    with pytest.raises(errors.Invalid) as caught:
        artifacts.check_location(FIELD, uri.format(tmp=tmp_path))
    assert caught.value.field == FIELD


@pytest.mark.parametrize(
    "uri",
    [
        "{tmp}/data",
        "{tmp}/data/trainplane.db",
        "{tmp}/data/trainplane.db-wal",
        "{tmp}/data/runs",
        "{tmp}/data/runs/some-job/base",
        "file://{tmp}/data/runs/../runs/x",
    ],
)
def test_the_servers_own_files_are_never_a_location(
    artifacts: LocalArtifacts, tmp_path: Path, uri: str
) -> None:
    with pytest.raises(errors.Invalid, match="server's own data"):
        artifacts.check_location("checkpoint_location", uri.format(tmp=tmp_path))


def test_a_symlink_inside_a_root_that_points_out_of_it_is_refused(
    artifacts: LocalArtifacts, tmp_path: Path
) -> None:
    (tmp_path / "allowed" / "escape").symlink_to("/etc")
    with pytest.raises(errors.Invalid, match="outside the allowed roots"):
        artifacts.check_location(FIELD, f"file://{tmp_path}/allowed/escape/cron.d")


@pytest.mark.parametrize(
    "uri",
    [
        "{tmp}/allowed",
        "{tmp}/allowed/out/new",
        "file://{tmp}/allowed/a%20b",
        "{tmp}/data/outputs",
        "{tmp}/allowed/x/../y",
    ],
)
def test_locations_inside_a_root_are_accepted(artifacts: LocalArtifacts, tmp_path: Path, uri: str) -> None:
    artifacts.check_location(FIELD, uri.format(tmp=tmp_path))


@pytest.mark.parametrize(
    "local_path", ["/etc/x", "/opt/ml/../../etc", "/opt/ml", "relative", "/opt/ml/model/x"]
)
def test_a_checkpoint_local_path_outside_the_jobs_tree_is_refused(
    artifacts: LocalArtifacts, local_path: str
) -> None:
    with pytest.raises(errors.Invalid) as caught:
        artifacts.check_job_path("checkpoint_local_path", local_path)
    assert caught.value.field == "checkpoint_local_path"


def test_checkpoint_local_paths_and_channel_names_inside_the_tree_are_accepted(
    artifacts: LocalArtifacts,
) -> None:
    artifacts.check_job_path("checkpoint_local_path", "/opt/ml/checkpoints/run-1/../run-2")
    artifacts.check_channel_name("channels.1.name", "train.v2-x_y")
    with pytest.raises(errors.Invalid):
        artifacts.check_channel_name("channels.1.name", "..")


@pytest.mark.parametrize(
    "name",
    ["trainplane.db", "trainplane.db-wal", "trainplane.db-journal", "store-id.json", ".store-id.json.tmp"],
)
def test_the_settings_protect_every_file_sqlite_and_the_server_write_in_the_data_dir(
    tmp_path: Path, name: str
) -> None:
    """A directory named trainplane.db-journal (an output location) made SQLite refuse the database."""
    settings = Settings(data_dir=tmp_path / "data")
    artifacts = LocalArtifacts(
        settings.runs_dir, allowed_roots=settings.location_roots, protected=settings.protected_paths
    )
    with pytest.raises(errors.Invalid, match="server's own data"):
        artifacts.check_location(FIELD, str(settings.data_dir / name / "out"))
