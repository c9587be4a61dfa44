"""Fixtures of the pipeline tier: the generated `.gitlab-ci.yml` run by gitlab-ci-local.

The emulator comes from tools/node (package.json pins it; `npm ci --prefix tools/node`
installs it, and scripts/docker-tier.sh up does that). Without it, or without Docker
for the real runs, the tier skips on a laptop and fails under CI, like the Docker tier.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# The Docker tier's engine check, shared: a pytest fixture is only seen by tests below
# the conftest.py that defines it, so it is imported (re-exported) here.
from tests.docker.conftest import DockerTier, docker_tier  # noqa: F401
from tests.pipeline.emulator import GitLabCiLocal, GitRepo, find_executable
from tests.pipeline.engine import (
    JobEngine,
    LoginRegistry,
    RegistryLogin,
    host_mirror_storage,
)
from tests.support import REPO_ROOT, in_ci

TOOLS = REPO_ROOT / "tools" / "node"
PROJECT_GROUP = "demo"  # CI_PROJECT_PATH is "<group>/<slug>", from the origin URL


def unavailable(reason: str) -> None:
    message = (
        f"pipeline tier unavailable: {reason}. Run `sudo bash scripts/docker-tier.sh up` "
        "(it installs rsync and the pinned gitlab-ci-local into tools/node)."
    )
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def gitlab_ci_local_path() -> Path:
    """The pinned emulator, checked to be the version package.json asks for."""
    import subprocess

    pinned = json.loads((TOOLS / "package.json").read_text(encoding="utf-8"))["dependencies"][
        "gitlab-ci-local"
    ]
    for tool in ("node", "git", "rsync"):
        if not shutil.which(tool):
            unavailable(f"{tool} is not on PATH")
    executable = find_executable(TOOLS)
    if executable is None:
        unavailable("tools/node has no gitlab-ci-local (run `npm ci --prefix tools/node`)")
    version = subprocess.run(
        [str(executable), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    if version.stdout.strip() != pinned:
        unavailable(
            f"gitlab-ci-local --version says {version.stdout.strip() or version.stderr.strip()!r}"
            f", package.json pins {pinned}"
        )
    return executable


def bake_repo(cookies_session, destination: Path, **overrides: str) -> GitRepo:
    """Bake a project (defaults plus overrides) and make it a git checkout of its own."""
    result = cookies_session.bake(extra_context=overrides, template=str(REPO_ROOT))
    assert result.exit_code == 0 and result.exception is None, result.exception
    baked = Path(result.project_path)
    shutil.copytree(baked, destination)
    answers = json.loads((destination / ".cookiecutter.json").read_text(encoding="utf-8"))
    return GitRepo.create(
        destination, answers["default_branch"], f"{PROJECT_GROUP}/{answers['project_slug']}"
    )


@pytest.fixture(scope="module")
def run_repo(cookies_session, tmp_path_factory) -> GitRepo:
    """The default project, on its default branch, for the real pipeline runs."""
    return bake_repo(cookies_session, tmp_path_factory.mktemp("pipeline") / "project")


@pytest.fixture(scope="module")
def emulator(gitlab_ci_local_path: Path, run_repo: GitRepo, tmp_path_factory) -> GitLabCiLocal:
    return GitLabCiLocal(gitlab_ci_local_path, run_repo, tmp_path_factory.mktemp("home"))


@pytest.fixture(scope="module")
def job_engine(docker_tier: DockerTier) -> Iterator[JobEngine]:  # noqa: F811
    """The private engine that stands in for the job's docker:dind service."""
    offline = docker_tier.settings.get("GOTPL_OFFLINE") == "1"
    storage = host_mirror_storage() if offline else None
    if offline and storage is None:
        unavailable("the Docker tier's stand-in mirror is not running")
    if not offline:
        # The engine's bridge has no route out (no NAT), so BuildKit could not pull the
        # public base images. Offline, the stand-in mirror serves them on the bridge.
        unavailable("this tier needs the stand-in mirror; public pulls are not wired yet")
    images = ["registry:2", docker_tier.settings.get("GOTPL_BUILDKIT_IMAGE", "")]
    mirror = docker_tier.settings.get("GOTPL_MIRROR", "")
    with JobEngine([i for i in images if i], storage, pull_mirror=mirror) as engine:
        yield engine


@pytest.fixture(scope="module")
def registry_login() -> RegistryLogin:
    """A fresh random password per run: the test can then look for it in every log."""
    return RegistryLogin("ci-pipeline", secrets.token_urlsafe(24))


@pytest.fixture(scope="module")
def project_registry(
    job_engine: JobEngine, registry_login: RegistryLogin
) -> Iterator[LoginRegistry]:
    with LoginRegistry(job_engine, registry_login) as registry:
        yield registry
