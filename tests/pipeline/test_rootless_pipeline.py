"""The rootless builder's `build-image` job, run by gitlab-ci-local's docker executor.

The job runs in the CI file's own image (`${BUILDKIT_IMAGE}-rootless`, the testbed's
stand-in offline) with no services, not privileged, as the image's user (uid 1000),
and with the runner settings of harness.builders.rootless.RUNNER_SETTINGS, which a runner's
`config.toml` would give it (`security_opt`, `cap_drop`, `cap_add`). gitlab-ci-local has
no such options, so a docker CLI wrapper adds them to the job container's `docker
create` (harness.pipeline.runner.job_settings_wrapper). The registry is the tier's TLS registry
with a login; the rootless buildkitd trusts its CA and uses the stand-in mirror through
`~/.config/buildkit/buildkitd.toml`, mounted as a runner's `volumes` would.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from harness.builders.rootless import ROOTLESS_USER
from harness.ci.cache_report import CacheReport, expected_counts
from harness.evidence.dockerfile_steps import (
    DOWNLOAD,
    RERUN_BY_SOURCE_CHANGE,
    WARM_UP,
    assert_complete,
)
from harness.infra.registry import Registry
from harness.infra.tls import TestCA
from harness.pipeline.dind import Pipelines
from harness.pipeline.emulator import GitLabCiLocal, GitRepo
from harness.pipeline.rootless import JOB, RootlessPipelines
from harness.pipeline.runner import JobNetwork

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def rootless_pipelines(
    gitlab_ci_local_path: Path,
    bake,
    job_network: JobNetwork,
    project_registry: Registry,
    test_ca: TestCA,
    dind_pipelines: Pipelines,
    docker_tier,
    tmp_path_factory,
) -> RootlessPipelines:
    """The rootless project's pipelines, on a registry that holds the cache the default
    builder's pipelines left on the default branch, as a team that switches builders
    has it. (No test builds the rootless job from no cache at all: what a cold build
    runs is the Dockerfile's, which the Docker tier's and the dind pipelines' cold
    builds show; that a missing or unreachable cache ref does not fail the rootless
    job, test_rootless.py's feature-branch and unreachable-cache tests show.)"""
    root = tmp_path_factory.mktemp("rootless-pipeline")
    repo = GitRepo.from_baked(bake({"builder": "rootless"}), root / "project")
    dind_pipelines.copy_default_branch_cache(project_registry, f"{repo.project_path}/cache")
    emulator = GitLabCiLocal(gitlab_ci_local_path, repo, root / "home")
    return RootlessPipelines(
        emulator, job_network, project_registry, test_ca, root / "jobs", docker_tier.mirror
    )


def test_rootless_job_runs_unprivileged_as_its_image_user(rootless_pipelines: RootlessPipelines):
    first = rootless_pipelines.first
    job = first.job_container
    assert job, "the job's container was not found\n" + first.report()
    host = job["HostConfig"]
    assert host["Privileged"] is False
    assert job["Config"]["User"] == ROOTLESS_USER
    assert host["SecurityOpt"] == ["seccomp=unconfined"]
    assert host["CapDrop"] == ["ALL"]
    assert sorted(c.removeprefix("CAP_") for c in host["CapAdd"]) == ["SETGID", "SETUID"]
    # The first job read the cache the dind job wrote: only what its own commit and
    # VERSION stamp may run.
    table = first.run.table
    assert_complete(table)
    assert set(table.executed()) <= set(table.labels(*RERUN_BY_SOURCE_CHANGE)), first.report()
    for label in table.labels(DOWNLOAD, *WARM_UP):
        assert label not in table.executed(), first.report()


def test_rootless_source_commit_reruns_only_copy_and_compile(
    rootless_pipelines: RootlessPipelines,
):
    second = rootless_pipelines.source_change
    table = second.run.table
    assert_complete(table)
    assert table.executed() == table.labels(*RERUN_BY_SOURCE_CHANGE), second.report()


def test_rootless_cache_report_matches_the_steps(rootless_pipelines: RootlessPipelines):
    """The first job's report, at the end of its log: the counts the harness reads from
    the same log, main's ref found, the cache written, and a green job."""
    first = rootless_pipelines.first
    report = CacheReport.of(first.run.log)
    assert report.counts() == expected_counts(first.run.table), report.lines
    assert list(report.reads().values()) == ["found"], report.lines
    assert any(line.startswith("wrote ") for line in report.lines), report.lines
    assert not first.run.warned(JOB), first.report()


def test_a_refused_cache_export_passes_with_warnings_and_pushes_the_image(
    rootless_pipelines: RootlessPipelines,
):
    second = rootless_pipelines.source_change
    assert second.run.warned(JOB), "the job did not end with a warning\n" + second.report()
    reason = CacheReport.of(second.run.log).export_failure()
    assert reason and reason.startswith("error writing layer blob: "), second.report()
    registry, project = rootless_pipelines.registry, rootless_pipelines.repo.project_path
    assert registry.digest(project, "latest") == registry.digest(project, second.commit)


def test_rootless_password_appears_nowhere(rootless_pipelines: RootlessPipelines):
    login = rootless_pipelines.registry.login
    assert rootless_pipelines.source_change
    secrets = [login.password, base64.b64encode(login.password.encode()).decode(), login.basic_auth]
    for pipeline in rootless_pipelines.runs:
        texts = [pipeline.run.output, pipeline.run.log]
        texts += [
            path.read_text(encoding="utf-8", errors="replace")
            for path in pipeline.run.captured_files()
        ]
        for text in texts:
            for secret in secrets:
                assert secret not in text, "the password leaked into the job's output or state"
