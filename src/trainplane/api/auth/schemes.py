"""One authenticator per dialect, built from the schemes it accepts, chosen by the Authorization header.

SageMaker: `AWS4-HMAC-SHA256` (and the deprecated bearer tokens). The ModelArts and Baseten dialects
plug in over the same ReloadableKeyring (`configured.Access.keyring`): Baseten
`BySchemes({"Api-Key": keys, "Bearer": keys})` with `keys = BearerKeys(keyring, Kind.BASETEN)`;
ModelArts `BearerKeys(keyring, Kind.MODELARTS_TOKEN, header="x-auth-token")` for tokens, and an
SDK-HMAC-SHA256 verifier over `keyring.hmac_key(Kind.MODELARTS_AKSK, ak)` for AK/SK (not written yet),
checking `Principal.modelarts_project_id` against the URL's project (`ModelArts.0210`).
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
    """A token or API key of `kind`, stored as a digest: `Authorization: <Scheme> <key>`, or the whole
    value of another header (ModelArts' `X-Auth-Token: <token>`)."""

    def __init__(self, keyring: Callable[[], Keyring], kind: Kind, header: str = "authorization") -> None:
        self._keyring = keyring
        self._kind = kind
        self._header = header.lower()

    def authenticate(self, request: RequestFacts) -> Principal:
        value = request.headers.get(self._header, "").strip()
        presented = value.partition(" ")[2].strip() if self._header == "authorization" else value
        if not presented:
            raise MissingCredentials("Request is missing Authentication Token")
        principal = self._keyring().bearer(self._kind, presented)
        if principal is None:
            raise UnknownCredential("The API key or token included in the request is invalid.")
        return principal
