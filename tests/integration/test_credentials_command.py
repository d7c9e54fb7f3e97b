"""`trainplane credentials add|list|remove`: a secret printed once, never listed, in a 0600 file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from trainplane.cli.main import main
from trainplane.credentials import file as credentials_file


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["credentials", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("kind", "extra", "members"),
    [
        ("aws", ("--account-id", "123456789012"), {"access_key_id", "secret_access_key", "aws_account_id"}),
        ("modelarts-aksk", ("--project-id", "proj1"), {"ak", "sk", "project_id"}),
        ("modelarts-token", ("--project-id", "proj1"), {"token", "project_id"}),
        ("baseten", (), {"api_key"}),
    ],
)
def test_add_prints_the_new_secret_once_as_one_json_object(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str, extra: tuple[str, ...], members: set[str]
) -> None:
    path = tmp_path / "credentials.json"
    code, out, err = run(capsys, "add", "--file", str(path), "--tenant", "team-a", "--kind", kind, *extra)
    assert code == 0, err
    shown = json.loads(out)
    assert members <= set(shown) and shown["tenant"] == "team-a" and shown["kind"] == kind
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(credentials_file.load(path).credentials) == 1
    assert "only this once" in err


def test_list_never_shows_a_secret_and_remove_forgets_a_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "credentials.json"
    _, aws_out, _ = run(capsys, "add", "--file", str(path), "--tenant", "team-a", "--kind", "aws")
    _, api_out, _ = run(capsys, "add", "--file", str(path), "--tenant", "team-b", "--kind", "baseten")
    aws_key, api_key = json.loads(aws_out), json.loads(api_out)
    for output in ("json", "table"):
        code, out, _ = run(capsys, "list", "--file", str(path), "--output", output)
        assert code == 0
        assert aws_key["access_key_id"] in out and "team-b" in out
        assert aws_key["secret_access_key"] not in out and api_key["api_key"] not in out
    code, _, _ = run(capsys, "remove", "--file", str(path), "--key-id", aws_key["access_key_id"])
    assert code == 0
    _, out, _ = run(capsys, "list", "--file", str(path), "--output", "json")
    assert [row["tenant"] for row in json.loads(out)["Credentials"]] == ["team-b"]
    code, _, err = run(capsys, "remove", "--file", str(path), "--key-id", aws_key["access_key_id"])
    assert code == 1 and "no credential" in err


def test_the_file_may_come_from_the_servers_variable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "credentials.json"
    monkeypatch.setenv("TRAINPLANE_CREDENTIALS_FILE", str(path))
    code, _, err = run(capsys, "add", "--tenant", "team-a", "--kind", "aws")
    assert code == 0, err
    assert path.exists()


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("--tenant", "bad tenant!", "--kind", "aws"), 2, "--tenant"),
        (("--tenant", "a", "--kind", "aws", "--account-id", "12"), 2, "12 digits"),
        (("--tenant", "a", "--kind", "modelarts-aksk"), 1, "--project-id"),
        (("--tenant", "a", "--kind", "kerberos"), 2, "invalid choice"),
    ],
)
def test_a_refused_add_changes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: tuple[str, ...], code: int, words: str
) -> None:
    path = tmp_path / "credentials.json"
    returned, _, err = run(capsys, "add", "--file", str(path), *args)
    assert returned == code and words in err, err
    assert not path.exists()


def test_a_file_open_to_others_is_not_listed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    run(capsys, "add", "--file", str(path), "--tenant", "team-a", "--kind", "aws")
    path.chmod(0o644)
    code, _, err = run(capsys, "list", "--file", str(path))
    assert code == 1 and "chmod 600" in err
