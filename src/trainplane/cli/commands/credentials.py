"""`trainplane credentials add|list|remove --file F`: manage the server's credentials file.

Works on the file directly (the server only reads it; `kill -HUP` makes a running server reload it).
A new secret is printed once, as one JSON object, and never again: `list` shows no secrets.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from trainplane.cli import render, shared_options
from trainplane.cli.arguments import UsageError
from trainplane.credentials import file as credentials_file
from trainplane.credentials import issuing
from trainplane.credentials.records import (
    ACCOUNT_ID_PATTERN,
    PROJECT_ID_PATTERN,
    TENANT_PATTERN,
    TENANT_RULE,
    CredentialsError,
    Kind,
)
from trainplane.domain import errors

FILE_ENV = "TRAINPLANE_CREDENTIALS_FILE"  # the same variable `serve` reads


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "credentials",
        help="manage tenants' keys in a credentials file",
        description="Add, list and remove the keys `trainplane serve --credentials-file` accepts.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="create a key for a tenant and print its secret once")
    _file_option(add)
    add.add_argument("--tenant", required=True, help="the tenant the key acts for (created if new)")
    add.add_argument("--kind", required=True, choices=[kind.value for kind in Kind], help="the key's kind")
    add.add_argument("--account-id", help="the tenant's 12-digit AWS account id (in ARNs); default: random")
    add.add_argument("--project-id", help="the tenant's ModelArts project id (needed for modelarts kinds)")
    add.set_defaults(handler=run_add)
    listing = actions.add_parser("list", help="list tenants' keys (never their secrets)")
    _file_option(listing)
    shared_options.add_output_option(listing, default="table")
    listing.set_defaults(handler=run_list)
    remove = actions.add_parser("remove", help="remove a key (a running server forgets it on SIGHUP)")
    _file_option(remove)
    remove.add_argument("--key-id", required=True, help="the key id `list` shows")
    remove.set_defaults(handler=run_remove)


def _file_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--file",
        type=Path,
        default=os.environ.get(FILE_ENV) or None,
        metavar="FILE",
        help=shared_options.env_help("the credentials file", FILE_ENV),
    )


def _path(args: argparse.Namespace) -> Path:
    if args.file is None:
        raise UsageError(f"the following arguments are required: --file (or {FILE_ENV})")
    return Path(args.file)


def run_add(args: argparse.Namespace, transport: httpx.BaseTransport | None) -> int:
    """Raises: UsageError for malformed options; errors.Invalid when the file refuses the key."""
    _check_identities(args)
    path = _path(args)
    with _file_errors(), credentials_file.changing(path):
        issued = issuing.issue(
            credentials_file.load_or_empty(path),
            args.tenant,
            Kind(args.kind),
            account_id=args.account_id,
            project_id=args.project_id,
        )
        credentials_file.save(path, issued.credentials)
    sys.stdout.write(json.dumps(issued.shown) + "\n")
    sys.stdout.flush()
    print(
        f"Keep the secret now: it is shown only this once. A running server loads it on SIGHUP "
        f"(kill -HUP <pid>); the key id is {issued.credential.key_id}.",
        file=sys.stderr,
    )
    return 0


def _check_identities(args: argparse.Namespace) -> None:
    if TENANT_PATTERN.fullmatch(args.tenant) is None:
        raise UsageError(f"--tenant {args.tenant[:64]!r}: {TENANT_RULE}")
    if args.account_id is not None and ACCOUNT_ID_PATTERN.fullmatch(args.account_id) is None:
        raise UsageError(f"--account-id {args.account_id[:64]!r}: must be 12 digits")
    if args.project_id is not None and PROJECT_ID_PATTERN.fullmatch(args.project_id) is None:
        raise UsageError(f"--project-id {args.project_id[:64]!r}: 1 to 64 letters, digits, '_' or '-'")


def run_list(args: argparse.Namespace, transport: httpx.BaseTransport | None) -> int:
    path = _path(args)
    with _file_errors():
        loaded = credentials_file.load_or_empty(path)
    rows = [
        {
            "tenant": c.tenant,
            "kind": c.kind.value,
            "key_id": c.key_id,
            "aws_account_id": loaded.tenants[c.tenant].aws_account_id,
            "project_id": loaded.tenants[c.tenant].modelarts_project_id,
            "created_at": c.created_at,
        }
        for c in loaded.credentials
    ]
    if shared_options.output_format(args) == "json":
        render.print_json({"Credentials": rows})
        return 0
    table = Table()
    for column in ("Tenant", "Kind", "Key id", "AWS account", "Project", "Created"):
        table.add_column(column, no_wrap=column in ("Key id", "AWS account"))
    for row in rows:
        table.add_row(*(str(value) if value is not None else "-" for value in row.values()))
    Console().print(table)
    return 0


def run_remove(args: argparse.Namespace, transport: httpx.BaseTransport | None) -> int:
    path = _path(args)
    with _file_errors(), credentials_file.changing(path):
        credentials_file.save(path, credentials_file.load(path).without(args.key_id))
    print(f"removed {args.key_id}; a running server forgets it on SIGHUP (kill -HUP <pid>)", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _file_errors() -> Iterator[None]:
    """A refused change or an unusable file is an error of the command (exit 1), in one line."""
    try:
        yield
    except CredentialsError as exc:
        raise errors.Invalid("", str(exc)) from exc
