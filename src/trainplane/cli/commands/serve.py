"""`trainplane serve`: run the control plane in the foreground. The only command that imports the server."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from trainplane import config
from trainplane.cli import shared_options

_DEFAULTS = config.Settings()


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the trainplane server",
        description="Run the trainplane server in the foreground (Ctrl-C to stop; jobs keep running).",
    )
    _option(parser, "--host", "host", str, "interface to listen on")
    _option(parser, "--port", "port", int, "TCP port to listen on")
    _option(parser, "--data-dir", "data_dir", Path, "where the database and job runs live")
    _option(
        parser,
        "--stop-grace-seconds",
        "stop_grace_seconds",
        float,
        "default seconds between SIGTERM and SIGKILL when a job is stopped",
    )
    _option(
        parser,
        "--images",
        "images",
        str,
        'image map as JSON or @path: {pattern: {"command": [...], "environment": {...}}}',
    )
    _option(
        parser,
        "--max-active-jobs",
        "max_active_jobs",
        int,
        "most jobs not yet finished per tenant; more is ResourceLimitExceeded (0: no limit)",
    )
    _option(parser, "--log-level", "log_level", str, "debug|info|warning|error")
    parser.set_defaults(handler=run)


def _option(parser: argparse.ArgumentParser, flag: str, field: str, kind: type, text: str) -> None:
    # Default None: an unset option leaves the env var (or the Settings default) in charge.
    default = getattr(_DEFAULTS, field)
    parser.add_argument(
        flag,
        dest=field,
        type=kind,
        default=None,
        help=shared_options.env_help(text, config.env_name(field), default if default != "" else None),
    )


def run(args: argparse.Namespace, transport: httpx.BaseTransport | None) -> int:
    """Build Settings from TRAINPLANE_* and the options, then serve until interrupted.

    Raises:
        errors.Invalid: a setting is malformed (config validates it).
    """
    from trainplane import server  # only `serve` pulls in the server stack

    overrides = {
        field: getattr(args, field)
        for field in (
            "host",
            "port",
            "data_dir",
            "stop_grace_seconds",
            "images",
            "max_active_jobs",
            "log_level",
        )
    }
    settings = config.from_env(os.environ, **overrides)
    try:
        server.serve(settings)
    except OSError as exc:  # port taken, data dir unwritable: the operator's to fix, not a bug
        print(f"error: cannot serve on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 1
    return 0
