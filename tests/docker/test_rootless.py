"""The rootless builder, for real: the generated job's own script in the pinned
`moby/buildkit:<release>-rootless` image (the testbed's stand-in offline), as uid 1000,
in a container that is not privileged, against a registry with a login.

Each run is a new container, so a new CI job: an empty BuildKit state, and everything
that does not execute came from the registry cache. The container gets exactly
harness.builders.rootless.RUNNER_SETTINGS, and a test shows each of those settings is needed.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.builders.rootless import (
    CHECKOUT,
    JOB_VARIABLES,
    ROOTLESS_USER,
    RUNNER_SETTINGS,
    JobRun,
    RootlessJob,
)
from harness.builders.shared import unused_loopback_port
from harness.ci.cache_report import EXPORT_FAILED, CacheReport, expected_counts
from harness.ci.checkout import both_ways
from harness.evidence.dockerfile_steps import (
    COMPILE,
    DOWNLOAD,
    RERUN_BY_SOURCE_CHANGE,
    RUNTIME_COPY,
    WARM_UP,
    assert_complete,
    assert_only_the_checkout_stage_ran,
    edit_source,
)
from harness.evidence.step_table import exported_cache_manifests
from harness.infra.registry import Registry
from harness.infra.settings import TierSettings

MAIN = "main"


@pytest.fixture(scope="module")
def rootless_template(bake, docker_tier: TierSettings) -> Path:
    return bake({"builder": "rootless"})


@pytest.fixture
def rootless_project(rootless_template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / rootless_template.name
    shutil.copytree(rootless_template, copy)
    return copy


@dataclass(frozen=True)
class MainRun:
    registry: Registry
    run: JobRun
    seeded: str  # the digest of the docker-container builder's cache it started from


@pytest.fixture(scope="module")
def rootless_main(
    main_cache, login_registry: Registry, rootless_template: Path, docker_tier
) -> MainRun:
    """The default branch's first rootless pipeline, on a project whose cache:main a
    docker-container builder wrote (the main_cache fixture's, copied byte for byte into
    this module's registry): image pushed, cache:main rewritten. The rootless job's cold
    build, from no cache at all, is the pipeline tier's (test_rootless_pipeline.py)."""
    seeded = main_cache.registry.copy_to(login_registry, "svc/cache", MAIN)
    job = RootlessJob(rootless_template, login_registry, docker_tier)
    result = job.run("default", MAIN, "1" * 40).assert_ok()
    print("\nfirst rootless build of the default project:\n" + result.table.render())
    return MainRun(login_registry, result, seeded)


def assert_unprivileged(run: JobRun) -> None:
    """What the container was allowed, from `docker inspect`: not privileged, not root,
    and exactly the runner settings of harness.builders.rootless."""
    host = run.inspect["HostConfig"]
    assert host["Privileged"] is False
    assert run.inspect["Config"]["User"] == ROOTLESS_USER
    assert host["CapDrop"] == ["ALL"]
    # Docker 25 and later report capabilities with their CAP_ prefix.
    assert sorted(cap.removeprefix("CAP_") for cap in host["CapAdd"]) == ["SETGID", "SETUID"]
    assert host["SecurityOpt"] == ["seccomp=unconfined"]
    assert not host.get("Devices")


def test_first_job_reads_a_docker_container_cache_and_pushes_all_tags(rootless_main: MainRun):
    """Rootless BuildKit reads the cache a docker-container builder (dind's kind) wrote:
    a team that switches builders keeps its cache. Only what the job's own VERSION
    (the short commit SHA) stamps may run."""
    run, registry = rootless_main.run, rootless_main.registry
    assert_unprivileged(run)
    table = run.table
    assert_complete(table)
    assert set(table.executed()) <= set(table.labels(*RERUN_BY_SOURCE_CHANGE)), run.report()
    for label in table.labels(DOWNLOAD, *WARM_UP):
        assert label not in table.executed(), run.report()
    assert registry.requires_login()
    for tag in (MAIN, "1" * 40, "latest"):
        assert registry.manifest("svc", tag) is not None, f"svc:{tag} was not pushed"
    assert registry.digest("svc/cache", MAIN) not in (None, rootless_main.seeded), (
        "the job did not write cache:main"
    )
    login = registry.login
    assert login is not None
    for secret in (login.password, login.basic_auth):
        assert secret not in run.stdout + run.stderr, "the job's output shows the password"


def test_docker_container_builder_reads_the_cache_rootless_wrote(
    rootless_main: MainRun, main_cache, project: Path, new_builder
):
    """The other direction: the cache:main the rootless job wrote, copied where a
    docker-container builder reads it, serves it every step a source change leaves."""
    rootless_main.registry.copy_to(main_cache.registry, "svc/cache", MAIN, "rootless-wrote/cache")
    edit_source(project, "after a rootless job")
    result = new_builder().build(
        project,
        cache_from=[f"type=registry,ref={main_cache.registry.address}/rootless-wrote/cache:main"],
        build_args={"GIT_COMMIT": "7" * 40, "VERSION": "1.0.7"},
    )
    table = result.assert_ok().table
    assert_complete(table)
    assert table.executed() == table.labels(*RERUN_BY_SOURCE_CHANGE), result.report()


def test_no_change_executes_nothing(rootless_main: MainRun, rootless_template: Path, docker_tier):
    job = RootlessJob(rootless_template, rootless_main.registry, docker_tier)
    run = job.run("default", MAIN, "1" * 40).assert_ok()
    assert_complete(run.table)
    assert run.table.executed() == [], run.report()


def test_source_change_reruns_only_copy_compile_and_runtime_copy(
    rootless_main: MainRun, rootless_project: Path, docker_tier
):
    edit_source(rootless_project, "second commit")
    job = RootlessJob(rootless_project, rootless_main.registry, docker_tier)
    run = job.run("default", MAIN, "2" * 40).assert_ok()
    assert_unprivileged(run)
    table = run.table
    assert_complete(table)
    assert table.executed() == table.labels(*RERUN_BY_SOURCE_CHANGE), run.report()


def test_feature_branch_falls_back_to_main_and_writes_only_its_own(
    rootless_main: MainRun, rootless_project: Path, docker_tier
):
    registry = rootless_main.registry
    main_before = registry.manifest("svc/cache", MAIN)
    assert registry.manifest("svc/cache", "feature-x") is None
    edit_source(rootless_project, "feature work")
    job = RootlessJob(rootless_project, registry, docker_tier)
    run = job.run("branch", "feature-x", "3" * 40).assert_ok()
    table = run.table
    assert_complete(table)
    assert table.executed() == table.labels(*RERUN_BY_SOURCE_CHANGE), run.report()
    assert registry.manifest("svc/cache", "feature-x") is not None, "no branch cache written"
    assert registry.manifest("svc/cache", MAIN) == main_before, "main's cache was rewritten"
    assert registry.manifest("svc", "latest") is not None
    assert registry.manifest("svc", "feature-x") is not None


def test_tag_pipeline_reads_main_and_writes_no_cache(
    rootless_main: MainRun, rootless_template: Path, docker_tier
):
    registry = rootless_main.registry
    tags_before = registry.tags("svc/cache")
    job = RootlessJob(rootless_template, registry, docker_tier)
    run = job.run("tag", "v1-0-0", "1" * 40, tag="v1.0.0").assert_ok()
    # VERSION=v1.0.0 is stamped by the compile, so it and the runtime copy of its binary
    # run (and COPY . . too if a test above moved main's cache to an edited source);
    # the module download and the warm-up come from main's cache.
    table = run.table
    assert_complete(table)
    for label in table.labels(COMPILE, RUNTIME_COPY):
        assert label in table.executed(), run.report()
    for label in table.labels(DOWNLOAD, *WARM_UP):
        assert label not in table.executed(), run.report()
    assert registry.manifest("svc", "v1.0.0") is not None
    assert registry.tags("svc/cache") == tags_before


def test_cache_registry_down_does_not_fail_the_build(
    rootless_main: MainRun, rootless_project: Path, docker_tier
):
    """ignore-error=true: with nothing listening where the job reads its cache and
    writes it, the image is still built and pushed, and the job's cache report ends it
    with the exit code GitLab turns into "passed with warnings". The job's fallback ref,
    which a feature branch's job has, is the default branch's cache, so the build
    compiles nothing: what this test is about is the unreachable ref on both sides. The
    progress is plain, as a job log shows it, which the report reads."""
    registry = rootless_main.registry
    job = RootlessJob(rootless_project, registry, docker_tier, repository="faults")
    nowhere = f"localhost:{unused_loopback_port()}/faults/cache:main"
    run = job.run(
        "default",
        MAIN,
        "5" * 40,
        overrides={
            "CACHE_FROM_REF": nowhere,
            "CACHE_FALLBACK_REF": f"{registry.address}/svc/cache:{MAIN}",
            "CACHE_TO_REF": nowhere,
        },
        progress="plain",
    )
    assert run.returncode == EXPORT_FAILED, run.report()
    assert registry.manifest("faults", MAIN) is not None, "the image was not pushed"
    report = CacheReport.of(run.stdout)
    assert report.export_failure(), report.lines
    assert report.reads()[nowhere].startswith("failed: "), report.lines
    assert report.counts() == expected_counts(run.table), report.lines
    for label in run.table.labels(DOWNLOAD, *WARM_UP):
        assert label not in run.table.executed(), "the fallback was not read\n" + run.report()


def without(settings: tuple[str, ...], flag: str, value: str) -> list[str]:
    pairs = list(zip(settings[::2], settings[1::2], strict=True))
    assert (flag, value) in pairs
    return [item for pair in pairs if pair != (flag, value) for item in pair]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        # Docker's default seccomp profile: no new user namespace without CAP_SYS_ADMIN.
        (lambda s: without(s, "--security-opt", "seccomp=unconfined"), "operation not permitted"),
        # newuidmap's file capability is void where the bounding set lacks it.
        (lambda s: without(s, "--cap-add", "SETUID"), "newuidmap"),
        (lambda s: without(s, "--cap-add", "SETGID"), "newgidmap"),
        # no-new-privileges ignores file capabilities at exec.
        (lambda s: [*s, "--security-opt", "no-new-privileges"], "uid_map"),
    ],
    ids=["default-seccomp", "no-SETUID", "no-SETGID", "no-new-privileges"],
)
def test_each_runner_setting_is_needed(
    login_registry: Registry, rootless_template: Path, docker_tier, change, error
):
    """With any one of RUNNER_SETTINGS taken away the job fails, with BuildKit's error
    in its log: the settings are the least that works here, not a guess."""
    job = RootlessJob(rootless_template, login_registry, docker_tier, repository="denied")
    # buildkitd fails at once here, and the launcher then waits out its retries: the
    # launcher's own default (about 2 s) rather than the job's (about 12 s) keeps these
    # failing runs short; the error in the log is buildkitd's either way.
    run = job.run(
        "default",
        MAIN,
        "6" * 40,
        runner_settings=change(RUNNER_SETTINGS),
        overrides={"BUILDCTL_CONNECT_RETRIES_MAX": "10"},
    )
    assert run.returncode != 0, "the job succeeded without a setting it should need"
    assert error in (run.stdout + run.stderr), run.report()
    assert login_registry.manifest("denied", MAIN) is None


# How long the wrapper below holds buildkitd back: longer than the launcher's default
# patience (about 2.2 s), shorter than the job's (about 12 s).
SLOW_START = 5


@pytest.mark.parametrize(
    ("retries", "passes"),
    [(JOB_VARIABLES["BUILDCTL_CONNECT_RETRIES_MAX"], True), ("10", False)],
    ids=["the-job's-retries", "the-launcher's-default"],
)
def test_a_slow_buildkitd_start_fails_only_without_the_job_s_retries(
    rootless_main: MainRun, rootless_project: Path, docker_tier, retries: str, passes: bool
):
    """The official buildctl-daemonless.sh asks the new buildkitd whether it is up
    BUILDCTL_CONNECT_RETRIES_MAX + 2 times, sleeping 0.1 s plus 0.02 s per try: about
    2.2 s at its default of 10. A buildkitd that takes 5 s to come up (here a wrapper
    that sleeps first, as a busy runner might) fails the job at that default and builds
    with the job's value."""
    wrapper = rootless_project / "slow-buildkitd"
    wrapper.write_text(f'#!/bin/sh\nsleep {SLOW_START}\nexec buildkitd "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    registry = rootless_main.registry
    repository = "slow-builds" if passes else "slow-fails"
    job = RootlessJob(rootless_project, registry, docker_tier, repository=repository)
    run = job.run(
        "default",
        MAIN,
        "8" * 40,
        overrides={
            "BUILDKITD": f"{CHECKOUT}/{wrapper.name}",
            "BUILDCTL_CONNECT_RETRIES_MAX": retries,
            # main's cache, so the build that does start compiles only our package.
            "CACHE_FROM_REF": f"{registry.address}/svc/cache:{MAIN}",
            "CACHE_TO_REF": "",
        },
    )
    output = run.stdout + run.stderr
    if passes:
        assert run.returncode == 0, run.report()
        assert registry.manifest(repository, MAIN) is not None, "the image was not pushed"
    else:
        assert run.returncode != 0, "the job built although buildkitd answered too late"
        assert "could not connect to" in output, run.report()
        assert registry.manifest(repository, MAIN) is None


def test_each_checkout_hits_the_cache_the_other_wrote(
    rootless_main: MainRun, rootless_template: Path, docker_tier, tmp_path: Path
):
    """One commit, checked out as a runner's and a laptop's executor would
    (harness.ci.checkout), each job on a new rootless BuildKit reading one cache only:
    the runner's checkout reads what rootless_main wrote from the bake (a laptop
    checkout: cookiecutter wrote it under umask 0022) and writes a ref of its own; the
    laptop's reads only that ref. Neither executes anything but the checkout stage,
    which the runner's reruns. rootless_main's ref has moved on since (other tests
    write main's cache), so its cold export is read by the digest the job reported."""
    registry = rootless_main.registry
    (exported,) = exported_cache_manifests(rootless_main.run.output)
    assert registry.manifest("svc/cache", exported) is not None
    cold_ref = f"{registry.address}/svc/cache@{exported}"
    runner_ref = f"{registry.address}/modes/cache:runner"
    for build in both_ways(rootless_template, tmp_path, cold_ref, runner_ref):
        run = (
            RootlessJob(build.context, registry, docker_tier, "modes")
            .run(
                "default",
                MAIN,
                "1" * 40,  # rootless_main's commit: the same build arguments
                overrides={"CACHE_FROM_REF": build.cache_from, "CACHE_TO_REF": build.cache_to},
            )
            .assert_ok()
        )
        assert_only_the_checkout_stage_ran(run.table, build.kind, run.report())
