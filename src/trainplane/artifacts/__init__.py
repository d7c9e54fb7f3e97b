"""Artifacts: channels in, checkpoint dirs, model.tar.gz out, for file paths and file:// URIs.

May import trainplane.domain and trainplane.service.ports only (STYLE.md section 2).
"""

from __future__ import annotations
