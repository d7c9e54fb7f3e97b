"""Composition root: Settings -> store, executor, artifacts, service, reconciler, ASGI app; and `serve`.

The only module that names concrete adapters.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import resource
import shutil
import signal
import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType

import uvicorn
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import url as sa_url

from trainplane.api.app import Application, create_app
from trainplane.api.auth import bearer_tokens, configured
from trainplane.artifacts.local import LocalArtifacts
from trainplane.artifacts.s3 import ENDPOINT_ENV as S3_ENDPOINT_ENV
from trainplane.config import Settings, setting_name
from trainplane.data_dir import DataDirInUse, DataDirLock, StoreMarker, StoreMismatch, quick_check
from trainplane.domain import errors
from trainplane.executors.local import host
from trainplane.executors.local.launcher import LocalExecutor
from trainplane.executors.ray.executor import RayExecutor
from trainplane.executors.slurm.batch import SlurmSettings
from trainplane.executors.slurm.executor import SlurmExecutor
from trainplane.executors.supervisor import limits
from trainplane.service.capacity import HostCapacity, ResourceSettings
from trainplane.service.claims import LEASE_RENEWALS, ReplicaSettings
from trainplane.service.groups import GroupService
from trainplane.service.jobs import JobService, ServiceSettings
from trainplane.service.models import ModelService
from trainplane.service.ports import Executor
from trainplane.service.reconciler import Reconciler
from trainplane.store.models_store import SqlModelStore
from trainplane.store.sql_store import SqlStore

log = logging.getLogger("trainplane.server")
LISTEN_BACKLOG = 2048
M_ARENA_MAX = -8  # glibc's mallopt parameter number
MALLOC_ARENAS = 2
__all__ = ["ControlPlane", "DataDirInUse", "StoreMismatch", "build", "check", "serve"]
SUPPORTED_DATABASES = ("sqlite", "postgresql")
OPEN_FILES_WANTED = 65_536  # when the hard limit is unlimited
REPLICA_ID_FILE = "replica-id"


def check(settings: Settings) -> None:
    """What only the composition root can check before the data dir is touched.

    Raises:
        errors.Invalid: the authenticator's tokens or the database URL are unusable.
    """
    if settings.auth_tokens:
        try:
            bearer_tokens.from_setting(settings.auth_tokens)
        except OSError as exc:
            raise errors.Invalid(setting_name("auth_tokens"), f"cannot read the tokens: {exc}") from exc
        except errors.Invalid as exc:
            raise errors.Invalid(setting_name("auth_tokens"), exc.reason) from exc
    _access(settings)
    if settings.is_slurm_enabled and shutil.which("sbatch") is None:
        raise errors.Invalid(
            setting_name("executor"), "Slurm is configured but sbatch is not on PATH (see scripts/slurm-up)"
        )
    if settings.executor not in configured_executors(settings):
        known = ", ".join(configured_executors(settings))
        raise errors.Invalid(
            setting_name("executor"),
            f"{settings.executor!r} is not configured here ({known}; ray needs --ray-address)",
        )
    if settings.database_url:
        try:
            backend = sa_url.make_url(settings.database_url).get_backend_name()
        except sa_exc.ArgumentError as exc:
            raise errors.Invalid(setting_name("database_url"), "is not a database URL") from exc
        if backend not in SUPPORTED_DATABASES:
            raise errors.Invalid(
                setting_name("database_url"),
                f"{backend!r} is not supported ({', '.join(SUPPORTED_DATABASES)})",
            )


def configured_executors(settings: Settings) -> tuple[str, ...]:
    slurm = ("slurm",) if settings.is_slurm_enabled else ()
    return ("local", *slurm, *(("ray",) if settings.ray_address else ()))


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class ControlPlane:
    store: SqlStore
    executor: LocalExecutor
    service: JobService
    reconciler: Reconciler
    app: Application
    access: configured.Access

    def close(self) -> None:
        """Stop supervising; the jobs themselves keep running."""
        self.reconciler.stop()
        self.app.workers.close()
        self.store.close()


def build(settings: Settings) -> ControlPlane:
    """Wire the adapters; nothing runs until `reconciler.recover()` and `start()`."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.runs_dir.mkdir(parents=True, exist_ok=True)
    store = SqlStore.open(settings.resolved_database_url, is_pre_ping=settings.database_pre_ping)
    clock = SystemClock()
    if settings.s3_endpoint_url:
        # The standard variable, so the supervisors this server starts (they inherit its environment)
        # reach the same store through the usual AWS chain.
        os.environ[S3_ENDPOINT_ENV] = settings.s3_endpoint_url
    artifacts = LocalArtifacts(
        settings.runs_dir,
        allowed_roots=settings.location_roots,
        protected=settings.protected_paths,
        is_s3_enabled=bool(settings.s3_endpoint_url),
    )
    run_as = settings.run_as()
    job_user = (
        None
        if run_as is None
        else {"uid": run_as.uid, "gid": run_as.gid, "user": run_as.user, "home": run_as.home}
    )
    executor = LocalExecutor(
        settings.runs_dir,
        notify_socket_path=settings.data_dir / "notify.sock",
        run_as=job_user,
        usage_interval_seconds=settings.usage_interval_seconds,
    )
    executors: dict[str, Executor] = {executor.name: executor}
    if settings.is_slurm_enabled:
        slurm = SlurmSettings(
            settings.slurm_partition,
            settings.slurm_account,
            settings.slurm_sbatch_options,
            own_instance_types=settings.defined_instance_types(),
        )
        executors["slurm"] = SlurmExecutor(
            settings.slurm_runs_dir,
            slurm,
            notify_socket_path=settings.data_dir / "notify.sock",
            run_as=job_user,
        )
    if settings.ray_address:
        executors["ray"] = RayExecutor(
            settings.ray_runs_dir,
            settings.ray_address,
            notify_socket_path=settings.data_dir / "notify.sock",
            run_as=job_user,
        )
    resources = resource_settings(settings)
    service = JobService(
        store,
        artifacts,
        clock,
        ServiceSettings(
            default_grace_seconds=settings.stop_grace_seconds,
            image_rules=settings.image_rules(),
            region=settings.region,
            account=settings.account,
            max_active_jobs=settings.max_active_jobs,
            default_executor=settings.executor,
            resources=resources,
        ),
        executors,
    )
    replica = ReplicaSettings(
        replica_id=replica_id(settings),
        host=socket.gethostname(),
        lease_seconds=settings.replica_lease_seconds,
        host_bound_executors=frozenset({executor.name}),  # its jobs run on this host
        poll_interval_seconds=_claims_poll_seconds(settings),
    )
    reconciler = Reconciler(
        store,
        service,
        executors,
        artifacts,
        clock,
        sweep_interval_seconds=settings.reconcile_interval_seconds,
        replica=replica,
        resources=resources,
    )
    service.set_on_change(reconciler.wake)
    service.set_is_driven_here(reconciler.owns)
    access = _access(settings)
    models = ModelService(
        SqlModelStore(store.engine),
        service,
        artifacts,
        clock,
        region=settings.region,
        account=settings.account,
    )
    groups = GroupService(store.groups, service, clock)
    app = create_app(
        service,
        access.authenticator,
        groups=groups,
        keyring=access.keyring,
        models=models,
        data_dir=settings.data_dir,
    )
    return ControlPlane(store, executor, service, reconciler, app, access)


def resource_settings(settings: Settings) -> ResourceSettings:
    """The host's capacity for local jobs (issue 10); says at start what the kernel cannot enforce."""
    found = host.detect(settings.declared_gpus())
    support = limits.probe()
    log.log(
        logging.WARNING if support.cpu is None or support.memory is None else logging.INFO,
        "event=resource_limits %s gpus=%s(%s) queue=%s",
        support.describe(),
        ",".join(found.gpu_ids) or "none",
        found.gpu_source,
        settings.queue,
    )
    capacity = HostCapacity(
        cpus=max(found.cpus - settings.reserve_cpus, 0.0),
        memory_mib=max(found.memory_mib - settings.reserve_memory_mib, 0),
        gpu_ids=found.gpu_ids,
        gpu_source=found.gpu_source if settings.queue else "none",
    )
    return ResourceSettings(
        host=capacity,
        instance_types=settings.defined_instance_types(),
        is_queue_enabled=settings.queue,
        reserve_after_seconds=settings.queue_reserve_after_seconds,
    )


def _claims_poll_seconds(settings: Settings) -> float | None:
    """None (the lease's pace, at most a second) on PostgreSQL, where other replicas persist stops for
    us; on SQLite, which no server on another host can share, the sweep's pace is enough and keeps an
    idle control plane with many jobs cheap (one query per second over every active job otherwise)."""
    if settings.resolved_database_url.startswith("postgresql"):
        return None
    lease_pace = settings.replica_lease_seconds / (LEASE_RENEWALS + 1)
    return min(settings.reconcile_interval_seconds, lease_pace)


def _access(settings: Settings) -> configured.Access:
    """Raises: errors.Invalid (an unusable credentials file, a non-loopback host without one)."""
    return configured.configure(
        settings.credentials_file,
        settings.auth_tokens,
        is_insecure=settings.insecure_any_credentials,
        host=settings.host,
    )


@contextlib.contextmanager
def _reloading_on_sighup(access: configured.Access) -> Iterator[None]:
    """SIGHUP re-reads the credentials file; the handler only sets an Event, a thread does the work."""
    requested = threading.Event()
    is_done = False

    def reload_when_asked() -> None:
        while requested.wait() and not is_done:
            requested.clear()
            if access.keyring is None:
                log.warning("event=sighup_ignored reason=no_credentials_file")
            else:
                access.keyring.reload()

    thread = threading.Thread(target=reload_when_asked, name="credentials-reload", daemon=True)
    thread.start()
    previous = signal.signal(signal.SIGHUP, lambda sig, frame: requested.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGHUP, previous)
        is_done = True
        requested.set()


def replica_id(settings: Settings) -> str:
    """The configured replica id, or the one this data dir was given at its first start.

    Kept in the data dir because the local jobs' run dirs are there: a server restarted on this data
    dir is the same replica and drives its jobs again, even if the host was renamed.
    """
    if settings.replica_id:
        return settings.replica_id
    path = settings.data_dir / REPLICA_ID_FILE
    with contextlib.suppress(FileNotFoundError):
        kept = path.read_text().strip()
        if kept:
            return kept
    chosen = f"{socket.gethostname()[:160]}-{uuid.uuid4().hex[:8]}"
    temporary = path.with_name(f".{REPLICA_ID_FILE}.tmp")
    temporary.write_text(chosen + "\n")
    os.replace(temporary, path)
    return chosen


def _bind(settings: Settings) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    # Listen before announcing the URL, so a client that reads it is queued, not refused.
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server without its re-raise of the signal after shutdown (which ended us by SIGTERM
    before the control plane closed); the first SIGINT/SIGTERM shuts down cleanly, a second exits at once.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit:
            log.warning("event=server_forced_exit signal=%d", sig)
            os._exit(1)
        log.info("event=server_stopping signal=%d", sig)
        self.should_exit = True


def serve(settings: Settings) -> None:
    """Run the server in the foreground until SIGINT/SIGTERM; a second signal exits at once.

    Jobs never receive the server's signals and keep running after it exits.

    Raises:
        DataDirInUse: another server holds the data dir.
        StoreMismatch: the database is damaged, or not the one the data dir held.
    """
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    lock = DataDirLock(settings.data_dir)  # before anything touches the socket or the database
    _raise_open_files_limit()
    _limit_malloc_arenas()
    try:
        _serve_locked(settings)
    finally:
        lock.close()


def _limit_malloc_arenas() -> None:
    """Two glibc malloc arenas instead of eight per core: the request workers, reconciler and watcher
    threads each grew their own (several MB of RSS with many jobs) for no measurable speed here."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return  # the operator chose
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, MALLOC_ARENAS)


def _raise_open_files_limit() -> None:
    """Every supervised job holds a pidfd here: 1,000 jobs pass the usual soft limit of 1,024 files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = hard if hard != resource.RLIM_INFINITY else max(soft, OPEN_FILES_WANTED)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    log.info("event=open_files_limit soft=%d", resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def _announce(access: configured.Access, url: str, settings: Settings) -> None:
    """Say how requests are authenticated (a warning for the insecure or deprecated ways), then where."""
    for notice in access.notices:
        print(f"trainplane: {notice}", flush=True)
    for warning in access.warnings:
        log.warning("event=insecure_or_deprecated_auth message=%r", warning)
        print(f"trainplane: WARNING: {warning}", file=sys.stderr, flush=True)
    print(f"trainplane listening on {url} (data dir {settings.data_dir.resolve()})", flush=True)


def _serve_locked(settings: Settings) -> None:
    if not settings.database_url:
        quick_check(settings.sqlite_path)
    try:
        plane = build(settings)
    except sa_exc.OperationalError as exc:  # no such directory, not a database, locked by another program
        url = sa_url.make_url(settings.resolved_database_url).render_as_string(hide_password=True)
        raise StoreMismatch(f"cannot open the database {url}: {exc.orig}") from None
    marker = StoreMarker(settings.data_dir, plane.store.engine)
    try:
        marker.check()
    except StoreMismatch:
        plane.store.close()
        raise
    marker.start()
    plane.reconciler.recover()  # reattach every running job before accepting new work
    plane.reconciler.start()
    sock = _bind(settings)
    host, port = sock.getsockname()[:2]
    url = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
    (settings.data_dir / "server.json").write_text(json.dumps({"url": url, "pid": os.getpid()}))
    config = uvicorn.Config(
        plane.app,
        log_level="warning" if settings.log_level == "info" else settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=10,
        http="httptools",
        loop="uvloop",
    )
    try:
        with _reloading_on_sighup(plane.access):  # before the URL is out: a SIGHUP never kills us
            _announce(plane.access, url, settings)
            _Server(config).run(sockets=[sock])
    finally:
        marker.stop()
        plane.close()
        (settings.data_dir / "server.json").unlink(missing_ok=True)
        log.info("event=server_stopped jobs_left_running=true")
