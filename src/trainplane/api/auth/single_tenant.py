"""The default: no credentials are checked and every request acts for one tenant.

Safe only because the server binds to loopback unless told otherwise (config.Settings.host).
"""

from __future__ import annotations

from trainplane.api.auth.port import DEFAULT_TENANT, Principal, RequestFacts


class SingleTenant:
    def __init__(self, tenant: str = DEFAULT_TENANT) -> None:
        self._principal = Principal(tenant)

    def authenticate(self, request: RequestFacts) -> Principal:
        return self._principal
