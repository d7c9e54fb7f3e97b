"""Baseten's fixed `/v1/...` paths are matched before any `/v1/{param}/...` route of another dialect
(ModelArts' `/v1/{project_id}/...` would otherwise take `/v1/training_projects/...`)."""

from __future__ import annotations

from typing import Any, cast

from starlette.routing import Route

from trainplane.api.app import create_app


def test_baseten_routes_come_before_any_v1_route_with_a_leading_parameter() -> None:
    app = create_app(cast(Any, None), groups=cast(Any, object()))
    paths = [route.path for route in app._router.routes if isinstance(route, Route)]
    baseten = [
        i for i, path in enumerate(paths) if path.startswith(("/v1/training_", "/v1/teams/", "/graphql/"))
    ]
    parametrised = [i for i, path in enumerate(paths) if path.startswith("/v1/{")]
    assert baseten, paths
    assert not parametrised or max(baseten) < min(parametrised), paths
