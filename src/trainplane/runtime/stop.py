"""The stop event a training job checks: SIGTERM sets it, the training loop saves and exits.

The handler only sets a flag and writes one byte to a self-pipe. It does not call
threading.Event.set(): a handler runs in the main thread between bytecodes, and if that thread is
inside Event.wait() holding the Event's lock, set() would block on the same lock forever. The pipe
stays readable once written, so any number of threads can wait on it without a lock.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from types import FrameType

WAKE_SLICE_SECONDS = 0.05  # the longest a stop can go unseen by wait_for_stop (see there)
_state_lock = threading.Lock()  # guards install() only, never taken by the handler
_is_installed = False
_is_stop_requested = False
_owner_pid = 0
_wake_read_fd = -1
_wake_write_fd = -1


def install() -> None:
    """Install the SIGTERM handler (idempotent; call from the main thread).

    Raises:
        RuntimeError: called from another thread before the handler was installed.
    """
    global _is_installed, _is_stop_requested, _owner_pid, _wake_read_fd, _wake_write_fd
    with _state_lock:
        if _is_installed_here():
            return
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("trainplane.runtime.install() must be called from the main thread")
        _wake_read_fd, _wake_write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        _is_stop_requested = False
        _owner_pid = os.getpid()
        signal.signal(signal.SIGTERM, _on_sigterm)
        if not _is_installed:
            os.register_at_fork(
                before=_block_sigterm, after_in_parent=_unblock_sigterm, after_in_child=_reset_in_child
            )
        _is_installed = True


def stop_requested() -> bool:
    """True once SIGTERM has arrived (installs the handler on first use from the main thread)."""
    _install_if_possible()
    return _is_stop_requested


def wait_for_stop(timeout_seconds: float | None = None) -> bool:
    """Block until a stop is requested or `timeout_seconds` pass; True when a stop was requested.

    A stop that arrives during the wait ends it at once, so this is the way to pace a loop.
    """
    _install_if_possible()
    if not _is_installed_here():
        raise RuntimeError("call trainplane.runtime.install() from the main thread first")
    deadline = None if timeout_seconds is None else time.monotonic() + max(0.0, timeout_seconds)
    while not _is_stop_requested:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            break
        # A signal interrupting select() runs the handler, which makes the pipe readable, and
        # select() is retried (PEP 475): the wait ends right after the handler. But a SIGTERM that
        # lands just before select() is entered (after the loop's check) only runs its Python handler
        # once the interpreter next checks for signals, after select() returns: the wait is cut into
        # slices so such a stop is seen within one slice, never only at the timeout.
        slice_seconds = WAKE_SLICE_SECONDS if remaining is None else min(remaining, WAKE_SLICE_SECONDS)
        select.select([_wake_read_fd], [], [], slice_seconds)
    return _is_stop_requested


def _is_installed_here() -> bool:
    # A forked child inherits the flags but must not share the parent's pipe: it installs anew.
    return _is_installed and _owner_pid == os.getpid()


def _install_if_possible() -> None:
    if not _is_installed_here() and threading.current_thread() is threading.main_thread():
        install()


def _block_sigterm() -> None:
    # CPython drops signals that arrive between fork() and its after-fork cleanup in the child;
    # blocking SIGTERM across fork keeps one pending instead, so the child still dies of it.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


def _unblock_sigterm() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def _reset_in_child() -> None:
    # A forked worker (multiprocessing, a DataLoader) must die on SIGTERM as it would without us:
    # Pool.terminate() relies on it, and the job's stop reaches the whole process group anyway.
    if _is_installed and signal.getsignal(signal.SIGTERM) is _on_sigterm:
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        except ValueError:
            pass  # not the main thread: _on_sigterm's pid check still restores the default
    _unblock_sigterm()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _is_stop_requested
    if os.getpid() != _owner_pid:
        # A child forked without os.fork()'s hooks (from C) inherited this handler; it must
        # still die on SIGTERM, or Pool.terminate() would hang.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    _is_stop_requested = True
    try:
        os.write(_wake_write_fd, b"x")
    except BlockingIOError:
        pass  # the pipe is full of earlier wake-ups: it is readable already
