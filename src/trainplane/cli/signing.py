"""Which keys the CLI signs with: `--access-key-id`/`--secret-access-key`, else what the aws CLI would
use (AWS_* variables, `--profile`/AWS_PROFILE, ~/.aws files), else none (an open local server).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import botocore.exceptions
import botocore.session

from trainplane.cli.arguments import UsageError
from trainplane.client import SigningKeys

DEFAULT_REGION = "us-east-1"
# Providers that would reach the network (instance metadata, containers): a CLI talking to a local
# server must not stall for seconds when no key is configured.
NETWORK_PROVIDERS = ("container-role", "iam-role")


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--access-key-id",
        default=None,
        help="key id to sign with [env AWS_ACCESS_KEY_ID; default: the aws CLI's configuration]",
    )
    parser.add_argument(
        "--secret-access-key",
        default=None,
        help="secret to sign with [env AWS_SECRET_ACCESS_KEY]",
    )
    parser.add_argument("--profile", default=None, help="aws CLI profile to take keys from [env AWS_PROFILE]")
    parser.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
        help=f"the signature's region [env AWS_REGION, AWS_DEFAULT_REGION; default {DEFAULT_REGION}]",
    )


def keys_from(args: argparse.Namespace) -> SigningKeys | None:
    """Raises: UsageError: only one of the pair given, or an unknown profile."""
    key_id, secret = args.access_key_id, args.secret_access_key
    if key_id or secret:
        if not (key_id and secret):
            raise UsageError("--access-key-id and --secret-access-key go together")
        return SigningKeys(key_id, secret)
    try:
        session: Any = botocore.session.Session(profile=args.profile)
        resolver = session.get_component("credential_provider")
        for name in NETWORK_PROVIDERS:
            resolver.remove(name)
        found = resolver.load_credentials()
    except botocore.exceptions.ProfileNotFound as exc:
        raise UsageError(str(exc)) from None
    if found is None:
        return None
    frozen = found.get_frozen_credentials()
    return SigningKeys(frozen.access_key, frozen.secret_key, frozen.token)
