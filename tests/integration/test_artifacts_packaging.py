"""model.tar.gz as users and tools open it: complete, atomic, with a manifest that says why."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trainplane.artifacts import packaging
from trainplane.artifacts.layout import JobLayout
from trainplane.artifacts.locations import to_local_path, to_uri
from trainplane.artifacts.packaging import package_model
from trainplane.domain import errors
from trainplane.service.ports import PackagedModel

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def layout(tmp_path: Path) -> JobLayout:
    job_layout = JobLayout(tmp_path / "run" / "base")
    job_layout.create()
    return job_layout


def _package(layout: JobLayout, tmp_path: Path, **changes: object) -> PackagedModel:
    arguments: dict[str, object] = {
        "layout": layout,
        "output_uri": to_uri(tmp_path / "out"),
        "job_name": "digits",
        "reason": "completed",
        "stopped_at": None,
        "has_complete_checkpoint": False,
        "now": NOW,
    }
    arguments.update(changes)
    return package_model(**arguments)  # type: ignore[arg-type]


def _members(archive_path: Path) -> dict[str, bytes | None]:
    with tarfile.open(archive_path) as archive:
        return {
            m.name: (archive.extractfile(m).read() if m.isfile() else None)  # type: ignore[union-attr]
            for m in archive.getmembers()
        }


def test_model_files_are_at_the_archive_root_with_a_manifest(layout: JobLayout, tmp_path: Path) -> None:
    (layout.model_dir / "model.npz").write_bytes(b"weights" * 1000)
    (layout.model_dir / "code").mkdir()
    (layout.model_dir / "code" / "inference.py").write_text("print('hi')\n")

    packaged = _package(layout, tmp_path)

    archive_path = tmp_path / "out" / "digits" / "output" / "model.tar.gz"
    assert packaged.model_uri == to_uri(archive_path)
    members = _members(archive_path)
    assert members["model.npz"] == b"weights" * 1000
    assert members["code/inference.py"] == b"print('hi')\n"
    assert "code" in members
    manifest = json.loads(members["trainplane-manifest.json"] or b"")
    assert manifest["files"] == [
        {"path": "code/inference.py", "size_bytes": 12},
        {"path": "model.npz", "size_bytes": 7000},
    ]


def test_gnu_tar_lists_and_extracts_the_archive(layout: JobLayout, tmp_path: Path) -> None:
    (layout.model_dir / "model.npz").write_bytes(b"\x00\x01binary")
    packaged = _package(layout, tmp_path)
    archive_path = to_local_path("test", packaged.model_uri)

    listing = subprocess.run(["tar", "-tzf", str(archive_path)], capture_output=True, text=True, check=True)
    assert sorted(listing.stdout.split()) == ["model.npz", "trainplane-manifest.json"]
    target = tmp_path / "extracted"
    target.mkdir()
    subprocess.run(["tar", "-xzf", str(archive_path), "-C", str(target)], check=True)
    assert (target / "model.npz").read_bytes() == b"\x00\x01binary"


def test_manifest_records_reason_stop_time_and_checkpoint_both_inside_and_beside(
    layout: JobLayout, tmp_path: Path
) -> None:
    stopped_at = NOW - timedelta(seconds=30)
    _package(layout, tmp_path, reason="user", stopped_at=stopped_at, has_complete_checkpoint=True)

    output_dir = tmp_path / "out" / "digits" / "output"
    inside = json.loads(_members(output_dir / "model.tar.gz")["trainplane-manifest.json"] or b"")
    beside = json.loads((output_dir / "manifest.json").read_text())
    for manifest in (inside, beside):
        assert manifest["job_name"] == "digits"
        assert manifest["reason"] == "user"
        assert datetime.fromisoformat(manifest["stopped_at"]) == stopped_at
        assert datetime.fromisoformat(manifest["packaged_at"]) == NOW
        assert manifest["has_complete_checkpoint"] is True
    assert beside["archive"]["size_bytes"] == (output_dir / "model.tar.gz").stat().st_size
    assert len(beside["archive"]["sha256"]) == 64


def test_an_empty_model_dir_still_yields_a_valid_archive(layout: JobLayout, tmp_path: Path) -> None:
    packaged = _package(layout, tmp_path, reason="failed")
    members = _members(to_local_path("test", packaged.model_uri))
    assert list(members) == ["trainplane-manifest.json"]
    assert json.loads(members["trainplane-manifest.json"] or b"")["files"] == []
    assert packaged.output_uri is None


def test_output_tar_gz_is_written_only_when_output_data_has_files(layout: JobLayout, tmp_path: Path) -> None:
    (layout.output_data_dir / "empty-subdir").mkdir()
    assert _package(layout, tmp_path).output_uri is None
    assert not (tmp_path / "out" / "digits" / "output" / "output.tar.gz").exists()

    (layout.output_data_dir / "empty-subdir" / "report.csv").write_text("a,b\n1,2\n")
    packaged = _package(layout, tmp_path)
    assert packaged.output_uri is not None
    members = _members(to_local_path("test", packaged.output_uri))
    assert members["empty-subdir/report.csv"] == b"a,b\n1,2\n"
    assert "trainplane-manifest.json" not in members


def test_symlinks_never_escape_the_model_dir(layout: JobLayout, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret")
    (layout.model_dir / "weights.bin").write_bytes(b"w")
    (layout.model_dir / "latest.bin").symlink_to("weights.bin")
    (layout.model_dir / "escape.txt").symlink_to(secret)
    (layout.model_dir / "dangling").symlink_to(tmp_path / "missing")
    (layout.model_dir / "loop").symlink_to(layout.model_dir, target_is_directory=True)
    (layout.model_dir / "trainplane-manifest.json").write_text("forged")

    packaged = _package(layout, tmp_path)

    archive_path = to_local_path("test", packaged.model_uri)
    with tarfile.open(archive_path) as archive:
        assert all(member.isfile() or member.isdir() for member in archive.getmembers())
    members = _members(archive_path)
    assert members["latest.bin"] == b"w"  # an inside link is stored as the file it points to
    assert "escape.txt" not in members and "dangling" not in members and "loop" not in members
    manifest = json.loads(members["trainplane-manifest.json"] or b"")
    assert {entry["path"] for entry in manifest["skipped"]} == {
        "escape.txt",
        "dangling",
        "loop",
        "trainplane-manifest.json",
    }


def test_the_final_name_only_ever_holds_a_complete_archive(layout: JobLayout, tmp_path: Path) -> None:
    """A reader polling model.tar.gz while it is rewritten never sees a partial archive."""
    (layout.model_dir / "big.bin").write_bytes(os.urandom(4 << 20))
    _package(layout, tmp_path)
    archive_path = tmp_path / "out" / "digits" / "output" / "model.tar.gz"
    observed_sizes: list[int] = []
    failures: list[BaseException] = []
    is_done = threading.Event()

    def read_repeatedly() -> None:
        while not is_done.is_set():
            try:
                with tarfile.open(archive_path) as archive:  # raises on a truncated archive
                    observed_sizes.append(sum(member.size for member in archive.getmembers()))
            except (tarfile.TarError, EOFError, OSError) as exc:
                failures.append(exc)

    reader = threading.Thread(target=read_repeatedly)
    reader.start()
    try:
        for _ in range(3):
            _package(layout, tmp_path)
    finally:
        is_done.set()
        reader.join()
    assert failures == []
    assert len(observed_sizes) > 3 and len(set(observed_sizes)) == 1
    leftovers = [p.name for p in archive_path.parent.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_a_failed_write_leaves_no_file_at_the_final_name(
    layout: JobLayout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (layout.model_dir / "model.npz").write_bytes(b"x")

    def broken_add(archive: tarfile.TarFile, source_fd: int, entry: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(packaging, "_add", broken_add)
    with pytest.raises(OSError, match="disk full"):
        _package(layout, tmp_path)
    output_dir = tmp_path / "out" / "digits" / "output"
    assert list(output_dir.iterdir()) == []


def test_a_remote_output_location_is_invalid_with_its_field(layout: JobLayout, tmp_path: Path) -> None:
    with pytest.raises(errors.Invalid) as caught:
        _package(layout, tmp_path, output_uri="gs://bucket/out")  # s3:// is uploaded (artifacts.s3)
    assert caught.value.field == "output_location"


def test_a_link_made_where_the_job_output_goes_is_refused_not_followed(
    layout: JobLayout, tmp_path: Path
) -> None:
    """N1 of issue 6: the job links <output>/<name> elsewhere; a root supervisor must not write there."""
    (layout.model_dir / "model.npz").write_bytes(b"x")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "digits").symlink_to(elsewhere)
    with pytest.raises(OSError, match=r"out/digits is a symlink"):
        _package(layout, tmp_path)
    assert list(elsewhere.iterdir()) == []


def test_a_link_made_on_the_pinned_output_root_is_refused(layout: JobLayout, tmp_path: Path) -> None:
    """The output location did not exist at launch; the job makes it a link to a directory of its choice."""
    (layout.model_dir / "model.npz").write_bytes(b"x")
    pinned = Path(os.path.realpath(tmp_path)) / "out"  # what the launcher records before the job runs
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out").symlink_to(elsewhere)
    with pytest.raises(OSError, match="is a symlink"):
        _package(layout, tmp_path, pinned_output_root=pinned)
    assert list(elsewhere.iterdir()) == []


def test_the_operators_own_link_resolved_at_launch_is_honoured(layout: JobLayout, tmp_path: Path) -> None:
    (layout.model_dir / "model.npz").write_bytes(b"x")
    real = tmp_path / "real-out"
    real.mkdir()
    (tmp_path / "out").symlink_to(real)  # made by the operator before the job: pinned resolves through it
    packaged = _package(layout, tmp_path, pinned_output_root=Path(os.path.realpath(tmp_path / "out")))
    assert Path(to_local_path("output", packaged.model_uri)).is_file()
    assert (real / "digits" / "output" / "model.tar.gz").is_file()


def test_a_model_subdirectory_swapped_for_a_link_after_collecting_is_not_read(
    layout: JobLayout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between listing and reading, a directory becomes a link to secrets: the read is refused."""
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "weights.bin").write_bytes(b"root-only secret")
    (layout.model_dir / "sub").mkdir()
    (layout.model_dir / "sub" / "weights.bin").write_bytes(b"model")
    collect = packaging._collect

    def collect_then_swap(root: Path) -> packaging._Tree:
        tree = collect(root)
        if root == layout.model_dir:
            (root / "sub" / "weights.bin").unlink()
            (root / "sub").rmdir()
            (root / "sub").symlink_to(secrets_dir)
        return tree

    monkeypatch.setattr(packaging, "_collect", collect_then_swap)
    with pytest.raises(OSError):
        _package(layout, tmp_path)
    assert not (tmp_path / "out" / "digits" / "output" / "model.tar.gz").exists()
