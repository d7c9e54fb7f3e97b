"""The per-job supervisor, reusable by any launcher: local processes today, a Slurm allocation or a
Ray job next. `python -m trainplane.executors.supervisor.supervisor <run_dir>` runs one job's stop
protocol; nothing here imports a launcher. This package stays empty so starting it imports little.
"""

from __future__ import annotations
