"""The Authenticator port and the Principal it yields; the composition root picks the implementation.

A dialect calls `authenticate` once per request, off the event loop (an implementation may read a key
store), and hands the principal's tenant to the service. Another tenant's job is "not found".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from trainplane.domain import errors

DEFAULT_TENANT = "default"


@dataclass(frozen=True)
class Principal:
    """Who is asking: the tenant whose jobs the request may see and change, and its identities."""

    tenant: str
    aws_account_id: str | None = None  # in the ARNs of the tenant's jobs (None: the server's account)
    modelarts_project_id: str | None = None  # the project a ModelArts URL must name


@dataclass(frozen=True)
class RequestFacts:
    """What an authenticator may look at. Header names are lower case; `path` and `query` as sent."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    query: str = ""

    @classmethod
    def from_scope(cls, scope: Mapping[str, Any], headers: Mapping[str, str], body: bytes) -> RequestFacts:
        """From an ASGI scope: the path and query exactly as the client sent them (signatures cover them)."""
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else scope["path"]
        return cls(scope["method"], path, headers, body, scope.get("query_string", b"").decode("latin-1"))


class Authenticator(Protocol):
    def authenticate(self, request: RequestFacts) -> Principal:
        """The principal `request` acts for. Raises: errors.Unauthorized."""
        ...


# The ways a request fails to authenticate; each dialect words them (SageMaker: errors.py).
class MissingCredentials(errors.Unauthorized):
    """The request carries no credentials at all."""


class UnknownCredential(errors.Unauthorized):
    """The key, token or API key is not one the server knows."""


class MalformedSignature(errors.Unauthorized):
    """The signature header is incomplete or unparsable."""


class BadSignature(errors.Unauthorized):
    """The signature does not verify with the key's secret, or is stale."""
