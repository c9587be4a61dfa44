"""Fixtures of the pipeline tier: the generated `.gitlab-ci.yml` run by gitlab-ci-local.

The emulator comes from tools/node (package.json pins it; `npm ci --prefix tools/node`
installs it, and `testbed/testbed.sh up` does that). Without it, or without Docker for
the real runs, the tier skips on a laptop and fails under CI, like the Docker tier.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from harness.infra import policy
from harness.infra.engine import testbed_mirror_storage
from harness.infra.nodetools import find_tool
from harness.infra.registry import Login, Registry
from harness.infra.settings import TierSettings
from harness.infra.tls import TestCA
from harness.pipeline.dind import Pipelines
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


@contextmanager
def tier_network(docker_tier: TierSettings) -> Iterator[JobNetwork]:
    """A network the job and its services join, with the stand-in mirror on it."""
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


def new_login() -> Login:
    """A fresh random password per registry: a test can then look for it in every log."""
    return Login("ci-pipeline", secrets.token_urlsafe(24))


@contextmanager
def tier_registry(network: JobNetwork, ca: TestCA, login: Login) -> Iterator[Registry]:
    """$CI_REGISTRY: HTTPS from the test CA, htpasswd login, at a fixed address on the
    job network (and on localhost:<port> for the test's own reads)."""
    ip = network.address(REGISTRY_HOST)
    cert = ca.issue("registry", [ip, "localhost", "127.0.0.1"])
    with Registry(
        login=login,
        tls=(ca, cert),
        network=network.name,
        ip=ip,
        labels={OURS_LABEL: "registry"},
    ) as registry:
        yield registry


@pytest.fixture(scope="module")
def job_network(docker_tier: TierSettings) -> Iterator[JobNetwork]:
    with tier_network(docker_tier) as network:
        yield network


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def registry_login() -> Login:
    return new_login()


@pytest.fixture(scope="module")
def project_registry(
    job_network: JobNetwork, test_ca: TestCA, registry_login: Login
) -> Iterator[Registry]:
    with tier_registry(job_network, test_ca, registry_login) as registry:
        yield registry


@pytest.fixture(scope="session")
def dind_pipelines(
    gitlab_ci_local_path: Path, bake, docker_tier: TierSettings, tmp_path_factory
) -> Iterator[Pipelines]:
    """The default builder's pipelines on the default project (test_pipeline_runs.py),
    on a network and registry of their own, kept for the session: the rootless and
    shared modules' first jobs start from a copy of the cache they leave on the
    default branch, so the tier compiles from nothing once."""
    root = tmp_path_factory.mktemp("pipeline")
    for folder in ("home", "jobs"):
        (root / folder).mkdir()
    with ExitStack() as stack:
        network = stack.enter_context(tier_network(docker_tier))
        ca = TestCA(root / "ca")
        registry = stack.enter_context(tier_registry(network, ca, new_login()))
        repo = GitRepo.from_baked(bake({}), root / "project")
        emulator = GitLabCiLocal(gitlab_ci_local_path, repo, root / "home")
        yield Pipelines(emulator, network, registry, ca, root / "jobs", mirror=docker_tier.mirror)
