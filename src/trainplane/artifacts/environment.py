"""The environment and config files a job sees: TRAINING_JOB_*, SAGEMAKER_BASE_DIR and the SM_* set.

Values are encoded as the sagemaker-training-toolkit does (reference/sagemaker.md section 6): strings
raw, everything else compact JSON with sorted keys; hyperparameters are JSON-decoded where possible.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainplane.artifacts.layout import JobLayout
from trainplane.domain.job import JobSpec

CURRENT_HOST = "algo-1"
INSTANCE_GROUP = "homogeneousCluster"
NETWORK_INTERFACE = "lo"  # a local job talks to itself only
LOG_LEVEL = 20  # logging.INFO, the toolkit's default
FRAMEWORK_PREFIX = "sagemaker_"  # hyperparameters the SageMaker SDK adds for the toolkit itself
# What a job inherits from the server's environment; nothing else (no credentials, no TRAINPLANE_*).
INHERITED_VARIABLES = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM", "CUDA_VISIBLE_DEVICES"}
)
INHERITED_PREFIXES = ("LC_",)
# The kernel refuses an exec whose single "KEY=value" string exceeds MAX_ARG_STRLEN (32 pages), or whose
# whole argument and environment block exceeds ARG_MAX; stay well under both.
MAX_VARIABLE_BYTES = 128 * 1024 - 1
ENVIRONMENT_BUDGET_BYTES = 1024 * 1024
# Dropped first when the budget is exceeded: each repeats what input/config/hyperparameters.json holds.
OMISSIBLE_VARIABLES = ("SM_TRAINING_ENV", "SM_USER_ARGS", "SM_HPS")
OMITTED_VARIABLE = "TRAINPLANE_OMITTED_ENV"


def job_environment(
    *,
    job_name: str,
    job_arn: str,
    spec: JobSpec,
    layout: JobLayout,
    base_env: Mapping[str, str],
) -> dict[str, str]:
    """The process environment of a job: inherited < spec.environment < SM_*, TRAINING_JOB_*.

    Only INHERITED_VARIABLES (and LC_*) come from base_env, the server's environment. Variables too
    large for the kernel (see fit_kernel_limits) are left out and named in TRAINPLANE_OMITTED_ENV.
    """
    env = {key: value for key, value in base_env.items() if is_inherited(key)}
    env.update(spec.environment)
    env.update(_toolkit_variables(job_name, spec, layout))
    env["TRAINING_JOB_NAME"] = job_name
    env["TRAINING_JOB_ARN"] = job_arn
    env["SAGEMAKER_BASE_DIR"] = str(layout.base_dir)
    return fit_kernel_limits(env)


def is_inherited(name: str) -> bool:
    return name in INHERITED_VARIABLES or name.startswith(INHERITED_PREFIXES)


def fit_kernel_limits(env: dict[str, str]) -> dict[str, str]:
    """Leave out the SM_* variables that would make exec fail ("Argument list too long", or a name
    with "=" from a hyperparameter key SageMaker accepts).

    Any SM_* variable named with "=" or over MAX_VARIABLE_BYTES goes; then the summaries in
    OMISSIBLE_VARIABLES, largest first, until the whole block fits ENVIRONMENT_BUDGET_BYTES. The
    hyperparameters stay complete in input/config/hyperparameters.json (and in SM_HP_<NAME>, but for
    a key holding "=").
    """
    omitted = [
        key
        for key, value in env.items()
        if key.startswith("SM_") and ("=" in key or _size(key, value) > MAX_VARIABLE_BYTES)
    ]
    for key in omitted:
        del env[key]
    for key in sorted(OMISSIBLE_VARIABLES, key=lambda name: -_size(name, env.get(name, ""))):
        if sum(_size(k, v) for k, v in env.items()) <= ENVIRONMENT_BUDGET_BYTES:
            break
        if key in env:
            del env[key]
            omitted.append(key)
    if omitted:
        env[OMITTED_VARIABLE] = ",".join(sorted(omitted))
    return env


def _size(key: str, value: str) -> int:
    return len(key.encode()) + len(value.encode()) + 2  # "=" and the terminating NUL


def write_config_files(*, spec: JobSpec, layout: JobLayout) -> None:
    """Write input/config/{hyperparameters,inputdataconfig,resourceconfig}.json."""
    layout.input_config_dir.mkdir(parents=True, exist_ok=True)
    documents = {
        "hyperparameters.json": dict(spec.hyperparameters),
        "inputdataconfig.json": input_data_config(spec),
        "resourceconfig.json": resource_config(spec),
    }
    for name, document in documents.items():
        path = layout.input_config_dir / name
        temporary = path.with_name(f".{name}.tmp")
        temporary.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
        os.replace(temporary, path)


def input_data_config(spec: JobSpec) -> dict[str, dict[str, str]]:
    """inputdataconfig.json: one entry per channel, as SageMaker writes it for File mode."""
    config: dict[str, dict[str, str]] = {}
    for channel in spec.channels:
        entry = {
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        }
        if channel.content_type:
            entry["ContentType"] = channel.content_type
        config[channel.name] = entry
    return config


def resource_config(spec: JobSpec) -> dict[str, Any]:
    """resourceconfig.json. A local job runs on one host, so `hosts` names only algo-1."""
    hosts = [CURRENT_HOST]
    return {
        "current_host": CURRENT_HOST,
        "current_instance_type": spec.instance_type,
        "current_group_name": INSTANCE_GROUP,
        "hosts": hosts,
        "instance_groups": [
            {"instance_group_name": INSTANCE_GROUP, "instance_type": spec.instance_type, "hosts": hosts}
        ],
        "network_interface_name": NETWORK_INTERFACE,
    }


def decoded_hyperparameters(hyperparameters: Mapping[str, str]) -> dict[str, Any]:
    """Each value JSON-decoded when it parses, else kept as the string (the toolkit's rule)."""
    decoded: dict[str, Any] = {}
    for key, value in hyperparameters.items():
        try:
            decoded[key] = json.loads(value)
        except (ValueError, TypeError):
            decoded[key] = value
    return decoded


def user_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """SM_USER_ARGS: `--key value` per hyperparameter, sorted (`-k` for one-letter keys)."""
    args: list[str] = []
    for key in sorted(hyperparameters):
        value = hyperparameters[key]
        args.append(f"--{key}" if len(key) > 1 else f"-{key}")
        if isinstance(value, Mapping):
            args.append(",".join(f"{k}={v}" for k, v in sorted(value.items())))
        else:
            args.append(str(value))
    return args


def _toolkit_variables(job_name: str, spec: JobSpec, layout: JobLayout) -> dict[str, str]:
    everything = decoded_hyperparameters(spec.hyperparameters)
    framework_params = {k: v for k, v in everything.items() if k.startswith(FRAMEWORK_PREFIX)}
    hps = {k: v for k, v in everything.items() if not k.startswith(FRAMEWORK_PREFIX)}
    channel_dirs = {channel.name: str(layout.channel_dir(channel.name)) for channel in spec.channels}
    values: dict[str, Any] = {
        **_path_values(spec, layout),
        **_host_values(spec),
        **_program_values(framework_params),
        "channels": sorted(channel_dirs),
        "hps": hps,
        "user_args": user_args(hps),
        "framework_params": framework_params,
        "resource_config": resource_config(spec),
        "input_data_config": input_data_config(spec),
    }
    values["training_env"] = {
        **values,  # plus the names the toolkit's Environment uses for the same facts
        "job_name": job_name,
        "hyperparameters": hps,
        "additional_framework_parameters": framework_params,
        "channel_input_dirs": channel_dirs,
        "is_master": True,
        "master_hostname": CURRENT_HOST,
    }
    values.update({f"channel_{name}": path for name, path in channel_dirs.items()})
    values.update({f"hp_{key}": value for key, value in hps.items()})
    return {f"SM_{key.upper()}": _encoded(value) for key, value in values.items()}


def _path_values(spec: JobSpec, layout: JobLayout) -> dict[str, str]:
    return {
        "model_dir": str(layout.model_dir),
        "checkpoint_dir": str(layout.checkpoint_dir(spec)),
        "input_dir": str(layout.input_dir),
        "input_config_dir": str(layout.input_config_dir),
        "output_dir": str(layout.output_dir),
        "output_data_dir": str(layout.output_data_dir),
        "output_intermediate_dir": str(layout.output_intermediate_dir),
    }


def _host_values(spec: JobSpec) -> dict[str, Any]:
    groups = resource_config(spec)["instance_groups"]
    return {
        "current_host": CURRENT_HOST,
        "hosts": [CURRENT_HOST],
        "current_instance_type": spec.instance_type,
        "current_instance_group": INSTANCE_GROUP,
        "current_instance_group_hosts": [CURRENT_HOST],
        "instance_groups": [INSTANCE_GROUP],
        "instance_groups_dict": {group["instance_group_name"]: group for group in groups},
        "distribution_instance_groups": [],
        "is_hetero": False,
        "network_interface_name": NETWORK_INTERFACE,
        "num_cpus": _cpu_count(),
        "num_gpus": _gpu_count(),
    }


def _program_values(framework_params: Mapping[str, Any]) -> dict[str, Any]:
    # Set by the SageMaker SDK's script mode; empty for a plain ContainerEntrypoint job.
    program = str(framework_params.get("sagemaker_program", ""))
    return {
        "log_level": LOG_LEVEL,
        "module_name": program.removesuffix(".py"),
        "module_dir": str(framework_params.get("sagemaker_submit_directory", "")),
        "user_entry_point": program,
        "framework_module": None,
    }


def _encoded(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _cpu_count() -> int:
    # The CPUs this process may run on, which is what a job can use (not the host's total).
    return len(os.sched_getaffinity(0))


def _gpu_count() -> int:
    # NVIDIA device nodes, without running nvidia-smi on every launch as the toolkit does.
    return sum(1 for node in Path("/dev").glob("nvidia[0-9]*"))
