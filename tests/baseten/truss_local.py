"""Run the real truss CLI against a local server: truss maps its remote URL to an API base through a fixed
table and sends any URL it does not know to production, so this adds the server's URL to that table
first (reference/modelarts_baseten.md §3.1, option B). Test code run by .venv-truss's Python, not a fake.
"""

from __future__ import annotations

import os
import sys

import truss.remote.baseten.api as b10api
from truss.cli.cli import truss_cli

url = os.environ["TRAINPLANE_BASETEN_URL"].rstrip("/")
b10api.API_URL_MAPPING[url] = url
sys.exit(truss_cli())
