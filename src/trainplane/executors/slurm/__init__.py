"""The Slurm executor: `sbatch` runs trainplane's own per-job supervisor inside the allocation."""
