"""A pre-imported fork server for supervisors: a new job's supervisor is a fork, not a fresh interpreter.

Starting `python -m ...supervisor` costs ~100 ms of interpreter start and imports before the job can
run (bench/create_to_running.py). The local executor starts this process once; it imports everything
a supervisor needs, then forks one per request. Each supervisor is double-forked into its own
session: it survives the server and this process, and is found again through its run dir's pid
record exactly like one started by `Popen`. The fork server is a subreaper, so while it runs it reaps
supervisors (and the processes a killed one leaves) at once. It reads requests from a socket pair;
when the control plane goes away (EOF), it exits and the supervisors run on.

Protocol: one JSON line per request `{"run_dir": ..., "flags": [...]}`, one JSON line per answer
`{"pid": N}` or `{"error": "..."}`.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainplane.executors.supervisor import process_tree

_log = logging.getLogger(__name__)
_FD_ARGUMENT = "--fd"
RunFn = Callable[[list[str]], int]


class ForkServerClient:
    """The control plane's end: starts the fork server and asks it for supervisors."""

    def __init__(self, python_executable: str, log_path: Path) -> None:
        self._python = python_executable
        self._log_path = log_path
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self.pid: int | None = None

    def start(self) -> int | None:
        """Start the fork server unless it runs; its pid (ours to reap), or None if it is running."""
        with self._lock:
            if self._sock is not None:
                return None
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                with self._log_path.open("ab") as log:
                    child = subprocess.Popen(
                        [self._python, "-m", __name__, _FD_ARGUMENT, str(theirs.fileno())],
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        pass_fds=(theirs.fileno(),),
                        start_new_session=True,  # never gets the server's signals
                    )
            finally:
                theirs.close()
            child.returncode = 0  # reaped by the launcher's process watcher
            self._sock, self.pid = ours, child.pid
            # An executor dropped without close() still closes its end: the fork server then exits.
            self._finalizer = weakref.finalize(self, ours.close)
            return child.pid

    def spawn(self, run_dir: Path, flags: tuple[str, ...]) -> int:
        """A new detached supervisor for `run_dir`; raises OSError when the fork server cannot."""
        request = json.dumps({"run_dir": str(run_dir), "flags": list(flags)}).encode() + b"\n"
        with self._lock:
            if self._sock is None:
                raise OSError("the fork server is not running")
            try:
                self._sock.sendall(request)
                answer = json.loads(self._read_line(self._sock))
            except (OSError, ValueError) as exc:
                self._close_locked()  # broken: the next launch starts a new one
                raise OSError(f"the fork server failed: {exc}") from exc
        if "pid" not in answer:
            raise OSError(f"the fork server could not start a supervisor: {answer.get('error')}")
        return int(answer["pid"])

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._sock is not None:
            assert self._finalizer is not None
            self._finalizer()  # closes our end; EOF: the fork server exits, its supervisors run on
            self._sock = None

    @staticmethod
    def _read_line(sock: socket.socket) -> bytes:
        line = b""
        while not line.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                raise OSError("the fork server closed the connection")
            line += chunk
        return line


# --- the fork server process ---------------------------------------------------------------------


def serve(sock: socket.socket) -> None:
    """Answer spawn requests until EOF."""
    from trainplane.executors.supervisor import supervisor

    reader = sock.makefile("rb")
    for line in reader:
        try:
            request = json.loads(line)
            pid = _fork_supervisor(sock, supervisor.main, Path(request["run_dir"]), request["flags"])
            answer: dict[str, object] = {"pid": pid}
        except Exception as exc:  # the edge: one bad request must not end the fork server
            _log.exception("event=fork_failed")
            answer = {"error": repr(exc)}
        sock.sendall(json.dumps(answer).encode() + b"\n")


def _fork_supervisor(sock: socket.socket, run: RunFn, run_dir: Path, flags: list[str]) -> int:
    read_fd, write_fd = os.pipe()
    middle = os.fork()
    if middle == 0:  # the middle child: a new session, then the supervisor, then gone at once
        try:
            os.close(read_fd)
            os.setsid()
            grandchild = os.fork()
            if grandchild == 0:
                os.close(write_fd)
                _become_supervisor(sock, run, run_dir, flags)
            os.write(write_fd, str(grandchild).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        text = pipe.read()
    with contextlib.suppress(ChildProcessError):  # _reap_children may have collected it already
        os.waitpid(middle, 0)
    if not text:
        raise OSError("the supervisor could not be forked")
    return int(text)


def _become_supervisor(sock: socket.socket, run: RunFn, run_dir: Path, flags: list[str]) -> None:
    """In the grandchild: look like `python -m ...supervisor <run_dir>` started fresh, then run it."""
    code = 1
    try:
        os.close(sock.detach())  # the control plane's requests are not ours to read
        os.chdir(run_dir)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        log_fd = os.open(run_dir / "supervisor.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(devnull)
        os.close(log_fd)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        process_tree.set_process_name("tp-supervisor")
        sys.argv = ["supervisor", str(run_dir), *flags]
        code = run(sys.argv)
    except BaseException:
        with contextlib.suppress(Exception):
            _log.exception("event=supervisor_fork_failed run_dir=%s", run_dir)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _reap_children(signum: int, frame: object) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main(argv: list[str]) -> int:
    fd = int(argv[argv.index(_FD_ARGUMENT) + 1])
    sock = socket.socket(fileno=fd)
    # A subreaper: supervisors (and the jobs of a lost one) are reparented here and reaped at once, so
    # a killed job leaves no zombie holding its cgroup until PID 1 gets round to it.
    process_tree.become_subreaper()
    signal.signal(signal.SIGCHLD, _reap_children)
    # Everything a supervisor imports, once, here: each fork then starts with it in memory.
    import trainplane.artifacts.environment
    import trainplane.artifacts.staging
    import trainplane.domain.instance_types  # imported by the supervisor only when the job has an allocation
    import trainplane.executors.supervisor.supervisor  # noqa: F401
    from trainplane.executors.supervisor import outcome

    outcome.preload()
    gc.freeze()  # keep the imported objects out of the collector: forks share their pages longer
    serve(sock)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
