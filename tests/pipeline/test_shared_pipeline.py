"""The shared builder's `build-image` job, run by gitlab-ci-local's docker executor.

The job runs in the CI file's own image (`docker:<version>`, the testbed's stand-in
offline) with no services, not privileged and with every capability dropped (a
runner's `cap_drop`, added by harness.pipeline.runner.job_settings_wrapper). The shared BuildKit
is a long-running service on the job network, reached by its host name with mutual TLS
(harness.pipeline.shared_buildkit.NetworkBuildKit). The four CI/CD variables come from a
gitlab-ci-local variables file, the CA certificate, the client certificate and its key
as File-type variables (`type: file`), so the job sees paths, as on GitLab. Two
pipelines fail on purpose: one lacks a variable, one reaches the service by a name its
certificate does not hold. The registry is the
tier's TLS registry with a login, which the service trusts; the job only runs buildx.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from harness.builders.shared import FILE_VARIABLES, layer_downloads
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
from harness.pipeline.runner import JobNetwork
from harness.pipeline.shared import (
    CERTIFIED,
    FILE_VARIABLES_DIR,
    JOB,
    MISSING,
    RENAMED,
    SharedPipelines,
)
from harness.pipeline.shared_buildkit import NetworkBuildKit

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def shared_pipelines(
    gitlab_ci_local_path: Path,
    bake,
    job_network: JobNetwork,
    project_registry: Registry,
    test_ca: TestCA,
    dind_pipelines: Pipelines,
    docker_tier,
    tmp_path_factory,
):
    """The shared project's pipelines, on a registry that holds the cache the default
    builder's pipelines left on the default branch (see test_rootless_pipeline.py's
    fixture for why no job here builds from no cache at all)."""
    root = tmp_path_factory.mktemp("shared-pipeline")
    repo = GitRepo.from_baked(bake({"builder": "shared"}), root / "project")
    dind_pipelines.copy_default_branch_cache(project_registry, f"{repo.project_path}/cache")
    emulator = GitLabCiLocal(gitlab_ci_local_path, repo, root / "home")
    service = NetworkBuildKit(
        docker_tier,
        root / "buildkit",
        job_network,
        registry=project_registry.address_on_network(),
        registry_ca=test_ca.cert,
    )
    with service:
        yield SharedPipelines(
            emulator, job_network, project_registry, service, service.client_files(),
            root / "jobs", docker_tier.mirror,
        )  # fmt: skip


def test_shared_job_runs_unprivileged_with_file_variables(shared_pipelines: SharedPipelines):
    first = shared_pipelines.first
    job = first.job_container
    assert job, "the job's container was not found\n" + first.report()
    host = job["HostConfig"]
    assert host["Privileged"] is False
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd"), host
    env = dict(item.split("=", 1) for item in job["Config"]["Env"])
    assert env["BUILDKIT_HOST"] == "tcp://shared-buildkit:1234", env["BUILDKIT_HOST"]
    # File-type variables reach the job as paths of files the emulator wrote.
    for name in FILE_VARIABLES:
        value = env.get(name, "")
        assert value.startswith(FILE_VARIABLES_DIR) and value.endswith(f"/{name}"), (name, value)
    creates = [call for call in first.docker_calls if call[:2] == ["buildx", "create"]]
    assert len(creates) == 1 and "remote" in creates[0], first.docker_calls


def test_shared_first_pipeline_pushes_image_and_cache(shared_pipelines: SharedPipelines):
    """The first job, on a new empty service, reads the cache the dind job wrote (a
    team that switches builders keeps its cache): only what its own commit and VERSION
    stamp may run; every tag is pushed and cache:main rewritten."""
    first = shared_pipelines.first
    project = shared_pipelines.repo.project_path
    expected = {f"{project}:{tag}" for tag in ("main", "latest", first.commit)}
    assert set(first.after) == expected | {f"{project}/cache:main"}, first.report()
    assert len({first.after[name] for name in expected}) == 1, "the tags name different images"
    cache = f"{project}/cache:main"
    assert first.after[cache] not in (None, first.before.get(cache)), "cache:main was not written"
    table = first.run.table
    assert_complete(table)
    assert set(table.executed()) <= set(table.labels(*RERUN_BY_SOURCE_CHANGE)), first.report()
    for label in table.labels(DOWNLOAD, *WARM_UP):
        assert label not in table.executed(), f"{label} ran on a seeded cache\n{first.report()}"


def test_shared_source_commit_reruns_only_copy_and_compile(shared_pipelines: SharedPipelines):
    """A new job container on the warm service: only the change reruns, and the
    service still holds every other layer, so nothing is downloaded."""
    second = shared_pipelines.source_change
    table = second.run.table
    assert_complete(table)
    assert table.executed() == table.labels(*RERUN_BY_SOURCE_CHANGE), second.report()
    assert layer_downloads(second.run.log) == [], second.report()
    project = shared_pipelines.repo.project_path
    assert second.after[f"{project}:latest"] == second.after[f"{project}:{second.commit}"]
    assert second.after[f"{project}:latest"] != second.before[f"{project}:latest"]


def test_shared_cache_report_matches_the_steps(shared_pipelines: SharedPipelines):
    second = shared_pipelines.source_change
    report = CacheReport.of(second.run.log)
    assert report.counts() == expected_counts(second.run.table), report.lines
    assert list(report.reads().values()) == ["found"], report.lines
    assert "pulled 0.0 MB of layers" in report.lines, "the warm service pulled layers"
    assert not second.run.warned(JOB), second.report()


def test_shared_missing_variable_fails_at_once(shared_pipelines: SharedPipelines):
    failed = shared_pipelines.missing_variable
    assert not failed.run.passed, "a job without " + MISSING + " passed\n" + failed.report()
    expected = f"build-image: set the File-type CI/CD variable {MISSING}"
    assert expected in failed.run.log, failed.report()
    # At once: the job's checks stop it before its first docker command.
    assert failed.docker_calls == [], failed.docker_calls
    assert failed.after == failed.before, "the failed pipeline changed the registry"
    project = shared_pipelines.repo.project_path
    assert f"{project}:{failed.commit}" not in failed.after


def test_shared_certificate_must_name_the_host_the_job_uses(shared_pipelines: SharedPipelines):
    """The job checks the server's name: a certificate for another name fails the job
    with Go's x509 error and the job's own sentence, and nothing is pushed."""
    failed = shared_pipelines.wrong_name
    assert not failed.run.passed, "a server certificate for another host was accepted"
    assert f"x509: certificate is valid for {CERTIFIED}, not {RENAMED}" in failed.run.log, (
        failed.report()
    )
    sentence = f"build-image: the shared BuildKit at tcp://{RENAMED}:1234 did not answer"
    assert sentence in failed.run.log, failed.report()
    assert not any(call[:2] == ["buildx", "build"] for call in failed.docker_calls)
    assert failed.after == failed.before, "the failed pipeline changed the registry"


def test_shared_secrets_appear_nowhere(shared_pipelines: SharedPipelines):
    """Neither the registry password nor the client key's text in the emulator's
    output, the job log or the emulator's state; the key not in the job's environment."""
    runs = [
        shared_pipelines.first,
        shared_pipelines.source_change,
        shared_pipelines.missing_variable,
        shared_pipelines.wrong_name,
    ]
    login = shared_pipelines.registry.login
    assert login is not None
    key = (shared_pipelines.files.folder / FILE_VARIABLES[MISSING]).read_text(encoding="utf-8")
    needles = {
        "the password": login.password,
        "the base64 user:password": login.basic_auth,
        "the base64 password": base64.b64encode(login.password.encode()).decode(),
        "the client key": key.splitlines()[1],
    }
    for pipeline in runs:
        texts = {"emulator output": pipeline.run.output, "job log": pipeline.run.log}
        for path in pipeline.run.captured_files():
            texts[str(path)] = path.read_text(encoding="utf-8", errors="replace")
        for where, text in texts.items():
            for what, needle in needles.items():
                assert needle not in text, f"{what} appears in {where} ({pipeline.name})"
        # gitlab-ci-local passes every variable with -e, so the password is in the job's
        # environment; a File-type variable's value there is a path, not the key.
        environment = "\n".join(pipeline.job_container.get("Config", {}).get("Env", []))
        assert environment, f"no job container was inspected ({pipeline.name})"
        assert needles["the client key"] not in environment, pipeline.name
    # And no command line holds the password.
    for pipeline in runs:
        for call in pipeline.docker_calls:
            assert not any(login.password in arg for arg in call), call
