"""A multi-node job's start on each node: `srun ... python -m trainplane.executors.slurm.node <run dir>`.

One task per node (batch.launch_extras). Each node is a SageMaker host, `algo-<SLURM_NODEID + 1>`:
- algo-1 uses the job's own tree (`<run dir>/base`, staged by the supervisor): only its model dir is
  packaged, as SageMaker packages the first host's;
- algo-K (K > 1) gets its own tree, `<run dir>/hosts/algo-K/base`, staged here (the run dir is shared);
- every node's `resourceconfig.json` and SM_* host variables (SM_CURRENT_HOST, SM_HOSTS, ...) name the
  allocation's hosts, with the network interface that carries this node's Slurm address.
SageMaker also makes the names `algo-K` resolve; a Slurm node's /etc/hosts is not ours, so the
addresses are given as TRAINPLANE_HOST_ADDRESSES ({"algo-1": "10.0.0.1", ...}).
It then `exec`s the training command, so the process Slurm signals is the job's own.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import struct
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trainplane.artifacts import environment
from trainplane.artifacts.layout import JobLayout
from trainplane.artifacts.staging import stage_inputs
from trainplane.domain import documents
from trainplane.domain.job import JobSpec
from trainplane.executors.supervisor import opt_ml, run_dir, status_file

HOST_ADDRESSES_ENV = "TRAINPLANE_HOST_ADDRESSES"
HOSTS_DIR = "hosts"  # <run dir>/hosts/algo-K/base: the tree of host K > 1
_SIOCGIFADDR = 0x8915  # <linux/sockios.h>: an interface's IPv4 address


def host_name(index: int) -> str:
    """SageMaker's name of the index-th host (0-based): algo-1, algo-2, ..."""
    return f"algo-{index + 1}"


def host_base_dir(directory: run_dir.RunDir, index: int) -> Path:
    return directory.base_dir if index == 0 else directory.path / HOSTS_DIR / host_name(index) / "base"


def resource_config(spec: JobSpec, hosts: Sequence[str], current: str, interface: str) -> dict[str, Any]:
    """resourceconfig.json of one host of a multi-host job."""
    config = environment.resource_config(spec)
    group = dict(config["instance_groups"][0], hosts=list(hosts))
    return dict(
        config,
        current_host=current,
        hosts=list(hosts),
        instance_groups=[group],
        network_interface_name=interface,
    )


def host_variables(
    env: Mapping[str, str], spec: JobSpec, hosts: Sequence[str], current: str, interface: str
) -> dict[str, str]:
    """`env` (a job's environment, written for algo-1 alone) made right for host `current`."""
    config = resource_config(spec, hosts, current, interface)
    group = config["instance_groups"][0]
    values: dict[str, Any] = {
        "current_host": current,
        "hosts": list(hosts),
        "current_instance_group_hosts": list(hosts),
        "instance_groups_dict": {group["instance_group_name"]: group},
        "resource_config": config,
        "network_interface_name": interface,
    }
    changed = dict(env)
    changed.update({f"SM_{key.upper()}": _encoded(value) for key, value in values.items()})
    if "SM_TRAINING_ENV" in env:  # left out when too large (environment.fit_kernel_limits)
        training_env = json.loads(env["SM_TRAINING_ENV"])
        training_env.update(values, is_master=current == hosts[0], master_hostname=hosts[0])
        changed["SM_TRAINING_ENV"] = _encoded(training_env)
    return changed


def main(argv: Sequence[str]) -> int:
    directory = run_dir.RunDir(Path(argv[1]))
    launch = status_file.read(directory.launch_file)
    if launch is None:
        print(f"trainplane: no launch.json in {directory.path}", file=sys.stderr)
        return 1
    spec = documents.spec_from_dict(launch["spec"])
    index = int(os.environ["SLURM_NODEID"])
    addresses = _node_addresses(_expanded(os.environ["SLURM_STEP_NODELIST"]))
    hosts = [host_name(i) for i in range(len(addresses))]
    current = hosts[index]
    interface = _interface_of(addresses[index]) or environment.NETWORK_INTERFACE
    layout = JobLayout(host_base_dir(directory, index))
    if index > 0:  # algo-1's tree was staged by the supervisor
        layout.create()
        stage_inputs(spec, layout)
        environment.write_config_files(spec=spec, layout=layout)
    _write_json(
        layout.input_config_dir / "resourceconfig.json", resource_config(spec, hosts, current, interface)
    )
    env = environment.job_environment(
        job_name=launch["job_name"], job_arn=launch["job_arn"], spec=spec, layout=layout, base_env=os.environ
    )
    env = host_variables(env, spec, hosts, current, interface)
    env.update({key: value for key, value in os.environ.items() if key.startswith(("SLURM", "TRAINPLANE_"))})
    env[HOST_ADDRESSES_ENV] = json.dumps(dict(zip(hosts, addresses, strict=True)), sort_keys=True)
    opt_ml.bind_private(layout.base_dir)  # this host's own /opt/ml (where the node's root allows it)
    os.chdir(layout.base_dir)
    command = list(spec.command)
    os.execvpe(command[0], command, env)


def _expanded(node_list: str) -> list[str]:
    out = subprocess.run(
        ["scontrol", "show", "hostnames", node_list], capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def _node_addresses(nodes: Sequence[str]) -> list[str]:
    """Each node's Slurm address (NodeAddr), in the allocation's order."""
    out = subprocess.run(
        ["scontrol", "show", "node", "-o", ",".join(nodes)], capture_output=True, text=True, check=True
    )
    found: dict[str, str] = {}
    for line in out.stdout.splitlines():
        fields = dict(word.split("=", 1) for word in line.split() if "=" in word)
        found[fields.get("NodeName", "")] = fields.get("NodeAddr", "")
    return [found.get(node) or node for node in nodes]


def _interface_of(address: str) -> str | None:
    """The name of the interface holding IPv4 `address` on this node, if one does."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                answer = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, request)
            except OSError:
                continue  # no IPv4 address on it
            if socket.inet_ntoa(answer[20:24]) == address:
                return name
    return None


def _write_json(path: Path, document: Mapping[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)


def _encoded(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, separators=(",", ":"))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
