"""Client, server, executors and the in-job runtime take their shared names from trainplane.protocol."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from trainplane import protocol, runtime
from trainplane.api import native
from trainplane.api.sagemaker import endpoint
from trainplane.client import wire
from trainplane.executors.supervisor.run_dir import RunDir


def test_the_protocol_module_imports_nothing() -> None:
    """The in-job runtime imports it, inside users' training processes."""
    script = (
        "import sys; before = set(sys.modules); import trainplane.protocol; "
        "print(sorted(set(sys.modules) - before - {'__future__'}))"
    )
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "['trainplane', 'trainplane.protocol']"


def test_handshake_names_agree_between_runtime_and_supervisor(tmp_path: Path) -> None:
    run_dir = RunDir(tmp_path)
    assert run_dir.checkpoint_complete_file.name == runtime.CHECKPOINT_COMPLETE_FILE
    assert run_dir.control_dir.name == protocol.CONTROL_DIR_NAME
    assert run_dir.base_dir.name == protocol.JOB_BASE_DIR_NAME
    assert runtime.CONTROL_DIR_ENV == protocol.CONTROL_DIR_ENV


def test_wire_names_agree_between_client_and_server() -> None:
    assert wire.CONTENT_TYPE == endpoint.CONTENT_TYPE == protocol.SAGEMAKER_CONTENT_TYPE
    assert native.NEXT_OFFSET_HEADER == protocol.NEXT_OFFSET_HEADER
    assert native.LOG_ROUTE == protocol.LOG_ROUTE == "/trainplane/v1/{kind}-jobs/{name}/logs"
