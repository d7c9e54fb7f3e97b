"""The local executor: each job runs under a small detached supervisor process (like conmon).

Import `trainplane.executors.local.launcher.LocalExecutor`; this package stays empty so that
starting the supervisor (`python -m trainplane.executors.supervisor.supervisor`) imports nothing extra.
"""

from __future__ import annotations
