"""The options every command that talks to a server takes (endpoint, output format), with env vars."""

from __future__ import annotations

import argparse
import os

import httpx

from trainplane.cli import signing
from trainplane.cli.arguments import UsageError
from trainplane.client import Client

ENDPOINT_ENV = "TRAINPLANE_ENDPOINT_URL"
OUTPUT_ENV = "TRAINPLANE_OUTPUT"
DEFAULT_ENDPOINT_URL = "http://127.0.0.1:8080"
OUTPUT_FORMATS = ("json", "table")


def env_help(text: str, env: str, default: object = None) -> str:
    """Help text that names the option's env var (and default), as STYLE section 7 asks."""
    suffix = f"env {env}" + ("" if default is None else f"; default {default}")
    return f"{text} [{suffix}]".replace("%", "%%")


def add_endpoint_option(parser: argparse.ArgumentParser) -> None:
    """The server's URL and the keys to sign with (`signing.keys_from`)."""
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT_URL,
        metavar="URL",
        help=env_help("the trainplane server", ENDPOINT_ENV, DEFAULT_ENDPOINT_URL),
    )
    signing.add_options(parser)


def add_output_option(parser: argparse.ArgumentParser, *, default: str) -> None:
    parser.add_argument(
        "--output",
        choices=OUTPUT_FORMATS,
        default=None,
        help=env_help("output format", OUTPUT_ENV, default),
    )
    parser.set_defaults(default_output=default)


def output_format(args: argparse.Namespace) -> str:
    """--output, else TRAINPLANE_OUTPUT, else the command's own default.

    Raises:
        UsageError: TRAINPLANE_OUTPUT names an unknown format (argparse only checks the option).
    """
    chosen = args.output or os.environ.get(OUTPUT_ENV) or args.default_output
    if chosen not in OUTPUT_FORMATS:
        raise UsageError(f"{OUTPUT_ENV}={chosen!r}: choose from {', '.join(OUTPUT_FORMATS)}")
    return str(chosen)


def open_client(args: argparse.Namespace, transport: httpx.BaseTransport | None) -> Client:
    """Raises: UsageError: half a key pair, or an unknown profile."""
    return Client(args.endpoint_url, region=args.region, keys=signing.keys_from(args), transport=transport)
