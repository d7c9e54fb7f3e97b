"""Huawei Cloud's AK/SK signature (`SDK-HMAC-SHA256`), verified: the canonical request rebuilt over
exactly the headers the client says it signed, as huaweicloudsdkcore's `Signer` builds it
(reference/modelarts_baseten.md §1.7), then one HMAC-SHA256 with the secret key.

The allowed clock skew is not documented by Huawei; trainplane allows 15 minutes either way
(`MAX_SKEW`, docs/modelarts.md). Signatures are compared in constant time.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from urllib.parse import parse_qsl, quote, unquote

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

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "x-sdk-date"
CONTENT_HASH_HEADER = "x-sdk-content-sha256"  # "UNSIGNED-PAYLOAD" for bodies that are not JSON
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_SKEW = timedelta(minutes=15)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
REQUIRED_SIGNED = ("host", DATE_HEADER)  # without them a signature could be replayed anywhere, any time
PARSED_CACHED = 256
CANONICAL_CACHED = 1024  # pollers ask for the same few paths again and again; both functions are pure
MISMATCH = "Invalid AK/SK: the request signature does not match the one computed with the secret key."
_AUTHORIZATION = re.compile(
    r"SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]{64})\s*"
)
_TIMESTAMP = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})T([0-9]{2})([0-9]{2})([0-9]{2})Z")


class UnknownAccessKey(UnknownCredential):
    """The AK is not one the server knows (ModelArts words it apart from an unknown token)."""


class Signed(NamedTuple):
    """The parts of an `SDK-HMAC-SHA256` Authorization header."""

    access_key: str
    signed_headers: tuple[str, ...]
    signature: str


class SdkHmacVerifier:
    """Authenticates `Authorization: SDK-HMAC-SHA256 ...` requests against the `modelarts-aksk` keys."""

    def __init__(
        self, keyring: Callable[[], Keyring], now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._keyring = keyring
        self._now = now

    def authenticate(self, request: RequestFacts) -> Principal:
        """Raises: the port's Unauthorized subclasses (UnknownAccessKey for an unknown AK)."""
        header = request.headers.get("authorization", "")
        if not header:
            raise MissingCredentials("The request carries no Authorization header.")
        signed = parse_authorization(header)
        timestamp = request.headers.get(DATE_HEADER)
        if timestamp is None:
            raise MalformedSignature("Invalid AK/SK: the X-Sdk-Date header is missing.")
        self._check_fresh(timestamp, _parse_timestamp(timestamp))
        key = self._keyring().hmac_key(Kind.MODELARTS_AKSK, signed.access_key)
        if key is None:
            raise UnknownAccessKey(f"Invalid AK/SK: the access key {signed.access_key[:64]!r} is unknown.")
        expected = signature(request, signed.signed_headers, timestamp, key.secret)
        if not hmac.compare_digest(expected.encode(), signed.signature.lower().encode()):
            raise BadSignature(MISMATCH)
        return key.principal

    def _check_fresh(self, timestamp: str, at: datetime) -> None:
        now = self._now()
        if not now - MAX_SKEW <= at <= now + MAX_SKEW:
            raise BadSignature(
                f"Invalid AK/SK: X-Sdk-Date {timestamp} is more than {MAX_SKEW.seconds // 60} minutes "
                f"from the server's time {now.strftime(TIMESTAMP_FORMAT)}."
            )


@functools.lru_cache(maxsize=PARSED_CACHED)
def _parse_timestamp(text: str) -> datetime:
    """yyyymmddThhmmssZ as an aware datetime. Raises: MalformedSignature."""
    match = _TIMESTAMP.fullmatch(text)
    try:
        if match is None:
            raise ValueError(text)
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise MalformedSignature(
            f"Invalid AK/SK: X-Sdk-Date {text[:32]!r} is not of the form yyyymmddThhmmssZ."
        ) from None


@functools.lru_cache(maxsize=PARSED_CACHED)
def parse_authorization(header: str) -> Signed:
    """Raises: MalformedSignature for anything but a complete SDK-HMAC-SHA256 header."""
    match = _AUTHORIZATION.fullmatch(header.strip())
    if match is None:
        algorithm = header.strip().partition(" ")[0]
        if algorithm != ALGORITHM:
            raise MalformedSignature(
                f"Unsupported authorization type: {algorithm[:32]!r}; expected {ALGORITHM}."
            )
        raise MalformedSignature(
            "Invalid AK/SK: the Authorization header must be "
            f"'{ALGORITHM} Access=<AK>, SignedHeaders=<a;b;c>, Signature=<64 hex digits>'."
        )
    access_key, names, signature_hex = match.groups()
    signed_headers = tuple(names.lower().split(";"))
    missing = [name for name in REQUIRED_SIGNED if name not in signed_headers]
    if missing:
        raise MalformedSignature(f"Invalid AK/SK: SignedHeaders must include {', '.join(missing)}.")
    return Signed(access_key, signed_headers, signature_hex)


@functools.lru_cache(maxsize=CANONICAL_CACHED)
def canonical_uri(path: str) -> str:
    """Each segment of the decoded path percent-encoded (only `~` left alone), with a trailing `/`."""
    uri = "/".join(quote(segment, safe="~") for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


@functools.lru_cache(maxsize=CANONICAL_CACHED)
def canonical_query(query: str) -> str:
    """Parameters sorted by name (then value), each `name=value` percent-encoded, joined by `&`."""
    pairs = sorted(parse_qsl(query, keep_blank_values=True))
    return "&".join(f"{quote(name, safe='~')}={quote(value, safe='~')}" for name, value in pairs)


def _header_text(value: str) -> str:
    """The header as the client signed it: the SDK sends UTF-8 bytes, which ASGI hands over as latin-1."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def canonical_request(request: RequestFacts, signed_headers: tuple[str, ...]) -> str:
    """The canonical request of `request` over `signed_headers` (lower case). Raises: BadSignature."""
    headers = _signed_values(request.headers, signed_headers)
    if not request.body:
        payload_hash = EMPTY_SHA256
    else:
        payload_hash = request.headers.get(CONTENT_HASH_HEADER) or hashlib.sha256(request.body).hexdigest()
    return "\n".join(
        (
            request.method.upper(),
            canonical_uri(request.path),
            canonical_query(request.query),
            "".join(f"{name}:{value}\n" for name, value in headers),
            ";".join(signed_headers),
            payload_hash,
        )
    )


def _signed_values(headers: Mapping[str, str], names: tuple[str, ...]) -> list[tuple[str, str]]:
    values = []
    for name in names:
        value = headers.get(name)
        if value is None:
            raise BadSignature(f"Invalid AK/SK: the signed header {name[:64]!r} is not in the request.")
        values.append((name, _header_text(value).strip()))
    return values


def signature(request: RequestFacts, signed_headers: tuple[str, ...], timestamp: str, secret: str) -> str:
    """hex(HMAC-SHA256(secret, "SDK-HMAC-SHA256\\n" + X-Sdk-Date + "\\n" + hex(sha256(canonical))))."""
    digest = hashlib.sha256(canonical_request(request, signed_headers).encode()).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{timestamp}\n{digest}"
    return hmac.digest(secret.encode(), string_to_sign.encode(), "sha256").hex()
