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

from harness.infra import policy
from harness.infra.engine import testbed_mirror_storage
from harness.infra.nodetools import find_tool
from harness.infra.registry import Login, Registry
from harness.infra.settings import TierSettings
from harness.infra.tls import TestCA
from harness.pipeline.emulator import GitLabCiLocal, GitRepo
from harness.pipeline.runner import JobNetwork

INSTALL_HINT = (
    "Run `sudo bash testbed/testbed.sh up` (it installs rsync and the pinned "
    "gitlab-ci-local into tools/node)"
)
OURS_LABEL = "org.gotpl.pipeline-tier"
# Fixed host numbers on the job network (1 is its gateway).
REGISTRY_HOST = 2
MIRROR_HOST = 3


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
def job_network(docker_tier: TierSettings) -> Iterator[JobNetwork]:
    """A network the job and its dind service join, with the stand-in mirror on it."""
    if not docker_tier.offline:
        # Online, dind would pull from the public registries itself: not tried yet.
        unavailable("this tier needs the stand-in mirror; public pulls are not wired yet")
    storage = testbed_mirror_storage()
    if storage is None:
        unavailable("the testbed's stand-in mirror is not running")
        raise AssertionError("unreachable")
    with JobNetwork() as network:
        network.start_mirror(storage, n=MIRROR_HOST)
        yield network


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def registry_login() -> Login:
    """A fresh random password per run: the test can then look for it in every log."""
    return Login("ci-pipeline", secrets.token_urlsafe(24))


@pytest.fixture(scope="module")
def project_registry(
    job_network: JobNetwork, test_ca: TestCA, registry_login: Login
) -> Iterator[Registry]:
    """$CI_REGISTRY: HTTPS from the test CA, htpasswd login, at a fixed address on the
    job network (and on localhost:<port> for the test's own reads)."""
    ip = job_network.address(REGISTRY_HOST)
    cert = test_ca.issue("registry", [ip, "localhost", "127.0.0.1"])
    with Registry(
        login=registry_login,
        tls=(test_ca, cert),
        network=job_network.name,
        ip=ip,
        labels={OURS_LABEL: "registry"},
    ) as registry:
        yield registry
