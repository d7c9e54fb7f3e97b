"""What the credentials file holds: tenants with their identities, and credentials naming a tenant.

HMAC kinds (`aws`, `modelarts-aksk`) keep the secret itself: the server must recompute signatures
with it. Bearer kinds (`modelarts-token`, `baseten`) keep only a SHA-256 digest of a high-entropy
secret: the server only compares what a client presents.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

FORMAT_VERSION = 1
TENANT_PATTERN = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}")
ACCOUNT_ID_PATTERN = re.compile(r"[0-9]{12}")
PROJECT_ID_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,64}")
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9]{8,128}")
SHA256_HEX_PATTERN = re.compile(r"[0-9a-f]{64}")


class CredentialsError(ValueError):
    """The credentials file or a change to it is not usable; the message says why."""


class Kind(enum.StrEnum):
    AWS = "aws"  # SigV4 access key id + secret access key (SageMaker)
    MODELARTS_AKSK = "modelarts-aksk"  # SDK-HMAC-SHA256 AK/SK (ModelArts)
    MODELARTS_TOKEN = "modelarts-token"  # X-Auth-Token (ModelArts)
    BASETEN = "baseten"  # Authorization: Api-Key / Bearer (Baseten)

    @property
    def is_hmac(self) -> bool:
        """Whether the server needs the secret itself (to recompute signatures)."""
        return self in (Kind.AWS, Kind.MODELARTS_AKSK)


@dataclass(frozen=True)
class Tenant:
    """A tenant and its identity in each dialect (None: not set yet)."""

    name: str
    aws_account_id: str | None = None  # in SageMaker ARNs
    modelarts_project_id: str | None = None  # the project in ModelArts URLs


@dataclass(frozen=True)
class Credential:
    """One key. `secret` for HMAC kinds, `secret_sha256` (hex) for bearer kinds; never both."""

    tenant: str
    kind: Kind
    key_id: str  # access key id, AK, or the public prefix of a token / API key
    created_at: str
    secret: str | None = None
    secret_sha256: str | None = None


@dataclass(frozen=True)
class CredentialSet:
    """The whole file, as one immutable value."""

    tenants: Mapping[str, Tenant] = field(default_factory=dict)
    credentials: Sequence[Credential] = ()

    def find(self, key_id: str) -> Credential | None:
        return next((c for c in self.credentials if c.key_id == key_id), None)

    def with_credential(self, credential: Credential, tenant: Tenant) -> CredentialSet:
        """A copy holding `credential` and the tenant's (possibly updated) identities.

        Raises:
            CredentialsError: the key id is taken, or an identity belongs to another tenant.
        """
        if self.find(credential.key_id) is not None:
            raise CredentialsError(f"key id {credential.key_id} is already in the file")
        _check_identities_unique(self.tenants, tenant)
        tenants = {**self.tenants, tenant.name: tenant}
        return replace(self, tenants=tenants, credentials=(*self.credentials, credential))

    def without(self, key_id: str) -> CredentialSet:
        """Raises: CredentialsError: no such key id."""
        if self.find(key_id) is None:
            raise CredentialsError(f"no credential with key id {key_id!r}")
        return replace(self, credentials=tuple(c for c in self.credentials if c.key_id != key_id))

    def to_document(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "tenants": {
                name: _without_none(
                    {
                        "aws_account_id": tenant.aws_account_id,
                        "modelarts_project_id": tenant.modelarts_project_id,
                    }
                )
                for name, tenant in sorted(self.tenants.items())
            },
            "credentials": [
                _without_none(
                    {
                        "tenant": c.tenant,
                        "kind": c.kind.value,
                        "key_id": c.key_id,
                        "created_at": c.created_at,
                        "secret": c.secret,
                        "secret_sha256": c.secret_sha256,
                    }
                )
                for c in self.credentials
            ],
        }


def _without_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def _check_identities_unique(tenants: Mapping[str, Tenant], tenant: Tenant) -> None:
    # Two tenants with one account id would share ARNs; with one project, share ModelArts URLs.
    for other in tenants.values():
        if other.name == tenant.name:
            continue
        if tenant.aws_account_id is not None and other.aws_account_id == tenant.aws_account_id:
            raise CredentialsError(f"AWS account id {tenant.aws_account_id} belongs to tenant {other.name}")
        if (
            tenant.modelarts_project_id is not None
            and other.modelarts_project_id == tenant.modelarts_project_id
        ):
            raise CredentialsError(
                f"ModelArts project id {tenant.modelarts_project_id} belongs to tenant {other.name}"
            )


def from_document(document: Any) -> CredentialSet:
    """Parse and check the JSON document. Raises: CredentialsError naming what is wrong."""
    if not isinstance(document, dict) or document.get("version") != FORMAT_VERSION:
        raise CredentialsError(
            f'not a credentials file (expected a JSON object with "version": {FORMAT_VERSION})'
        )
    raw_tenants = document.get("tenants", {})
    raw_credentials = document.get("credentials", [])
    if not isinstance(raw_tenants, dict) or not isinstance(raw_credentials, list):
        raise CredentialsError('"tenants" must be an object and "credentials" a list')
    tenants: dict[str, Tenant] = {}
    for name, identities in raw_tenants.items():
        tenant = _tenant(name, identities)
        _check_identities_unique(tenants, tenant)
        tenants[name] = tenant
    result = CredentialSet(tenants=tenants)
    credentials = [_credential(index, entry, tenants) for index, entry in enumerate(raw_credentials)]
    key_ids = [c.key_id for c in credentials]
    duplicates = sorted({k for k in key_ids if key_ids.count(k) > 1})
    if duplicates:
        raise CredentialsError(f"key id {duplicates[0]} appears more than once")
    return replace(result, credentials=tuple(credentials))


def _tenant(name: Any, identities: Any) -> Tenant:
    if not isinstance(name, str) or TENANT_PATTERN.fullmatch(name) is None:
        raise CredentialsError(f"tenant {str(name)[:64]!r}: {TENANT_RULE}")
    if not isinstance(identities, dict):
        raise CredentialsError(f"tenant {name}: must be an object")
    account = _optional(identities, "aws_account_id", ACCOUNT_ID_PATTERN, f"tenant {name}")
    project = _optional(identities, "modelarts_project_id", PROJECT_ID_PATTERN, f"tenant {name}")
    return Tenant(name, account, project)


def _optional(values: Mapping[str, Any], key: str, pattern: re.Pattern[str], where: str) -> str | None:
    value = values.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise CredentialsError(f"{where}: {key} {str(value)[:64]!r} is malformed")
    return value


def _credential(index: int, entry: Any, tenants: Mapping[str, Tenant]) -> Credential:
    where = f"credential {index}"
    if not isinstance(entry, dict):
        raise CredentialsError(f"{where}: must be an object")
    try:
        kind = Kind(str(entry.get("kind")))
    except ValueError:
        raise CredentialsError(f"{where}: kind must be one of {', '.join(k.value for k in Kind)}") from None
    tenant, key_id, created_at = entry.get("tenant"), entry.get("key_id"), entry.get("created_at", "")
    if tenant not in tenants:
        raise CredentialsError(f'{where}: tenant {str(tenant)[:64]!r} is not in "tenants"')
    if not isinstance(key_id, str) or KEY_ID_PATTERN.fullmatch(key_id) is None:
        raise CredentialsError(f"{where}: key_id is malformed")
    secret, digest = entry.get("secret"), entry.get("secret_sha256")
    if kind.is_hmac and not (isinstance(secret, str) and secret and digest is None):
        raise CredentialsError(f"{where} ({key_id}): a {kind.value} credential needs its secret")
    if not kind.is_hmac and not (
        isinstance(digest, str) and SHA256_HEX_PATTERN.fullmatch(digest) and secret is None
    ):
        raise CredentialsError(f"{where} ({key_id}): a {kind.value} credential needs secret_sha256 only")
    return Credential(str(tenant), kind, key_id, str(created_at), secret, digest)


TENANT_RULE = "a tenant is 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or digit"
