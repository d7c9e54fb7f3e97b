"""Executors: adapters that launch, signal and report jobs (local, later Slurm and Ray)."""

from __future__ import annotations
