"""Secure by default: which authenticator the settings give, and which settings are refused."""

from __future__ import annotations

import pytest

from trainplane.api.auth import configured
from trainplane.api.auth.keyring import Keyring
from trainplane.api.auth.port import (
    MalformedSignature,
    MissingCredentials,
    Principal,
    RequestFacts,
    UnknownCredential,
)
from trainplane.api.auth.schemes import BearerKeys, BySchemes
from trainplane.api.auth.single_tenant import SingleTenant
from trainplane.credentials import issuing
from trainplane.credentials.records import CredentialSet, Kind
from trainplane.domain import errors


def facts(authorization: str | None = None) -> RequestFacts:
    headers = {} if authorization is None else {"authorization": authorization}
    return RequestFacts("POST", "/", headers, b"{}")


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2", "[::1]"])
def test_without_credentials_a_loopback_host_serves_one_tenant_and_says_so(host: str) -> None:
    access = configured.configure("", "", is_insecure=False, host=host)
    assert isinstance(access.authenticator, SingleTenant)
    assert access.authenticator.authenticate(facts("AWS4-HMAC-SHA256 anything")) == Principal("default")
    assert any("no credentials file" in notice for notice in access.notices)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_without_credentials_a_non_loopback_host_is_refused(host: str) -> None:
    with pytest.raises(errors.Invalid, match="not a loopback address") as caught:
        configured.configure("", "", is_insecure=False, host=host)
    assert caught.value.field == configured.HOST_SETTING
    assert "--credentials-file" in caught.value.reason and "--insecure-any-credentials" in caught.value.reason


def test_insecure_any_credentials_serves_anyone_on_purpose_with_a_warning() -> None:
    access = configured.configure("", "", is_insecure=True, host="0.0.0.0")
    assert isinstance(access.authenticator, SingleTenant)
    assert access.warnings and "INSECURE" in access.warnings[0]


def test_insecure_and_a_credentials_file_contradict() -> None:
    with pytest.raises(errors.Invalid, match="contradicts"):
        configured.configure("/some/file", "", is_insecure=True, host="127.0.0.1")


def test_bearer_tokens_alone_still_work_with_a_deprecation_warning() -> None:
    access = configured.configure("", '{"s3cret": "team-a"}', is_insecure=False, host="0.0.0.0")
    assert access.authenticator.authenticate(facts("Bearer s3cret")) == Principal("team-a")
    assert any("deprecated" in warning for warning in access.warnings)


def test_schemes_dispatch_on_the_authorization_scheme() -> None:
    chosen = BySchemes({"Bearer": SingleTenant("by-bearer"), "AWS4-HMAC-SHA256": SingleTenant("by-sigv4")})
    assert chosen.authenticate(facts("bearer x")).tenant == "by-bearer"
    assert chosen.authenticate(facts("AWS4-HMAC-SHA256 Credential=...")).tenant == "by-sigv4"
    with pytest.raises(MissingCredentials):
        chosen.authenticate(facts())
    with pytest.raises(MalformedSignature):
        chosen.authenticate(facts("Digest x"))


def test_api_keys_verify_against_their_digest_for_later_dialects() -> None:
    issued = issuing.issue(CredentialSet(), "team-a", Kind.BASETEN)
    keyring = Keyring(issued.credentials)
    keys = BySchemes({"Api-Key": BearerKeys(lambda: keyring, Kind.BASETEN)})
    api_key = issued.shown["api_key"]
    assert keys.authenticate(facts(f"Api-Key {api_key}")).tenant == "team-a"
    for wrong in (api_key[:-1] + ("x" if api_key[-1] != "x" else "y"), "nodot", f"{api_key}extra"):
        with pytest.raises(UnknownCredential):
            keys.authenticate(facts(f"Api-Key {wrong}"))
    # The same key as another kind is unknown: kinds never stand in for each other.
    assert keyring.bearer(Kind.MODELARTS_TOKEN, api_key) is None


def test_a_modelarts_token_is_read_from_its_own_header() -> None:
    issued = issuing.issue(CredentialSet(), "team-a", Kind.MODELARTS_TOKEN, project_id="proj1")
    keyring = Keyring(issued.credentials)
    tokens = BearerKeys(lambda: keyring, Kind.MODELARTS_TOKEN, header="X-Auth-Token")
    request = RequestFacts("GET", "/v1/proj1/training-jobs", {"x-auth-token": issued.shown["token"]}, b"")
    assert tokens.authenticate(request) == Principal("team-a", None, "proj1")
    with pytest.raises(MissingCredentials):
        tokens.authenticate(facts(f"Bearer {issued.shown['token']}"))
