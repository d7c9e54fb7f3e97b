"""Baseten job GET requests/s with an API key checked against a credentials file, vs emulator mode.

Two servers in the same run, rounds interleaved: one with a credentials file holding a `baseten` key
(every request's `Authorization: Api-Key K` digested and compared in constant time), one without (any
key acts for the default tenant). Each round sends `GET /v1/training_projects/{p}/jobs/{j}` sequentially
over ONE fresh keep-alive http.client connection. Bar: keyed req/s >= 80 % of emulator req/s (medians).
"""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import report

from trainplane.credentials import file as credentials_file
from trainplane.credentials import issuing
from trainplane.credentials.records import CredentialSet, Kind

RATIO_BAR = 0.80
IMAGE = "python:3.11-slim"


class Baseten:
    """Baseten JSON over one keep-alive connection (TCP_NODELAY), with a fixed Authorization header."""

    def __init__(self, host: str, port: int, authorization: str) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=60)
        self.conn.connect()
        assert self.conn.sock is not None
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.headers = {"Authorization": authorization, "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        self.conn.request(method, path, body=None if body is None else json.dumps(body), headers=self.headers)
        response = self.conn.getresponse()
        content = response.read()
        if response.status != 200:
            raise harness.ApiError(response.status, content)
        parsed: dict[str, Any] = json.loads(content)
        return parsed

    def close(self) -> None:
        self.conn.close()


def image_map() -> str:
    return json.dumps({IMAGE: {"command": [], "environment": {"PATH": str(Path(sys.executable).parent)}}})


def finished_job(server: harness.Server, authorization: str) -> str:
    """The path of a job that ran `true` and completed, made through the Baseten API."""
    api = Baseten(server.host, server.port, authorization)
    try:
        project = api.call("POST", "/v1/training_projects", {"training_project": {"name": "bench"}})
        pid = project["training_project"]["id"]
        body = {"training_job": {"image": {"base_image": IMAGE}, "runtime": {"start_commands": ["true"]}}}
        job = api.call("POST", f"/v1/training_projects/{pid}/jobs", body)["training_job"]
        path = f"/v1/training_projects/{pid}/jobs/{job['id']}"
        harness.wait_for(
            lambda: api.call("GET", path)["training_job"]["current_status"] == "TRAINING_JOB_COMPLETED",
            60,
            0.05,
        )
        return path
    finally:
        api.close()


def get_round(
    server: harness.Server, authorization: str, path: str, requests: int
) -> tuple[float, list[float]]:
    """(requests per second, per-request latencies in ms) over one fresh keep-alive connection."""
    api = Baseten(server.host, server.port, authorization)
    latencies = []
    try:
        api.call("GET", path)  # connection warm-up, not counted
        started = time.perf_counter()
        for _ in range(requests):
            before = time.perf_counter()
            api.call("GET", path)
            latencies.append((time.perf_counter() - before) * 1000)
        elapsed = time.perf_counter() - started
    finally:
        api.close()
    return requests / elapsed, latencies


def write_key(path: Path) -> str:
    """A credentials file with one `baseten` key, as `trainplane credentials add` writes it."""
    issued = issuing.issue(CredentialSet(), "bench", Kind.BASETEN)
    credentials_file.save(path, issued.credentials)
    return issued.shown["api_key"]


def measure(is_quick: bool) -> report.Result:
    n = report.counts(is_quick, {"rounds": 7, "requests": 2000}, {"rounds": 2, "requests": 200})
    with tempfile.TemporaryDirectory(prefix="bench-baseten-") as tmp:
        work = Path(tmp)
        key = write_key(work / "credentials.json")
        keyed_auth, open_auth = f"Api-Key {key}", "Api-Key anything"
        with (
            harness.Server(work / "open", "--images", image_map()) as emulator,
            harness.Server(
                work / "keyed", "--images", image_map(), "--credentials-file", str(work / "credentials.json")
            ) as keyed,
        ):
            paths = {"emulator": finished_job(emulator, open_auth), "keyed": finished_job(keyed, keyed_auth)}
            found: dict[str, tuple[list[float], list[float]]] = {"emulator": ([], []), "keyed": ([], [])}
            for _ in range(n["rounds"]):
                for label, server, authorization in (
                    ("emulator", emulator, open_auth),
                    ("keyed", keyed, keyed_auth),
                ):
                    rate, latencies = get_round(server, authorization, paths[label], n["requests"])
                    found[label][0].append(rate)
                    found[label][1].extend(latencies)
    return summarize(found)


def summarize(found: dict[str, tuple[list[float], list[float]]]) -> report.Result:
    result = report.Result("baseten_auth: GET training job, one keep-alive connection, sequential")
    for label, title in (
        ("emulator", "emulator mode (any key)"),
        ("keyed", "API key from a credentials file"),
    ):
        rates, latencies = found[label]
        result.add(f"{title} latency", latencies)
        result.extra[f"{title} req/s per round"] = rates
        result.extra[f"{title} req/s (median of rounds)"] = statistics.median(rates)
    keyed_rps = statistics.median(found["keyed"][0])
    open_rps = statistics.median(found["emulator"][0])
    result.bar(
        f"keyed / emulator req/s ({keyed_rps:,.0f} / {open_rps:,.0f})",
        keyed_rps / open_rps,
        ">=",
        RATIO_BAR,
        "ratio",
    )
    return result


if __name__ == "__main__":
    arguments = report.parse_args(__doc__ or "")
    report.emit([measure(arguments.quick)], arguments.json)
