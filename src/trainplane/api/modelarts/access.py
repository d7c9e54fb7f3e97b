"""Who a ModelArts request acts for, and whether it may use the project its URL names.

With a credentials file: `Authorization: SDK-HMAC-SHA256 ...` (AK/SK, `modelarts-aksk` keys) or
`X-Auth-Token: <token>` (`modelarts-token` keys), and the URL's project must be the credential's
(`ModelArts.0210`). Without one (the emulator): any credentials, or none, act for the default tenant
in any project. A server that checks credentials some other way (the deprecated `--auth-tokens`) has
no ModelArts credentials, so it refuses every ModelArts request.
"""

from __future__ import annotations

from collections.abc import Callable

from trainplane.api.auth.keyring import Keyring
from trainplane.api.auth.port import DEFAULT_TENANT, MissingCredentials, Principal, RequestFacts
from trainplane.api.auth.schemes import BearerKeys
from trainplane.api.auth.sdk_hmac import ALGORITHM, SdkHmacVerifier
from trainplane.api.modelarts import errors as wire_errors
from trainplane.credentials.records import Kind

TOKEN_HEADER = "x-auth-token"


class ModelArtsAccess:
    """`keyring`: the credentials file's keys; None with `is_emulator`: any credentials are accepted."""

    def __init__(self, keyring: Callable[[], Keyring] | None, *, is_emulator: bool) -> None:
        self._keyring = keyring
        self._is_emulator = is_emulator and keyring is None
        self._emulated = Principal(DEFAULT_TENANT)
        self._aksk = SdkHmacVerifier(keyring) if keyring is not None else None
        self._tokens = BearerKeys(keyring, Kind.MODELARTS_TOKEN, header=TOKEN_HEADER) if keyring else None

    def authenticate(self, request: RequestFacts, project_id: str) -> Principal:
        """Raises: the port's Unauthorized subclasses; wire_errors.ProjectMismatch / NoProject."""
        if self._is_emulator:
            return self._emulated
        principal = self._verified(request)
        if principal.modelarts_project_id is None:
            raise wire_errors.NoProject(
                f"The credential's tenant {principal.tenant!r} has no ModelArts project: "
                "add its keys with `trainplane credentials add --project-id P`."
            )
        if principal.modelarts_project_id != project_id:
            raise wire_errors.ProjectMismatch(
                "The project_id in the URL does not match the project of the token or AK/SK."
            )
        return principal

    def _verified(self, request: RequestFacts) -> Principal:
        if self._aksk is None or self._tokens is None:
            raise MissingCredentials(
                "This server has no ModelArts credentials: start it with --credentials-file holding "
                "modelarts-aksk or modelarts-token keys."
            )
        if request.headers.get("authorization", "").lstrip().startswith(ALGORITHM):
            return self._aksk.authenticate(request)
        if request.headers.get(TOKEN_HEADER):
            return self._tokens.authenticate(request)
        raise MissingCredentials(
            "The request carries no credentials: sign it with AK/SK (SDK-HMAC-SHA256) or send X-Auth-Token."
        )
