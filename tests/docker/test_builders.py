"""What the generated pipeline's builder runs and pushes, beyond the cache: the pinned
BuildKit release, and exactly the attestations the project chose, pushed by each of the
three builders to a registry that refuses what GitLab's refuses."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.attestations import attested_index_problems, index_entries
from harness.gitlab_ci import BuildJob
from harness.registry import Registry
from harness.rootless import RootlessJob
from harness.settings import TierSettings
from harness.shared_builder import SharedBuildKit, SharedJob
from harness.template import buildkit_image, pins


def test_builder_runs_the_pinned_buildkit(new_builder):
    image, version = new_builder().buildkit_version()
    assert image == buildkit_image(), f"the builder container runs {image}"
    assert pins()["buildkit"] in version.split(), f"buildkitd --version says {version!r}"


PLATFORMS = "linux/amd64,linux/arm64"
BUILDERS = ("dind", "rootless", "shared")


@pytest.fixture(scope="module")
def shared_service(docker_tier: TierSettings, tmp_path_factory) -> Iterator[SharedBuildKit]:
    with SharedBuildKit(docker_tier, tmp_path_factory.mktemp("buildkit")) as running:
        yield running


def push_new_commit(request, builder: str, project: Path, repository: str) -> tuple[Registry, str]:
    """The project's build job, as each builder runs it, for a commit no registry has
    seen (so every manifest of the push is new): (the registry, a report on failure)."""
    commit = secrets.token_hex(20)
    settings = request.getfixturevalue("docker_tier")
    if builder == "dind":
        registry: Registry = request.getfixturevalue("registry")
        job = BuildJob(project)
        flags = job.attestation_flags()
        assert len(flags) == 2, f"the build job should say both --provenance and --sbom: {flags}"
        result = request.getfixturevalue("new_builder")().build(
            project,
            tags=[f"{registry.address}/{repository}:main"],
            platforms=job.platforms(),
            extra=[*job.export_flags(), *flags],
            build_args={"GIT_COMMIT": commit},
        )
        return registry, "" if result.returncode == 0 else result.report()
    registry = request.getfixturevalue("login_registry")
    if builder == "rootless":
        run = RootlessJob(project, registry, settings, repository).run("default", "main", commit)
    else:
        service = request.getfixturevalue("shared_service")
        run = SharedJob(
            project, registry, settings, service.client_files(), service.address, repository
        ).run("default", "main", commit)
    return registry, "" if run.returncode == 0 else run.report(lines=60)


@pytest.mark.parametrize(
    ("builder", "choice"),
    [
        ("dind", "none"),
        *[(b, c) for b in BUILDERS for c in ("provenance", "provenance+sbom")],
    ],
)
def test_pushed_index_holds_exactly_the_chosen_attestations(request, bake, builder, choice):
    """A two-platform push of a new commit to a registry as strict as GitLab's: the
    attestations' manifests name images that are new in the same push."""
    project = bake({"attestations": choice, "builder": builder, "platforms": PLATFORMS})
    repository = f"attest-{builder}-{choice.replace('+', '-')}-{secrets.token_hex(3)}/app"
    registry, failure = push_new_commit(request, builder, project, repository)
    assert not failure, (
        f"the {builder} job's push failed\n{failure}\n--- strict registry gate ---\n"
        + registry.gate_log()
    )
    problems = attested_index_problems(registry, repository, "main", choice, PLATFORMS)
    report = json.dumps(index_entries(registry, repository, "main"), indent=2)
    assert problems == [], "\n".join(problems) + "\n" + report
