"""Compilation jobs end to end: boto3 against a real server that really compiles (TVM, Treelite)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier

from tests.e2e.conftest import ROLE_ARN, sagemaker_client
from tests.e2e.test_aws_cli import aws
from tests.e2e.test_example_with_cli import trainplane
from tests.support import compilable
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until
from trainplane.runtime import compiled

TERMINAL = ("COMPLETED", "FAILED", "STOPPED")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the module: compilation is the same on every store, so SQLite alone."""
    process = ServerProcess(tmp_path_factory.mktemp("server"))
    process.start()
    yield process
    process.kill()


@pytest.fixture(scope="module")
def sm(server: ServerProcess) -> Any:
    return sagemaker_client(server.url)


def compilation_request(
    model: Path, output: Path, framework: str = "ONNX", **overrides: Any
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "CompilationJobName": f"compile-{uuid.uuid4().hex[:12]}",
        "RoleArn": ROLE_ARN,
        "InputConfig": {"S3Uri": model.as_uri(), "Framework": framework},
        "OutputConfig": {"S3OutputLocation": output.as_uri(), "TargetDevice": "ml_c5"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    request.update(overrides)
    return request


def wait_finished(sm: Any, name: str, timeout_seconds: float = 90) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = sm.describe_compilation_job(CompilationJobName=name)
        return job if job["CompilationJobStatus"] in TERMINAL else None

    return wait_until(finished, timeout_seconds, 0.1, message=f"compilation job {name} finished")


def local_path(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


def test_onnx_model_compiles_with_tvm_and_predicts_as_the_model(sm: Any, tmp_path: Path) -> None:
    weights = compilable.mlp_weights()
    model = compilable.model_tar(
        tmp_path / "model.tar.gz", {"model.onnx": compilable.mlp_onnx_bytes(weights)}
    )
    request = compilation_request(model, tmp_path / "compiled")
    arn = sm.create_compilation_job(**request)["CompilationJobArn"]
    assert arn.endswith(f":compilation-job/{request['CompilationJobName'].lower()}")

    job = wait_finished(sm, request["CompilationJobName"])

    assert job["CompilationJobStatus"] == "COMPLETED", job.get("FailureReason")
    artifact = local_path(job["ModelArtifacts"]["S3ModelArtifacts"])
    assert artifact == tmp_path / "compiled" / "model-ml_c5.tar.gz"
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
    assert job["ModelDigests"]["ArtifactDigest"] == f"sha256:{digest}"
    assert job["CompilationStartTime"] <= job["CompilationEndTime"]
    assert job["FailureReason"] == ""
    x = load_digits().data.astype(np.float32) / 16.0
    loaded = compiled.load(job["ModelArtifacts"]["S3ModelArtifacts"])
    assert loaded.manifest["runtime"] == "tvm-relax"
    np.testing.assert_allclose(loaded.predict(x), compilable.mlp_reference(weights, x), atol=1e-5)


def test_tree_ensemble_compiles_with_treelite_for_a_target_platform(sm: Any, tmp_path: Path) -> None:
    x, y = load_digits(return_X_y=True)
    forest = RandomForestClassifier(n_estimators=8, max_depth=6, random_state=0).fit(x, y)
    model = compilable.model_tar(tmp_path / "forest.tar.gz", {"model.pkl": compilable.pickled(forest)})
    platform = {"TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"}}
    output = {"S3OutputLocation": (tmp_path / "out").as_uri(), **platform}
    request = compilation_request(model, tmp_path, "SKLEARN", OutputConfig=output)
    sm.create_compilation_job(**request)

    job = wait_finished(sm, request["CompilationJobName"])

    assert job["CompilationJobStatus"] == "COMPLETED", job.get("FailureReason")
    assert job["ModelArtifacts"]["S3ModelArtifacts"].endswith("/out/forest-LINUX_X86_64.tar.gz")
    loaded = compiled.load(job["ModelArtifacts"]["S3ModelArtifacts"])
    assert loaded.manifest["runtime"] == "tl2cgen"
    np.testing.assert_array_equal(loaded.predict_labels(x), forest.predict(x))
    np.testing.assert_allclose(loaded.predict(x), forest.predict_proba(x), atol=1e-6)


def test_xgboost_model_compiles_with_treelite(sm: Any, tmp_path: Path) -> None:
    import xgboost

    x, y = load_digits(return_X_y=True)
    booster = xgboost.XGBClassifier(n_estimators=5, max_depth=3).fit(x, y)
    booster.save_model(tmp_path / "xgboost-model.json")
    files = {"xgboost-model.json": (tmp_path / "xgboost-model.json").read_bytes()}
    model = compilable.model_tar(tmp_path / "model.tar.gz", files)
    request = compilation_request(model, tmp_path / "compiled", "XGBOOST")
    sm.create_compilation_job(**request)

    job = wait_finished(sm, request["CompilationJobName"])

    assert job["CompilationJobStatus"] == "COMPLETED", job.get("FailureReason")
    loaded = compiled.load(job["ModelArtifacts"]["S3ModelArtifacts"])
    np.testing.assert_allclose(loaded.predict(x.astype(np.float32)), booster.predict_proba(x), atol=1e-5)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"InputConfig": {"Framework": "TENSORFLOW"}}, ["TENSORFLOW", "ONNX", "SKLEARN", "XGBOOST"]),
        ({"OutputConfig": {"TargetDevice": "ml_p3"}}, ["ml_p3", "ml_c5", "LINUX"]),
        ({"OutputConfig": {"TargetPlatform": {"Os": "LINUX", "Arch": "ARM64"}}}, ["ARM64", "X86_64"]),
        ({"InputConfig": {"DataInputConfig": "[1, 64"}}, ["dataInputConfig", "JSON"]),
    ],
)
def test_unsupported_requests_are_refused_at_create_naming_what_is_supported(
    sm: Any, tmp_path: Path, change: dict[str, dict[str, Any]], words: list[str]
) -> None:
    request = compilation_request(tmp_path / "model.tar.gz", tmp_path / "compiled")
    for member, values in change.items():
        merged = {**request[member], **values}
        if "TargetPlatform" in values:
            merged.pop("TargetDevice")
        request[member] = merged

    with pytest.raises(sm.exceptions.ClientError) as refused:
        sm.create_compilation_job(**request)

    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException"
    for word in words:
        assert word in error["Message"]
    with pytest.raises(sm.exceptions.ClientError):
        sm.describe_compilation_job(CompilationJobName=request["CompilationJobName"])


def test_a_model_outside_the_allowed_roots_is_refused(sm: Any, tmp_path: Path) -> None:
    request = compilation_request(Path("/etc/passwd"), tmp_path / "compiled")

    with pytest.raises(sm.exceptions.ClientError) as refused:
        sm.create_compilation_job(**request)

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "inputConfig.s3Uri" in refused.value.response["Error"]["Message"]


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed here")
def test_pytorch_without_torch_fails_with_a_clear_reason(sm: Any, tmp_path: Path) -> None:
    model = compilable.model_tar(tmp_path / "model.tar.gz", {"model.pt2": b"not read without torch"})
    request = compilation_request(model, tmp_path / "compiled", "PYTORCH")
    sm.create_compilation_job(**request)

    job = wait_finished(sm, request["CompilationJobName"])

    assert job["CompilationJobStatus"] == "FAILED"
    assert "PYTORCH needs torch, which is not installed" in job["FailureReason"]
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == ""
    assert not (tmp_path / "compiled" / "model-ml_c5.tar.gz").exists()


def test_list_filters_sorts_pages_tags_and_deletes(sm: Any, tmp_path: Path) -> None:
    weights = compilable.mlp_weights()
    model = compilable.model_tar(
        tmp_path / "model.tar.gz", {"model.onnx": compilable.mlp_onnx_bytes(weights)}
    )
    prefix = f"lst-{uuid.uuid4().hex[:8]}"
    good = compilation_request(model, tmp_path / "a", CompilationJobName=f"{prefix}-good")
    good["Tags"] = [{"Key": "team", "Value": "vision"}]
    (tmp_path / "empty").mkdir()
    bad = compilation_request(tmp_path / "empty", tmp_path / "b", CompilationJobName=f"{prefix}-bad")
    for request in (good, bad):
        sm.create_compilation_job(**request)
    assert wait_finished(sm, good["CompilationJobName"])["CompilationJobStatus"] == "COMPLETED"
    assert wait_finished(sm, bad["CompilationJobName"])["CompilationJobStatus"] == "FAILED"

    def names(**filters: Any) -> list[str]:
        pages = sm.get_paginator("list_compilation_jobs").paginate(NameContains=prefix, **filters)
        return [s["CompilationJobName"] for page in pages for s in page["CompilationJobSummaries"]]

    assert names(StatusEquals="COMPLETED") == [good["CompilationJobName"]]
    assert names(StatusEquals="FAILED") == [bad["CompilationJobName"]]
    assert names(SortBy="Name", SortOrder="Ascending") == sorted(
        [good["CompilationJobName"], bad["CompilationJobName"]]
    )
    first = sm.list_compilation_jobs(NameContains=prefix, MaxResults=1, SortBy="CreationTime")
    assert len(first["CompilationJobSummaries"]) == 1 and first["NextToken"]
    summary = first["CompilationJobSummaries"][0]
    assert summary["CompilationTargetDevice"] == "ml_c5" and summary["CompilationJobStatus"] == "COMPLETED"
    arn = sm.describe_compilation_job(CompilationJobName=good["CompilationJobName"])["CompilationJobArn"]
    assert {"Key": "team", "Value": "vision"} in sm.list_tags(ResourceArn=arn)["Tags"]

    sm.delete_compilation_job(CompilationJobName=good["CompilationJobName"])

    assert names() == [bad["CompilationJobName"]]


def test_describe_of_an_unknown_job_is_refused_as_sagemaker_does(sm: Any) -> None:
    with pytest.raises(sm.exceptions.ClientError) as refused:
        sm.describe_compilation_job(CompilationJobName="no-such-compile")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(sm.exceptions.ResourceNotFound):
        sm.stop_compilation_job(CompilationJobName="no-such-compile")


def test_the_artifact_manifest_says_how_it_was_compiled(sm: Any, tmp_path: Path) -> None:
    weights = compilable.mlp_weights(seed=3)
    onnx_model = compilable.mlp_onnx_bytes(weights)
    model = compilable.model_tar(tmp_path / "model.tar.gz", {"model.onnx": onnx_model})
    data_input = json.dumps({"x": [4, 64]})
    request = compilation_request(model, tmp_path / "compiled")
    request["InputConfig"]["DataInputConfig"] = data_input
    sm.create_compilation_job(**request)

    job = wait_finished(sm, request["CompilationJobName"])

    manifest = compiled.load(job["ModelArtifacts"]["S3ModelArtifacts"]).manifest
    assert manifest["inputs"] == [{"name": "x", "shape": [4, 64], "dtype": "float32"}]
    assert manifest["target"]["label"] == "ml_c5" and manifest["target"]["mcpu"] == "skylake-avx512"
    assert manifest["source"]["sha256"] == hashlib.sha256(onnx_model).hexdigest()


def test_the_aws_cli_and_the_trainplane_cli_drive_compilation_jobs(
    server: ServerProcess, sm: Any, tmp_path: Path
) -> None:
    weights = compilable.mlp_weights()
    model = compilable.model_tar(
        tmp_path / "model.tar.gz", {"model.onnx": compilable.mlp_onnx_bytes(weights)}
    )
    request = compilation_request(model, tmp_path / "compiled")
    name = request["CompilationJobName"]
    (tmp_path / "request.json").write_text(json.dumps(request))

    created = json.loads(
        aws(
            server, "create-compilation-job", "--cli-input-json", f"file://{tmp_path / 'request.json'}"
        ).stdout
    )
    assert created["CompilationJobArn"].endswith(name.lower())
    wait_finished(sm, name)

    described = json.loads(aws(server, "describe-compilation-job", "--compilation-job-name", name).stdout)
    assert described["CompilationJobStatus"] == "COMPLETED"
    ours = trainplane(server, "describe-compilation-job", "--compilation-job-name", name)
    assert ours.returncode == 0, ours.stderr
    assert json.loads(ours.stdout)["ModelArtifacts"] == described["ModelArtifacts"]
    listed = trainplane(server, "list-compilation-jobs", "--name-contains", name, "--output", "json")
    assert [s["CompilationJobName"] for s in json.loads(listed.stdout)["CompilationJobSummaries"]] == [name]
    table = trainplane(server, "list-compilation-jobs", "--name-contains", name)
    assert table.returncode == 0 and "Status" in table.stdout
    refused = trainplane(server, "stop-compilation-job", "--compilation-job-name", name)
    assert refused.returncode == 1 and "COMPLETED" in refused.stderr
