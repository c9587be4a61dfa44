"""Private modules, for real: the service imports a module that only an HTTPS git
server with Basic credentials holds (harness.infra.git_server, the stand-in for a
private GitLab project), and GOPROXY is a proxy that has nothing.

- buildx, as the dind and shared jobs run it, with the job's `--secret id=netrc`: the
  build fetches the module straight from its server, with the token, and the token is in
  no layer, image config, attestation, cache image or build log;
- a rebuild on a new builder with ANOTHER token runs no step: the secret is not part of
  any cache key;
- without the secret the build stops at the download and names the secret; with a wrong
  token it stops there with the server's 401;
- the rootless and shared jobs' own scripts, given only CI_JOB_TOKEN, write the .netrc and
  pass it as the same secret;
- the go-test job, given only CI_JOB_TOKEN, vets and tests the service with the module
  fetched from its server, and fails at the fetch with a token the server refuses.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.builders.buildx import Builder, BuildResult, registry_cache
from harness.builders.rootless import JobRun, RootlessJob
from harness.builders.shared import SharedBuildKit, SharedJob
from harness.evidence.dockerfile_steps import COMPILE, PRIVATE_DOWNLOAD
from harness.golang.private_modules import GoTestJob, PrivateModules, places_holding
from harness.infra.registry import Registry
from harness.infra.settings import TierSettings
from harness.template import base_image_args

TOKEN = "first-J0b-token-5f2c"
NEXT_TOKEN = "next-J0b-token-8e1d"
MAIN = "main"


@pytest.fixture(scope="module")
def world(
    registry: Registry, docker_tier: TierSettings, tmp_path_factory, bake
) -> Iterator[PrivateModules]:
    def new_builder() -> Builder:
        return Builder(docker_tier.create_flags).create()

    base = base_image_args(bake({}))["GO_IMAGE"]
    with PrivateModules(tmp_path_factory.mktemp("private"), registry, base, new_builder) as made:
        yield made


def private_project(bake, world: PrivateModules, folder: Path, builder: str = "dind") -> Path:
    baked = bake({"go_private_modules": world.server.prefix, "builder": builder})
    copy = folder / baked.name
    shutil.copytree(baked, copy)
    return world.overlay(copy)


def build(
    world: PrivateModules, project: Path, builder: Builder, secret: Path | None, **options
) -> BuildResult:
    """The build the dind and shared jobs run for the default branch, on `builder`."""
    extra = ["--secret", f"id=netrc,src={secret}"] if secret else []
    return builder.build(
        project,
        build_args={
            **base_image_args(project), "GO_IMAGE": world.go_image,
            "GOPRIVATE": world.server.prefix, "GIT_COMMIT": "7" * 40, "VERSION": "1.0.0",
        },
        extra=[*extra, "--provenance=mode=max"],
        **options,
    )  # fmt: skip


@pytest.fixture(scope="module")
def first(world: PrivateModules, registry: Registry, bake, docker_tier, tmp_path_factory):
    project = private_project(bake, world, tmp_path_factory.mktemp("first"))
    builder = Builder(docker_tier.create_flags).create()
    try:
        result = build(
            world, project, builder, world.netrc(TOKEN),
            tags=[f"{registry.address}/private/app:{MAIN}"], push=True,
            cache_to=registry_cache(f"{registry.address}/private/cache:{MAIN}"),
        ).assert_ok()  # fmt: skip
    finally:
        builder.remove()
    print("\nfirst build with a private module:\n" + result.table.render())
    return project, result


def test_build_fetches_the_private_module_with_the_secret_and_keeps_it_nowhere(
    first, world: PrivateModules, registry: Registry
):
    _, result = first
    executed = result.table.executed()
    for step in result.table.labels(PRIVATE_DOWNLOAD, COMPILE):
        assert step in executed, result.report()
    fetched = [r.path for r in world.server.fetched_by("gitlab-ci-token")]
    assert "/team/lib.git/git-upload-pack" in fetched, world.server.requests
    # GOPRIVATE kept it off the proxy, which was asked for nothing of it.
    assert not [f for f in world.proxy.fetches if "127.0.0.1" in f.path], world.proxy.fetches
    for needle in (TOKEN.encode(), b"password " + TOKEN.encode()):
        assert needle not in result.stream.encode(), "the token is in the build log"
        for repository in ("private/app", "private/cache"):
            assert places_holding(registry, repository, MAIN, needle) == []


def test_rebuild_with_another_token_runs_no_step(
    first, world: PrivateModules, registry, docker_tier
):
    project, _ = first
    asked = len(world.server.requests)
    builder = Builder(docker_tier.create_flags).create()
    try:
        result = build(
            world, project, builder, world.netrc(NEXT_TOKEN, "next-netrc"),
            cache_from=[f"type=registry,ref={registry.address}/private/cache:{MAIN}"],
        ).assert_ok()  # fmt: skip
    finally:
        builder.remove()
    result.table.one(*PRIVATE_DOWNLOAD)  # the step is there, served by the cache
    assert result.table.executed() == [], result.report()
    assert len(world.server.requests) == asked, "the rebuild fetched the module again"


@pytest.mark.parametrize("secret", ["none", "wrong token"])
def test_build_without_good_credentials_stops_at_the_download(
    first, world: PrivateModules, new_builder, secret
):
    project, _ = first
    netrc = None
    if secret == "wrong token":
        netrc = world.netrc("not-a-token", "wrong-netrc")
        world.server.tokens.discard("not-a-token")
    result = build(world, project, new_builder(), netrc)
    assert result.returncode != 0, result.report()
    download = result.table.one(*PRIVATE_DOWNLOAD)
    assert download.label in result.table.executed(), result.report()
    expected = "secret netrc" if secret == "none" else "401 Unauthorized"
    assert expected in result.excerpt(), result.report()
    assert result.table.one(*COMPILE).label not in result.table.executed(), result.report()


def go_mod_touched(project: Path, note: str) -> None:
    """A comment in go.mod: the download reruns (its input changed), the std stage not."""
    go_mod = project / "go.mod"
    go_mod.write_text(go_mod.read_text(encoding="utf-8") + f"// {note}\n", encoding="utf-8")


def assert_fetched_with_the_job_token(run: JobRun, world: PrivateModules, token: str) -> None:
    run.assert_ok()
    assert run.table.one(*PRIVATE_DOWNLOAD).label in run.table.executed(), run.report()
    assert token not in run.output, "the job token is in the job log"


@pytest.fixture(scope="module")
def job_registry(first, registry: Registry, login_registry: Registry, world: PrivateModules):
    """The jobs' registry: the Go image and the first build's cache as cache:main."""
    registry.copy_to(login_registry, "private/golang", world.go_image.rsplit(":", 1)[1])
    registry.copy_to(login_registry, "private/cache", MAIN, into="svc/cache")
    return login_registry


def job_overrides(world: PrivateModules, job_registry: Registry, token: str) -> dict[str, str]:
    world.server.tokens.add(token)
    tag = world.go_image.rsplit(":", 1)[1]
    return {"CI_JOB_TOKEN": token, "GO_IMAGE": f"{job_registry.address}/private/golang:{tag}"}


def test_rootless_job_passes_the_job_token_as_the_secret(
    bake, world: PrivateModules, job_registry: Registry, docker_tier, tmp_path
):
    project = private_project(bake, world, tmp_path, "rootless")
    go_mod_touched(project, "rootless")
    token = "rootless-J0b-token"
    run = RootlessJob(project, job_registry, docker_tier).run(
        "default", MAIN, "8" * 40, overrides=job_overrides(world, job_registry, token)
    )
    assert_fetched_with_the_job_token(run, world, token)


def test_shared_job_passes_the_job_token_as_the_secret(
    bake, world: PrivateModules, job_registry: Registry, docker_tier, tmp_path
):
    project = private_project(bake, world, tmp_path, "shared")
    go_mod_touched(project, "shared")
    token = "shared-J0b-token"
    with SharedBuildKit(docker_tier, tmp_path / "buildkit") as service:
        run = SharedJob(
            project, job_registry, docker_tier, service.client_files(), service.address
        ).run("default", MAIN, "9" * 40, overrides=job_overrides(world, job_registry, token))
    assert_fetched_with_the_job_token(run, world, token)


@pytest.mark.parametrize("accepted", [True, False], ids=["job-token", "refused-token"])
def test_go_test_job_fetches_the_module_with_the_job_token(
    first, world: PrivateModules, registry: Registry, docker_tier, accepted
):
    project, _ = first
    token = f"go-test-J0b-token-{accepted}"
    if accepted:
        world.server.tokens.add(token)
    run = GoTestJob(project, registry, docker_tier).run(
        "tag", "v1", "7" * 40, tag="v1",
        overrides={"CI_JOB_TOKEN": token, "GO_IMAGE": world.go_image},
    )  # fmt: skip
    assert token not in run.output, "the job token is in the job log"
    if accepted:
        assert run.returncode == 0, run.output[-3000:]
        assert "ok" in run.output, run.output[-3000:]
        assert "/team/lib.git/git-upload-pack" in [
            r.path for r in world.server.fetched_by("gitlab-ci-token")
        ]
    else:
        assert run.returncode != 0, run.output[-3000:]
        assert "401 Unauthorized" in run.output, run.output[-3000:]
