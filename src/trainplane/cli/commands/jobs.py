"""The AWS-CLI-shaped job commands over JSON 1.1: create/describe/list/stop/delete-<kind>-job.

The command table is built per job kind from `KIND_VIEWS`; a new kind is one entry there (and one
in `trainplane.client.kinds`).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from rich.console import Console, RenderableType

from trainplane.cli import arguments, render, render_compilation, shared_options, skeleton
from trainplane.client import Client, JobKindWire, kinds
from trainplane.domain.status import JobKind

MAX_ITEMS_ENV = "TRAINPLANE_MAX_ITEMS"
_MAX_PAGE_SIZE = 100  # List*Jobs MaxResults is 1..100


@dataclass(frozen=True)
class KindView:
    """How the CLI shows one job kind: its wire table entry and its Rich renderers."""

    wire: JobKindWire[Any, Any]
    job_view: Callable[[Any], RenderableType]  # a Describe answer
    summaries_table: Callable[[list[Any]], RenderableType]  # a List answer


# One entry per job kind; every verb below becomes `<verb>-<kind>-job` for each.
KIND_VIEWS: Mapping[JobKind, KindView] = {
    JobKind.TRAINING: KindView(kinds.TRAINING, render.training_job_view, render.training_jobs_table),
    JobKind.COMPILATION: KindView(
        kinds.COMPILATION,
        render_compilation.compilation_job_view,
        render_compilation.compilation_jobs_table,
    ),
}

Run = Callable[[Client, KindView, dict[str, Any], argparse.Namespace], None]


@dataclass(frozen=True)
class JobCommand:
    name: str
    operation: str
    default_output: str
    run: Run
    help: str
    view: KindView


def _create(client: Client, view: KindView, request: dict[str, Any], args: argparse.Namespace) -> None:
    arn = client.create_job(view.wire, request)
    body = {view.wire.arn_member: arn}
    _show(args, body, render.key_value_table(body))


def _describe(client: Client, view: KindView, request: dict[str, Any], args: argparse.Namespace) -> None:
    job = client.describe_job(view.wire, request[view.wire.name_member])
    _show(args, job.raw, view.job_view(job))


def _list(client: Client, view: KindView, request: dict[str, Any], args: argparse.Namespace) -> None:
    summaries, next_token = _collect(client, view.wire, request, args.max_items)
    body: dict[str, Any] = {view.wire.summaries_member: [dict(s.raw) for s in summaries]}
    if next_token is not None:
        body["NextToken"] = next_token
    _show(args, body, view.summaries_table(summaries))
    if next_token is not None and shared_options.output_format(args) == "table":
        Console(stderr=True).print(f"more jobs: continue with --next-token {next_token}")


def _collect(
    client: Client, kind: JobKindWire[Any, Any], request: dict[str, Any], max_items: int | None
) -> tuple[list[Any], str | None]:
    """Every page, or pages up to `max_items` jobs; the token to continue from when cut short."""
    if max_items is None:
        return list(client.list_jobs(kind, **request)), None
    summaries: list[Any] = []
    filters = dict(request)
    while len(summaries) < max_items:
        # Asking for no more than is still wanted keeps every cut on a page boundary, so the
        # server's own NextToken resumes exactly where this listing stopped.
        page_size = min(max_items - len(summaries), _MAX_PAGE_SIZE)
        page = client.list_jobs_page(kind, **{**filters, "MaxResults": page_size})
        summaries.extend(page.summaries)
        if page.next_token is None:
            return summaries, None
        filters["NextToken"] = page.next_token
    return summaries, filters.get("NextToken")


def _stop(client: Client, view: KindView, request: dict[str, Any], args: argparse.Namespace) -> None:
    client.stop_job(view.wire, request[view.wire.name_member])


def _delete(client: Client, view: KindView, request: dict[str, Any], args: argparse.Namespace) -> None:
    client.delete_job(view.wire, request[view.wire.name_member])


def _show(args: argparse.Namespace, body: Mapping[str, Any], table: RenderableType) -> None:
    if shared_options.output_format(args) == "json":
        render.print_json(body)
    else:
        Console().print(table)


# (command verb, wire verb, default output, run, help with {kind} for the kind's value)
_VERBS: tuple[tuple[str, str, str, Run, str], ...] = (
    ("create", "Create", "json", _create, "start a {kind} job"),
    ("describe", "Describe", "json", _describe, "show one {kind} job"),
    ("list", "List", "table", _list, "list {kind} jobs"),
    ("stop", "Stop", "json", _stop, "stop a {kind} job gracefully"),
    ("delete", "Delete", "json", _delete, "forget a finished {kind} job"),
)


def commands_for(view: KindView) -> tuple[JobCommand, ...]:
    """`create-training-job` ... `delete-training-job`: every verb for one kind."""
    noun = view.wire.command_noun
    return tuple(
        JobCommand(
            name=f"{verb}-{noun}s" if verb == "list" else f"{verb}-{noun}",
            operation=view.wire.operation(wire_verb),
            default_output=output,
            run=run,
            help=text.format(kind=view.wire.kind.value),
            view=view,
        )
        for verb, wire_verb, output, run, text in _VERBS
    )


COMMANDS = tuple(command for view in KIND_VIEWS.values() for command in commands_for(view))


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
    if command.operation == command.view.wire.operation("List"):
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
            command.run(client, command.view, request, args)
        return 0

    return handle
