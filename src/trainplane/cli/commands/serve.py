"""`trainplane serve`: run the control plane in the foreground. The only command that imports the server."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from typing import Any

import httpx

from trainplane import config
from trainplane.cli import shared_options
from trainplane.cli.arguments import UsageError
from trainplane.domain import errors

_DEFAULTS = config.Settings()


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the trainplane server",
        description="Run the trainplane server in the foreground (Ctrl-C to stop; jobs keep running).",
    )
    _option(parser, "--host", "host", "interface to listen on")
    _option(parser, "--port", "port", "TCP port to listen on")
    _option(parser, "--data-dir", "data_dir", "where the database and job runs live")
    _option(
        parser,
        "--stop-grace-seconds",
        "stop_grace_seconds",
        "default seconds between SIGTERM and SIGKILL when a job is stopped",
    )
    _option(
        parser,
        "--images",
        "images",
        'image map as JSON or @path: {pattern: {"command": [...], "environment": {...}}}',
    )
    _option(
        parser,
        "--max-active-jobs",
        "max_active_jobs",
        "most jobs not yet finished per tenant; more is ResourceLimitExceeded (0: no limit)",
    )
    _option(parser, "--log-level", "log_level", "debug|info|warning|error")
    _option(
        parser,
        "--allowed-roots",
        "allowed_roots",
        "directories (besides the data dir) that output, checkpoint and channel locations may lie in, "
        "separated by ':' or ','",
    )
    _option(parser, "--run-as-user", "run_as_user", "user (name or uid) jobs run as")
    _option(parser, "--run-as-group", "run_as_group", "group (name or gid) jobs run as")
    _option(
        parser,
        "--auth-tokens",
        "auth_tokens",
        'deprecated (use --credentials-file): bearer tokens as JSON or @path: {"<token>": "<tenant>"}',
    )
    _option(
        parser,
        "--credentials-file",
        "credentials_file",
        "tenants and their keys, made with `trainplane credentials add` (mode 0600; SIGHUP reloads it); "
        "unset: one tenant, any credentials, loopback only",
    )
    _option(
        parser, "--database-url", "database_url", "SQLAlchemy URL of the store; unset: SQLite in the data dir"
    )
    _option(
        parser,
        "--replica-id",
        "replica_id",
        "this replica's name among servers on one database; unset: <host>-<random>, kept in the data dir",
    )
    _option(
        parser,
        "--replica-lease-seconds",
        "replica_lease_seconds",
        "how long a replica's claims on jobs outlive its last renewal (several replicas on one database)",
    )
    _option(
        parser,
        "--executor",
        "executor",
        "executor of jobs without the trainplane:executor tag: local|slurm|ray",
    )
    _option(
        parser, "--slurm-partition", "slurm_partition", "Slurm partition (any --slurm-* option enables Slurm)"
    )
    _option(parser, "--slurm-account", "slurm_account", "Slurm account to charge")
    _option(parser, "--slurm-shared-dir", "slurm_shared_dir", "run dirs of Slurm jobs, shared with the nodes")
    _option(
        parser, "--ray-address", "ray_address", "Ray's Job Submission API (http://head:8265): enables ray"
    )
    _option(
        parser, "--ray-shared-dir", "ray_shared_dir", "Ray jobs' run dirs, seen at this path by Ray's workers"
    )
    _option(
        parser,
        "--s3-endpoint-url",
        "s3_endpoint_url",
        "S3-compatible store (MinIO, Ceph RGW, https://s3.<region>.amazonaws.com) for s3:// locations; "
        "credentials from the usual AWS chain",
    )
    _option(
        parser,
        "--usage-interval-seconds",
        "usage_interval_seconds",
        "how often each local job's CPU and memory use is sampled into its run dir (0: never)",
    )
    _option(
        parser,
        "--instance-types",
        "instance_types",
        'your own instance types as JSON or @path: {"local.gpu1": {"vcpus": 4, "memory_gib": 16, "gpus": 1}}',
    )
    _option(parser, "--gpus", "gpus", "GPU ids local jobs share, e.g. 0,1 (none: no GPUs); unset: NVML's")
    _option(parser, "--reserve-cpus", "reserve_cpus", "CPUs kept from local jobs for the control plane")
    _option(parser, "--reserve-memory-mib", "reserve_memory_mib", "memory (MiB) kept from local jobs")
    _option(
        parser,
        "--queue-reserve-after-seconds",
        "queue_reserve_after_seconds",
        "a queued job waiting this long is overtaken by no smaller one",
    )
    _flag(
        parser,
        "--queue",
        "queue",
        "local jobs wait for the host's CPUs, memory and GPUs instead of all starting at once "
        "(the default; docs/resources.md)",
    )
    parser.add_argument(  # --queue and --no-queue: the last one given wins
        "--no-queue",
        dest="queue",
        action="store_const",
        const=False,
        help="every local job starts at once, within its own limits: the host may be oversubscribed "
        f"[env {config.env_name('queue')}=false]",
    )
    parser.add_argument(
        "--slurm-sbatch-option",
        dest="slurm_sbatch_options",
        action="append",
        default=None,
        help=shared_options.env_help(
            "an extra sbatch option, e.g. --slurm-sbatch-option=--qos=high (repeatable)",
            config.env_name("slurm_sbatch_options"),
        ),
    )
    _flag(
        parser,
        "--allow-root-jobs",
        "allow_root_jobs",
        "let jobs run as root (a root server without --run-as-user refuses to start otherwise)",
    )
    _flag(
        parser,
        "--insecure-any-credentials",
        "insecure_any_credentials",
        "without a credentials file, accept any credentials as one tenant even on a non-loopback "
        "--host (an emulator for trusted networks only)",
    )
    parser.set_defaults(handler=run)


def _option(parser: argparse.ArgumentParser, flag: str, field: str, text: str) -> None:
    # Default None: an unset option leaves the env var (or the Settings default) in charge. Values
    # stay strings here and are typed by config.coerce, so a bad one is one line, like a bad env var.
    default = getattr(_DEFAULTS, field)
    parser.add_argument(
        flag,
        dest=field,
        default=None,
        help=shared_options.env_help(
            text, config.env_name(field), default if default not in ("", ()) else None
        ),
    )


def _flag(parser: argparse.ArgumentParser, flag: str, field: str, text: str) -> None:
    # Default None, as for _option: an absent flag leaves the env var (or the Settings default) in charge.
    parser.add_argument(
        flag,
        dest=field,
        action="store_const",
        const=True,
        default=None,
        help=shared_options.env_help(text, config.env_name(field)),
    )


def run(args: argparse.Namespace, transport: httpx.BaseTransport | None) -> int:
    """Build Settings from TRAINPLANE_* and the options, then serve until interrupted.

    Raises:
        errors.Invalid: a setting is malformed (config validates it).
    """
    from trainplane import server  # only `serve` pulls in the server stack

    try:
        settings = config.from_env(os.environ, **_typed_options(args))
        config.validate(settings)
        server.check(settings)
    except errors.Invalid as exc:
        raise UsageError(exc.message) from None

    try:
        server.serve(settings)
    except server.DataDirInUse as exc:
        raise UsageError(str(exc)) from None
    except server.StoreMismatch as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # port taken, data dir unwritable: the operator's to fix, not a bug
        print(f"error: cannot serve on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 1
    return 0


def _typed_options(args: argparse.Namespace) -> dict[str, Any]:
    """Raises: errors.Invalid: an option's value is not of its setting's type."""
    typed: dict[str, Any] = {}
    for setting in dataclasses.fields(config.Settings):
        raw = getattr(args, setting.name, None)
        if raw is None or isinstance(raw, bool):
            typed[setting.name] = raw
            continue
        if isinstance(raw, list):  # a repeatable option
            typed[setting.name] = tuple(raw)
            continue
        try:
            typed[setting.name] = config.coerce(str(setting.type), raw)
        except ValueError as exc:
            raise errors.Invalid(config.setting_name(setting.name), f"{raw[:80]!r}: {exc}") from None
    return typed
