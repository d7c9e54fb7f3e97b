"""One authenticator per dialect, built from the schemes it accepts, chosen by the Authorization header.

SageMaker: `AWS4-HMAC-SHA256` (and the deprecated bearer tokens). The ModelArts and Baseten dialects
plug in the same way: Baseten `{"api-key": keys, "bearer": keys}` with `BearerKeys(Kind.BASETEN)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from trainplane.api.auth.keyring import Keyring
from trainplane.api.auth.port import (
    Authenticator,
    MalformedSignature,
    MissingCredentials,
    Principal,
    RequestFacts,
    UnknownCredential,
)
from trainplane.credentials.records import Kind


class BySchemes:
    """Hands each request to the authenticator of its `Authorization` scheme (case-insensitive)."""

    def __init__(self, schemes: Mapping[str, Authenticator]) -> None:
        self._schemes = {name.lower(): authenticator for name, authenticator in schemes.items()}

    def authenticate(self, request: RequestFacts) -> Principal:
        """Raises: the port's Unauthorized subclasses."""
        header = request.headers.get("authorization", "").strip()
        if not header:
            raise MissingCredentials("Request is missing Authentication Token")
        scheme = header.partition(" ")[0].lower()
        authenticator = self._schemes.get(scheme)
        if authenticator is None:
            raise MalformedSignature(f"Unsupported authorization type: {scheme[:32]!r}.")
        return authenticator.authenticate(request)


class BearerKeys:
    """`<Scheme> <key>` where the key is a token or API key of `kind`, stored as a digest."""

    def __init__(self, keyring: Callable[[], Keyring], kind: Kind) -> None:
        self._keyring = keyring
        self._kind = kind

    def authenticate(self, request: RequestFacts) -> Principal:
        presented = request.headers.get("authorization", "").strip().partition(" ")[2].strip()
        if not presented:
            raise MissingCredentials("Request is missing Authentication Token")
        principal = self._keyring().bearer(self._kind, presented)
        if principal is None:
            raise UnknownCredential("The API key or token included in the request is invalid.")
        return principal
