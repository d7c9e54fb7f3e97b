"""A real `trainplane serve` subprocess for end-to-end tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

LISTENING = re.compile(r"trainplane listening on (http://\S+)")
START_TIMEOUT_SECONDS = 30.0
# Tests write outputs under the temp dir, and run their jobs as the test runner's user (root in CI).
SETTINGS_WITH_THE_QUEUE = ("--allowed-roots", tempfile.gettempdir(), "--allow-root-jobs")
# Most run many ml.m5.large jobs at once on a 2-core machine, which the queue (on by default) would
# run one at a time: the placement tests start their servers with the default instead.
TEST_SETTINGS = (*SETTINGS_WITH_THE_QUEUE, "--no-queue")


def serve_command(data_dir: Path, *extra_args: str, settings: tuple[str, ...] = TEST_SETTINGS) -> list[str]:
    """The command line of a test server on port 0 in `data_dir`, with the test settings."""
    return [
        sys.executable,
        "-m",
        "trainplane.cli.main",
        "serve",
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
        *settings,
        *extra_args,
    ]


class ServerProcess:
    """`python -m trainplane.cli.main serve` on port 0 in its own data dir."""

    def __init__(
        self,
        data_dir: Path,
        *extra_args: str,
        env: dict[str, str] | None = None,
        settings: tuple[str, ...] = TEST_SETTINGS,
    ) -> None:
        self.data_dir = data_dir
        self.extra_args = extra_args
        self.settings = settings
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.output: list[str] = []

    def start(self) -> str:
        command = serve_command(self.data_dir, *self.extra_args, settings=self.settings)
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
            start_new_session=True,
        )
        found = threading.Event()
        self._pump_thread = threading.Thread(target=self._pump, args=(found,), daemon=True)
        self._pump_thread.start()
        if not found.wait(START_TIMEOUT_SECONDS):
            self.kill()
            raise RuntimeError("server did not start:\n" + "".join(self.output))
        return self.url

    def _pump(self, found: threading.Event) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            match = LISTENING.search(line)
            if match:
                self.url = match.group(1)
                found.set()

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        self._reap()

    def _reap(self) -> None:
        if self.process is None:
            return
        self.process.wait(10)
        self._pump_thread.join(10)  # EOF once the server is gone
        if self.process.stdout is not None:
            self.process.stdout.close()

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(30)
        self._reap()
        return code

    def logs(self) -> str:
        return "".join(self.output)
