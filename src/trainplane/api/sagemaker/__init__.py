"""The SageMaker JSON 1.1 dialect: operations, shapes (botocore's model), translation, errors.

Kept import-free: `shapes` and `constraints` are also used client-side by the CLI.
"""

from __future__ import annotations
