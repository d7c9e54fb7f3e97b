"""The authenticators behind the Authenticator port: the single-tenant default and bearer tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainplane.api.auth import bearer_tokens
from trainplane.api.auth.port import Principal, RequestFacts
from trainplane.api.auth.single_tenant import SingleTenant
from trainplane.domain import errors


def facts(**headers: str) -> RequestFacts:
    return RequestFacts("POST", "/", {k.lower(): v for k, v in headers.items()}, b"{}")


def test_without_configuration_every_request_is_the_default_tenant() -> None:
    assert SingleTenant().authenticate(facts()) == Principal("default")
    assert SingleTenant().authenticate(facts(Authorization="AWS4-HMAC-SHA256 ...")) == Principal("default")


def test_a_known_bearer_token_names_its_tenant() -> None:
    tokens = bearer_tokens.from_setting('{"s3cret": "team-a", "other": "team-b"}')
    assert tokens.authenticate(facts(Authorization="Bearer s3cret")) == Principal("team-a")
    assert tokens.authenticate(facts(Authorization="bearer  other ")) == Principal("team-b")


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer wrong", "Basic s3cret", "AWS4-HMAC-SHA256 Credential=x"]
)
def test_anything_but_a_known_bearer_token_is_unauthorized(authorization: str | None) -> None:
    tokens = bearer_tokens.from_setting('{"s3cret": "team-a"}')
    headers = {} if authorization is None else {"Authorization": authorization}
    with pytest.raises(errors.Unauthorized):
        tokens.authenticate(facts(**headers))


@pytest.mark.parametrize("setting", ["{", "[]", "{}", '{"t": ""}', '{"": "team"}', '{"t": 1}'])
def test_a_malformed_token_setting_is_refused_at_start(setting: str) -> None:
    with pytest.raises(errors.Invalid):
        bearer_tokens.from_setting(setting)


def test_the_token_setting_may_name_a_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text('{"from-file": "team-f"}')
    tokens = bearer_tokens.from_setting(f"@{path}")
    assert tokens.authenticate(facts(Authorization="Bearer from-file")) == Principal("team-f")
