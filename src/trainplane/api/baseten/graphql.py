"""The one GraphQL query a Baseten client sends to this API: `truss train push` resolves its team with
`query Teams { teams { id name default } }`. A team is a tenant."""

from __future__ import annotations

from typing import Any

from trainplane.api.baseten import schemas
from trainplane.api.baseten.context import Call
from trainplane.domain import errors


def answer(call: Call) -> dict[str, Any]:
    """Raises: errors.Invalid for any other query."""
    doc = schemas.obj(call.json(), "body")
    query = schemas.string(doc, "query", "", required=True) or ""
    if "teams" not in query:
        raise errors.Invalid("query", "only the teams query is answered here")
    return {"data": {"teams": [{"id": call.tenant, "name": call.tenant, "default": True}]}}
