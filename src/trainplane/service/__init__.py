"""The one service core: the job service, the reconciler, and the ports adapters satisfy."""

from __future__ import annotations
