"""New keys: random identifiers and secrets in each kind's usual shape, and the digest bearer kinds keep.

Bearer secrets (tokens, API keys) are stored as SHA-256 digests: each carries at least 190 random bits,
so no one can search for a preimage, and a plain digest keeps the per-request check to one hash. (A slow
password hash such as scrypt protects low-entropy passwords; here it would only slow every request.)
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import string
from datetime import UTC, datetime
from typing import Any

from trainplane.credentials.records import Credential, CredentialsError, CredentialSet, Kind, Tenant

_UPPER_ALNUM = string.ascii_uppercase + string.digits
_ALNUM = string.ascii_letters + string.digits
_AWS_SECRET_ALPHABET = _ALNUM + "+/"  # AWS secret access keys: 40 characters of base64
_AWS_KEY_ID_ALPHABET = string.ascii_uppercase + "234567"  # base32, as AWS access key ids


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def digest(presented: str) -> str:
    """The hex SHA-256 a bearer credential is stored and compared as."""
    return hashlib.sha256(presented.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class Issued:
    """A new credential, the set holding it, and what to show its owner once."""

    credentials: CredentialSet
    credential: Credential
    shown: dict[str, Any]


def issue(
    current: CredentialSet,
    tenant_name: str,
    kind: Kind,
    *,
    account_id: str | None = None,
    project_id: str | None = None,
) -> Issued:
    """Add a new credential for `tenant_name` (created with the identities given when new).

    Raises:
        CredentialsError: the tenant already has another account or project id, an identity belongs
            to another tenant, or a ModelArts kind has no project id.
    """
    tenant = _tenant_with(current.tenants.get(tenant_name) or Tenant(tenant_name), account_id, project_id)
    if kind is Kind.AWS and tenant.aws_account_id is None:
        tenant = dataclasses.replace(tenant, aws_account_id=_free_account_id(current))
    if kind in (Kind.MODELARTS_AKSK, Kind.MODELARTS_TOKEN) and tenant.modelarts_project_id is None:
        raise CredentialsError(f"tenant {tenant_name} has no ModelArts project id yet: give --project-id")
    key_id, secret, shown = _new_secret(kind)
    created_at = datetime.now(UTC).isoformat(timespec="seconds")
    credential = Credential(
        tenant=tenant_name,
        kind=kind,
        key_id=key_id,
        created_at=created_at,
        secret=secret if kind.is_hmac else None,
        secret_sha256=None if kind.is_hmac else digest(secret),
    )
    updated = current.with_credential(credential, tenant)
    identities = {"aws_account_id": tenant.aws_account_id, "project_id": tenant.modelarts_project_id}
    shown = {"tenant": tenant_name, "kind": kind.value, **shown}
    shown.update({k: v for k, v in identities.items() if v is not None})
    return Issued(updated, credential, shown)


def _tenant_with(tenant: Tenant, account_id: str | None, project_id: str | None) -> Tenant:
    if account_id is not None:
        if tenant.aws_account_id not in (None, account_id):
            raise CredentialsError(
                f"tenant {tenant.name} has AWS account id {tenant.aws_account_id}; a tenant has one"
            )
        tenant = dataclasses.replace(tenant, aws_account_id=account_id)
    if project_id is not None:
        if tenant.modelarts_project_id not in (None, project_id):
            raise CredentialsError(
                f"tenant {tenant.name} has ModelArts project id {tenant.modelarts_project_id}; "
                "a tenant has one"
            )
        tenant = dataclasses.replace(tenant, modelarts_project_id=project_id)
    return tenant


def _free_account_id(current: CredentialSet) -> str:
    taken = {t.aws_account_id for t in current.tenants.values()}
    while True:
        candidate = _random(string.digits, 12)
        if candidate not in taken:
            return candidate


def _new_secret(kind: Kind) -> tuple[str, str, dict[str, Any]]:
    """(key id, secret as presented or signed with, what to print)."""
    if kind is Kind.AWS:
        key_id, secret = "TPAK" + _random(_AWS_KEY_ID_ALPHABET, 16), _random(_AWS_SECRET_ALPHABET, 40)
        return key_id, secret, {"access_key_id": key_id, "secret_access_key": secret}
    if kind is Kind.MODELARTS_AKSK:
        key_id, secret = _random(_UPPER_ALNUM, 20), _random(_ALNUM, 40)
        return key_id, secret, {"ak": key_id, "sk": secret}
    if kind is Kind.MODELARTS_TOKEN:
        key_id = "TPT" + _random(_UPPER_ALNUM, 13)
        token = f"{key_id}.{_random(_ALNUM, 43)}"
        return key_id, token, {"token": token}
    key_id = _random(_ALNUM, 8)  # Baseten API keys look like `<8 characters>.<32 characters>`
    api_key = f"{key_id}.{_random(_ALNUM, 32)}"
    return key_id, api_key, {"api_key": api_key}


def key_id_of_bearer(presented: str) -> str:
    """The public part of a token or API key (before the first '.'); '' when it has none."""
    key_id, dot, _ = presented.partition(".")
    return key_id if dot else ""
