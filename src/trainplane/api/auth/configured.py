"""How the server authenticates, from its settings: secure by default.

- a credentials file: SigV4 against its `aws` keys (plus the deprecated bearer tokens, if also set);
- bearer tokens only (`--auth-tokens`, deprecated): today's behaviour, with a deprecation notice;
- nothing: any credentials act for one default tenant, which is only allowed on a loopback address,
  unless `--insecure-any-credentials` says it is meant (and a warning says so at start).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from trainplane.api.auth import bearer_tokens
from trainplane.api.auth.keyring import ReloadableKeyring
from trainplane.api.auth.port import DEFAULT_TENANT, Authenticator, RequestFacts
from trainplane.api.auth.schemes import BySchemes
from trainplane.api.auth.sigv4 import SigV4Verifier
from trainplane.api.auth.single_tenant import SingleTenant
from trainplane.credentials.records import CredentialsError
from trainplane.domain import errors

SIGV4_SERVICE = "sagemaker"  # the signing name botocore uses for SageMaker (its service model)
LOGS_TARGET_PREFIX = "Logs_20140328."  # CloudWatch Logs calls, which botocore signs as "logs"
METRICS_PREFIX = (
    "GraniteServiceVersion20100801"  # CloudWatch's target/service, which botocore signs as "monitoring"
)
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"  # STS's query protocol, which botocore signs as "sts"


def signing_service(request: RequestFacts) -> str:
    """The service a request's signature must be scoped to, by its X-Amz-Target, path or form body (STS)."""
    target = request.headers.get("x-amz-target", "")
    if target.startswith(LOGS_TARGET_PREFIX):
        return "logs"
    if target.startswith(METRICS_PREFIX) or request.path.startswith(f"/service/{METRICS_PREFIX}"):
        return "monitoring"  # CloudWatch, in AWS JSON 1.0 or smithy-rpc-v2-cbor
    if not target and request.headers.get("content-type", "").startswith(FORM_CONTENT_TYPE):
        return "sts"  # the query protocol; STS is the one query service served
    return SIGV4_SERVICE


CREDENTIALS_SETTING = "--credentials-file / TRAINPLANE_CREDENTIALS_FILE"
HOST_SETTING = "--host / TRAINPLANE_HOST"
INSECURE_SETTING = "--insecure-any-credentials / TRAINPLANE_INSECURE_ANY_CREDENTIALS"
DEPRECATED_TOKENS = (
    "--auth-tokens is deprecated and will go: put keys in a --credentials-file (trainplane credentials add)"
)


@dataclass(frozen=True)
class Access:
    """The authenticator, the keyring SIGHUP reloads (if any) and what to tell the operator at start."""

    authenticator: Authenticator
    keyring: ReloadableKeyring | None
    notices: tuple[str, ...]
    warnings: tuple[str, ...]


def configure(credentials_file: str, auth_tokens: str, *, is_insecure: bool, host: str) -> Access:
    """Raises: errors.Invalid naming the setting (unusable file, a non-loopback host without credentials)."""
    if credentials_file and is_insecure:
        raise errors.Invalid(INSECURE_SETTING, f"contradicts {CREDENTIALS_SETTING}: give one or the other")
    tokens = bearer_tokens.from_setting(auth_tokens) if auth_tokens else None
    deprecated = (DEPRECATED_TOKENS,) if tokens is not None else ()
    if credentials_file:
        keyring = _open(Path(credentials_file))
        sigv4 = SigV4Verifier(lambda: keyring.current, signing_service)
        schemes: dict[str, Authenticator] = {"AWS4-HMAC-SHA256": sigv4}
        if tokens is not None:
            schemes["Bearer"] = tokens
        notice = (
            f"credentials from {credentials_file}: {keyring.current.size} keys, "
            "requests must be signed (kill -HUP reloads the file)"
        )
        return Access(BySchemes(schemes), keyring, (notice,), deprecated)
    if tokens is not None:
        return Access(tokens, None, ("bearer tokens from --auth-tokens",), deprecated)
    return _any_credentials(host, is_insecure)


def _open(path: Path) -> ReloadableKeyring:
    try:
        return ReloadableKeyring.open(path)
    except CredentialsError as exc:
        raise errors.Invalid(CREDENTIALS_SETTING, str(exc)) from exc


def _any_credentials(host: str, is_insecure: bool) -> Access:
    accepted = (
        f"no credentials file: any credentials are accepted, every request acts for tenant {DEFAULT_TENANT!r}"
    )
    if is_insecure:
        warning = f"INSECURE: {accepted}, and anyone who can reach {host} may use this server"
        return Access(SingleTenant(), None, (), (warning,))
    if not is_loopback(host):
        raise errors.Invalid(
            HOST_SETTING,
            f"{host[:80]!r} is not a loopback address, and without {CREDENTIALS_SETTING} anyone reaching it "
            "would act for the one tenant: create keys with `trainplane credentials add` and pass "
            "--credentials-file, or pass --insecure-any-credentials to run an open emulator on purpose",
        )
    return Access(SingleTenant(), None, (f"{accepted} (listening on loopback only)",), ())


def is_loopback(host: str) -> bool:
    """Whether every address `host` names is a loopback one (a name is resolved)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses)
