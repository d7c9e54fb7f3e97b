"""`trainplane logs JOB [--follow]`: the job's combined stdout/stderr, written to stdout as it arrives."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import httpx

from trainplane.cli import arguments, shared_options
from trainplane.client import kinds
from trainplane.domain.status import JobKind

KIND_ENV = "TRAINPLANE_JOB_KIND"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "logs",
        help="print a job's log",
        description="Print a job's combined stdout and stderr.",
    )
    parser.add_argument("job", metavar="JOB", help="the job name")
    parser.add_argument(
        "--kind",
        choices=[kind.value for kind in kinds.BY_KIND],
        # A str default goes through `choices` too, so a bad env value is a usage error.
        default=os.environ.get(KIND_ENV) or JobKind.TRAINING.value,
        help=shared_options.env_help("the job's kind", KIND_ENV, JobKind.TRAINING.value),
    )
    parser.add_argument(
        "--follow",
        "-f",
        action="store_true",
        help="keep streaming until the job is terminal and its log is drained",
    )
    parser.add_argument(
        "--offset", type=int, default=0, metavar="BYTES", help="start at this byte of the log"
    )
    shared_options.add_endpoint_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, transport: httpx.BaseTransport | None) -> int:
    out = sys.stdout.buffer
    if args.kind not in {kind.value for kind in kinds.BY_KIND}:  # argparse skips choices for defaults
        raise arguments.UsageError(f"{KIND_ENV}={args.kind!r}: choose from {', '.join(kinds.BY_KIND)}")
    kind = JobKind(args.kind)
    with shared_options.open_client(args, transport) as client:
        if args.follow:
            for data in client.follow_log(args.job, args.offset, kind=kind):
                out.write(data)
                out.flush()
            return 0
        offset = args.offset
        # A server may answer a long log in pieces: read until a chunk comes back empty.
        while True:
            chunk = client.read_log(args.job, offset, kind=kind)
            if not chunk.data:
                return 0
            out.write(chunk.data)
            out.flush()
            if chunk.next_offset <= offset:  # a server that does not advance would loop forever
                return 0
            offset = chunk.next_offset
