"""harness.builders.rootless.RootlessBuilder turns buildx-style arguments into the rootless
job's buildctl command line; read back, it asks for the same build as buildx would."""

from __future__ import annotations

from pathlib import Path

from harness.builders.buildx import PUSH_OUTPUT
from harness.builders.rootless import RUNNER_SETTINGS, RootlessBuilder, rootless_image
from harness.ci.build_request import from_buildctl, from_buildx
from harness.infra.settings import TierSettings

ARGS = {
    "tags": ["localhost:5000/svc/app:main", "localhost:5000/svc/app:latest"],
    "push": True,
    "cache_from": ["type=registry,ref=localhost:5000/svc/cache:main"],
    "cache_to": "type=registry,ref=localhost:5000/svc/cache:main,mode=max,ignore-error=true",
    "build_args": {"GIT_COMMIT": "1" * 40, "VERSION": "11111111"},
}


def test_command_asks_for_the_same_build_as_buildx(tmp_path: Path):
    command = RootlessBuilder(TierSettings({})).command(tmp_path, **ARGS)
    image = command.index(rootless_image())
    head, buildctl = command[:image], command[image + 1 :]
    # The container: not privileged, uid 1000, exactly the runner settings.
    assert "--privileged" not in head
    assert head[head.index("--user") + 1] == "1000:1000"
    assert " ".join(RUNNER_SETTINGS) in " ".join(head)
    assert buildctl[0] == "build"
    buildx = [
        *[arg for tag in ARGS["tags"] for arg in ("--tag", tag)],
        "--output", PUSH_OUTPUT,
        "--cache-from", ARGS["cache_from"][0],
        "--cache-to", ARGS["cache_to"],
        *[arg for k, v in ARGS["build_args"].items() for arg in ("--build-arg", f"{k}={v}")],
        "/ctx",
    ]  # fmt: skip
    assert from_buildctl(buildctl[1:]) == from_buildx(buildx)


def test_another_dockerfile_is_mounted_and_named(tmp_path: Path):
    recipe = tmp_path / "recipes" / "Dockerfile.other"
    recipe.parent.mkdir()
    recipe.touch()
    command = RootlessBuilder(TierSettings({})).command(tmp_path, dockerfile=recipe)
    assert f"{recipe.parent}:/dockerfile:ro" in command
    assert "dockerfile=/dockerfile" in command and "filename=Dockerfile.other" in command
