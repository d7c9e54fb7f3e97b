"""The credentials the server checks requests against, reloadable while it serves (SIGHUP).

A `Keyring` is an immutable index of one credentials file; `ReloadableKeyring` swaps in a new one
atomically, and keeps the old one when the file is broken, so a typo never locks everyone out.
"""

from __future__ import annotations

import hmac
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from trainplane.api.auth.port import Principal
from trainplane.credentials import file as credentials_file
from trainplane.credentials import issuing
from trainplane.credentials.records import CredentialsError, CredentialSet, Kind

log = logging.getLogger("trainplane.api.auth")


@dataclass(frozen=True)
class HmacKey:
    secret: str
    principal: Principal


class Keyring:
    """One credentials file, indexed by key id per kind."""

    def __init__(self, credentials: CredentialSet) -> None:
        self._hmac: dict[tuple[Kind, str], HmacKey] = {}
        self._bearer: dict[tuple[Kind, str], tuple[bytes, Principal]] = {}
        for credential in credentials.credentials:
            tenant = credentials.tenants[credential.tenant]
            principal = Principal(tenant.name, tenant.aws_account_id, tenant.modelarts_project_id)
            key = (credential.kind, credential.key_id)
            if credential.secret is not None:
                self._hmac[key] = HmacKey(credential.secret, principal)
            elif credential.secret_sha256 is not None:
                self._bearer[key] = (credential.secret_sha256.encode(), principal)
        self.size = len(self._hmac) + len(self._bearer)

    def hmac_key(self, kind: Kind, key_id: str) -> HmacKey | None:
        """The secret of an access key (a dict lookup on the public key id, not on the secret)."""
        return self._hmac.get((kind, key_id))

    def bearer(self, kind: Kind, presented: str) -> Principal | None:
        """The principal of a presented token or API key; its digest is compared in constant time."""
        entry = self._bearer.get((kind, issuing.key_id_of_bearer(presented)))
        if entry is None:
            return None
        stored, principal = entry
        return principal if hmac.compare_digest(stored, issuing.digest(presented).encode()) else None


class ReloadableKeyring:
    """The current Keyring of a credentials file; `reload()` re-reads it (SIGHUP)."""

    def __init__(self, path: Path, initial: CredentialSet) -> None:
        self.path = path
        self._current = Keyring(initial)
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: Path) -> ReloadableKeyring:
        """Raises: CredentialsError (unreadable, open to others, malformed)."""
        return cls(path, credentials_file.load(path))

    @property
    def current(self) -> Keyring:
        return self._current  # one reference read: a request sees the old or the new file, whole

    def reload(self) -> bool:
        """Re-read the file; on any problem keep the credentials in force and log why."""
        with self._lock:
            try:
                loaded = credentials_file.load(self.path)
            except CredentialsError as exc:
                log.error("event=credentials_reload_failed path=%s reason=%s kept=old", self.path, exc)
                return False
            self._current = Keyring(loaded)
            log.info("event=credentials_reloaded path=%s credentials=%d", self.path, self._current.size)
            return True
