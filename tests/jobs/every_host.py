"""A job of InstanceCount N: each host records what SageMaker tells it, and saves a model on SIGTERM."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from trainplane import runtime

runtime.install()
host = os.environ["SM_CURRENT_HOST"]
marker_dir = Path(os.environ["TEST_MARKER_DIR"])
marker_dir.mkdir(parents=True, exist_ok=True)
resource_config = Path(os.environ["SM_INPUT_CONFIG_DIR"], "resourceconfig.json").read_text()
seen = {
    "hostname": socket.gethostname(),
    "hosts": json.loads(os.environ["SM_HOSTS"]),
    "resourceconfig": json.loads(resource_config),
}
(marker_dir / f"started-{host}.json").write_text(json.dumps(seen))
print(f"host {host} of {seen['hosts']} started", flush=True)
while not runtime.wait_for_stop(0.05):
    pass
(runtime.model_dir() / f"model-{host}.json").write_text(json.dumps({"host": host, "stopped": True}))
(marker_dir / f"sigterm-{host}").write_text("")
