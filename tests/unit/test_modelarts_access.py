"""Who a ModelArts request acts for: any credentials in the emulator, else AK/SK or X-Auth-Token, and
only in the credential's own project."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from trainplane.api.auth.keyring import Keyring
from trainplane.api.auth.port import MissingCredentials, RequestFacts, UnknownCredential
from trainplane.api.auth.sdk_hmac import UnknownAccessKey
from trainplane.api.modelarts import errors as wire_errors
from trainplane.api.modelarts.access import ModelArtsAccess
from trainplane.credentials import issuing
from trainplane.credentials.records import CredentialSet, Kind, Tenant


def request(headers: dict[str, str], project: str = "proj1") -> RequestFacts:
    return RequestFacts("GET", f"/v1/{project}/training-jobs", headers, b"")


def aksk_headers(ak: str, sk: str, project: str = "proj1") -> dict[str, str]:
    headers = {"X-Sdk-Date": datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ"), "X-Project-Id": project}
    signed = SdkRequest("GET", "http", "127.0.0.1:1", f"/v1/{project}/training-jobs", None, [], headers, b"")
    Signer(BasicCredentials(ak, sk, project)).sign(signed)
    return {k.lower(): str(v) for k, v in signed.header_params.items()}


@pytest.fixture
def keys() -> tuple[Keyring, dict[str, str]]:
    credentials = CredentialSet()
    shown: dict[str, str] = {}
    for kind in (Kind.MODELARTS_AKSK, Kind.MODELARTS_TOKEN):
        issued = issuing.issue(credentials, "team-a", kind, project_id="proj1")
        credentials, shown = issued.credentials, {**shown, **issued.shown}
    issued = issuing.issue(credentials, "team-b", Kind.MODELARTS_TOKEN, project_id="projb")
    # A file edited by hand can leave a tenant's keys without its project.
    tenants = {**issued.credentials.tenants, "team-b": Tenant("team-b")}
    without_project = dataclasses.replace(issued.credentials, tenants=tenants)
    return Keyring(without_project), {**shown, "token_b": issued.shown["token"]}


def test_the_emulator_accepts_anything_as_the_default_tenant_in_any_project() -> None:
    access = ModelArtsAccess(None, is_emulator=True)
    assert access.authenticate(request({}), "any").tenant == "default"
    assert access.authenticate(request({"x-auth-token": "whatever"}), "p2").tenant == "default"


def test_a_server_checking_credentials_otherwise_refuses_modelarts() -> None:
    with pytest.raises(MissingCredentials, match="credentials-file"):
        ModelArtsAccess(None, is_emulator=False).authenticate(request({}), "proj1")


def test_aksk_and_token_act_for_the_tenant_in_its_project(keys: tuple[Keyring, dict[str, str]]) -> None:
    keyring, shown = keys
    access = ModelArtsAccess(lambda: keyring, is_emulator=True)  # a keyring: never the emulator
    assert access.authenticate(request(aksk_headers(shown["ak"], shown["sk"])), "proj1").tenant == "team-a"
    assert access.authenticate(request({"x-auth-token": shown["token"]}), "proj1").tenant == "team-a"


def test_another_project_in_the_url_is_refused(keys: tuple[Keyring, dict[str, str]]) -> None:
    keyring, shown = keys
    access = ModelArtsAccess(lambda: keyring, is_emulator=False)
    with pytest.raises(wire_errors.ProjectMismatch):
        access.authenticate(request({"x-auth-token": shown["token"]}, "proj2"), "proj2")
    with pytest.raises(wire_errors.NoProject):
        access.authenticate(request({"x-auth-token": shown["token_b"]}), "proj1")


def test_no_wrong_or_unknown_credentials_are_refused(keys: tuple[Keyring, dict[str, str]]) -> None:
    keyring, shown = keys
    access = ModelArtsAccess(lambda: keyring, is_emulator=False)
    with pytest.raises(MissingCredentials):
        access.authenticate(request({}), "proj1")
    with pytest.raises(UnknownCredential):
        access.authenticate(request({"x-auth-token": shown["token"] + "x"}), "proj1")
    with pytest.raises(UnknownAccessKey):
        access.authenticate(request(aksk_headers("UNKNOWNAK", shown["sk"])), "proj1")
