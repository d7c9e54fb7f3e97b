"""The Authenticator port and the Principal it yields; the composition root picks the implementation.

A dialect calls `authenticate` once per request, off the event loop (an implementation may read a key
store), and hands only `principal.tenant` to the service. Another tenant's job is "not found".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

DEFAULT_TENANT = "default"


@dataclass(frozen=True)
class Principal:
    """Who is asking: the tenant whose jobs the request may see and change."""

    tenant: str


@dataclass(frozen=True)
class RequestFacts:
    """What an authenticator may look at. Header names are lower case."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


class Authenticator(Protocol):
    def authenticate(self, request: RequestFacts) -> Principal:
        """The principal `request` acts for. Raises: errors.Unauthorized."""
        ...
