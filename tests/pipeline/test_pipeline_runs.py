"""The generated build job, run by gitlab-ci-local against a registry that needs a login.

Four pipelines, in the order a team would see them: the default branch cold, the
default branch after a source commit, a feature branch, and a release tag. Each is a
new CI job: a fresh docker config (no builder, no context, no login) and no BuildKit
container left from before, so every cache hit comes from the registry.

Fidelity: the emulator reads the project's own `.gitlab-ci.yml` (rules, variables,
scripts) and runs the job through its docker executor, set up as a runner's config.toml
would: the job in the `docker:<ver>` image, the `docker:<ver>-dind` service privileged
beside it, a fresh volume for /certs/client shared by both, the CI file's DOCKER_HOST and
TLS variables untouched. The registry speaks HTTPS with a test CA that the dind engine
(certs.d) and the builder (buildkitd.default.toml) trust; see TESTING.md ("Pipeline
tier") for what still differs from a GitLab.com runner.
"""

from __future__ import annotations

import base64

import pytest

from harness.ci.cache_report import CacheReport, expected_counts
from harness.evidence.dockerfile_steps import (
    COMPILE,
    COPY_SOURCE,
    DOWNLOAD,
    RERUN_BY_SOURCE_CHANGE,
    WARM_UP,
    assert_complete,
)
from harness.pipeline.dind import FEATURE, JOB, RELEASE, Pipelines
from harness.pipeline.emulator import ref_slug
from harness.template import buildkit_image

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def pipelines(dind_pipelines: Pipelines) -> Pipelines:
    """The session's (tests/pipeline/conftest.py): the other builders' modules start
    from the cache these pipelines leave."""
    return dind_pipelines


def test_registry_requires_login(pipelines: Pipelines):
    assert pipelines.registry.requires_login(), "the registry answered without a login"


def test_job_runs_as_a_docker_executor_runs_it(pipelines: Pipelines):
    """The job in the CI file's docker image, the dind service privileged beside it,
    one /certs/client volume shared by both, the CI file's TLS settings untouched."""
    first = pipelines.default_cold
    job = first.containers.get(pipelines.job_image)
    service = first.containers.get(pipelines.service_image)
    assert job and service, f"containers seen: {sorted(first.containers)}\n{first.report()}"
    assert service["HostConfig"]["Privileged"], "the dind service was not privileged"
    env = dict(item.split("=", 1) for item in job["Config"]["Env"])
    assert env["DOCKER_HOST"] == "tcp://docker:2376" and env["DOCKER_TLS_VERIFY"] == "1", env

    def certs_volume(container: dict) -> str:
        (name,) = [m["Name"] for m in container["Mounts"] if m["Destination"] == "/certs/client"]
        return name

    assert certs_volume(job) == certs_volume(service)
    # The registry speaks only HTTPS: a login that succeeds went through the test CA.
    assert pipelines.registry.scheme == "https"
    assert "Login Succeeded" in first.run.log, first.report()


def test_default_branch_cold_pipeline_pushes_image_and_cache(pipelines: Pipelines):
    first = pipelines.default_cold
    sha = first.commit
    assert "Login Succeeded" in first.run.log, first.report()
    # The builder inside dind ran the BuildKit release the project pins, pulled there.
    assert first.builder_image == buildkit_image(), first.report()
    assert set(first.after.images) == {"main", "latest", sha}, first.report()
    assert first.after.images["main"] == first.after.images["latest"] == first.after.images[sha]
    assert set(first.after.caches) == {"main"}, first.report()
    assert_complete(first.run.table)
    executed = first.run.table.executed()
    for step in first.run.table.labels(DOWNLOAD, *WARM_UP, COMPILE):
        assert step in executed, f"{step} did not run in a cold build\n{first.report()}"


def test_source_commit_on_default_branch_is_served_from_cache(pipelines: Pipelines):
    second = pipelines.default_second
    assert_complete(second.run.table)
    executed = second.run.table.executed()
    assert executed == second.run.table.labels(*RERUN_BY_SOURCE_CHANGE), (
        "after a source commit only the source copy and compile should run\n" + second.report()
    )
    assert second.after.images["latest"] == second.after.images[second.commit]
    assert second.after.images["latest"] != second.before.images["latest"]
    assert second.after.caches["main"] != second.before.caches["main"], (
        "the default branch did not rewrite its cache\n" + second.report()
    )


def test_feature_branch_reads_default_branch_cache_and_writes_its_own(pipelines: Pipelines):
    feature = pipelines.feature
    slug = ref_slug(FEATURE)
    assert_complete(feature.run.table)
    executed = feature.run.table.executed()
    assert executed == feature.run.table.labels(*RERUN_BY_SOURCE_CHANGE), (
        "the branch's own cache is empty: download and warm-up must come from main's\n"
        + feature.report()
    )
    assert set(feature.after.caches) == {"main", slug}, feature.report()
    assert feature.after.caches["main"] == feature.before.caches["main"], (
        "a feature branch rewrote the default branch's cache\n" + feature.report()
    )
    assert feature.after.images[slug] == feature.after.images[feature.commit]
    assert feature.after.images["latest"] == feature.before.images["latest"]


def test_the_job_s_cache_report_matches_the_steps_and_refs(pipelines: Pipelines):
    """The feature branch's job ran with plain progress, as a job log shows it: its cache
    report counts what the harness reads from the same log, names the branch's own
    (absent) ref and main's (found), and the job is green."""
    feature = pipelines.feature
    report = CacheReport.of(feature.run.log)
    assert report.counts() == expected_counts(feature.run.table), report.lines
    cache = f"{pipelines.registry.address_on_network()}/{pipelines.cache_repository}"
    assert report.reads() == {f"{cache}:{ref_slug(FEATURE)}": "not found", f"{cache}:main": "found"}
    assert f"wrote {cache}:{ref_slug(FEATURE)}" in report.lines, report.lines
    assert any(line.startswith("the compile step ran in ") for line in report.lines)
    assert not feature.run.warned(JOB), feature.report()


def test_tag_pipeline_pushes_release_and_writes_no_cache(pipelines: Pipelines):
    release = pipelines.release
    assert release.after.caches == release.before.caches, (
        "a tag pipeline changed a cache\n" + release.report()
    )
    assert not any(name.startswith("exporting cache") for name in release.run.vertex_names()), (
        release.report()
    )
    images = release.after.images
    assert images[RELEASE] == images[ref_slug(RELEASE)], release.report()
    assert images[RELEASE] != release.before.images.get(RELEASE), "the release was not pushed"
    # The commit's SHA tag stays on its branch build (VERSION=short SHA), not the release's.
    assert images[release.commit] == release.before.images[release.commit], (
        "a tag pipeline moved the commit's SHA tag\n" + release.report()
    )
    assert images["latest"] == release.before.images["latest"], "a tag moved latest"
    assert_complete(release.run.table)
    executed = release.run.table.executed()
    for step in release.run.table.labels(DOWNLOAD, *WARM_UP, COPY_SOURCE):
        assert step not in executed, f"{step} ran in a tag pipeline\n{release.report()}"


def test_registry_password_is_on_no_command_line(pipelines: Pipelines):
    """The login must pass the password on stdin: a `-p` argument would show in the
    process list of the runner host. The job's docker calls are recorded as run."""
    first = pipelines.default_cold
    login = pipelines.registry.login
    assert login is not None
    logins = [call for call in first.docker_calls if call[:1] == ["login"]]
    assert logins, "the job's docker login was not recorded\n" + first.report()
    for call in first.docker_calls:
        assert not any(login.password in arg for arg in call), (
            f"the password is an argument of: docker {call[0]} ..."
        )
    assert "--password-stdin" in logins[0], logins[0]


def test_registry_password_appears_in_no_captured_log(pipelines: Pipelines):
    # Run every pipeline first (each is run once per session, whichever test asks).
    runs = [pipelines.default_cold, pipelines.default_second, pipelines.feature, pipelines.release]
    login = pipelines.registry.login
    assert login is not None
    needles = {
        "the password": login.password.encode(),
        "the base64 user:password": login.basic_auth.encode(),
        "the base64 password": base64.b64encode(login.password.encode()),
    }
    for pipeline in runs:
        captured = {"emulator output": pipeline.run.output.encode()}
        for path in [*pipeline.run.captured_files(), *pipeline.files]:
            captured[str(path)] = path.read_bytes()
        assert len(captured) > 1, f"no job log was captured for {pipeline.event.name}"
        for where, content in captured.items():
            for what, needle in needles.items():
                assert needle not in content, f"{what} appears in {where}"
