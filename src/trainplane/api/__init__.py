"""The wire APIs: the ASGI app and one sub-package per dialect (sagemaker, modelarts, baseten).

Kept import-free so the CLI can use `api.sagemaker.shapes` without loading the server stack.
"""

from __future__ import annotations
