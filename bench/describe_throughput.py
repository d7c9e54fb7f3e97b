"""DescribeTrainingJob requests/s, sequential over ONE keep-alive connection: raw http.client and boto3.

FLOOR, in the same run and interleaved round by round: a stdlib ThreadingHTTPServer (HTTP/1.1
keep-alive, TCP_NODELAY) answering every POST with the real Describe body, in one write.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import harness
import report
from botocore.config import Config

FLOOR_SERVER = """\
import socket, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = open(sys.argv[1], "rb").read()
HEAD = (
    "HTTP/1.1 200 OK\\r\\nContent-Type: application/x-amz-json-1.1\\r\\n"
    f"Content-Length: {len(BODY)}\\r\\nx-amzn-RequestId: floor\\r\\n\\r\\n"
).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.wfile.write(HEAD + BODY)  # one write: unbuffered socket writer, one sendall

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""
JOB_SCRIPT = "import sys; sys.exit(0)\n"


def raw_round(host: str, port: int, payload: bytes, requests: int) -> tuple[float, list[float]]:
    """(requests per second, per-request latencies in ms) over one fresh keep-alive connection."""
    api = harness.Api(host, port)
    latencies = []
    try:
        api.call_raw("DescribeTrainingJob", payload)  # connection warm-up, not counted
        started = time.perf_counter()
        for _ in range(requests):
            before = time.perf_counter()
            api.call_raw("DescribeTrainingJob", payload)
            latencies.append((time.perf_counter() - before) * 1000)
        elapsed = time.perf_counter() - started
    finally:
        api.close()
    return requests / elapsed, latencies


def boto3_round(url: str, name: str, requests: int) -> tuple[float, list[float]]:
    client: Any = boto3.client(
        "sagemaker",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1}, max_pool_connections=1),
    )
    client.describe_training_job(TrainingJobName=name)  # warm-up: loads the model, opens the connection
    latencies = []
    started = time.perf_counter()
    for _ in range(requests):
        before = time.perf_counter()
        client.describe_training_job(TrainingJobName=name)
        latencies.append((time.perf_counter() - before) * 1000)
    elapsed = time.perf_counter() - started
    client.close()
    return requests / elapsed, latencies


def start_floor(body_file: Path) -> tuple[subprocess.Popen[str], int]:
    script = body_file.parent / "floor_server.py"
    script.write_text(FLOOR_SERVER)
    process = subprocess.Popen(
        [harness.PYTHON, str(script), str(body_file)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    return process, int(process.stdout.readline())


def interleave(
    rounds: int,
    server: Callable[[], tuple[float, list[float]]],
    floor: Callable[[], tuple[float, list[float]]],
) -> dict[str, tuple[list[float], list[float]]]:
    found: dict[str, tuple[list[float], list[float]]] = {"server": ([], []), "floor": ([], [])}
    for _ in range(rounds):
        for label, run in (("server", server), ("floor", floor)):
            rate, latencies = run()
            found[label][0].append(rate)
            found[label][1].extend(latencies)
    return found


def summarize(raw: dict[str, Any], via_boto3: dict[str, Any], body_bytes: int) -> report.Result:
    result = report.Result("describe_throughput: DescribeTrainingJob, one keep-alive connection, sequential")
    for way, found in (("raw http.client", raw), ("boto3", via_boto3)):
        for label in ("server", "floor"):
            rates, latencies = found[label]
            title = "trainplane" if label == "server" else "FLOOR stdlib http.server"
            result.add(f"{way}: {title} latency", latencies)
            result.extra[f"{way}: {title} req/s (median of rounds)"] = statistics.median(rates)
            result.extra[f"{way}: {title} req/s per round"] = rates
        server_rps = statistics.median(found["server"][0])
        floor_rps = statistics.median(found["floor"][0])
        result.extra[f"{way}: trainplane / floor req/s ratio"] = server_rps / floor_rps
    result.bar(
        "raw req/s over one keep-alive connection >= 1500",
        statistics.median(raw["server"][0]),
        ">=",
        1500,
        "req/s",
    )
    result.extra["describe_body_bytes"] = body_bytes
    return result


def measure(is_quick: bool) -> report.Result:
    n = report.counts(
        is_quick, {"rounds": 5, "raw": 3000, "boto3": 1000}, {"rounds": 2, "raw": 300, "boto3": 100}
    )
    with tempfile.TemporaryDirectory(prefix="bench-describe-") as tmp:
        work = Path(tmp)
        script = harness.write_script(work, "done.py", JOB_SCRIPT)
        with harness.running_server(work / "data") as server:
            api = server.api()
            name = harness.unique_name("describe")
            api.call(
                "CreateTrainingJob", harness.job_request(name, ["python", str(script)], work / "out", {})
            )
            harness.wait_status(api, [name], "Completed", 60)
            payload = json.dumps({"TrainingJobName": name}).encode()
            body = api.call_raw("DescribeTrainingJob", payload)
            api.close()
            body_file = work / "describe.json"
            body_file.write_bytes(body)
            floor, floor_port = start_floor(body_file)
            try:
                host = server.host
                raw = interleave(
                    n["rounds"],
                    lambda: raw_round(host, server.port, payload, n["raw"]),
                    lambda: raw_round("127.0.0.1", floor_port, payload, n["raw"]),
                )
                via_boto3 = interleave(
                    n["rounds"],
                    lambda: boto3_round(server.url, name, n["boto3"]),
                    lambda: boto3_round(f"http://127.0.0.1:{floor_port}", name, n["boto3"]),
                )
            finally:
                floor.kill()
                floor.wait()
    return summarize(raw, via_boto3, len(body))


if __name__ == "__main__":
    arguments = report.parse_args(__doc__ or "")
    report.emit([measure(arguments.quick)], arguments.json)
