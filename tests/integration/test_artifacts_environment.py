"""Config files and variables as a real job process reads them (toolkit-style and through runtime)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from trainplane.artifacts.environment import job_environment, write_config_files
from trainplane.artifacts.layout import JobLayout
from trainplane.artifacts.staging import stage_inputs
from trainplane.domain.job import Channel, JobSpec


def _spec(train_dir: Path) -> JobSpec:
    return JobSpec(
        image="trainplane/python",
        command=(sys.executable,),
        environment={},
        hyperparameters={"epochs": "3", "optimizer": "adam", "ratio": "0.25"},
        channels=(Channel("train", str(train_dir), "text/csv"),),
        instance_type="ml.c5.xlarge",
    )


def test_config_files_hold_what_sagemaker_writes(tmp_path: Path) -> None:
    layout = JobLayout(tmp_path / "base")
    write_config_files(spec=_spec(tmp_path), layout=layout)
    config = layout.input_config_dir

    assert json.loads((config / "hyperparameters.json").read_text()) == {
        "epochs": "3",
        "optimizer": "adam",
        "ratio": "0.25",
    }
    assert json.loads((config / "inputdataconfig.json").read_text()) == {
        "train": {
            "ContentType": "text/csv",
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        }
    }
    resource = json.loads((config / "resourceconfig.json").read_text())
    assert resource["current_host"] == "algo-1"
    assert resource["hosts"] == ["algo-1"]
    assert resource["current_instance_type"] == "ml.c5.xlarge"
    assert resource["instance_groups"][0]["hosts"] == ["algo-1"]
    assert [p.name for p in config.iterdir() if p.name.startswith(".")] == []


def test_a_job_process_finds_its_data_and_hyperparameters_through_the_environment(tmp_path: Path) -> None:
    train = tmp_path / "train"
    train.mkdir()
    (train / "rows.csv").write_text("1,2\n")
    spec = _spec(train)
    layout = JobLayout(tmp_path / "base")
    stage_inputs(spec, layout)
    write_config_files(spec=spec, layout=layout)
    env = job_environment(
        job_name="digits", job_arn="arn:x", spec=spec, layout=layout, base_env=dict(os.environ)
    )
    script = (
        "import json, os\n"
        "from trainplane import runtime\n"
        "print(json.dumps({\n"
        "  'rows': (runtime.channel_dir('train') / 'rows.csv').read_text(),\n"
        "  'hps': runtime.hyperparameters(),\n"
        "  'model_dir': str(runtime.model_dir()),\n"
        "  'toolkit_hps': json.load(open(os.path.join(os.environ['SM_INPUT_CONFIG_DIR'],"
        " 'hyperparameters.json'))),\n"
        "  'job': os.environ['TRAINING_JOB_NAME'],\n"
        "}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=layout.base_dir,
        capture_output=True,
        text=True,
        check=True,
    )
    seen = json.loads(result.stdout)
    assert seen["rows"] == "1,2\n"
    assert seen["hps"] == {"epochs": "3", "optimizer": "adam", "ratio": "0.25"}
    assert seen["toolkit_hps"] == seen["hps"]
    assert seen["model_dir"] == str(layout.model_dir)
    assert seen["job"] == "digits"
