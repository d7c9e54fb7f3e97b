"""SigV4 verification against requests signed by botocore's own signer (what boto3 sends)."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from trainplane.api.auth import sigv4
from trainplane.api.auth.keyring import Keyring
from trainplane.api.auth.port import (
    BadSignature,
    MalformedSignature,
    MissingCredentials,
    Principal,
    RequestFacts,
    UnknownCredential,
)
from trainplane.credentials import issuing
from trainplane.credentials.records import CredentialSet, Kind
from trainplane.domain import errors

NOW = datetime(2026, 11, 23, 7, 9, 27, tzinfo=UTC)
HOST = "127.0.0.1:5999"
BODY = b'{"TrainingJobName": "x"}'


def issued_keyring() -> tuple[Keyring, str, str]:
    issued = issuing.issue(CredentialSet(), "team-a", Kind.AWS, account_id="111122223333")
    return Keyring(issued.credentials), issued.shown["access_key_id"], issued.shown["secret_access_key"]


def signed_facts(
    key_id: str,
    secret: str,
    *,
    at: datetime = NOW,
    service: str = "sagemaker",
    path: str = "/",
    query: str = "",
    method: str = "POST",
    body: bytes = BODY,
    token: str | None = None,
) -> RequestFacts:
    """A request as boto3 signs it (botocore's SigV4Auth with its clock at `at`), as the server sees it."""
    request = AWSRequest(
        method=method,
        url=f"http://{HOST}{path}" + (f"?{query}" if query else ""),
        headers={
            "Host": HOST,
            "X-Amz-Target": "SageMaker.DescribeTrainingJob",
            "Content-Type": "application/x-amz-json-1.1",
            "User-Agent": "Boto3/1.44 test",
        },
        data=body,
    )
    with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
        SigV4Auth(Credentials(key_id, secret, token), service, "eu-west-1").add_auth(request)
    headers = {name.lower(): value for name, value in request.headers.items()}
    return RequestFacts(method, path, headers, body, query)


def verifier(keyring: Keyring, now: datetime = NOW) -> sigv4.SigV4Verifier:
    return sigv4.SigV4Verifier(lambda: keyring, "sagemaker", now=lambda: now)


def test_a_request_signed_with_a_configured_key_acts_for_its_tenant_and_account() -> None:
    keyring, key_id, secret = issued_keyring()
    principal = verifier(keyring).authenticate(signed_facts(key_id, secret))
    assert principal == Principal("team-a", "111122223333", None)


def test_a_signed_get_with_a_query_string_verifies() -> None:
    keyring, key_id, secret = issued_keyring()
    path, query = "/trainplane/v1/training-jobs/x/logs", "offset=0&follow=true"
    facts = signed_facts(key_id, secret, method="GET", path=path, query=query, body=b"")
    assert verifier(keyring).authenticate(facts).tenant == "team-a"


def test_a_wrong_secret_is_aws_signature_mismatch() -> None:
    keyring, key_id, _ = issued_keyring()
    with pytest.raises(BadSignature, match="The request signature we calculated does not match"):
        verifier(keyring).authenticate(signed_facts(key_id, "not-the-secret"))


def test_a_body_changed_after_signing_does_not_verify() -> None:
    keyring, key_id, secret = issued_keyring()
    facts = signed_facts(key_id, secret)
    tampered = RequestFacts(facts.method, facts.path, facts.headers, b'{"TrainingJobName": "y"}')
    with pytest.raises(BadSignature):
        verifier(keyring).authenticate(tampered)


def test_an_unknown_key_is_unrecognized() -> None:
    keyring, _, secret = issued_keyring()
    with pytest.raises(UnknownCredential, match="security token included in the request is invalid"):
        verifier(keyring).authenticate(signed_facts("TPAKUNKNOWNUNKNOWN00", secret))


def test_a_session_token_is_unrecognized_since_none_is_ever_issued() -> None:
    keyring, key_id, secret = issued_keyring()
    with pytest.raises(UnknownCredential):
        verifier(keyring).authenticate(signed_facts(key_id, secret, token="session"))


def test_a_signature_older_than_five_minutes_has_expired_in_aws_words() -> None:
    keyring, key_id, secret = issued_keyring()
    facts = signed_facts(key_id, secret, at=NOW - timedelta(minutes=5, seconds=1))
    with pytest.raises(BadSignature) as caught:
        verifier(keyring).authenticate(facts)
    assert caught.value.message == (
        "Signature expired: 20261123T070426Z is now earlier than 20261123T070427Z (20261123T070927Z - 5 min.)"
    )
    # Just inside the window still verifies.
    assert verifier(keyring).authenticate(signed_facts(key_id, secret, at=NOW - timedelta(minutes=5)))


def test_a_signature_from_the_future_is_not_yet_current() -> None:
    keyring, key_id, secret = issued_keyring()
    with pytest.raises(BadSignature, match="Signature not yet current"):
        verifier(keyring).authenticate(signed_facts(key_id, secret, at=NOW + timedelta(minutes=6)))


def test_a_signature_for_another_service_is_refused() -> None:
    keyring, key_id, secret = issued_keyring()
    with pytest.raises(BadSignature, match="correct service: 'sagemaker'"):
        verifier(keyring).authenticate(signed_facts(key_id, secret, service="s3"))


def test_no_authorization_is_missing_credentials() -> None:
    keyring, _, _ = issued_keyring()
    with pytest.raises(MissingCredentials):
        verifier(keyring).authenticate(RequestFacts("POST", "/", {"host": HOST}, BODY))


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 Credential=AK/20261123/us-east-1/sagemaker/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AK/20261123/sagemaker, SignedHeaders=host, Signature=00",
        "Basic dXNlcjpwYXNz",
    ],
)
def test_an_incomplete_signature_header_is_malformed(authorization: str) -> None:
    keyring, _, _ = issued_keyring()
    headers = {"authorization": authorization, "host": HOST, "x-amz-date": "20261123T070927Z"}
    with pytest.raises(MalformedSignature):
        verifier(keyring).authenticate(RequestFacts("POST", "/", headers, BODY))


def test_the_signing_key_is_derived_once_per_day_region_and_service() -> None:
    keyring, key_id, secret = issued_keyring()
    sigv4.signing_key.cache_clear()
    for _ in range(3):
        verifier(keyring).authenticate(signed_facts(key_id, secret))
    info = sigv4.signing_key.cache_info()
    assert (info.misses, info.hits) == (1, 2)


@pytest.mark.parametrize("stamp", ["20261323T070927Z", "2026-11-23T07:09:27Z", "20261123T070927"])
def test_a_malformed_x_amz_date_is_an_incomplete_signature(stamp: str) -> None:
    keyring, key_id, secret = issued_keyring()
    facts = signed_facts(key_id, secret)
    headers = {**facts.headers, "x-amz-date": stamp}
    with pytest.raises(MalformedSignature, match="yyyymmddThhmmssZ"):
        verifier(keyring).authenticate(RequestFacts(facts.method, facts.path, headers, facts.body))


_SEGMENT = st.text(
    alphabet=string.ascii_letters + string.digits + "-._~%:@!$&'()*+,;=", min_size=1, max_size=12
)
_VALUE = st.text(alphabet=string.ascii_letters + string.digits + " \t-_.,;:/=", max_size=30)


@settings(max_examples=300, deadline=None)
@given(
    segments=st.lists(_SEGMENT, max_size=4),
    query=st.lists(st.tuples(_SEGMENT, _SEGMENT), max_size=3),
    extra=st.dictionaries(st.sampled_from(["x-amz-target", "content-type", "x-custom", "accept"]), _VALUE),
    body=st.binary(max_size=64),
    method=st.sampled_from(["POST", "GET", "post"]),
)
def test_the_canonical_request_is_botocores(
    segments: list[str], query: list[tuple[str, str]], extra: dict[str, str], body: bytes, method: str
) -> None:
    """The verifier writes the canonical request out for speed: it must be botocore's, byte for byte."""
    path = "/" + "/".join(segments)
    query_text = "&".join(f"{k}={v}" for k, v in query)
    headers = {"host": HOST, "x-amz-date": "20261123T070927Z", **extra}
    request = AWSRequest(
        method=method,
        url=f"http://{HOST}{path}" + (f"?{query_text}" if query_text else ""),
        headers=headers,
        data=body,
    )
    expected = SigV4Auth(Credentials("k", "s"), "sagemaker", "us-east-1").canonical_request(request)
    facts = RequestFacts(method, path, headers, body, query_text)
    assert sigv4.canonical_request(facts, tuple(headers)) == expected


_HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=80)


@settings(max_examples=400, deadline=None)
@given(
    authorization=st.one_of(
        _HEADER_TEXT,
        st.builds(
            lambda scope, names, signature: (
                f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders={names}, Signature={signature}"
            ),
            _HEADER_TEXT,
            _HEADER_TEXT,
            _HEADER_TEXT,
        ),
    ),
    date_header=st.sampled_from(["x-amz-date", "date"]),
    date=st.one_of(_HEADER_TEXT, st.just("Mon, 23 Nov 2026 07:09:27 -0000"), st.just("20261123T070927Z")),
)
def test_any_hostile_authorization_is_refused_as_unauthorized_never_a_crash(
    authorization: str, date_header: str, date: str
) -> None:
    keyring, _, _ = issued_keyring()
    headers = {"authorization": authorization, "host": HOST, date_header: date}
    with pytest.raises(errors.Unauthorized):
        verifier(keyring).authenticate(RequestFacts("POST", "/", headers, BODY))


def test_a_date_header_without_a_zone_is_read_as_utc_not_a_crash() -> None:
    keyring, key_id, secret = issued_keyring()
    facts = signed_facts(key_id, secret)
    headers = {k: v for k, v in facts.headers.items() if k != "x-amz-date"}
    headers["date"] = "Mon, 23 Nov 2026 07:09:27 -0000"
    with pytest.raises(BadSignature, match="does not match"):  # x-amz-date was signed and is gone
        verifier(keyring).authenticate(RequestFacts("POST", "/", headers, BODY))
