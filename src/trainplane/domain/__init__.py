"""Pure values and rules: statuses, the transition table, jobs, names, errors. Stdlib only, no I/O."""

from __future__ import annotations
