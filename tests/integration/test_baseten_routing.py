"""Baseten's fixed `/v1/...` paths are matched before ModelArts' `/v1/{project_id}/...` (which would
otherwise take `/v1/training_projects/...`), in the app the composition root really builds."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Route

from trainplane.config import Settings
from trainplane.server import build


def test_baseten_routes_come_before_any_v1_route_with_a_leading_parameter(tmp_path: Path) -> None:
    plane = build(Settings(data_dir=tmp_path / "data"))
    try:
        paths = [route.path for route in plane.app._router.routes if isinstance(route, Route)]
    finally:
        plane.close()
    baseten = [
        i for i, path in enumerate(paths) if path.startswith(("/v1/training_", "/v1/teams/", "/graphql/"))
    ]
    parametrised = [i for i, path in enumerate(paths) if path.startswith("/v1/{")]
    assert baseten and parametrised, paths  # both dialects are mounted
    assert max(baseten) < min(parametrised), paths
