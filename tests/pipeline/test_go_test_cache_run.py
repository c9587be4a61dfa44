"""The generated `go-test` job's GitLab cache, proven by running the job.

The project is the default one with the deps service's files committed on top
(harness.golang.deps_service: chi, uuid, zerolog, x/text, yaml.v3), so the job has real modules to
download and compile. gitlab-ci-local runs the project's own `go-test` job through its
docker executor, in the CI file's Go image, not privileged, as the image's user, on a
docker network of the test's own. The modules come from a module proxy on that
network's gateway (harness.golang.go_test_job.DepsModules); `GOSUMDB=off` keeps everything on this
machine, and go.sum still verifies every module. `GOFLAGS=-x` makes the go command
print each proxy request and each compiler run, which is what the assertions read.

Runs, in order, one state folder unless said otherwise (gitlab-ci-local keeps job
caches per state folder):
1. default branch, proxy reachable: downloads the modules, compiles the standard
   library and the dependencies, and saves the cache (policy pull-push);
2. default branch after a source commit, `GOPROXY=off`: passes on the restored cache
   alone, requests nothing, compiles only our own packages, saves the cache again;
3. a tag on that commit, `GOPROXY=off`: reads the cache (policy pull), compiles
   nothing, leaves the saved cache untouched;
4. control: the same commit as 2 in a fresh state folder (no cache), `GOPROXY=off`:
   must fail for want of modules, so run 2's success is the cache's doing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.evidence.dockerfile_steps import edit_source
from harness.golang.go_test_job import (
    DepsModules,
    GoMod,
    GoTrace,
    files_of,
    lay_deps_overlay,
    packages_of,
    saved_caches,
)
from harness.pipeline.emulator import Event, GitLabCiLocal, GitRepo, JobRun, push, tag
from harness.pipeline.runner import (
    HELPER_IMAGE,
    DockerExecutor,
    JobNetwork,
    Leftovers,
    ensure_local,
    job_images,
)
from harness.template import go_image

pytestmark = pytest.mark.docker

JOB = "go-test"
RELEASE = "v1.0.0"
STATE = ".gitlab-ci-local/go-cache"
FRESH_STATE = ".gitlab-ci-local/go-no-cache"
CACHE_PATHS = (".go/mod", ".go/build")  # the job's cache:paths, relative to the project
# gitlab-ci-local's lines (4.70.0) when it copies a cache in and out.
IMPORTED = "imported cache"
CREATED = "cache created in"


@dataclass
class GoJob:
    name: str
    run: JobRun
    trace: GoTrace
    fetches: int  # proxy requests answered while the job ran
    containers: list[dict] = field(default_factory=list)

    def report(self) -> str:
        return (
            f"run: {self.name}; proxy requests {self.fetches}; "
            f"gets {len(self.trace.gets)}; compiled {sorted(self.trace.compiled)[:40]}\n"
            + self.run.report(lines=60)
        )


class GoTestRuns:
    """Each run once, on demand, in the order above."""

    def __init__(self, emulator: GitLabCiLocal, network: JobNetwork, modules: DepsModules) -> None:
        self.emulator = emulator
        self.repo: GitRepo = emulator.repo
        self.modules = modules
        self.gomod = GoMod.read(self.repo.path)
        (self.image,) = job_images(self.repo.path / ".gitlab-ci.yml", JOB)
        self.executor = DockerExecutor(umask=False, networks=(network.name,))
        self.runs: list[GoJob] = []
        self.saved_by_first: dict[str, dict[str, tuple[int, int]]] = {}

    def not_ours(self, packages: frozenset[str]) -> set[str]:
        """The packages that are neither a command's `main` nor in our own module."""
        return set(packages) - {"main"} - packages_of(packages, [self.gomod.module])

    def run(self, name: str, event: Event, state: str, goproxy: str) -> GoJob:
        seen: list[dict] = []

        def inspect(leftovers: Leftovers) -> None:
            seen.extend(leftovers.containers)

        mark = self.modules.mark()
        run = self.emulator.run_job(
            JOB,
            event,
            state_dir=state,
            variables={"GOPROXY": goproxy, "GOSUMDB": "off", "GOFLAGS": "-x"},
            secrets={},
            executor=self.executor,
            inspect=inspect,
        )
        job = GoJob(name, run, GoTrace.read(run.log), len(self.modules.fetches_since(mark)), seen)
        self.runs.append(job)
        print(f"\n{name}: exit {run.returncode} in {run.seconds:.1f}s")
        return job

    @functools.cached_property
    def first(self) -> GoJob:
        self.repo.checkout(self.repo.default_branch)
        job = self.run("first", push(self.repo.default_branch), STATE, self.modules.url)
        assert job.run.passed, "the first go-test run failed\n" + job.report()
        # What it saved, before the second run saves again over it.
        self.saved_by_first = self.saved()
        return job

    @functools.cached_property
    def second(self) -> GoJob:
        assert self.first
        self.repo.checkout(self.repo.default_branch)
        edit_source(self.repo.path, "a commit after the cache was saved")
        self.repo.commit("Change the source")
        return self.run("second", push(self.repo.default_branch), STATE, "off")

    @functools.cached_property
    def release(self) -> tuple[GoJob, dict, dict]:
        """The tag run, and the saved caches before and after it."""
        assert self.second
        before = self.saved()
        self.repo.tag(RELEASE)
        self.repo.checkout(RELEASE)  # a detached checkout of the tag, as a runner makes
        try:
            job = self.run("release", tag(RELEASE), STATE, "off")
        finally:
            self.repo.checkout(self.repo.default_branch)
        return job, before, self.saved()

    @functools.cached_property
    def control(self) -> GoJob:
        assert self.second
        self.repo.checkout(self.repo.default_branch)
        return self.run("no cache", push(self.repo.default_branch), FRESH_STATE, "off")

    def saved(self) -> dict[str, dict[str, tuple[int, int]]]:
        """The caches saved in the state folder: key -> files (size, mtime)."""
        return {key: files_of(path) for key, path in saved_caches(self.repo.path / STATE).items()}


@pytest.fixture(scope="module")
def go_runs(gitlab_ci_local_path: Path, bake, docker_tier, tmp_path_factory):
    root = tmp_path_factory.mktemp("go-test-cache")
    repo = GitRepo.from_baked(bake({}), root / "project")
    lay_deps_overlay(repo.path)
    repo.commit("Use third-party modules")
    emulator = GitLabCiLocal(gitlab_ci_local_path, repo, root / "home")
    (image,) = job_images(repo.path / ".gitlab-ci.yml", JOB)
    assert image == go_image(), f"go-test runs in {image}, the template pins {go_image()}"
    ensure_local([image, HELPER_IMAGE], docker_tier.mirror)
    with (
        JobNetwork("gotpl-go-test") as network,
        DepsModules(repo.path, network.address(1)) as modules,
    ):
        yield GoTestRuns(emulator, network, modules)


def test_job_runs_in_the_go_image_through_the_docker_executor(go_runs: GoTestRuns):
    first = go_runs.first
    jobs = [c for c in first.containers if c["Config"]["Image"] == go_runs.image]
    images = [c["Config"]["Image"] for c in first.containers]
    assert jobs, f"no container of {go_runs.image} among {images}"
    assert not jobs[0]["HostConfig"]["Privileged"]
    assert IMPORTED not in first.run.output, "the first run found a cache\n" + first.report()


def test_first_run_downloads_compiles_and_saves_the_cache(go_runs: GoTestRuns):
    first = go_runs.first
    direct = go_runs.gomod.direct
    assert direct, "the deps overlay's go.mod requires nothing"
    zips = {url.split(go_runs.modules.url + "/", 1)[-1] for url in first.trace.gets}
    missing = [r.zip for r in direct if r.zip not in zips]
    assert not missing, f"the job did not fetch {missing} from the proxy\n" + first.report()
    assert first.fetches > 0
    # The build cache starts empty: the standard library and every direct dependency
    # are compiled here, so their absence later means they came from the cache.
    assert first.trace.std, "no standard library package was compiled\n" + first.report()
    for requirement in direct:
        assert first.trace.from_modules([requirement.path]), (
            f"no package of {requirement.path} was compiled\n" + first.report()
        )
    assert CREATED in first.run.output, first.report()
    keys = go_runs.saved_by_first
    assert len(keys) == 1, f"caches saved for go-test: {sorted(keys)}\n" + first.report()
    (saved,) = keys.values()
    for requirement in direct:
        name = f".go/mod/cache/download/{requirement.zip}"
        assert name in saved, f"{name} is not in the saved cache"
    assert any(path.startswith(".go/build/") for path in saved), "no build cache was saved"
    tops = {"/".join(Path(path).parts[:2]) for path in saved}
    assert tops == set(CACHE_PATHS), f"the saved cache holds {sorted(tops)}"


def test_second_run_restores_the_cache_and_downloads_nothing(go_runs: GoTestRuns):
    second = go_runs.second
    assert second.run.passed, "with GOPROXY=off the job failed: the cache did not serve it\n" + (
        second.report()
    )
    assert IMPORTED in second.run.output, second.report()
    assert not second.trace.gets and second.fetches == 0, second.report()
    # The source commit recompiles our own package and nothing else: the standard
    # library and the dependencies came compiled in the restored build cache.
    assert second.trace.compiled, "no compiler run seen: is GOFLAGS=-x read?\n" + second.report()
    assert not go_runs.not_ours(second.trace.compiled), second.report()
    assert not second.trace.std, second.report()


def test_tag_run_reads_the_cache_and_writes_none(go_runs: GoTestRuns):
    release, before, after = go_runs.release
    assert release.run.passed, release.report()
    assert IMPORTED in release.run.output, "the tag run restored no cache\n" + release.report()
    assert CREATED not in release.run.output, (
        "the tag run saved the cache: its policy must be pull\n" + release.report()
    )
    assert not release.trace.gets and release.fetches == 0, release.report()
    # The second run saved its own outputs (pull-push), so this commit compiles nothing.
    assert not release.trace.compiled, release.report()
    assert after == before, "a tag pipeline changed the saved cache"


def test_without_the_cache_the_same_run_fails(go_runs: GoTestRuns):
    control = go_runs.control
    assert not control.run.passed, "the job passed with no cache and GOPROXY=off\n" + (
        control.report()
    )
    assert IMPORTED not in control.run.output, control.report()
    assert "GOPROXY=off" in control.run.log, (
        "the job failed, but not for want of modules\n" + control.report()
    )
