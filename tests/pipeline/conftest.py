"""Fixtures of the pipeline tier: the generated `.gitlab-ci.yml` run by gitlab-ci-local.

The emulator comes from tools/node (package.json pins it; `npm ci --prefix tools/node`
installs it, and `testbed/testbed.sh up` does that). Without it, or without Docker for
the real runs, the tier skips on a laptop and fails under CI, like the Docker tier.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import policy
from harness.emulator import GitLabCiLocal, GitRepo
from harness.engine import PrivateEngine, testbed_mirror_storage
from harness.nodetools import find_tool
from harness.registry import Login, Registry
from harness.settings import TierSettings

INSTALL_HINT = (
    "Run `sudo bash testbed/testbed.sh up` (it installs rsync and the pinned "
    "gitlab-ci-local into tools/node)"
)
OURS_LABEL = "org.gotpl.pipeline-tier"


def unavailable(reason: str) -> None:
    policy.unavailable("pipeline tier", reason, INSTALL_HINT)


@pytest.fixture(scope="session")
def gitlab_ci_local_path() -> Path:
    """The pinned emulator, checked to be the version package.json asks for."""
    for tool in ("git", "rsync"):
        if not shutil.which(tool):
            unavailable(f"{tool} is not on PATH")
    executable, problem = find_tool("gitlab-ci-local")
    if executable is None:
        unavailable(problem)
        raise AssertionError("unreachable")
    return executable


@pytest.fixture(scope="module")
def run_repo(bake, tmp_path_factory) -> GitRepo:
    """The default project, on its default branch, for the real pipeline runs."""
    return GitRepo.from_baked(bake({}), tmp_path_factory.mktemp("pipeline") / "project")


@pytest.fixture(scope="module")
def emulator(gitlab_ci_local_path: Path, run_repo: GitRepo, tmp_path_factory) -> GitLabCiLocal:
    return GitLabCiLocal(gitlab_ci_local_path, run_repo, tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def job_engine(docker_tier: TierSettings) -> Iterator[PrivateEngine]:
    """The private engine that stands in for the job's docker:dind service."""
    storage = testbed_mirror_storage() if docker_tier.offline else None
    if docker_tier.offline and storage is None:
        unavailable("the testbed's stand-in mirror is not running")
    if not docker_tier.offline:
        # The engine's bridge has no route out (no NAT), so BuildKit could not pull the
        # public base images. Offline, the stand-in mirror serves them on the bridge.
        unavailable("this tier needs the stand-in mirror; public pulls are not wired yet")
    assert storage is not None
    with PrivateEngine(
        # The project registry speaks plain HTTP on the engine's bridge.
        http_on_bridge=True,
        pull_mirror=docker_tier.mirror,
        forward=True,
    ) as engine:
        engine.load_images(["registry:2", docker_tier.buildkit_image])
        engine.start_mirror(storage)
        yield engine


@pytest.fixture(scope="module")
def registry_login() -> Login:
    """A fresh random password per run: the test can then look for it in every log."""
    return Login("ci-pipeline", secrets.token_urlsafe(24))


@pytest.fixture(scope="module")
def project_registry(job_engine: PrivateEngine, registry_login: Login) -> Iterator[Registry]:
    with Registry(
        login=registry_login, engine_host=job_engine.host, labels={OURS_LABEL: "registry"}
    ) as registry:
        yield registry
