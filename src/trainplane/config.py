"""One Settings object for the server; every field has an environment variable TRAINPLANE_<FIELD>."""

from __future__ import annotations

import dataclasses
import grp
import json
import math
import os
import pwd
import re
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainplane.domain import errors
from trainplane.domain import images as image_map
from trainplane.domain import instance_types as instance_table
from trainplane.domain.job import DEFAULT_GRACE_SECONDS
from trainplane.domain.names import DEFAULT_ACCOUNT, DEFAULT_REGION

ENV_PREFIX = "TRAINPLANE_"
MAX_GRACE_SECONDS = 28 * 24 * 3600  # the bound service.jobs puts on the grace tag
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
EXECUTORS = ("local", "slurm", "ray")


def builtin_images() -> dict[str, dict[str, Any]]:
    """`trainplane/python` runs ContainerEntrypoint + ContainerArguments with this server's Python."""
    bin_dir = str(Path(sys.executable).parent)
    return {
        image_map.BUILTIN_PYTHON_IMAGE: {
            "command": [],
            "environment": {
                "TRAINPLANE_PYTHON_BIN": bin_dir,
                "PATH": f"{bin_dir}:{os.environ.get('PATH', os.defpath)}",
            },
        },
        # Compilation jobs run the compiler runner with this server's Python (its apache-tvm, treelite).
        "trainplane/compiler": {"command": [sys.executable, "-m", "trainplane.compilation.runner"]},
        f"{image_map.BUILTIN_PYTHON_IMAGE}:*": {
            "command": [],
            "environment": {
                "TRAINPLANE_PYTHON_BIN": bin_dir,
                "PATH": f"{bin_dir}:{os.environ.get('PATH', os.defpath)}",
            },
        },
    }


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"  # anything but loopback needs a credentials file (server.check)
    port: int = 8080
    data_dir: Path = Path("tp-data")
    stop_grace_seconds: float = DEFAULT_GRACE_SECONDS
    images: str = ""  # JSON object or @path: {pattern: {"command": [...], "environment": {...}}}
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT
    database_url: str = ""  # empty: SQLite in data_dir
    max_active_jobs: int = 1000  # per tenant; 0 for no limit (each local job is a few processes)
    log_level: str = "info"
    auth_tokens: str = ""  # deprecated: JSON or @path {"<bearer token>": "<tenant>"}; see credentials_file
    credentials_file: str = ""  # `trainplane credentials` file; empty: one tenant, any credentials
    insecure_any_credentials: bool = False  # no credentials file on a non-loopback address, on purpose
    reconcile_interval_seconds: float = 5.0  # full sweep period; events wake it sooner
    allowed_roots: tuple[Path, ...] = ()  # besides data_dir: where output/checkpoint/channel paths may lie
    run_as_user: str = ""  # name or uid jobs run as; empty: the server's own user
    run_as_group: str = ""  # name or gid; empty: the run-as user's primary group
    allow_root_jobs: bool = False  # a root server without run_as_user refuses to start unless this is set
    replica_id: str = ""  # its name among replicas on one database; empty: <host>-<random>, kept in data_dir
    replica_lease_seconds: float = 30.0  # a replica silent this long loses the jobs others may take over
    database_pre_ping: bool = False  # ping each pooled PostgreSQL connection before use (a round trip each)
    executor: str = "local"  # the executor of jobs without the trainplane:executor tag
    slurm_partition: str = ""  # any slurm_* setting (or executor=slurm) enables the Slurm executor
    slurm_account: str = ""
    slurm_sbatch_options: tuple[str, ...] = ()  # extra sbatch options (env var: shell words)
    slurm_shared_dir: str = ""  # Slurm jobs' run dirs, shared with the nodes; empty: <data dir>/runs
    ray_address: str = ""  # Ray's Job Submission API (http://head:8265); empty: no Ray executor
    ray_shared_dir: str = ""  # Ray jobs' run dirs, at the same path on Ray's workers; empty: <data_dir>/runs
    s3_endpoint_url: str = ""  # an S3-compatible store for s3:// locations (credentials: the AWS chain)
    usage_interval_seconds: float = 10.0  # how often each local supervisor samples its job's usage; 0: never
    queue: bool = True  # local jobs wait for the host's CPUs, memory and GPUs (docs/resources.md)
    instance_types: str = ""  # JSON or @path: {"local.gpu1": {"vcpus": 4, "memory_gib": 16, "gpus": 1}}
    gpus: str = ""  # GPU ids local jobs share, e.g. "0,1" ("none": no GPUs); empty: NVML's, if any
    reserve_cpus: float = 0.0  # kept from local jobs for the control plane (with the queue)
    reserve_memory_mib: int = 1024  # likewise
    queue_reserve_after_seconds: float = 300.0  # a job waiting this long is overtaken no more
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Supervisors and jobs run in their own directories: a relative data dir would name nothing there.
        object.__setattr__(self, "data_dir", self.data_dir.absolute())

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "trainplane.db"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path.resolve()}"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def ray_runs_dir(self) -> Path:
        return Path(self.ray_shared_dir).absolute() if self.ray_shared_dir else self.runs_dir

    @property
    def is_slurm_enabled(self) -> bool:
        slurm = (self.slurm_partition, self.slurm_account, self.slurm_sbatch_options, self.slurm_shared_dir)
        return self.executor == "slurm" or any(slurm)

    @property
    def slurm_runs_dir(self) -> Path:
        return Path(self.slurm_shared_dir) if self.slurm_shared_dir else self.runs_dir

    @property
    def location_roots(self) -> tuple[Path, ...]:
        """Where request locations may lie: the data dir (outside its own files) and the listed roots."""
        return (self.data_dir.absolute(), *self.allowed_roots)

    @property
    def protected_paths(self) -> tuple[Path, ...]:
        """The server's own files, never a location a request may name."""
        # SQLite opens <db>-journal too (a directory there makes the database unreadable at the next start).
        names = ("trainplane.db", "trainplane.db-wal", "trainplane.db-shm", "trainplane.db-journal", "runs")
        extra = ("notify.sock", "server.json", "server.lock", "store-id.json", ".store-id.json.tmp")
        replica = ("replica-id", ".replica-id.tmp")  # server.replica_id()
        own = tuple(self.data_dir.absolute() / name for name in (*names, *extra, *replica))
        shared = tuple(Path(d) for d in (self.slurm_shared_dir, self.ray_shared_dir) if d)
        return (*own, *shared)

    def run_as(self) -> RunAs | None:
        """Who jobs run as; None: the server's own user.

        Raises:
            errors.Invalid: no such user or group.
        """
        if not self.run_as_user and not self.run_as_group:
            return None
        user = _user(self.run_as_user) if self.run_as_user else pwd.getpwuid(os.getuid())
        gid = _group(self.run_as_group) if self.run_as_group else user.pw_gid
        return RunAs(user=user.pw_name, uid=user.pw_uid, gid=gid, home=user.pw_dir)

    def defined_instance_types(self) -> dict[str, instance_table.InstanceResources]:
        """The operator's instance types. Raises: errors.Invalid: not the documented JSON."""
        text = self.instance_types
        if text.startswith("@"):
            text = Path(text[1:]).read_text()
        if not text:
            return {}
        try:
            doc = json.loads(text)
            if not isinstance(doc, dict):
                raise ValueError("must be a JSON object")
            return instance_table.parse_defined(doc)
        except ValueError as exc:  # JSONDecodeError included
            raise errors.Invalid(setting_name("instance_types"), str(exc)) from None

    def declared_gpus(self) -> tuple[str, ...] | None:
        """The declared GPU ids; None: ask NVML. Raises: errors.Invalid: not a list of ids."""
        text = self.gpus.strip()
        if not text:
            return None
        if text == "none":
            return ()
        ids = tuple(part.strip() for part in text.split(","))
        if not all(re.fullmatch(r"[A-Za-z0-9-]{1,64}", gpu) for gpu in ids) or len(set(ids)) != len(ids):
            raise errors.Invalid(setting_name("gpus"), f"{text[:80]!r}: distinct device ids like 0,1")
        return ids

    def image_rules(self) -> list[image_map.ImageRule]:
        """Built-in images plus the configured map; configured patterns override built-ins.

        Raises:
            errors.Invalid: the configured map is not valid JSON of the documented shape.
        """
        mapping: dict[str, Any] = builtin_images()
        text = self.images
        if text.startswith("@"):
            text = Path(text[1:]).read_text()
        if text:
            try:
                configured = json.loads(text)
            except json.JSONDecodeError as exc:
                raise errors.Invalid(image_map.IMAGES_SETTING, f"not valid JSON: {exc}") from exc
            if not isinstance(configured, dict):
                raise errors.Invalid(image_map.IMAGES_SETTING, "must be a JSON object")
            mapping.update(configured)
        return image_map.parse_rules(mapping)


@dataclass(frozen=True)
class RunAs:
    """The user and group jobs run as (resolved once, at start)."""

    user: str
    uid: int
    gid: int
    home: str


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def setting_name(field_name: str) -> str:
    """How errors name a setting: its option and its environment variable."""
    return f"--{field_name.replace('_', '-')} / {env_name(field_name)}"


def validate(settings: Settings) -> None:
    """Check every setting once, at start, so a bad one never reaches a job.

    Raises:
        errors.Invalid: the first unusable setting, named by option and environment variable.
    """
    _check(
        settings.host, bool(settings.host.strip()), "host", "must name an interface (0.0.0.0: all of them)"
    )
    _check(settings.port, 0 <= settings.port <= 65535, "port", "must be a TCP port from 0 to 65535")
    _check(
        settings.region, re.fullmatch(r"[a-z0-9-]+", settings.region) is not None, "region", "like us-east-1"
    )
    _check(settings.account, re.fullmatch(r"[0-9]{12}", settings.account) is not None, "account", "12 digits")
    _check_seconds(settings.stop_grace_seconds, "stop_grace_seconds", 0, MAX_GRACE_SECONDS)
    _check_seconds(settings.reconcile_interval_seconds, "reconcile_interval_seconds", 0.01, 3600)
    _check(settings.max_active_jobs, settings.max_active_jobs >= 0, "max_active_jobs", "must be 0 or more")
    _check(
        settings.replica_id,
        re.fullmatch(r"[A-Za-z0-9._:@-]{0,200}", settings.replica_id) is not None,
        "replica_id",
        "letters, digits and ._:@- (at most 200)",
    )
    _check_seconds(settings.replica_lease_seconds, "replica_lease_seconds", 1, 3600)
    _check(settings.log_level, settings.log_level.lower() in LOG_LEVELS, "log_level", "|".join(LOG_LEVELS))
    for root in settings.allowed_roots:
        _check(
            root, root.is_absolute() and root.is_dir(), "allowed_roots", "must name existing absolute dirs"
        )
        _check(root, Path(os.path.realpath(root)) != Path("/"), "allowed_roots", "must not be /")
    _check(settings.executor, settings.executor in EXECUTORS, "executor", "|".join(EXECUTORS))
    shared = Path(settings.slurm_shared_dir)
    if settings.slurm_shared_dir:
        _check(
            shared,
            shared.is_absolute() and shared.is_dir(),
            "slurm_shared_dir",
            "must be an existing absolute dir",
        )
    _check_resources(settings)
    try:
        settings.image_rules()
        run_as = settings.run_as()
    except OSError as exc:
        raise errors.Invalid(setting_name("images"), f"cannot read the image map: {exc}") from exc
    _check_run_as(settings, run_as)


def _check_resources(settings: Settings) -> None:
    if settings.usage_interval_seconds != 0:
        _check_seconds(settings.usage_interval_seconds, "usage_interval_seconds", 0.1, 3600)
    _check_seconds(settings.reserve_cpus, "reserve_cpus", 0, 1 << 16)
    _check(settings.reserve_memory_mib, settings.reserve_memory_mib >= 0, "reserve_memory_mib", "0 or more")
    _check_seconds(settings.queue_reserve_after_seconds, "queue_reserve_after_seconds", 0, 365 * 24 * 3600)
    settings.declared_gpus()
    try:
        settings.defined_instance_types()
    except OSError as exc:
        raise errors.Invalid(setting_name("instance_types"), f"cannot read: {exc}") from exc


def _check_run_as(settings: Settings, run_as: RunAs | None) -> None:
    uid = os.getuid()
    if run_as is not None and run_as.uid != uid and uid != 0:
        raise errors.Invalid(
            setting_name("run_as_user"), "only a server running as root can run jobs as another user"
        )
    job_uid = uid if run_as is None else run_as.uid
    if job_uid == 0 and not settings.allow_root_jobs:
        raise errors.Invalid(
            setting_name("run_as_user"),
            "jobs would run as root: set a run-as user, or --allow-root-jobs (TRAINPLANE_ALLOW_ROOT_JOBS)",
        )


def _check(value: object, is_valid: bool, field_name: str, rule: str) -> None:
    if not is_valid:
        raise errors.Invalid(setting_name(field_name), f"{str(value)[:80]!r}: {rule}")


def _check_seconds(value: float, field_name: str, low: float, high: float) -> None:
    _check(
        value,
        math.isfinite(value) and low <= value <= high,
        field_name,
        f"must be seconds from {low} to {high}",
    )


def _user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except KeyError:
        raise errors.Invalid(setting_name("run_as_user"), f"no such user {name[:64]!r}") from None


def _group(name: str) -> int:
    try:
        return grp.getgrgid(int(name)).gr_gid if name.isdigit() else grp.getgrnam(name).gr_gid
    except KeyError:
        raise errors.Invalid(setting_name("run_as_group"), f"no such group {name[:64]!r}") from None


def from_env(environ: Mapping[str, str], **overrides: Any) -> Settings:
    """Settings from TRAINPLANE_* variables, then explicit overrides (e.g. CLI options) on top.

    Raises:
        errors.Invalid: a variable does not parse as its setting's type.
    """
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        raw = environ.get(env_name(f.name))
        if raw is None or f.name == "extra":
            continue
        try:
            values[f.name] = coerce(str(f.type), raw)
        except ValueError as exc:
            raise errors.Invalid(env_name(f.name), f"{raw[:80]!r}: {exc}") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)


def coerce(kind: str, raw: str) -> Any:
    """`raw` as a value of the setting type `kind` (also the CLI's option parser).

    Raises:
        ValueError: `raw` is not a value of that type.
    """
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "Path":
        return Path(raw)
    if kind == "bool":
        return _boolean(raw)
    if kind.startswith("tuple[str"):
        return tuple(shlex.split(raw))
    if kind.startswith("tuple[Path"):
        parts = [part.strip() for part in raw.replace(",", os.pathsep).split(os.pathsep)]
        return tuple(Path(part) for part in parts if part)
    return raw


def _boolean(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")
