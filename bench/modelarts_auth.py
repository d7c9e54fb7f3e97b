"""ModelArts version-detail GET (`/v1/{project}/training-jobs/{job}/versions/{version}`) requests/s,
sequential over ONE keep-alive connection: AK/SK-signed (SDK-HMAC-SHA256, verified by the server) vs
unauthenticated (the emulator: no credentials file), on two servers in the same run, rounds interleaved.

Signed: one request signed per round by huaweicloudsdkcore's own Signer and sent again and again (valid
for the 15-minute skew), so the figure is the server's verification cost alone.
Bar: AK/SK-verified req/s >= 80 % of the unauthenticated server's (medians of rounds).
"""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import harness
import report
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from trainplane.credentials import file as credentials_file
from trainplane.credentials import issuing
from trainplane.credentials.records import CredentialSet, Kind

RATIO_BAR = 0.80
PROJECT = "bench-project"
SPEC_ID = zlib.crc32(b"ml.m5.large")


class Client:
    """GETs and POSTs over one keep-alive http.client connection (TCP_NODELAY)."""

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None) -> None:
        self.conn = http.client.HTTPConnection(host, port, timeout=60)
        self.conn.connect()
        assert self.conn.sock is not None
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.headers = headers or {}

    def request(self, method: str, path: str, body: bytes = b"") -> dict[str, Any]:
        headers = {"Content-Type": "application/json", **self.headers}
        self.conn.request(method, path, body=body or None, headers=headers)
        response = self.conn.getresponse()
        content = response.read()
        if response.status != 200:
            raise harness.ApiError(response.status, content)
        found: dict[str, Any] = json.loads(content)
        return found

    def close(self) -> None:
        self.conn.close()


def signed_headers(
    host: str, port: int, method: str, path: str, keys: tuple[str, str], body: bytes = b""
) -> dict[str, str]:
    """The headers huaweicloudsdkcore sends for `method path` with `body`, signed now."""
    request = SdkRequest(
        method=method,
        schema="http",
        host=f"{host}:{port}",
        resource_path=path,
        query_params=[],
        header_params={"Content-Type": "application/json", "X-Project-Id": PROJECT},
        body=body,
    )
    Signer(BasicCredentials(keys[0], keys[1], PROJECT)).sign(request)
    return {name: str(value) for name, value in request.header_params.items() if name.lower() != "host"}


def create_version(server: harness.Server, work: Path, headers_for: Any) -> str:
    """One completed version; its detail path."""
    script = harness.write_script(work, "done.py", "import sys; sys.exit(0)\n")
    body = {
        "job_name": harness.unique_name("bench").replace("-", "_"),
        "config": {
            "worker_server_num": 1,
            "spec_id": SPEC_ID,
            "train_url": str(work / "train"),
            "user_image_url": "trainplane/python",
            "user_command": f"python {script}",
        },
    }
    path = f"/v1/{PROJECT}/training-jobs"
    client = Client(server.host, server.port, headers_for("POST", path, json.dumps(body).encode()))
    created = client.request("POST", path, json.dumps(body).encode())
    detail = f"{path}/{created['job_id']}/versions/{created['version_id']}"
    client.headers = headers_for("GET", detail, b"")
    harness.wait_for(lambda: client.request("GET", detail)["status"] == 10, 60, 0.05)
    client.close()
    return detail


def get_round(
    host: str, port: int, path: str, requests: int, headers: dict[str, str]
) -> tuple[float, list[float]]:
    """(requests per second, per-request latencies in ms) over one fresh keep-alive connection."""
    client = Client(host, port, headers)
    latencies = []
    try:
        client.request("GET", path)  # connection warm-up, not counted
        started = time.perf_counter()
        for _ in range(requests):
            before = time.perf_counter()
            client.request("GET", path)
            latencies.append((time.perf_counter() - before) * 1000)
        elapsed = time.perf_counter() - started
    finally:
        client.close()
    return requests / elapsed, latencies


def measure(is_quick: bool) -> report.Result:
    n = report.counts(is_quick, {"rounds": 11, "requests": 1000}, {"rounds": 4, "requests": 200})
    with tempfile.TemporaryDirectory(prefix="bench-modelarts-") as tmp:
        work = Path(tmp)
        keys = write_credentials(work / "credentials.json")
        with (
            harness.Server(work / "open") as open_server,
            harness.Server(work / "signed", "--credentials-file", str(work / "credentials.json")) as signed,
        ):
            open_path = create_version(open_server, work, lambda method, path, body: {})
            signed_path = create_version(
                signed,
                work,
                lambda method, path, body: signed_headers(signed.host, signed.port, method, path, keys, body),
            )
            runs = {
                "open": lambda: get_round(open_server.host, open_server.port, open_path, n["requests"], {}),
                "aksk": lambda: get_round(
                    signed.host,
                    signed.port,
                    signed_path,
                    n["requests"],
                    signed_headers(signed.host, signed.port, "GET", signed_path, keys),
                ),
            }
            found: dict[str, tuple[list[float], list[float]]] = {"open": ([], []), "aksk": ([], [])}
            for round_index in range(n["rounds"]):
                # Each server goes first every other round, so drift of the machine hits both alike.
                for label in sorted(runs, reverse=round_index % 2 == 1):
                    rate, latencies = runs[label]()
                    found[label][0].append(rate)
                    found[label][1].extend(latencies)
    return summarize(found)


def summarize(found: dict[str, tuple[list[float], list[float]]]) -> report.Result:
    result = report.Result("modelarts_auth: version-detail GET, one keep-alive connection, sequential")
    result.add("unauthenticated (emulator) latency", found["open"][1])
    result.add("AK/SK-verified latency", found["aksk"][1])
    open_rps = statistics.median(found["open"][0])
    aksk_rps = statistics.median(found["aksk"][0])
    result.extra["unauthenticated req/s per round"] = found["open"][0]
    result.extra["AK/SK-verified req/s per round"] = found["aksk"][0]
    result.extra["unauthenticated req/s (median of rounds)"] = open_rps
    result.extra["AK/SK-verified req/s (median of rounds)"] = aksk_rps
    result.extra["p50 latency unauthenticated / AK/SK"] = statistics.median(
        found["open"][1]
    ) / statistics.median(found["aksk"][1])
    result.bar(
        f"AK/SK / unauthenticated req/s ({aksk_rps:,.0f} / {open_rps:,.0f})",
        aksk_rps / open_rps,
        ">=",
        RATIO_BAR,
        "ratio",
    )
    return result


def write_credentials(path: Path) -> tuple[str, str]:
    """A credentials file with one `modelarts-aksk` key, as `trainplane credentials add` writes it."""
    issued = issuing.issue(CredentialSet(), "bench", Kind.MODELARTS_AKSK, project_id=PROJECT)
    credentials_file.save(path, issued.credentials)
    return issued.shown["ak"], issued.shown["sk"]


if __name__ == "__main__":
    arguments = report.parse_args(__doc__ or "")
    report.emit([measure(arguments.quick)], arguments.json)
