"""A missing tool or Docker engine skips on a laptop and fails under CI, never silently."""

from __future__ import annotations

import shutil

import pytest

from harness.infra.policy import require_tool, unavailable
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


def test_docker_and_pipeline_modules_each_run_in_one_process_group(request):
    """tests/conftest.py: every Docker and pipeline test has an xdist group, all tests of
    a module share it (their module fixtures are made once), and a Docker module joins
    `docker-main` exactly when one of its tests reads the session's cold build."""
    by_module: dict[str, set[str]] = {}
    reads_main_cache: dict[str, bool] = {}
    for item in request.session.items:
        tier = item.get_closest_marker("docker") or item.get_closest_marker("pipeline")
        mark = item.get_closest_marker("xdist_group")
        if tier is None:
            assert mark is None, f"{item.nodeid} is grouped but needs no engine"
            continue
        assert mark is not None, f"{item.nodeid} has no process group"
        module = str(item.fspath)
        by_module.setdefault(module, set()).add(mark.args[0])
        reads_main_cache[module] = reads_main_cache.get(module, False) or (
            "main_cache" in item.fixturenames
        )
    for module, groups in by_module.items():
        assert len(groups) == 1, f"{module} is split over {groups}"
        (group,) = groups
        if "/tests/pipeline/" in module:
            assert group == "pipeline", module
        else:
            assert group == ("docker-main" if reads_main_cache[module] else "docker-own"), module
