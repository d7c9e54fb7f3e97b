"""Who a Baseten request acts for: `Authorization: Api-Key K` or `Bearer K` (truss sends both, the SDK
only Bearer), a `baseten` key from the credentials file; without one, the one default tenant."""

from __future__ import annotations

from trainplane.api.auth.keyring import ReloadableKeyring
from trainplane.api.auth.port import Authenticator
from trainplane.api.auth.schemes import BearerKeys, BySchemes
from trainplane.api.auth.single_tenant import SingleTenant
from trainplane.credentials.records import Kind

SCHEMES = ("Api-Key", "Bearer")


def authenticator(keyring: ReloadableKeyring | None) -> Authenticator:
    """Keys from `keyring`; None (emulator mode): every request is the default tenant's, any key."""
    if keyring is None:
        return SingleTenant()
    keys = BearerKeys(lambda: keyring.current, Kind.BASETEN)
    return BySchemes({scheme: keys for scheme in SCHEMES})
