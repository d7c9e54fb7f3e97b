"""The AWS-CLI-shaped job commands: create/describe/list/stop/delete-training-job over JSON 1.1."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from rich.console import Console, RenderableType

from trainplane.cli import arguments, render, shared_options, skeleton
from trainplane.client import Client, TrainingJobSummary

MAX_ITEMS_ENV = "TRAINPLANE_MAX_ITEMS"
_MAX_PAGE_SIZE = 100  # ListTrainingJobs MaxResults is 1..100


@dataclass(frozen=True)
class JobCommand:
    name: str
    operation: str
    default_output: str
    run: Callable[[Client, dict[str, Any], argparse.Namespace], None]
    help: str


def _create(client: Client, request: dict[str, Any], args: argparse.Namespace) -> None:
    arn = client.create_training_job(request)
    _show(args, {"TrainingJobArn": arn}, render.key_value_table({"TrainingJobArn": arn}))


def _describe(client: Client, request: dict[str, Any], args: argparse.Namespace) -> None:
    job = client.describe_training_job(request["TrainingJobName"])
    _show(args, job.raw, render.training_job_view(job))


def _list(client: Client, request: dict[str, Any], args: argparse.Namespace) -> None:
    summaries, next_token = _collect(client, request, args.max_items)
    body: dict[str, Any] = {"TrainingJobSummaries": [dict(s.raw) for s in summaries]}
    if next_token is not None:
        body["NextToken"] = next_token
    _show(args, body, render.training_jobs_table(summaries))
    if next_token is not None and shared_options.output_format(args) == "table":
        Console(stderr=True).print(f"more jobs: continue with --next-token {next_token}")


def _collect(
    client: Client, request: dict[str, Any], max_items: int | None
) -> tuple[list[TrainingJobSummary], str | None]:
    """Every page, or pages up to `max_items` jobs; the token to continue from when cut short."""
    if max_items is None:
        return list(client.list_training_jobs(**request)), None
    summaries: list[TrainingJobSummary] = []
    filters = dict(request)
    while len(summaries) < max_items:
        # Asking for no more than is still wanted keeps every cut on a page boundary, so the
        # server's own NextToken resumes exactly where this listing stopped.
        page_size = min(max_items - len(summaries), _MAX_PAGE_SIZE)
        page = client.list_training_jobs_page(**{**filters, "MaxResults": page_size})
        summaries.extend(page.summaries)
        if page.next_token is None:
            return summaries, None
        filters["NextToken"] = page.next_token
    return summaries, filters.get("NextToken")


def _stop(client: Client, request: dict[str, Any], args: argparse.Namespace) -> None:
    client.stop_training_job(request["TrainingJobName"])


def _delete(client: Client, request: dict[str, Any], args: argparse.Namespace) -> None:
    client.delete_training_job(request["TrainingJobName"])


def _show(args: argparse.Namespace, body: Mapping[str, Any], table: RenderableType) -> None:
    if shared_options.output_format(args) == "json":
        render.print_json(body)
    else:
        Console().print(table)


COMMANDS = (
    JobCommand("create-training-job", "CreateTrainingJob", "json", _create, "start a training job"),
    JobCommand("describe-training-job", "DescribeTrainingJob", "json", _describe, "show one job"),
    JobCommand("list-training-jobs", "ListTrainingJobs", "table", _list, "list training jobs"),
    JobCommand("stop-training-job", "StopTrainingJob", "json", _stop, "stop a job gracefully"),
    JobCommand("delete-training-job", "DeleteTrainingJob", "json", _delete, "forget a finished job"),
)


def register(subparsers: Any, *, selected: str | None) -> None:
    """Add every job command; only `selected` gets its generated options (loading the model is slow)."""
    for command in COMMANDS:
        parser = subparsers.add_parser(command.name, help=command.help, description=command.help)
        parser.set_defaults(handler=_handler(command))
        if command.name == selected:
            _add_options(parser, command)


def _add_options(parser: argparse.ArgumentParser, command: JobCommand) -> None:
    shape = arguments.input_shape(command.operation)
    options = arguments.add_shape_options(parser, shape)
    parser.set_defaults(shape_options=options)
    arguments.add_cli_input_json(parser)
    parser.add_argument(
        "--generate-cli-skeleton",
        nargs="?",
        const="input",
        choices=("input", "output"),
        help="print the JSON skeleton of the request (input) or response (output) and exit",
    )
    if command.operation == "ListTrainingJobs":
        parser.add_argument(
            "--max-items",
            type=_positive_int,
            metavar="N",
            # A str default goes through `type` too, so a bad env value is a usage error.
            default=os.environ.get(MAX_ITEMS_ENV),
            help=shared_options.env_help("list at most N jobs (default: all pages)", MAX_ITEMS_ENV),
        )
    shared_options.add_endpoint_option(parser)
    shared_options.add_output_option(parser, default=command.default_output)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _handler(
    command: JobCommand,
) -> Callable[[argparse.Namespace, httpx.BaseTransport | None], int]:
    def handle(args: argparse.Namespace, transport: httpx.BaseTransport | None) -> int:
        if args.generate_cli_skeleton:
            print(skeleton.generate(command.operation, args.generate_cli_skeleton))
            return 0
        shape = arguments.input_shape(command.operation)
        request = arguments.request_from_args(args, args.shape_options, shape)
        shared_options.output_format(args)  # a bad TRAINPLANE_OUTPUT fails before the call
        with shared_options.open_client(args, transport) as client:
            command.run(client, request, args)
        return 0

    return handle
