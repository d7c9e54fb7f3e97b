"""Entry point of the `trainplane` command (`python -m trainplane.cli.main` works too).

Exit codes: 0 success, 1 an error from the server or the request (`error: <message>` on stderr),
2 a usage error; `wait` adds 3 for a timeout.
"""

from __future__ import annotations

import argparse
import os
import sys

import httpx

import trainplane
from trainplane.cli import arguments
from trainplane.cli.commands import credentials, jobs, logs, resume, serve, wait
from trainplane.domain import errors

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def build_parser(*, selected: str | None) -> argparse.ArgumentParser:
    """The full parser; `selected` (the command about to run) is the only one given shape options."""
    parser = argparse.ArgumentParser(
        prog="trainplane",
        description="A self-hosted control plane for ML training jobs that speaks the SageMaker API.",
    )
    parser.add_argument("--version", action="version", version=f"trainplane {trainplane.__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    serve.register(subparsers)
    jobs.register(subparsers, selected=selected)
    logs.register(subparsers)
    resume.register(subparsers)
    wait.register(subparsers)
    credentials.register(subparsers)
    return parser


def main(argv: list[str] | None = None, *, transport: httpx.BaseTransport | None = None) -> int:
    """Run one command; `transport` replaces the network (httpx.MockTransport in unit tests)."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(selected=_command_name(argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        code: int = args.handler(args, transport)
        return code
    except arguments.UsageError as exc:
        print(f"trainplane: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except errors.TrainplaneError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `trainplane logs JOB | head`: the reader left; silence the flush at interpreter exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_ERROR


def _command_name(argv: list[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


if __name__ == "__main__":
    sys.exit(main())
