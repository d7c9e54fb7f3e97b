"""The credentials file: new keys in each kind's shape, identities, digests, and a file only its
owner may read, replaced atomically."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from trainplane.credentials import file as credentials_file
from trainplane.credentials import issuing
from trainplane.credentials.records import CredentialsError, CredentialSet, Kind, from_document


def test_an_aws_key_is_shown_once_with_its_secret_and_only_the_secret_is_kept_for_hmac() -> None:
    issued = issuing.issue(CredentialSet(), "team-a", Kind.AWS, account_id="111122223333")
    shown = issued.shown
    assert shown["access_key_id"].startswith("TPAK") and len(shown["access_key_id"]) == 20
    assert len(shown["secret_access_key"]) == 40
    assert shown["aws_account_id"] == "111122223333"
    assert issued.credential.secret == shown["secret_access_key"]  # HMAC: the server recomputes with it
    assert issued.credential.secret_sha256 is None


@pytest.mark.parametrize(("kind", "member"), [(Kind.BASETEN, "api_key"), (Kind.MODELARTS_TOKEN, "token")])
def test_bearer_secrets_are_stored_only_as_a_digest(kind: Kind, member: str) -> None:
    issued = issuing.issue(CredentialSet(), "team-a", kind, project_id="proj1")
    presented = issued.shown[member]
    assert issued.credential.secret is None
    assert issued.credential.secret_sha256 == issuing.digest(presented)
    assert presented not in json.dumps(issued.credentials.to_document())
    assert issuing.key_id_of_bearer(presented) == issued.credential.key_id


def test_modelarts_aksk_prints_ak_and_sk_and_needs_a_project() -> None:
    with pytest.raises(CredentialsError, match="--project-id"):
        issuing.issue(CredentialSet(), "team-a", Kind.MODELARTS_AKSK)
    issued = issuing.issue(CredentialSet(), "team-a", Kind.MODELARTS_AKSK, project_id="proj1")
    assert set(issued.shown) >= {"ak", "sk", "project_id"}


def test_a_tenant_keeps_one_account_id_and_no_two_tenants_share_one() -> None:
    first = issuing.issue(CredentialSet(), "team-a", Kind.AWS, account_id="111122223333").credentials
    again = issuing.issue(first, "team-a", Kind.AWS)
    assert again.shown["aws_account_id"] == "111122223333"
    with pytest.raises(CredentialsError, match="has AWS account id"):
        issuing.issue(first, "team-a", Kind.AWS, account_id="999988887777")
    with pytest.raises(CredentialsError, match="belongs to tenant team-a"):
        issuing.issue(first, "team-b", Kind.AWS, account_id="111122223333")


def test_a_new_tenant_without_an_account_id_gets_a_fresh_one() -> None:
    first = issuing.issue(CredentialSet(), "team-a", Kind.AWS).credentials
    second = issuing.issue(first, "team-b", Kind.AWS).credentials
    accounts = {tenant.aws_account_id for tenant in second.tenants.values()}
    assert len(accounts) == 2 and all(a is not None and len(a) == 12 for a in accounts)


def test_the_file_is_written_0600_whatever_the_umask_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    issued = issuing.issue(CredentialSet(), "team-a", Kind.AWS)
    previous = os.umask(0)
    try:
        credentials_file.save(path, issued.credentials)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = credentials_file.load(path)
    assert loaded == from_document(issued.credentials.to_document())
    assert [p.name for p in tmp_path.iterdir()] == ["credentials.json"]  # no temp file left


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_file_open_to_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "credentials.json"
    credentials_file.save(path, issuing.issue(CredentialSet(), "team-a", Kind.AWS).credentials)
    path.chmod(mode)
    with pytest.raises(CredentialsError, match="chmod 600"):
        credentials_file.load(path)


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ([], "not a credentials file"),
        ({"version": 2}, "not a credentials file"),
        ({"version": 1, "tenants": [], "credentials": []}, "must be an object"),
        ({"version": 1, "tenants": {"bad name!": {}}}, "tenant"),
        ({"version": 1, "tenants": {"a": {"aws_account_id": "12"}}}, "malformed"),
        (
            {"version": 1, "tenants": {"a": {}}, "credentials": [{"tenant": "b", "kind": "aws"}]},
            "not in",
        ),
        (
            {
                "version": 1,
                "tenants": {"a": {}},
                "credentials": [{"tenant": "a", "kind": "aws", "key_id": "TPAKAAAAAAAAAAAAAAAA"}],
            },
            "needs its secret",
        ),
        (
            {
                "version": 1,
                "tenants": {"a": {}},
                "credentials": [{"tenant": "a", "kind": "baseten", "key_id": "abcdefgh", "secret": "plain"}],
            },
            "secret_sha256 only",
        ),
        (
            {"version": 1, "tenants": {"a": {}}, "credentials": [{"tenant": "a", "kind": "ftp"}]},
            "kind must be",
        ),
    ],
)
def test_a_malformed_file_is_refused_naming_the_problem(document: object, complaint: str) -> None:
    with pytest.raises(CredentialsError, match=complaint):
        from_document(document)


def test_removing_a_key_keeps_the_others(tmp_path: Path) -> None:
    first = issuing.issue(CredentialSet(), "team-a", Kind.AWS)
    second = issuing.issue(first.credentials, "team-a", Kind.AWS)
    remaining = second.credentials.without(first.credential.key_id)
    assert [c.key_id for c in remaining.credentials] == [second.credential.key_id]
    with pytest.raises(CredentialsError, match="no credential"):
        remaining.without(first.credential.key_id)
