"""What every benchmark needs: a real `trainplane serve` on 127.0.0.1, a raw keep-alive SageMaker
client over http.client, job requests and scripts, and cleanup that leaves no process behind.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psutil

PYTHON = sys.executable
LISTENING = re.compile(r"trainplane listening on http://([\d.]+):(\d+)")
START_TIMEOUT_SECONDS = 60.0
ROLE_ARN = "arn:aws:iam::000000000000:role/trainplane"
ACTIVE = ("InProgress", "Stopping")


class ApiError(RuntimeError):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:300]!r}")
        self.status = status
        self.body = body


class Api:
    """SageMaker JSON 1.1 over ONE keep-alive http.client connection (TCP_NODELAY)."""

    def __init__(self, host: str, port: int) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=60)
        self.extra_headers: dict[str, str] = {}  # e.g. a SigV4 signature made for the request sent
        self.reconnect()

    def reconnect(self) -> None:
        self.conn.close()
        self.conn.connect()
        assert self.conn.sock is not None
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        raw = self.call_raw(operation, json.dumps(body).encode())
        return json.loads(raw) if raw else {}

    def call_raw(self, operation: str, payload: bytes) -> bytes:
        headers = {"X-Amz-Target": f"SageMaker.{operation}", "Content-Type": "application/x-amz-json-1.1"}
        headers.update(self.extra_headers)
        try:
            self.conn.request("POST", "/", body=payload, headers=headers)
            response = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closes a keep-alive connection idle for 5 s (uvicorn's default): reconnect once.
            self.reconnect()
            self.conn.request("POST", "/", body=payload, headers=headers)
            response = self.conn.getresponse()
        content = response.read()
        if response.status != 200:
            raise ApiError(response.status, content)
        return content

    def close(self) -> None:
        self.conn.close()


class Server:
    """`python -m trainplane.cli.main serve --port 0`; `close()` kills it and every leftover job process."""

    def __init__(self, data_dir: Path, *extra_args: str) -> None:
        self.data_dir = data_dir.resolve()
        self.extra_args = extra_args
        self.process: subprocess.Popen[str] | None = None
        self.host = ""
        self.port = 0
        self.output: list[str] = []

    def start(self) -> Server:
        command = [PYTHON, "-m", "trainplane.cli.main", "serve", "--port", "0"]
        # The benches run many jobs at once to measure supervision, not placement (on by default;
        # scheduling.py passes --queue after this, and the last one wins).
        command += ["--data-dir", str(self.data_dir), "--no-queue", *self.extra_args]
        # Benchmarks keep outputs beside the data dir, and run jobs as the caller (root in CI).
        command += ["--allowed-roots", str(self.data_dir.parent), "--allow-root-jobs"]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        found = threading.Event()
        threading.Thread(target=self._pump, args=(found,), daemon=True).start()
        if not found.wait(START_TIMEOUT_SECONDS):
            self.close()
            raise RuntimeError("server did not start:\n" + "".join(self.output[-40:]))
        return self

    def _pump(self, found: threading.Event) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            match = LISTENING.search(line)
            if match and not found.is_set():
                self.host, self.port = match.group(1), int(match.group(2))
                found.set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def api(self) -> Api:
        return Api(self.host, self.port)

    def close(self) -> None:
        """Kill the server, then SIGKILL any process still working under the data dir (an aborted run)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        kill_leftovers(self.data_dir)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def kill_leftovers(data_dir: Path) -> int:
    """SIGKILL processes whose cwd is under `data_dir` (supervisors and jobs run there); how many."""
    root = str(data_dir.resolve())
    killed = 0
    for proc in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            if proc.pid != os.getpid() and proc.cwd().startswith(root):
                proc.kill()
                killed += 1
    return killed


def job_request(name: str, program: Sequence[str], output_dir: Path, env: dict[str, str]) -> dict[str, Any]:
    """A CreateTrainingJob body running `program` with the built-in `trainplane/python` image."""
    return {
        "TrainingJobName": name,
        "RoleArn": ROLE_ARN,
        "AlgorithmSpecification": {
            "TrainingImage": "trainplane/python",
            "TrainingInputMode": "File",
            "ContainerEntrypoint": list(program),
        },
        "OutputDataConfig": {"S3OutputPath": f"file://{output_dir}"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "Environment": env,
    }


def unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def write_script(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


def describe(api: Api, name: str) -> dict[str, Any]:
    return api.call("DescribeTrainingJob", {"TrainingJobName": name})


def wait_for(predicate: Callable[[], bool], timeout_seconds: float, interval_seconds: float = 0.01) -> None:
    """Poll `predicate` until it holds; RuntimeError after `timeout_seconds`."""
    deadline = time.monotonic() + timeout_seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"condition not met within {timeout_seconds} s")
        time.sleep(interval_seconds)


def wait_status(api: Api, names: Sequence[str], secondary: str, timeout_seconds: float) -> None:
    """Wait until every job in `names` has SecondaryStatus `secondary` (or is terminal: then fail)."""
    pending = list(names)

    def done() -> bool:
        for name in list(pending):
            doc = describe(api, name)
            if doc["SecondaryStatus"] == secondary:
                pending.remove(name)
            elif doc["TrainingJobStatus"] not in ACTIVE:
                raise RuntimeError(f"{name} ended as {doc['SecondaryStatus']}: {doc.get('FailureReason')}")
        return not pending

    wait_for(done, timeout_seconds, 0.02)


def active_names(api: Api) -> list[str]:
    """Names of every InProgress or Stopping job, following NextToken."""
    names: list[str] = []
    for status in ACTIVE:
        body: dict[str, Any] = {"MaxResults": 100, "StatusEquals": status}
        while True:
            page = api.call("ListTrainingJobs", body)
            names += [s["TrainingJobName"] for s in page["TrainingJobSummaries"]]
            if not page.get("NextToken"):
                break
            body = {**body, "NextToken": page["NextToken"]}
    return names


def stop_all(api: Api, timeout_seconds: float = 120.0) -> None:
    """Stop every active job and wait until none is active (bounded by `timeout_seconds`)."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        names = active_names(api)
        if not names:
            return
        for name in names:
            with contextlib.suppress(ApiError):  # finished meanwhile, or already stopping
                api.call("StopTrainingJob", {"TrainingJobName": name})
        time.sleep(0.2)
    raise RuntimeError("jobs still active after stop_all")


@contextlib.contextmanager
def running_server(data_dir: Path, *extra_args: str) -> Iterator[Server]:
    """A started server; on exit every job is stopped, the server killed and leftovers swept."""
    server = Server(data_dir, *extra_args).start()
    try:
        yield server
    finally:
        try:
            api = server.api()
            stop_all(api)
            api.close()
        finally:
            server.close()
