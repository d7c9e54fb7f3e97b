"""The SageMaker Python SDK 2.x, unmodified, from its own environment (.venv-sdk), against trainplane."""

from __future__ import annotations

import json
import subprocess
import tarfile
import uuid
from pathlib import Path

from tests.e2e.conftest import JOBS_DIR
from tests.support.server import ServerProcess

REPO = Path(__file__).resolve().parents[2]
SDK_PYTHON = REPO / ".venv-sdk" / "bin" / "python"
SCRIPT = REPO / "tests" / "sdk" / "estimator_lifecycle.py"


def test_estimator_sees_its_model_while_running_stops_and_attaches(
    server: ServerProcess, tmp_path: Path
) -> None:
    assert SDK_PYTHON.exists(), "scripts/install makes .venv-sdk with the SageMaker SDK"
    name = f"sdk-{uuid.uuid4().hex[:12]}"
    output_path = tmp_path / "out"  # a plain path: the SDK refuses file:// outside its local mode
    result = subprocess.run(
        [
            str(SDK_PYTHON),
            str(SCRIPT),
            server.url,
            name,
            str(output_path),
            str(JOBS_DIR / "cooperative.py"),
            str(tmp_path / "markers"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    model = f"{output_path}/{name}/output/model.tar.gz"
    assert seen["model_data_while_running"] == model
    assert seen["status"] == "Stopped"
    assert seen["model_data_after"] == seen["attached_model_data"] == model
    assert seen["attached_output_path"] == str(output_path)
    assert seen["attached_instance_type"] == "ml.m5.large"
    assert seen["attached_role"].endswith("role/trainplane-test")
    with tarfile.open(model) as archive:
        saved = json.loads(archive.extractfile("model.json").read())  # type: ignore[union-attr]
    assert saved["stopped"] is True  # written by the job's SIGTERM handler in the grace window
