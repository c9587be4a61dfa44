"""The shared builder, for real: a BuildKit service with mutual TLS on TCP (the pinned
BuildKit image, the testbed's stand-in offline), and the generated job's own script in
the `docker:<version>` job image, one new container per job, as runners start them.

Two jobs on one service: the second, after a source change, executes only what the
change reruns and downloads no layer, because the service kept the first job's
results. A job on a NEW, empty service still takes every unchanged step from the
registry cache. A client certificate from another CA is refused, and nothing is pushed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.builders.rootless import JobRun
from harness.builders.shared import (
    SharedBuildKit,
    SharedJob,
    client_files,
    layer_downloads,
    unused_loopback_port,
)
from harness.ci.cache_report import EXPORT_FAILED, CacheReport, expected_counts
from harness.ci.checkout import both_ways
from harness.evidence.dockerfile_steps import (
    RERUN_BY_SOURCE_CHANGE,
    assert_complete,
    assert_only_the_checkout_stage_ran,
    edit_source,
)
from harness.evidence.step_table import exported_cache_manifests
from harness.infra.registry import Registry
from harness.infra.settings import TierSettings
from harness.infra.tls import TestCA

MAIN = "main"


@pytest.fixture(scope="module")
def shared_project(bake, docker_tier: TierSettings, tmp_path_factory) -> Path:
    """A copy of the project baked with builder=shared, edited by the tests in order."""
    baked = bake({"builder": "shared"})
    copy = tmp_path_factory.mktemp("shared") / baked.name
    shutil.copytree(baked, copy)
    return copy


@pytest.fixture(scope="module")
def service(docker_tier: TierSettings, tmp_path_factory) -> Iterator[SharedBuildKit]:
    with SharedBuildKit(docker_tier, tmp_path_factory.mktemp("buildkit")) as running:
        yield running


@pytest.fixture(scope="module")
def cold_run(
    main_cache, service: SharedBuildKit, login_registry: Registry, shared_project: Path, docker_tier
):
    """The default branch's first pipeline on the new, empty service, in a project whose
    cache:main a docker-container builder wrote (main_cache's, copied into this module's
    registry): image and cache:main pushed. The shared job's cold build from no cache at
    all is the pipeline tier's (test_shared_pipeline.py)."""
    main_cache.registry.copy_to(login_registry, "svc/cache", MAIN)
    job = SharedJob(
        shared_project, login_registry, docker_tier, service.client_files(), service.address
    )
    run = job.run("default", MAIN, "1" * 40).assert_ok()
    print("\nfirst build on the shared builder:\n" + run.table.render())
    return run


def assert_job_unprivileged(run: JobRun) -> None:
    host = run.inspect["HostConfig"]
    assert host["Privileged"] is False
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")


def test_first_job_builds_on_the_service_and_pushes(
    cold_run: JobRun, login_registry: Registry, service: SharedBuildKit
):
    """The job builds on the service (its steps are in the job's progress), which took
    from the registry cache every step the job's own VERSION does not stamp."""
    assert_job_unprivileged(cold_run)
    table = cold_run.table
    assert_complete(table)
    assert table.executed(), "nothing ran on the service\n" + cold_run.report()
    assert set(table.executed()) <= set(table.labels(*RERUN_BY_SOURCE_CHANGE)), cold_run.report()
    for tag in (MAIN, "1" * 40, "latest"):
        assert login_registry.manifest("svc", tag) is not None, f"svc:{tag} was not pushed"
    assert login_registry.manifest("svc/cache", MAIN) is not None, "no cache was written"
    output = cold_run.stdout + cold_run.stderr
    login = login_registry.login
    assert login is not None
    for secret in (login.password, login.basic_auth):
        assert secret not in output, "the job's output shows the registry password"
    key = (service.folder / "ci-client" / "client-key.pem").read_text(encoding="utf-8")
    assert key.splitlines()[1] not in output, "the job's output shows the client key"


def test_second_job_on_the_warm_service_reruns_only_the_change(
    cold_run: JobRun,
    service: SharedBuildKit,
    login_registry: Registry,
    shared_project: Path,
    docker_tier,
):
    """A new job container, as a second runner would start: the service still holds the
    first job's results, so nothing is downloaded from the registry cache."""
    edit_source(shared_project, "second job")
    job = SharedJob(
        shared_project, login_registry, docker_tier, service.client_files(), service.address
    )
    run = job.run("default", MAIN, "2" * 40).assert_ok()
    table = run.table
    assert_complete(table)
    assert table.executed() == table.labels(*RERUN_BY_SOURCE_CHANGE), run.report()
    assert layer_downloads(run.output) == [], run.report()


def test_a_refused_cache_export_still_pushes_and_exits_for_a_warning(
    cold_run: JobRun, login_registry: Registry, shared_project: Path, service, docker_tier
):
    """The job's cache goes to a read-only registry: the image is pushed all the same,
    and the cache report ends the job with the exit code GitLab turns into "passed with
    warnings" (allow_failure: exit_codes), its reason on one line. Plain progress, as a
    job log shows it, which the report reads."""
    readonly = '{"enabled": true}'
    with Registry(REGISTRY_STORAGE_MAINTENANCE_READONLY=readonly) as refusing:
        job = SharedJob(
            shared_project, login_registry, docker_tier, service.client_files(),
            service.address, repository="refused",
        )  # fmt: skip
        run = job.run(
            "default", MAIN, "4" * 40, progress="plain",
            overrides={
                "CACHE_FROM_REF": f"{login_registry.address}/svc/cache:{MAIN}",
                "CACHE_TO_REF": f"{refusing.address}/refused/cache:main",
            },
        )  # fmt: skip
        assert refusing.manifest("refused/cache", MAIN) is None, "the read-only registry took it"
    assert run.returncode == EXPORT_FAILED, run.report()
    assert login_registry.manifest("refused", MAIN) is not None, "the image was not pushed"
    report = CacheReport.of(run.stdout)
    reason = report.export_failure()
    assert reason and reason.startswith("error writing layer blob: "), report.lines
    assert report.counts() == expected_counts(run.table), report.lines


def test_new_empty_service_starts_from_the_registry_cache(
    cold_run: JobRun, login_registry: Registry, shared_project: Path, docker_tier, tmp_path
):
    """A replaced or added service is empty; the registry cache, not the service, makes
    every unchanged step a hit."""
    edit_source(shared_project, "third job")
    with SharedBuildKit(docker_tier, tmp_path / "new") as new_service:
        job = SharedJob(
            shared_project,
            login_registry,
            docker_tier,
            new_service.client_files(),
            new_service.address,
        )
        run = job.run("default", MAIN, "3" * 40).assert_ok()
    table = run.table
    assert_complete(table)
    assert table.executed() == table.labels(*RERUN_BY_SOURCE_CHANGE), run.report()
    assert layer_downloads(run.output), "nothing came from the registry\n" + run.report()


def test_client_certificate_of_another_ca_is_refused(
    service: SharedBuildKit, login_registry: Registry, shared_project: Path, docker_tier, tmp_path
):
    rogue = client_files(TestCA(tmp_path / "rogue-ca", "another CA"), tmp_path / "rogue")
    # The job trusts the right server CA, so only the client certificate is wrong.
    shutil.copyfile(service.ca.cert, rogue.folder / "ca.pem")
    job = SharedJob(shared_project, login_registry, docker_tier, rogue, service.address, "denied")
    run = job.run("default", MAIN, "4" * 40)
    output = run.stdout + run.stderr
    assert run.returncode != 0, "a client the service's CA never signed was served"
    # buildx reports the service's TLS alert or, when its own write came first (TLS 1.3:
    # see SharedBuildKit.refusal), the connection the service closed on it.
    assert any(sign in output for sign in ("tls:", "broken pipe", "connection reset")), run.report()
    # The refusal is the service's TLS check: read directly, it is an alert for the rogue
    # certificate and none for one the service's CA signed.
    assert "alert" in service.refusal(rogue).lower()
    assert service.refusal(service.client_files("direct")) == ""
    assert "did not answer" in output, run.report()
    assert login_registry.manifest("denied", MAIN) is None


def test_unreachable_service_fails_the_job_clearly(
    service: SharedBuildKit, login_registry: Registry, shared_project: Path, docker_tier
):
    """Nothing listens at the address: the job stops before building, with buildx's
    connection error and the job's own sentence; there is no fallback builder."""
    nowhere = f"tcp://127.0.0.1:{unused_loopback_port()}"
    job = SharedJob(
        shared_project, login_registry, docker_tier, service.client_files("other"), nowhere, "gone"
    )
    run = job.run("default", MAIN, "5" * 40)
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert "connection refused" in output, run.report()
    assert f"the shared BuildKit at {nowhere} did not answer" in output, run.report()
    assert login_registry.manifest("gone", MAIN) is None


def test_each_checkout_hits_the_cache_the_other_wrote(
    cold_run: JobRun, login_registry: Registry, docker_tier, tmp_path: Path, bake
):
    """One commit, checked out as a runner's and a laptop's executor would
    (harness.ci.checkout), each job on a NEW, empty service reading one cache only: the
    runner's checkout reads what cold_run exported from the bake (a laptop checkout:
    cookiecutter wrote it under umask 0022) and writes a ref of its own; the laptop's
    reads only that ref. Neither executes anything but the checkout stage, which the
    runner's reruns. Main's ref has moved on since (the tests above write it), so
    cold_run's export is read by the digest the job reported."""
    (exported,) = exported_cache_manifests(cold_run.output)
    assert login_registry.manifest("svc/cache", exported) is not None
    cold_ref = f"{login_registry.address}/svc/cache@{exported}"
    runner_ref = f"{login_registry.address}/modes/cache:runner"
    for build in both_ways(bake({"builder": "shared"}), tmp_path, cold_ref, runner_ref):
        (tmp_path / f"buildkit-{build.kind}").mkdir()
        with SharedBuildKit(docker_tier, tmp_path / f"buildkit-{build.kind}") as fresh:
            run = (
                SharedJob(
                    build.context, login_registry, docker_tier, fresh.client_files(),
                    fresh.address, "modes",
                )
                .run(
                    "default",
                    MAIN,
                    "1" * 40,  # cold_run's commit: the same build arguments
                    overrides={
                        "CACHE_FROM_REF": build.cache_from, "CACHE_TO_REF": build.cache_to,
                    },
                )
                .assert_ok()
            )  # fmt: skip
        assert_only_the_checkout_stage_ran(run.table, build.kind, run.report())
