"""Name and ARN rules shared by every dialect."""

from __future__ import annotations

import re

JOB_NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "000000000000"

_ARN_RESOURCE = {"training": "training-job", "compilation": "compilation-job"}


def is_valid_job_name(name: str) -> bool:
    return JOB_NAME_PATTERN.fullmatch(name) is not None


def job_arn(kind: str, name: str, *, region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT) -> str:
    """SageMaker-shaped ARN; SageMaker lower-cases the name in ARNs."""
    return f"arn:aws:sagemaker:{region}:{account}:{_ARN_RESOURCE[kind]}/{name.lower()}"


def parse_job_arn(arn: str) -> tuple[str, str] | None:
    """(kind, lower-cased name) from an ARN made by `job_arn`, or None."""
    match = re.fullmatch(r"arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:([a-z-]+)/(.+)", arn)
    if match is None:
        return None
    kinds = {resource: kind for kind, resource in _ARN_RESOURCE.items()}
    kind = kinds.get(match.group(1))
    return (kind, match.group(2)) if kind else None
