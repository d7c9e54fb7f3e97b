"""Static shared secrets: `Authorization: Bearer <token>`, each token naming one tenant.

Configured as JSON `{"<token>": "<tenant>", ...}` (or `@path` to such a file). A request without a
known token is refused. SigV4-signed requests (boto3's default) carry no bearer token: a boto3 user adds
the header in a `before-send` event hook. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from pathlib import Path

from trainplane.api.auth.port import Principal, RequestFacts
from trainplane.domain import errors

SCHEME = "bearer"
SETTING = "TRAINPLANE_AUTH_TOKENS"


class BearerTokens:
    def __init__(self, tenants_by_token: Mapping[str, str]) -> None:
        if not tenants_by_token:
            raise errors.Invalid(SETTING, "names no token")
        self._tokens = [(token.encode(), Principal(tenant)) for token, tenant in tenants_by_token.items()]

    def authenticate(self, request: RequestFacts) -> Principal:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != SCHEME or not presented.strip():
            raise errors.Unauthorized("The request carries no bearer token.")
        found = None
        candidate = presented.strip().encode()
        for token, principal in self._tokens:  # every entry compared: the time says nothing
            if hmac.compare_digest(token, candidate):
                found = principal
        if found is None:
            raise errors.Unauthorized("The bearer token included in the request is invalid.")
        return found


def from_setting(text: str) -> BearerTokens:
    """Parse the setting's JSON (or `@path`). Raises: errors.Invalid."""
    if text.startswith("@"):
        text = Path(text[1:]).read_text()
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise errors.Invalid(SETTING, f"not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) and v for k, v in parsed.items()
    ):
        raise errors.Invalid(SETTING, 'must be a JSON object {"<token>": "<tenant>"}')
    return BearerTokens(parsed)
