"""Fixtures of the Docker tier: the engine check, registries, fresh builders, projects.

Without a working Docker engine and buildx the tier skips with the reason on a
laptop, and fails under CI (CI=true): a missing daemon must never turn it green.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.docker.buildx import Builder, BuildResult, registry_cache
from tests.docker.registry import Registry
from tests.support import REPO_ROOT, in_ci

DEFAULT_ENV_FILE = Path("/var/lib/gotpl-docker-tier/env")
# Unit tests of the progress parser need no engine.
NO_ENGINE_NEEDED = {"test_progress.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        path = Path(str(item.fspath))
        if here in path.parents and path.name not in NO_ENGINE_NEEDED:
            item.add_marker(pytest.mark.docker)


@dataclass(frozen=True)
class DockerTier:
    """What scripts/docker-tier.sh set up: how to create builders on this machine."""

    create_flags: tuple[str, ...]
    settings: dict[str, str]


def _unavailable(reason: str) -> None:
    message = f"Docker tier unavailable: {reason}. Run `sudo bash scripts/docker-tier.sh up` first."
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _read_env_file(path: Path) -> dict[str, str]:
    settings = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            settings[key] = value
    return settings


@pytest.fixture(scope="session")
def docker_tier() -> DockerTier:
    if not shutil.which("docker"):
        _unavailable("the docker CLI is not installed")
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if info.returncode != 0:
        _unavailable(f"no Docker engine answers ({info.stderr.strip()[:200]})")
    buildx = subprocess.run(
        ["docker", "buildx", "version"], capture_output=True, text=True, check=False
    )
    if buildx.returncode != 0:
        _unavailable("the buildx plugin is missing")
    env_file = Path(os.environ.get("GOTPL_DOCKER_TIER_ENV", DEFAULT_ENV_FILE))
    if env_file.is_file():
        settings = _read_env_file(env_file)
    elif in_ci():
        _unavailable(f"{env_file} is missing")
    else:
        # A machine with internet access and its own Docker needs no stand-ins.
        settings = {
            "GOTPL_BUILDX_CREATE_FLAGS": "--driver docker-container --driver-opt network=host"
        }
    for key, value in settings.items():
        if key.startswith("TESTCONTAINERS_"):
            os.environ[key] = value
    return DockerTier(tuple(shlex.split(settings["GOTPL_BUILDX_CREATE_FLAGS"])), settings)


@pytest.fixture(scope="session")
def registry(docker_tier: DockerTier) -> Iterator[Registry]:
    """One registry for the session; each scenario uses repositories of its own."""
    with Registry() as running:
        yield running


NewBuilder = Callable[[], Builder]


@pytest.fixture
def new_builder(docker_tier: DockerTier) -> Iterator[NewBuilder]:
    """Create as many fresh builders as a scenario needs; all are removed afterwards."""
    made: list[Builder] = []

    def make() -> Builder:
        builder = Builder(docker_tier.create_flags).create()
        made.append(builder)
        return builder

    yield make
    for builder in made:
        builder.remove()


@pytest.fixture(scope="session")
def service_template(cookies_session, docker_tier: DockerTier) -> Path:
    """The default project, baked once. Scenarios copy it before changing anything."""
    result = cookies_session.bake(template=str(REPO_ROOT))
    assert result.exit_code == 0 and result.exception is None, result.exception
    return Path(result.project_path)


@pytest.fixture
def project(service_template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / service_template.name
    shutil.copytree(service_template, copy)
    return copy


def edit_source(project: Path, marker: str) -> None:
    """A real source change: a new constant in the main package."""
    (project / "edit.go").write_text(
        "package main\n\n// buildMarker exists only to change the source.\n"
        f'const buildMarker = "{marker}"\n',
        encoding="utf-8",
    )


@dataclass(frozen=True)
class MainCache:
    """The default branch's pipeline, run once: image pushed, cache:main written."""

    registry: Registry
    image: str
    cache_ref: str
    commit: str
    result: BuildResult


@pytest.fixture(scope="session")
def main_cache(
    registry: Registry, service_template: Path, docker_tier: DockerTier
) -> Iterator[MainCache]:
    builder = Builder(docker_tier.create_flags).create()
    try:
        image = f"{registry.address}/svc/app:main"
        cache_ref = f"{registry.address}/svc/cache:main"
        commit = "1111111111111111111111111111111111111111"
        result = builder.build(
            service_template,
            tags=[image],
            push=True,
            cache_from=[f"type=registry,ref={cache_ref}"],
            cache_to=registry_cache(cache_ref),
            build_args={"GIT_COMMIT": commit, "VERSION": "1.0.0"},
        ).assert_ok()
        print("\ncold build of the default project:\n" + result.table.render())
    finally:
        builder.remove()
    yield MainCache(registry, image, cache_ref, commit, result)
