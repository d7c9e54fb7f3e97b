"""A private `/opt/ml` for each job: SageMaker code finds its tree there, and much of it hard-codes it.

Just before it spawns the job, the supervisor (one per job) moves itself into a new mount namespace,
makes every mount in it private (so nothing propagates back to the host) and binds the job's own tree
(`<run dir>/base`) at `/opt/ml`. The job inherits that namespace: it sees its own `/opt/ml`, its
neighbours see theirs, and the host sees nothing change (at most an empty `/opt/ml` directory, the
mount point, created once). The same tree stays reachable at its real path (`SAGEMAKER_BASE_DIR` and
the `SM_*` variables point there), which is how the supervisor packages the model.

It needs CAP_SYS_ADMIN (a root supervisor); without it, or where the run dir itself lies under
`/opt/ml` (binding over it would hide it), the job runs as before: its tree at its real path only.
"""

from __future__ import annotations

import os
from pathlib import Path

OPT_ML = Path("/opt/ml")
_CLONE_NEWNS = 0x00020000  # <sched.h>
_MS_BIND = 0x1000  # <sys/mount.h>
_MS_REC = 0x4000
_MS_PRIVATE = 0x40000


def bind_private(base_dir: Path) -> str | None:
    """Make `/opt/ml` the job's tree for this process and its children; None, or why it cannot be."""
    if os.geteuid() != 0:
        return "the supervisor is not root (a mount namespace needs CAP_SYS_ADMIN)"
    source = base_dir.resolve()
    if source == OPT_ML or OPT_ML in source.parents:
        return f"the job's tree {source} is under {OPT_ML}: binding over it would hide it"
    try:
        OPT_ML.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"no mount point: {exc}"
    import ctypes  # here, not at the top: the supervisor's start is on every job's launch path

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNS) != 0:
        return _failed(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    # Before any mount of ours: with shared propagation (systemd's default) the bind would reach the host.
    if libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        return _failed(ctypes.get_errno(), "making the namespace's mounts private")
    if libc.mount(os.fsencode(source), os.fsencode(OPT_ML), None, _MS_BIND | _MS_REC, None) != 0:
        return _failed(ctypes.get_errno(), f"binding {source} at {OPT_ML}")
    return None


def _failed(errno: int, what: str) -> str:
    return f"{what}: {os.strerror(errno)}"
