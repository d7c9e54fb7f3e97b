"""The Baseten training dialect: training projects (job groups) holding training jobs (runs)."""
