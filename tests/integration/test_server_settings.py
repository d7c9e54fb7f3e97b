"""Every setting is checked once, at start: a bad one is a one-line error and exit status 2."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.server import TEST_SETTINGS
from trainplane.cli.main import main
from trainplane.config import Settings, from_env, validate
from trainplane.domain.job import JobSpec, new_job
from trainplane.domain.status import JobKind
from trainplane.server import build
from trainplane.service.jobs import StopOutcome

START_TIMEOUT_SECONDS = 60
BASE_ENV = {"TRAINPLANE_PORT": "0", "TRAINPLANE_ALLOWED_ROOTS": "/tmp", "TRAINPLANE_ALLOW_ROOT_JOBS": "true"}


def _serve(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    data_dir: Path,
    *args: str,
    **env: str,
) -> tuple[int, str]:
    """`trainplane serve` in this process: every refusal here happens before it would listen."""
    for name, value in {**BASE_ENV, **env}.items():
        monkeypatch.setenv(name, value)
    code = main(["serve", "--data-dir", str(data_dir), *args])
    return code, capsys.readouterr().err


def _assert_refused(result: tuple[int, str], *words: str) -> None:
    code, stderr = result
    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0] and "Traceback" not in stderr, stderr
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--stop-grace-seconds", "nan"), ("--stop-grace-seconds",)),
        (("--stop-grace-seconds", "inf"), ("--stop-grace-seconds",)),
        (("--stop-grace-seconds", "-1"), ("--stop-grace-seconds",)),
        (("--max-active-jobs", "-1"), ("--max-active-jobs",)),
        (("--port", "-1"), ("--port",)),
        (("--port", "eighty"), ("--port",)),
        (("--port", "99999"), ("--port",)),
        (("--log-level", "bogus"), ("--log-level",)),
        (("--images", "{not json"), ("TRAINPLANE_IMAGES",)),
        (("--images", "@/nonexistent/images.json"), ("--images",)),
        (("--allowed-roots", "relative/dir"), ("--allowed-roots",)),
        (("--allowed-roots", "/nonexistent-root"), ("--allowed-roots",)),
        (("--allowed-roots", "/"), ("--allowed-roots",)),
        (("--run-as-user", "no-such-user-xyz"), ("--run-as-user", "no such user")),
        (("--run-as-user", "nobody", "--run-as-group", "no-such-group-xyz"), ("--run-as-group",)),
        (("--auth-tokens", "{not json"), ("--auth-tokens", "not valid JSON")),
        (("--auth-tokens", '{"token": 7}'), ("--auth-tokens",)),
        (("--auth-tokens", "@/nonexistent/tokens.json"), ("--auth-tokens", "cannot read")),
        (("--database-url", "mysql://db/x"), ("--database-url", "not supported")),
        (("--database-url", "::nonsense"), ("--database-url", "not a database URL")),
    ],
)
def test_a_bad_option_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    args: tuple[str, ...],
    words: tuple[str, ...],
) -> None:
    _assert_refused(_serve(capsys, monkeypatch, tmp_path / "data", *args), *words)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRAINPLANE_STOP_GRACE_SECONDS", "nan"),
        ("TRAINPLANE_STOP_GRACE_SECONDS", "soon"),
        ("TRAINPLANE_PORT", "99999"),
        ("TRAINPLANE_PORT", "eighty"),
        ("TRAINPLANE_MAX_ACTIVE_JOBS", "-1"),
        ("TRAINPLANE_LOG_LEVEL", "bogus"),
        ("TRAINPLANE_ALLOW_ROOT_JOBS", "perhaps"),
        ("TRAINPLANE_ALLOWED_ROOTS", "/nonexistent-root"),
        ("TRAINPLANE_RUN_AS_USER", "no-such-user-xyz"),
        ("TRAINPLANE_AUTH_TOKENS", "[]"),
        ("TRAINPLANE_DATABASE_URL", "oracle://x"),
        ("TRAINPLANE_HOST", ""),  # it listened on every interface, with no credentials
        ("TRAINPLANE_ACCOUNT", "abc"),  # every job's ARN then failed AddTags' own ARN pattern
        ("TRAINPLANE_REGION", "bad/region"),
    ],
)
def test_a_bad_environment_variable_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str
) -> None:
    _assert_refused(_serve(capsys, monkeypatch, tmp_path / "data", **{name: value}), name)
    assert not (tmp_path / "data").exists()


def test_the_real_command_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "trainplane.cli.main", "serve", "--data-dir", str(tmp_path / "data")]
    result = subprocess.run(
        [*command, *TEST_SETTINGS, "--stop-grace-seconds", "nan"],
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "--stop-grace-seconds" in result.stderr, result.stderr


@pytest.mark.skipif(os.getuid() != 0, reason="the root-jobs guard applies to a server running as root")
def test_a_root_server_refuses_to_run_jobs_as_root_unless_told(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    _assert_refused(
        _serve(capsys, monkeypatch, data_dir, "--run-as-user", "root", TRAINPLANE_ALLOW_ROOT_JOBS=""), "root"
    )
    _assert_refused(
        _serve(capsys, monkeypatch, data_dir, TRAINPLANE_ALLOW_ROOT_JOBS="false"), "--allow-root-jobs"
    )


@pytest.mark.parametrize("stored", [math.nan, math.inf, -1.0])
def test_a_job_stored_with_an_unusable_grace_still_stops(tmp_path: Path, stored: float) -> None:
    """A grace an older version let in (nan, inf, negative) falls back to the server's default."""
    plane = build(Settings(data_dir=tmp_path / "data", stop_grace_seconds=7, allowed_roots=(tmp_path,)))
    try:
        spec = JobSpec(
            image="trainplane/python",
            command=("true",),
            environment={},
            output_uri=str(tmp_path / "out"),
            grace_seconds=stored,
        )
        at = datetime.now(UTC)
        job = new_job(
            job_id="j-old",
            tenant="t",
            kind=JobKind.TRAINING,
            name="old",
            arn="arn:old",
            spec=spec,
            request={},
            dialect="sagemaker",
            at=at,
        )
        plane.store.insert(job)
        outcome, stopping = plane.service.stop("t", JobKind.TRAINING, "old")
        assert outcome is StopOutcome.REQUESTED and stopping.stop is not None
        assert stopping.stop.grace_seconds == 7
        assert stopping.stop.deadline_at == stopping.stop.requested_at + timedelta(seconds=7)
    finally:
        plane.close()


def test_allowed_roots_and_switches_parse_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    environ = {
        "TRAINPLANE_ALLOWED_ROOTS": f"{tmp_path / 'a'}:{tmp_path / 'b'},{tmp_path / 'a'}",
        "TRAINPLANE_ALLOW_ROOT_JOBS": "yes",
        "TRAINPLANE_DATA_DIR": str(tmp_path / "data"),
    }
    settings = from_env(environ)
    assert settings.allowed_roots == (tmp_path / "a", tmp_path / "b", tmp_path / "a")
    assert settings.allow_root_jobs is True
    assert settings.location_roots[0] == (tmp_path / "data").absolute()
    validate(settings)  # no exception: every root exists


def test_a_database_that_cannot_be_opened_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """It was a SQLAlchemy traceback ("unable to open database file")."""
    url = f"sqlite:///{tmp_path}/no-such-dir/x.db"
    code, stderr = _serve(capsys, monkeypatch, tmp_path / "data", "--database-url", url)
    assert code == 1 and stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    assert "cannot open the database" in stderr and "no-such-dir" in stderr
