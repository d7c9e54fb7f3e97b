"""A truss training project as a Baseten user writes one: `truss train push config.py` uploads this
directory and runs `python train.py` in it (tests/e2e/test_baseten_truss.py)."""

from __future__ import annotations

from truss_train import definitions

runtime = definitions.Runtime(
    start_commands=["python train.py"],
    environment_variables={"EPOCHS": "3"},
    checkpointing_config=definitions.CheckpointingConfig(enabled=True),
)
training_job = definitions.TrainingJob(
    image=definitions.Image(base_image="python:3.11-slim"),
    compute=definitions.Compute(cpu_count=1, memory="1Gi"),
    runtime=runtime,
    name="pushed-job",
)
training_project = definitions.TrainingProject(name="pushed-project", job=training_job)
