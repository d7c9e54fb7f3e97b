"""DescribeTrainingJob requests/s, sequential over ONE keep-alive connection: raw http.client and boto3.

FLOOR, in the same run and interleaved round by round: the same server stack doing nothing, a bare
ASGI callable under uvicorn (httptools, uvloop, access log off, as `trainplane serve` runs it)
answering every POST with the real Describe body and the same headers.

SIGV4, interleaved too: a second server with a credentials file, which verifies every request's
signature. Raw: one request signed per round with botocore's SigV4Auth and sent again and again (valid
for 5 minutes), so the figure is the server's verification cost alone; boto3 signs every call itself.
Bar: SigV4 Describe >= 80 % of the unauthenticated server's req/s.
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
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from trainplane.credentials import file as credentials_file
from trainplane.credentials import issuing
from trainplane.credentials.records import CredentialSet, Kind

RAW_BAR = 3500.0
BOTO3_BAR = 600.0
SIGV4_RATIO_BAR = 0.80
FLOOR_SERVER = """\
import socket, sys
import uvicorn

BODY = open(sys.argv[1], "rb").read()
HEADERS = [
    (b"content-type", b"application/x-amz-json-1.1"),
    (b"x-amzn-requestid", b"00000000-0000-0000-0000-000000000000"),
    (b"content-length", str(len(BODY)).encode()),
]


async def app(scope, receive, send):
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(2048)
print(sock.getsockname()[1], flush=True)
config = uvicorn.Config(
    app, http="httptools", loop="uvloop", lifespan="off", access_log=False, log_level="warning"
)
uvicorn.Server(config).run(sockets=[sock])
"""
JOB_SCRIPT = "import sys; sys.exit(0)\n"


def raw_round(
    host: str, port: int, payload: bytes, requests: int, keys: tuple[str, str] | None = None
) -> tuple[float, list[float]]:
    """(requests per second, per-request latencies in ms) over one fresh keep-alive connection."""
    api = harness.Api(host, port)
    if keys is not None:
        api.extra_headers = signed_headers(host, port, payload, keys)
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


def signed_headers(host: str, port: int, payload: bytes, keys: tuple[str, str]) -> dict[str, str]:
    """The SigV4 headers of the Describe call harness.Api sends, signed now by botocore."""
    request = AWSRequest(
        method="POST",
        url=f"http://{host}:{port}/",
        headers={
            "X-Amz-Target": "SageMaker.DescribeTrainingJob",
            "Content-Type": "application/x-amz-json-1.1",
            "Host": f"{host}:{port}",
        },
        data=payload,
    )
    SigV4Auth(Credentials(*keys), "sagemaker", "us-east-1").add_auth(request)
    return {name: request.headers[name] for name in ("Authorization", "X-Amz-Date")}


def boto3_round(
    url: str, name: str, requests: int, keys: tuple[str, str] = ("AKIDEXAMPLE", "secret")
) -> tuple[float, list[float]]:
    client: Any = boto3.client(
        "sagemaker",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
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
    rounds: int, runs: dict[str, Callable[[], tuple[float, list[float]]]]
) -> dict[str, tuple[list[float], list[float]]]:
    """Every run once per round, in turn, so drift of the machine hits them all alike."""
    found: dict[str, tuple[list[float], list[float]]] = {label: ([], []) for label in runs}
    for _ in range(rounds):
        for label, run in runs.items():
            rate, latencies = run()
            found[label][0].append(rate)
            found[label][1].extend(latencies)
    return found


def summarize(raw: dict[str, Any], via_boto3: dict[str, Any], body_bytes: int) -> report.Result:
    result = report.Result("describe_throughput: DescribeTrainingJob, one keep-alive connection, sequential")
    for way, found, limit in (("raw http.client", raw, RAW_BAR), ("boto3", via_boto3, BOTO3_BAR)):
        for label in ("server", "floor"):
            rates, latencies = found[label]
            title = "trainplane" if label == "server" else "FLOOR bare ASGI under uvicorn"
            result.add(f"{way}: {title} latency", latencies)
            result.extra[f"{way}: {title} req/s per round"] = rates
        server_rps = statistics.median(found["server"][0])
        floor_rps = statistics.median(found["floor"][0])
        result.bar(
            f"{way} req/s (median of rounds; floor {floor_rps:,.0f} = {server_rps / floor_rps:.0%})",
            server_rps,
            ">=",
            limit,
            "req/s",
        )
        result.extra[f"{way}: FLOOR req/s (median of rounds)"] = floor_rps
        add_sigv4(result, way, found, server_rps)
    result.extra["describe_body_bytes"] = body_bytes
    return result


def add_sigv4(result: report.Result, way: str, found: dict[str, Any], unauthenticated_rps: float) -> None:
    rates, latencies = found["sigv4"]
    result.add(f"{way}: trainplane SigV4-verified latency", latencies)
    result.extra[f"{way}: trainplane SigV4-verified req/s per round"] = rates
    sigv4_rps = statistics.median(rates)
    result.extra[f"{way}: SigV4-verified req/s (median of rounds)"] = sigv4_rps
    # Less sensitive to a noisy neighbour than req/s per round: the per-request p50s of all rounds.
    result.extra[f"{way}: p50 latency unauthenticated / SigV4"] = statistics.median(
        found["server"][1]
    ) / statistics.median(latencies)
    result.bar(
        f"{way} SigV4 / unauthenticated req/s ({sigv4_rps:,.0f} / {unauthenticated_rps:,.0f})",
        sigv4_rps / unauthenticated_rps,
        ">=",
        SIGV4_RATIO_BAR,
        "ratio",
    )


def measure(is_quick: bool) -> report.Result:
    n = report.counts(
        is_quick, {"rounds": 5, "raw": 3000, "boto3": 1000}, {"rounds": 2, "raw": 300, "boto3": 100}
    )
    with tempfile.TemporaryDirectory(prefix="bench-describe-") as tmp:
        work = Path(tmp)
        script = harness.write_script(work, "done.py", JOB_SCRIPT)
        keys = write_credentials(work / "credentials.json")
        with (
            harness.running_server(work / "data") as server,
            harness.Server(work / "signed", "--credentials-file", str(work / "credentials.json")) as signed,
        ):
            api = server.api()
            name = harness.unique_name("describe")
            request = harness.job_request(name, ["python", str(script)], work / "out", {})
            api.call("CreateTrainingJob", request)
            harness.wait_status(api, [name], "Completed", 60)
            create_signed(signed.url, keys, request)
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
                    {
                        "server": lambda: raw_round(host, server.port, payload, n["raw"]),
                        "sigv4": lambda: raw_round(signed.host, signed.port, payload, n["raw"], keys),
                        "floor": lambda: raw_round("127.0.0.1", floor_port, payload, n["raw"]),
                    },
                )
                via_boto3 = interleave(
                    n["rounds"],
                    {
                        "server": lambda: boto3_round(server.url, name, n["boto3"]),
                        "sigv4": lambda: boto3_round(signed.url, name, n["boto3"], keys),
                        "floor": lambda: boto3_round(f"http://127.0.0.1:{floor_port}", name, n["boto3"]),
                    },
                )
            finally:
                floor.kill()
                floor.wait()
    return summarize(raw, via_boto3, len(body))


def write_credentials(path: Path) -> tuple[str, str]:
    """A credentials file with one `aws` key, as `trainplane credentials add` writes it."""
    issued = issuing.issue(CredentialSet(), "bench", Kind.AWS)
    credentials_file.save(path, issued.credentials)
    return issued.shown["access_key_id"], issued.shown["secret_access_key"]


def create_signed(url: str, keys: tuple[str, str], request: dict[str, Any]) -> None:
    """The same job on the signed server (boto3 signs), waited for until Completed."""
    client: Any = boto3.client(
        "sagemaker",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
    )
    client.create_training_job(**request)
    harness.wait_for(
        lambda: (
            client.describe_training_job(TrainingJobName=request["TrainingJobName"])["TrainingJobStatus"]
            == "Completed"
        ),
        60,
        0.05,
    )
    client.close()


if __name__ == "__main__":
    arguments = report.parse_args(__doc__ or "")
    report.emit([measure(arguments.quick)], arguments.json)
