"""AWS Signature Version 4, verified: the canonical request over exactly the headers the client says it
signed, as botocore's `SigV4Auth` builds it (its path and query helpers; a property test holds the
whole text equal to botocore's), then the string to sign and an HMAC with the derived key.

Refusals are worded as AWS words them (reference/sagemaker.md §1.1); each dialect picks the codes.
The derived signing key is cached per (secret, date, region, service): four HMACs saved per request.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import NamedTuple
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth

from trainplane.api.auth.keyring import Keyring
from trainplane.api.auth.port import (
    BadSignature,
    MalformedSignature,
    MissingCredentials,
    Principal,
    RequestFacts,
    UnknownCredential,
)
from trainplane.credentials.records import Kind

ALGORITHM = "AWS4-HMAC-SHA256"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_SKEW = timedelta(minutes=5)  # AWS's allowance for SigV4 on JSON services (the message says "5 min.")
SIGNING_KEYS_CACHED = 1024
PARSED_CACHED = 256  # a poller sends the same header many times a second: parse it once (pure)
INVALID_TOKEN = "The security token included in the request is invalid."
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
_REQUIRED = ("Credential", "SignedHeaders", "Signature")
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([^/,\s]+)/([0-9]{8})/([^/,\s]+)/([^/,\s]+)/aws4_request, "
    r"SignedHeaders=([^,\s]+), Signature=([0-9a-f]{64})"
)
_TIMESTAMP = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})Z")


class Signed(NamedTuple):
    """The parts of a SigV4 Authorization header."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


class SigV4Verifier:
    """Authenticates `Authorization: AWS4-HMAC-SHA256 ...` requests against the `aws` keys."""

    def __init__(
        self,
        keyring: Callable[[], Keyring],
        service: str | Callable[[RequestFacts], str],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """`service`: the signing name requests must be scoped to, or how to tell it from a request
        (one server speaks SageMaker and CloudWatch Logs, which botocore signs as "logs")."""
        self._keyring = keyring
        self._service_of = service if callable(service) else (lambda request: service)
        self._now = now

    def authenticate(self, request: RequestFacts) -> Principal:
        """Raises: the port's Unauthorized subclasses, in AWS's words."""
        header = request.headers.get("authorization", "")
        if not header:
            raise MissingCredentials("Request is missing Authentication Token")
        signed = parse_authorization(header)
        timestamp, at = _timestamp(request.headers)
        key = self._keyring().hmac_key(Kind.AWS, signed.access_key_id)
        if key is None or "x-amz-security-token" in request.headers:
            raise UnknownCredential(INVALID_TOKEN)  # no session tokens are ever issued here
        self._check_scope(signed, timestamp, at, self._service_of(request))
        expected = _signature(request, signed, timestamp, key.secret)
        if not hmac.compare_digest(expected.encode(), signed.signature.lower().encode()):
            raise BadSignature(MISMATCH)
        return key.principal

    def _check_scope(self, signed: Signed, timestamp: str, at: datetime, service: str) -> None:
        if signed.service != service:
            raise BadSignature(f"Credential should be scoped to correct service: '{service}'. ")
        if signed.date != timestamp[:8]:
            raise BadSignature(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
                f"HTTP: '{signed.date}' != '{timestamp[:8]}', from '{timestamp}'."
            )
        now = self._now()
        if at < now - MAX_SKEW:
            raise BadSignature(
                f"Signature expired: {timestamp} is now earlier than {_format(now - MAX_SKEW)} "
                f"({_format(now)} - 5 min.)"
            )
        if at > now + MAX_SKEW:
            raise BadSignature(
                f"Signature not yet current: {timestamp} is still later than {_format(now + MAX_SKEW)} "
                f"({_format(now)} + 5 min.)"
            )


@functools.lru_cache(maxsize=PARSED_CACHED)
def _parse_timestamp(text: str) -> datetime:
    """yyyymmddThhmmssZ as an aware datetime (strptime costs a fifth of a verification).

    Raises: MalformedSignature.
    """
    match = _TIMESTAMP.fullmatch(text)
    try:
        if match is None:
            raise ValueError(text)
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise MalformedSignature(f"X-Amz-Date {text[:32]!r} is not of the form yyyymmddThhmmssZ.") from None


def _format(at: datetime) -> str:
    return at.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


@functools.lru_cache(maxsize=PARSED_CACHED)
def parse_authorization(header: str) -> Signed:
    """Raises: MalformedSignature (AWS's IncompleteSignature) for anything but a complete SigV4 header."""
    match = _AUTHORIZATION.fullmatch(header)
    if match is not None:  # botocore's exact layout: one regex, no loops (the hot path)
        key_id, date, region, service, names, signature = match.groups()
        return Signed(key_id, date, region, service, tuple(names.lower().split(";")), signature)
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise MalformedSignature(f"Unsupported authorization type: {algorithm[:32]!r}; expected {ALGORITHM}.")
    params: dict[str, str] = {}
    for part in rest.split(","):
        name, equals, value = part.strip().partition("=")
        if equals:
            params[name] = value.strip()
    missing = [name for name in _REQUIRED if not params.get(name)]
    if missing:
        raise MalformedSignature(
            " ".join(f"Authorization header requires '{name}' parameter." for name in missing)
        )
    scope = params["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request" or not all(scope):
        raise MalformedSignature(
            "Credential should be of the form <access key id>/<yyyymmdd>/<region>/<service>/aws4_request."
        )
    return Signed(
        access_key_id=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=tuple(params["SignedHeaders"].lower().split(";")),
        signature=params["Signature"],
    )


def _timestamp(headers: Mapping[str, str]) -> tuple[str, datetime]:
    """X-Amz-Date, else the Date header: as yyyymmddThhmmssZ and as an instant.

    Raises: MalformedSignature.
    """
    raw = headers.get("x-amz-date")
    if raw is not None:
        return raw, _parse_timestamp(raw)
    try:
        at = parsedate_to_datetime(headers["date"])
        at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # "-0000": UTC, RFC 5322
        return _format(at), at
    except (KeyError, TypeError, ValueError):
        raise MalformedSignature(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        ) from None


# botocore's signer, used for its pure canonicalisation of a path and a query string only.
_BOTOCORE = SigV4Auth(None, "sagemaker", "us-east-1")


def canonical_request(request: RequestFacts, signed_headers: tuple[str, ...]) -> str:
    """The SigV4 canonical request of `request` over `signed_headers` (lower case, all present).

    The same text botocore's `SigV4Auth.canonical_request` builds (a property test holds the two
    equal); the path and query go through botocore's own helpers, the rest is written out because
    botocore's request and header objects cost more than the whole check (bench: describe_throughput).
    """
    path = "/" if request.path == "/" else _BOTOCORE._normalize_url_path(request.path)
    query = _BOTOCORE._canonical_query_string_url(urlsplit(f"?{request.query}")) if request.query else ""
    names = sorted(set(signed_headers))
    headers = "".join(f"{name}:{' '.join(request.headers[name].split())}\n" for name in names)
    payload = request.headers.get("x-amz-content-sha256") if "x-amz-content-sha256" in names else None
    payload_hash = payload or hashlib.sha256(request.body).hexdigest()
    return "\n".join((request.method.upper(), path, query, headers, ";".join(names), payload_hash))


def _signature(request: RequestFacts, signed: Signed, timestamp: str, secret: str) -> str:
    missing = [name for name in signed.signed_headers if name not in request.headers]
    if "host" not in signed.signed_headers or missing:
        raise BadSignature(MISMATCH)
    scope = f"{signed.date}/{signed.region}/{signed.service}/aws4_request"
    digest = hashlib.sha256(canonical_request(request, signed.signed_headers).encode()).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"
    key = signing_key(secret, signed.date, signed.region, signed.service)
    return hmac.digest(key, string_to_sign.encode(), "sha256").hex()


@functools.lru_cache(maxsize=SIGNING_KEYS_CACHED)
def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC chain of "AWS4"+secret over date, region, service, "aws4_request" (SigV4 spec)."""
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key
