"""`trainplane wait JOB`: poll DescribeTrainingJob until the job is terminal, showing its progress.

Exit codes: 0 Completed or Stopped (SageMaker's waiter counts Stopped as success: the model is
packaged), 1 Failed (or any error), 2 usage error, 3 timed out with the job still running.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
from rich.console import Console
from rich.status import Status
from rich.text import Text

from trainplane.cli import render, shared_options
from trainplane.client import Client, TrainingJob
from trainplane.domain import errors

EXIT_SUCCEEDED = 0
EXIT_FAILED = 1
EXIT_TIMED_OUT = 3
TIMEOUT_ENV = "TRAINPLANE_WAIT_TIMEOUT_SECONDS"
POLL_INTERVAL_ENV = "TRAINPLANE_WAIT_POLL_SECONDS"
DEFAULT_POLL_INTERVAL_SECONDS = 0.5


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "wait",
        help="wait until a training job is terminal",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("job", metavar="JOB", help="the training job name")
    parser.add_argument(
        "--timeout-seconds",
        type=float,
        default=os.environ.get(TIMEOUT_ENV),  # a str default is parsed by `type` like an option
        metavar="S",
        help=shared_options.env_help("give up after S seconds (default: wait forever)", TIMEOUT_ENV),
    )
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=os.environ.get(POLL_INTERVAL_ENV, str(DEFAULT_POLL_INTERVAL_SECONDS)),
        metavar="S",
        help=shared_options.env_help(
            "seconds between polls", POLL_INTERVAL_ENV, DEFAULT_POLL_INTERVAL_SECONDS
        ),
    )
    shared_options.add_endpoint_option(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, transport: httpx.BaseTransport | None) -> int:
    with shared_options.open_client(args, transport) as client:
        return wait_for(
            client,
            args.job,
            timeout_seconds=args.timeout_seconds,
            poll_seconds=args.poll_seconds,
            # soft_wrap: a long message stays one line in a pipe; a terminal wraps it itself.
            console=Console(highlight=False, soft_wrap=True),
        )


def wait_for(
    client: Client,
    name: str,
    *,
    timeout_seconds: float | None,
    poll_seconds: float,
    console: Console,
) -> int:
    """Poll until `name` is terminal or the timeout passes; the exit code (see module docstring).

    Raises:
        errors.NotFound: the job does not exist.
    """
    started = time.monotonic()
    deadline = None if timeout_seconds is None else started + timeout_seconds
    printed = 0
    with _progress(console, name) as status:
        while True:
            job = _poll(client, name, console)
            if job is not None:
                for transition in job.transitions[printed:]:
                    console.print(render.transition_line(transition))
                printed = max(printed, len(job.transitions))
                if job.is_terminal:
                    return _finished(console, job, time.monotonic() - started)
                if status is not None:
                    elapsed = render.format_duration(time.monotonic() - started)
                    status.update(f"{name}: {job.secondary_status} ({elapsed} elapsed)")
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return _timed_out(console, name, job, timeout_seconds or 0.0)
            time.sleep(poll_seconds if remaining is None else min(poll_seconds, remaining))


@contextlib.contextmanager
def _progress(console: Console, name: str) -> Iterator[Status | None]:
    """A spinner on a terminal; nothing when stdout is a pipe, so logs get plain lines only."""
    if not console.is_terminal:
        yield None
        return
    with console.status(f"{name}: waiting for the first answer") as status:
        yield status


def _poll(client: Client, name: str, console: Console) -> TrainingJob | None:
    # A restarting server is not a reason to give up: jobs outlive it, so keep polling until
    # the deadline. Every other error (NotFound above all) ends the wait.
    try:
        return client.describe_training_job(name)
    except errors.Unavailable as exc:
        console.print(Text(f"server unavailable, retrying: {exc.message}", style="yellow"))
        return None


def _finished(console: Console, job: TrainingJob, waited_seconds: float) -> int:
    line = Text(f"{job.name} ")
    line.append_text(render.status_text(job.status))
    line.append(f" ({job.secondary_status}) {_took(job, waited_seconds)}")
    if job.model_artifacts:
        line.append(f"; model: {job.model_artifacts}")
    console.print(line)
    if job.status == "Failed":
        console.print(Text(f"FailureReason: {job.failure_reason or 'not reported'}", style="red"))
        return EXIT_FAILED
    return EXIT_SUCCEEDED


def _took(job: TrainingJob, waited_seconds: float) -> str:
    # The job's own run time is what people ask about; how long this command waited is a fallback.
    ended_at = job.training_ended_at or job.last_modified_at
    if ended_at is None:
        return f"after waiting {render.format_duration(waited_seconds)}"
    return f"in {render.format_duration((ended_at - job.created_at).total_seconds())}"


def _timed_out(console: Console, name: str, job: TrainingJob | None, timeout_seconds: float) -> int:
    where = "no answer from the server" if job is None else f"still {job.status}/{job.secondary_status}"
    Console(stderr=True).print(
        f"error: timed out after {timeout_seconds:g} s waiting for {name} ({where})",
        highlight=False,
        markup=False,
    )
    return EXIT_TIMED_OUT
