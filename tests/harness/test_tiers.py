"""A missing tool or Docker engine skips on a laptop and fails under CI, never silently."""

from __future__ import annotations

import shutil

import pytest

from harness.infra.policy import require_tool, unavailable
from harness.infra.process_groups import DOCKER_MAIN, PIPELINE, group_of
from harness.infra.settings import ENV_FILE_VARIABLE, TierSettings, engine_problem
from harness.template import buildkit_image

MISSING = "no-such-tool-gotpl"


def test_missing_tool_skips_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=MISSING):
        require_tool(MISSING)


def test_missing_tool_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=MISSING):
        require_tool(MISSING)


def test_missing_engine_skips_locally(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Docker tier unavailable"):
        unavailable("Docker tier", "no Docker engine answers")


def test_missing_engine_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Docker tier unavailable"):
        unavailable("Docker tier", "no Docker engine answers")


def test_engine_problem_names_an_unreachable_engine(monkeypatch, tmp_path):
    """What the docker_tier fixture reports when no engine answers at DOCKER_HOST."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    problem = engine_problem()
    if shutil.which("docker"):
        assert problem and problem.startswith("no Docker engine answers"), problem
    else:
        assert problem == "the docker CLI is not installed"


def test_settings_file_is_read_verbatim(monkeypatch, tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text(
        "# comment\nGOTPL_OFFLINE=1\nGOTPL_BUILDX_CREATE_FLAGS=--driver docker-container"
        " --buildkitd-config /x/buildkitd.toml\nTESTCONTAINERS_RYUK_DISABLED=true\n",
        encoding="utf-8",
    )
    monkeypatch.setenv(ENV_FILE_VARIABLE, str(env_file))
    settings = TierSettings.load(require_file=True)
    assert settings.offline
    # The pinned BuildKit image joins the flags the file gives.
    assert settings.create_flags == (
        "--driver", "docker-container", "--buildkitd-config", "/x/buildkitd.toml",
        "--driver-opt", f"image={buildkit_image()}",
    )  # fmt: skip
    monkeypatch.setenv(ENV_FILE_VARIABLE, str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError):
        TierSettings.load(require_file=True)
    assert "network=host" in TierSettings.load().create_flags


def test_each_engine_module_runs_in_the_process_group_its_fixtures_need(request):
    """harness.infra.process_groups: every Docker and pipeline test has a group (a module's
    tests share one, since the group depends on the module alone), and a Docker module
    joins docker-main exactly when one of its tests requests the session's cold build;
    otherwise it is a group of its own.
    Render and harness tests have none. Checks the tests of this run (all, in CI)."""
    root = request.config.rootpath
    requests_main_cache: dict[str, bool] = {}
    for item in request.session.items:
        path = item.nodeid.split("::", 1)[0]
        group = group_of(item.nodeid, root)
        engine = item.get_closest_marker("docker") or item.get_closest_marker("pipeline")
        if engine is None:
            assert group is None, f"{item.nodeid} is grouped but needs no engine"
            continue
        assert group in (DOCKER_MAIN, PIPELINE, path), f"{item.nodeid}: {group}"
        if path.startswith("tests/docker/"):
            requests_main_cache[path] = requests_main_cache.get(path, False) or (
                "main_cache" in item.fixturenames
            )
    for path, requests in requests_main_cache.items():
        expected = DOCKER_MAIN if requests else path
        assert group_of(path, root) == expected, f"{path} should run in {expected}"


def test_groups_follow_the_folders(tmp_path):
    (tmp_path / "tests" / "docker").mkdir(parents=True)
    (tmp_path / "tests/docker/test_a.py").write_text("def test_a(main_cache): ...\n")
    (tmp_path / "tests/docker/test_b.py").write_text("def test_b(registry): ...\n")
    assert group_of("tests/docker/test_a.py::test_a", tmp_path) == DOCKER_MAIN
    assert group_of("tests/docker/test_b.py::test_b", tmp_path) == "tests/docker/test_b.py"
    assert group_of("tests/pipeline/test_c.py::test_c[x]", tmp_path) == PIPELINE
    assert group_of("tests/render/test_d.py::test_d", tmp_path) is None
