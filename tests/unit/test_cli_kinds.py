"""The CLI's and the client's job tables are keyed by job kind (issue 5: compilation jobs come next)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from trainplane.cli.commands import jobs
from trainplane.cli.main import main
from trainplane.client import Client, JobKindWire, kinds
from trainplane.domain.status import JobKind

# A kind the server does not serve yet, built the way its table entry will be.
COMPILATION = JobKindWire(JobKind.COMPILATION, "CompilationJob", dict, dict)


def test_every_verb_exists_for_every_kind_in_the_table() -> None:
    names = {command.name for command in jobs.COMMANDS}
    for kind in kinds.BY_KIND.values():
        noun = kind.command_noun
        verbs = {f"create-{noun}", f"describe-{noun}", f"list-{noun}s", f"stop-{noun}", f"delete-{noun}"}
        assert verbs <= names
    assert {command.operation for command in jobs.COMMANDS} >= {
        "CreateTrainingJob",
        "DescribeTrainingJob",
        "ListTrainingJobs",
        "StopTrainingJob",
        "DeleteTrainingJob",
    }


def test_a_new_kind_is_one_table_entry() -> None:
    view = jobs.KindView(COMPILATION, job_view=str, summaries_table=str)
    commands = {command.name: command.operation for command in jobs.commands_for(view)}
    assert commands == {
        "create-compilation-job": "CreateCompilationJob",
        "describe-compilation-job": "DescribeCompilationJob",
        "list-compilation-jobs": "ListCompilationJobs",
        "stop-compilation-job": "StopCompilationJob",
        "delete-compilation-job": "DeleteCompilationJob",
    }


def test_generic_client_calls_use_the_kinds_operations_and_members_with_mock_transport() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append((request.headers["X-Amz-Target"], body))
        if request.headers["X-Amz-Target"].endswith("ListCompilationJobs"):
            return httpx.Response(200, json={"CompilationJobSummaries": [{"CompilationJobName": "c"}]})
        return httpx.Response(200, json={"CompilationJobName": "c", "CompilationJobArn": "arn/c"})

    with Client("http://test", transport=httpx.MockTransport(handler)) as client:
        assert client.create_job(COMPILATION, {"CompilationJobName": "c"}) == "arn/c"
        assert client.describe_job(COMPILATION, "c")["CompilationJobArn"] == "arn/c"
        assert list(client.list_jobs(COMPILATION)) == [{"CompilationJobName": "c"}]
        client.stop_job(COMPILATION, "c")
    assert [target for target, _ in seen] == [
        "SageMaker.CreateCompilationJob",
        "SageMaker.DescribeCompilationJob",
        "SageMaker.ListCompilationJobs",
        "SageMaker.StopCompilationJob",
    ]
    assert seen[-1][1] == {"CompilationJobName": "c"}


@pytest.mark.parametrize("kind", list(JobKind))
def test_log_route_names_the_kind_with_mock_transport(kind: JobKind) -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode().split("?")[0])
        return httpx.Response(200, content=b"", headers={"X-Trainplane-Next-Offset": "0"})

    with Client("http://test", transport=httpx.MockTransport(handler)) as client:
        client.read_log("a/b", kind=kind)
    assert paths == [f"/trainplane/v1/{kind.value}-jobs/a%2Fb/logs"]


def test_logs_kind_option_and_its_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(200, content=b"")

    transport = httpx.MockTransport(handler)
    assert main(["logs", "a", "--kind", "training"], transport=transport) == 0
    assert paths == ["/trainplane/v1/training-jobs/a/logs"]
    monkeypatch.setenv("TRAINPLANE_JOB_KIND", "bogus")
    assert main(["logs", "a"], transport=transport) == 2
