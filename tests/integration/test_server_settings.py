def test_allowed_roots_and_switches_parse_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    environ = {
        "TRAINPLANE_ALLOWED_ROOTS": f"{tmp_path / 'a'}:{tmp_path / 'b'},{tmp_path / 'a'}",
        "TRAINPLANE_ALLOW_ROOT_JOBS": "yes",
        "TRAINPLANE_DATA_DIR": str(tmp_path / "data"),
    }
    settings = from_env(environ)
    assert settings.allowed_roots == (tmp_path / "a", tmp_path / "b", tmp_path / "a")
    assert settings.allow_root_jobs is True
    assert settings.location_roots[0] == (tmp_path / "data").absolute()
    validate(settings)  # no exception: every root exists
