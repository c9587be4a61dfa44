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
