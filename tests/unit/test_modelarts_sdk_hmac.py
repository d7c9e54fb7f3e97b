"""SDK-HMAC-SHA256 verification against requests signed by huaweicloudsdkcore's own Signer: the
canonical request is rebuilt exactly; a wrong secret, an unknown AK, a stale date, a tampered path,
query, body or signed header are refused (reference/modelarts_baseten.md §1.7)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from hypothesis import given, settings
from hypothesis import strategies as st

from trainplane.api.auth import sdk_hmac
from trainplane.api.auth.keyring import Keyring
from trainplane.api.auth.port import BadSignature, MalformedSignature, MissingCredentials, RequestFacts
from trainplane.credentials import issuing
from trainplane.credentials.records import CredentialSet, Kind

NOW = datetime(2026, 12, 1, 6, 0, 0, tzinfo=UTC)
STAMP = NOW.strftime("%Y%m%dT%H%M%SZ")


def keyring() -> tuple[Keyring, str, str]:
    issued = issuing.issue(CredentialSet(), "team-a", Kind.MODELARTS_AKSK, project_id="proj1")
    return Keyring(issued.credentials), issued.shown["ak"], issued.shown["sk"]


def signed(
    ak: str,
    sk: str,
    *,
    method: str = "POST",
    path: str = "/v1/proj1/training-jobs/10/versions/10/stop",
    query: list[tuple[str, object]] | None = None,
    body: bytes = b"",
    stamp: str = STAMP,
) -> RequestFacts:
    """A request as the SDK signs and sends it, seen as the server receives it."""
    headers = {
        "Content-Type": "application/json",
        "X-Project-Id": "proj1",
        "User-Agent": "huaweicloud-usdk-python/3.0",
        "X-Sdk-Date": stamp,
    }
    request = SdkRequest(
        method=method,
        schema="http",
        host="127.0.0.1:8080",
        resource_path=path,
        query_params=list(query or []),
        header_params=headers,
        body=body,
    )
    Signer(BasicCredentials(ak, sk, "proj1")).sign(request)
    wire_query = request.uri.partition("?")[2]
    return RequestFacts(
        method, path, {k.lower(): str(v) for k, v in request.header_params.items()}, body, wire_query
    )


def verifier(keys: Keyring, now: datetime = NOW) -> sdk_hmac.SdkHmacVerifier:
    return sdk_hmac.SdkHmacVerifier(lambda: keys, now=lambda: now)


def test_a_request_signed_by_the_sdk_verifies_as_the_keys_tenant() -> None:
    keys, ak, sk = keyring()
    principal = verifier(keys).authenticate(signed(ak, sk, body=b'{"job_desc": "x"}'))
    assert (principal.tenant, principal.modelarts_project_id) == ("team-a", "proj1")


def test_query_parameters_are_signed_in_sorted_order() -> None:
    keys, ak, sk = keyring()
    query = [("status", 8), ("per_page", 10), ("search_content", "a b/c~d")]
    request = signed(ak, sk, method="GET", path="/v1/proj1/training-jobs", query=query)
    assert verifier(keys).authenticate(request).tenant == "team-a"
    with pytest.raises(BadSignature):
        verifier(keys).authenticate(dataclasses.replace(request, query="status=7&per_page=10"))


def test_a_wrong_secret_key_is_refused() -> None:
    keys, ak, sk = keyring()
    with pytest.raises(BadSignature):
        verifier(keys).authenticate(signed(ak, sk + "x"))


def test_an_unknown_access_key_is_refused_as_such() -> None:
    keys, _, sk = keyring()
    with pytest.raises(sdk_hmac.UnknownAccessKey):
        verifier(keys).authenticate(signed("NOSUCHAK", sk))


@pytest.mark.parametrize(
    "change",
    [
        {"path": "/v1/proj1/training-jobs/11/versions/10/stop"},
        {"body": b'{"job_desc": "changed"}'},
        {"method": "DELETE"},
    ],
)
def test_a_tampered_request_is_refused(change: dict[str, object]) -> None:
    keys, ak, sk = keyring()
    request = signed(ak, sk, body=b'{"job_desc": "x"}')
    with pytest.raises(BadSignature):
        verifier(keys).authenticate(dataclasses.replace(request, **change))  # type: ignore[arg-type]


def test_a_signed_header_changed_or_missing_is_refused() -> None:
    keys, ak, sk = keyring()
    request = signed(ak, sk)
    changed = dict(request.headers, host="evil.example:80")
    with pytest.raises(BadSignature):
        verifier(keys).authenticate(dataclasses.replace(request, headers=changed))
    missing = {k: v for k, v in request.headers.items() if k != "x-project-id"}
    with pytest.raises(BadSignature):
        verifier(keys).authenticate(dataclasses.replace(request, headers=missing))


@pytest.mark.parametrize("minutes", [-16, 16, -60 * 24])
def test_a_date_beyond_fifteen_minutes_of_skew_is_refused(minutes: int) -> None:
    keys, ak, sk = keyring()
    stamp = (NOW + timedelta(minutes=minutes)).strftime("%Y%m%dT%H%M%SZ")
    with pytest.raises(BadSignature, match="15 minutes"):
        verifier(keys).authenticate(signed(ak, sk, stamp=stamp))


@pytest.mark.parametrize("minutes", [-14, 14])
def test_a_date_within_the_skew_is_accepted(minutes: int) -> None:
    keys, ak, sk = keyring()
    stamp = (NOW + timedelta(minutes=minutes)).strftime("%Y%m%dT%H%M%SZ")
    assert verifier(keys).authenticate(signed(ak, sk, stamp=stamp)).tenant == "team-a"


@pytest.mark.parametrize(
    "authorization",
    [
        "SDK-HMAC-SHA256",
        "SDK-HMAC-SHA256 Access=AK",
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date, Signature=zz",
        "SDK-HMAC-SHA256 Access=AK, SignedHeaders=content-type;host, Signature=" + "a" * 64,
        "V11-HMAC-SHA256 Access=AK, SignedHeaders=host;x-sdk-date, Signature=" + "a" * 64,
    ],
)
def test_a_malformed_authorization_header_is_refused(authorization: str) -> None:
    keys, _, _ = keyring()
    request = RequestFacts(
        "GET", "/v1/p/training-jobs", {"authorization": authorization, "x-sdk-date": STAMP}, b""
    )
    with pytest.raises(MalformedSignature):
        verifier(keys).authenticate(request)


def test_a_missing_date_or_authorization_is_refused() -> None:
    keys, ak, sk = keyring()
    request = signed(ak, sk)
    with pytest.raises(MalformedSignature):
        verifier(keys).authenticate(
            dataclasses.replace(
                request, headers={k: v for k, v in request.headers.items() if k != "x-sdk-date"}
            )
        )
    with pytest.raises(MissingCredentials):
        verifier(keys).authenticate(dataclasses.replace(request, headers={}))


_segment = st.text(st.characters(codec="utf-8", exclude_characters="/?#%\x00"), min_size=1, max_size=12)
_value = st.one_of(
    st.integers(0, 10**6), st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
)


@settings(max_examples=150, deadline=None, database=None)
@given(
    segments=st.lists(_segment, min_size=1, max_size=4),
    query=st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), _value, max_size=4),
    body=st.binary(max_size=64),
)
def test_any_path_query_and_body_the_sdk_signs_verifies(
    segments: list[str], query: dict[str, object], body: bytes
) -> None:
    """The canonical request is the SDK's own, whatever characters the path and query hold."""
    keys, ak, sk = keyring()
    path = "/v1/proj1/" + "/".join(quote(segment, safe="") for segment in segments)
    request = signed(ak, sk, path=path, query=sorted(query.items()), body=body)
    assert verifier(keys).authenticate(request).tenant == "team-a"
