"""Composition root: Settings -> store, executor, artifacts, service, reconciler, ASGI app; and `serve`.

The only module that names concrete adapters.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import uvicorn

from trainplane.api.app import Application, create_app
from trainplane.api.auth import bearer_tokens
from trainplane.artifacts.local import LocalArtifacts
from trainplane.config import Settings
from trainplane.executors.local.launcher import LocalExecutor
from trainplane.service.jobs import JobService, ServiceSettings
from trainplane.service.reconciler import Reconciler
from trainplane.store.sql_store import SqlStore

log = logging.getLogger("trainplane.server")
LISTEN_BACKLOG = 2048


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

    def close(self) -> None:
        """Stop supervising; the jobs themselves keep running."""
        self.reconciler.stop()
        self.app.workers.close()
        self.store.close()


def build(settings: Settings) -> ControlPlane:
    """Wire the adapters; nothing runs until `reconciler.recover()` and `start()`."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.runs_dir.mkdir(parents=True, exist_ok=True)
    store = SqlStore.open(settings.resolved_database_url)
    clock = SystemClock()
    artifacts = LocalArtifacts(settings.runs_dir)
    executor = LocalExecutor(settings.runs_dir, notify_socket_path=settings.data_dir / "notify.sock")
    executors = {executor.name: executor}
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
            default_executor=executor.name,
        ),
        executors,
    )
    reconciler = Reconciler(
        store,
        service,
        executors,
        artifacts,
        clock,
        sweep_interval_seconds=settings.reconcile_interval_seconds,
    )
    service.set_on_change(reconciler.wake)
    authenticator = bearer_tokens.from_setting(settings.auth_tokens) if settings.auth_tokens else None
    return ControlPlane(store, executor, service, reconciler, create_app(service, authenticator))


def _bind(settings: Settings) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    # Listen before announcing the URL, so a client that reads it is queued, not refused.
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


def serve(settings: Settings) -> None:
    """Run the server in the foreground until SIGINT/SIGTERM; a second signal exits at once.

    Jobs never receive the server's signals and keep running after it exits.
    """
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    plane = build(settings)
    plane.reconciler.recover()  # reattach every running job before accepting new work
    plane.reconciler.start()
    sock = _bind(settings)
    host, port = sock.getsockname()[:2]
    url = f"http://{host}:{port}" if ":" not in host else f"http://[{host}]:{port}"
    (settings.data_dir / "server.json").write_text(json.dumps({"url": url, "pid": os.getpid()}))
    print(f"trainplane listening on {url} (data dir {settings.data_dir.resolve()})", flush=True)
    config = uvicorn.Config(
        plane.app,
        log_level="warning" if settings.log_level == "info" else settings.log_level,
        access_log=False,
        timeout_graceful_shutdown=10,
        http="httptools",
        loop="uvloop",
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        plane.close()
        log.info("event=server_stopped jobs_left_running=true")
