"""Request bodies are bounded: 413 in the dialect's shape, read no further, and /healthz stays live."""

from __future__ import annotations

import json
import socket
import threading
import time
from urllib.parse import urlsplit

import httpx
import psutil

from tests.support.server import ServerProcess
from trainplane.api import limits

MIB = 1024 * 1024


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=30)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read until the server closes the connection (a 413 always closes it)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def _headers(path: str, extra: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nX-Amz-Target: SageMaker.CreateTrainingJob\r\n"
        f"Content-Type: application/x-amz-json-1.1\r\n{extra}\r\n"
    ).encode()


def test_declared_oversized_body_is_refused_before_it_is_sent(server: ServerProcess) -> None:
    """Issue 6: a 200 MB body took the server to 1 GB RSS and was echoed back."""
    with _connect(server.url) as sock:
        sock.sendall(_headers("/", f"Content-Length: {200 * MIB}\r\n"))
        status, headers, body = _read_response(sock)  # not one byte of the body was sent
    assert status == 413
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert headers["x-amzn-requestid"]
    document = json.loads(body)
    assert document["__type"] == "RequestEntityTooLarge"
    assert str(limits.MAX_BODY_BYTES) in document["message"]
    assert document["trainplaneError"]["class"] == "Invalid"


def _send_chunked(sock: socket.socket, total_bytes: int, chunk_bytes: int = MIB) -> int:
    """Send a chunked body until `total_bytes` or until the server hangs up; bytes sent."""
    sent = 0
    chunk = b"x" * chunk_bytes
    try:
        while sent < total_bytes:
            sock.sendall(f"{chunk_bytes:x}\r\n".encode() + chunk + b"\r\n")
            sent += chunk_bytes
        sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused: the server closed the connection
    return sent


def test_chunked_body_is_counted_while_it_streams(server: ServerProcess) -> None:
    with _connect(server.url) as sock:
        sock.sendall(_headers("/", "Transfer-Encoding: chunked\r\n"))
        _send_chunked(sock, 20 * MIB)
        status, _, body = _read_response(sock)
    assert status == 413
    assert json.loads(body)["__type"] == "RequestEntityTooLarge"


def test_native_routes_refuse_in_their_own_shape(server: ServerProcess) -> None:
    with _connect(server.url) as sock:
        sock.sendall(_headers("/trainplane/v1/training-jobs/a/logs", f"Content-Length: {100 * MIB}\r\n"))
        status, headers, body = _read_response(sock)
    assert status == 413
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["trainplaneError"]["field"] == "body"


def test_bodies_under_the_limit_are_validated_as_usual(server: ServerProcess) -> None:
    padding = "p" * (limits.MAX_BODY_BYTES - 1024)
    body = json.dumps({"TrainingJobName": "ghost", "Unknown": padding}).encode()
    response = httpx.post(
        server.url,
        headers={
            "X-Amz-Target": "SageMaker.DescribeTrainingJob",
            "Content-Type": "application/x-amz-json-1.1",
        },
        content=body,
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Requested resource not found."


def test_healthz_answers_while_a_100_mb_body_is_refused(server: ServerProcess) -> None:
    """Issue 6: a 100 MB read-only request froze /healthz for 3 s."""
    assert server.process is not None
    rss_before = psutil.Process(server.process.pid).memory_info().rss
    outcome: dict[str, int] = {}

    def refuse() -> None:
        with _connect(server.url) as sock:
            sock.sendall(_headers("/", "Transfer-Encoding: chunked\r\n").replace(b"Create", b"Describe"))
            outcome["sent"] = _send_chunked(sock, 100 * MIB)
            outcome["status"] = _read_response(sock)[0]

    sender = threading.Thread(target=refuse)
    sender.start()
    latencies: list[float] = []
    with httpx.Client(base_url=server.url) as client:
        while sender.is_alive() or len(latencies) < 3:
            started = time.monotonic()
            assert client.get("/healthz").status_code == 200
            latencies.append(time.monotonic() - started)
    sender.join(30)
    assert outcome["status"] == 413
    assert outcome["sent"] < 100 * MIB  # the server hung up instead of reading it all
    rss_growth = psutil.Process(server.process.pid).memory_info().rss - rss_before
    assert rss_growth < 64 * MIB
    assert max(latencies) < 1.0


def test_healthz_stays_live_while_bodies_of_millions_of_values_are_refused(server: ServerProcess) -> None:
    """Decoding 8 MB of `[],[],...` held the GIL (and /healthz) for a second per request."""
    body = b'{"TrainingJobName":"a","X":[' + b",".join([b"[]"] * 2_700_000) + b"]}"
    assert len(body) < limits.MAX_BODY_BYTES
    answers: list[httpx.Response] = []

    def flood() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for _ in range(4):
                headers = {"X-Amz-Target": "SageMaker.DescribeTrainingJob"}
                answers.append(client.post("/", headers=headers, content=body))

    sender = threading.Thread(target=flood)
    sender.start()
    latencies: list[float] = []
    with httpx.Client(base_url=server.url) as client:
        while sender.is_alive() or len(latencies) < 3:
            started = time.monotonic()
            assert client.get("/healthz").status_code == 200
            latencies.append(time.monotonic() - started)
    sender.join(60)
    assert [answer.json()["__type"] for answer in answers] == ["SerializationException"] * 4
    assert max(latencies) < 0.5
