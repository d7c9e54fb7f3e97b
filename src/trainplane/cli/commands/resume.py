"""`trainplane resume-training-job --training-job-name OLD [--new-name NEW]`.

A new job with OLD's full specification (image, entrypoint, hyperparameters, channels, output and
checkpoint locations, tags, grace), so it continues from the checkpoint OLD left. OLD must have ended.
"""

from __future__ import annotations

import argparse
from typing import Any

import httpx
from rich.console import Console

from trainplane.cli import render, shared_options


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "resume-training-job",
        help="start a new job that continues a finished one from its checkpoint",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--training-job-name", required=True, metavar="OLD", help="the finished job")
    parser.add_argument("--new-name", metavar="NEW", help="the new job's name (default: OLD-r1, OLD-r2, ...)")
    shared_options.add_endpoint_option(parser)
    shared_options.add_output_option(parser, default="json")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, transport: httpx.BaseTransport | None) -> int:
    with shared_options.open_client(args, transport) as client:
        name = client.resume_job(args.training_job_name, args.new_name)
        arn = client.describe_training_job(name).arn
    body = {"TrainingJobName": name, "TrainingJobArn": arn, "ResumedFrom": args.training_job_name}
    if shared_options.output_format(args) == "json":
        render.print_json(body)
    else:
        Console().print(render.key_value_table(body))
    return 0
