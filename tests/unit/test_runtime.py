"""trainplane.runtime as training code uses it, in real processes with real signals."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

from trainplane import runtime


@contextmanager
def _python(script: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    with subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        try:
            yield process
        finally:
            process.kill()


_readers: weakref.WeakKeyDictionary[subprocess.Popen[str], queue.Queue[str | None]] = (
    weakref.WeakKeyDictionary()
)


def _read_line(process: subprocess.Popen[str], timeout_seconds: float = 10.0) -> str:
    """The next stdout line, or fail after the deadline (never block the suite on a hung child).

    A thread drains the pipe into a queue: select() on a buffered text pipe can miss lines that
    are already buffered.
    """
    lines = _readers.get(process)
    if lines is None:
        lines = _readers[process] = queue.Queue()
        assert process.stdout is not None
        threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    try:
        line = lines.get(timeout=timeout_seconds)
    except queue.Empty:
        raise AssertionError(f"no output within {timeout_seconds} s") from None
    assert line is not None, "the process closed its output"
    return line


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def test_sigterm_sets_the_stop_event_and_the_job_can_still_save_and_exit_0(tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    script = f"""
        from trainplane import runtime
        runtime.install()
        runtime.install()  # idempotent
        print("ready", flush=True)
        is_stopped = runtime.wait_for_stop(30)
        open({str(saved)!r}, "w").write(str(runtime.stop_requested()))
        print("stopped" if is_stopped else "timed out", flush=True)
    """
    with _python(script) as process:
        assert _read_line(process) == "ready"
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert _read_line(process) == "stopped"
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    assert saved.read_text() == "True"


def test_a_busy_training_loop_sees_the_stop_between_batches() -> None:
    script = """
        from trainplane import runtime
        runtime.stop_requested()  # the first call installs the handler: only then is it safe to signal
        print("ready", flush=True)
        batches = 0
        while not runtime.stop_requested():
            batches += 1
        print(f"stopped after {batches} batches", flush=True)
    """
    with _python(script) as process:
        assert _read_line(process) == "ready"
        process.send_signal(signal.SIGTERM)
        assert _read_line(process).startswith("stopped after")
        assert process.wait(timeout=10) == 0


def test_wait_for_stop_times_out_false_and_wakes_other_threads() -> None:
    script = """
        import threading
        from trainplane import runtime
        runtime.install()
        print(runtime.wait_for_stop(0.05), runtime.stop_requested(), flush=True)
        results = []
        waiter = threading.Thread(target=lambda: results.append(runtime.wait_for_stop(30)))
        waiter.start()
        print("ready", flush=True)
        waiter.join()
        print("thread saw", results[0], flush=True)
    """
    with _python(script) as process:
        assert _read_line(process) == "False False"
        assert _read_line(process) == "ready"
        process.send_signal(signal.SIGTERM)
        assert _read_line(process) == "thread saw True"
        assert process.wait(timeout=10) == 0


def test_a_forked_worker_still_dies_on_sigterm() -> None:
    """multiprocessing's Pool.terminate() SIGTERMs its workers: they must not inherit the stop handler."""
    script = """
        import os, signal, time
        from trainplane import runtime
        runtime.install()
        child = os.fork()
        if child == 0:
            time.sleep(30)
            os._exit(3)
        os.kill(child, signal.SIGTERM)
        _, status = os.waitpid(child, 0)
        print(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM, flush=True)
    """
    with _python(script) as process:
        assert _read_line(process) == "True"
        assert process.wait(timeout=10) == 0


def test_install_from_another_thread_is_refused_clearly() -> None:
    script = """
        import threading
        from trainplane import runtime
        errors = []
        def worker():
            try:
                runtime.install()
            except RuntimeError as exc:
                errors.append(str(exc))
        thread = threading.Thread(target=worker)
        thread.start(); thread.join()
        print(errors[0], flush=True)
    """
    with _python(script) as process:
        assert "main thread" in _read_line(process)


def test_checkpoint_complete_writes_the_marker_and_wakes_the_supervisor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listener_script = """
        import signal, sys
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
        print("listening", flush=True)
        signal.sigwait([signal.SIGUSR1])
        sys.exit(42)
    """
    with _python(listener_script) as listener:
        assert _read_line(listener) == "listening"
        monkeypatch.setenv(runtime.CONTROL_DIR_ENV, str(tmp_path))
        monkeypatch.setenv(runtime.SUPERVISOR_PID_ENV, str(listener.pid))
        before = time.time()

        runtime.checkpoint_complete()

        assert listener.wait(timeout=10) == 42
    marker = json.loads((tmp_path / runtime.CHECKPOINT_COMPLETE_FILE).read_text())
    assert before <= marker["at"] <= time.time()
    assert sorted(p.name for p in tmp_path.iterdir()) == [runtime.CHECKPOINT_COMPLETE_FILE]


def test_checkpoint_complete_outside_trainplane_does_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(runtime.CONTROL_DIR_ENV, raising=False)
    monkeypatch.delenv(runtime.SUPERVISOR_PID_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    runtime.checkpoint_complete()
    assert list(tmp_path.iterdir()) == []


def test_checkpoint_complete_refuses_a_pid_that_would_signal_a_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(runtime.CONTROL_DIR_ENV, str(tmp_path))
    for bad in ("0", "-1", "abc"):
        monkeypatch.setenv(runtime.SUPERVISOR_PID_ENV, bad)
        with pytest.raises(RuntimeError, match=runtime.SUPERVISOR_PID_ENV):
            runtime.checkpoint_complete()


def test_checkpoint_complete_tolerates_a_supervisor_that_is_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _python("pass") as gone:
        gone.wait(timeout=10)
    monkeypatch.setenv(runtime.CONTROL_DIR_ENV, str(tmp_path))
    monkeypatch.setenv(runtime.SUPERVISOR_PID_ENV, str(gone.pid))
    runtime.checkpoint_complete()
    assert (tmp_path / runtime.CHECKPOINT_COMPLETE_FILE).is_file()


def test_paths_and_hyperparameters_come_from_the_sm_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SM_MODEL_DIR", "/job/model")
    monkeypatch.setenv("SM_CHECKPOINT_DIR", "/job/checkpoints")
    monkeypatch.setenv("SM_OUTPUT_DATA_DIR", "/job/output/data")
    monkeypatch.setenv("SM_CHANNEL_TRAIN", "/job/input/data/train")
    monkeypatch.setenv("SM_HPS", '{"epochs":10,"lr":0.1,"name":"mlp","flag":true,"nested":{"a":1}}')
    assert runtime.model_dir() == Path("/job/model")
    assert runtime.checkpoint_dir() == Path("/job/checkpoints")
    assert runtime.output_data_dir() == Path("/job/output/data")
    assert runtime.channel_dir("train") == Path("/job/input/data/train")
    assert runtime.hyperparameters() == {
        "epochs": "10",
        "lr": "0.1",
        "name": "mlp",
        "flag": "true",
        "nested": '{"a":1}',
    }


def test_a_missing_variable_is_a_key_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SM_CHANNEL_TEST", raising=False)
    with pytest.raises(KeyError) as caught:
        runtime.channel_dir("test")
    assert isinstance(caught.value, runtime.MissingEnvironment)
    assert "SM_CHANNEL_TEST is not set" in str(caught.value)


def test_write_failure_lands_in_output_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SM_OUTPUT_DIR", str(tmp_path / "output"))
    runtime.write_failure("epochs must be positive")
    assert (tmp_path / "output" / "failure").read_text() == "epochs must be positive"


def test_runtime_imports_nothing_but_the_standard_library() -> None:
    script = """
        import sys
        before = set(sys.modules)
        import trainplane.runtime
        loaded = {name.split(".")[0] for name in set(sys.modules) - before}
        print(sorted(loaded - set(sys.stdlib_module_names) - {"trainplane"}))
        # trainplane.protocol holds the handshake names and imports nothing itself.
        others = [
            n for n in sys.modules
            if n.startswith("trainplane.") and ".runtime" not in n and n != "trainplane.protocol"
        ]
        print(sorted(others))
    """
    with _python(script) as process:
        assert _read_line(process) == "[]"
        assert _read_line(process) == "[]"
