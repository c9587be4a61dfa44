"""One commit, two checkouts that differ only in their file modes, one cache.

GitLab Runner's docker and Kubernetes executors check out under umask 0000 unless
their FF_DISABLE_UMASK_FOR_* flag is true; shell executors and laptops use 0022
(harness.ci.checkout). BuildKit's cache keys for files copied from the build context
include the files' modes, so unless the Dockerfile makes them the same, a cache
written from one kind of checkout misses on the other from the first COPY on.

The proof reuses the session's cold build (`main_cache`), which ran on the baked
project itself: cookiecutter wrote it under this process's umask (0022), so it is a
laptop checkout, which `test_the_bake_is_a_laptop_checkout` shows file by file. Then,
each on a new builder that reads only the one cache named:
- A: a runner checkout of the same commit, from main_cache's ref, writing a new ref;
- B: a laptop checkout, from A's ref only.
In A the checkout stage runs (BuildKit saw other modes); in neither does anything
else, so a laptop's cache serves a runner and a runner's serves a laptop, and neither
build compiles anything. (B may find even the checkout stage's copy in A's export,
which keeps the keys A imported from main_cache.)

The bake has no executable file, and `u=rwX,go=rX` treats those apart (X keeps an
execute bit the source had), so `test_context_stage_gives_both_checkouts_one_tree`
adds one and compares what the checkout stage makes of each checkout. Adding it to
the cache proof would have meant another cold build, or a commit that differs from
what main_cache built, where the compile would rerun for a reason other than modes.
"""

from __future__ import annotations

import io
import stat
import tarfile
from pathlib import Path

import pytest

from harness.builders.buildx import registry_cache
from harness.ci.checkout import SCRIPT, Repository, checkout, committed_copy, modes, tree
from harness.ci.ci_file import CiFile
from harness.evidence.dockerfile_steps import CONTEXT_STAGE, assert_only_the_checkout_stage_ran


@pytest.fixture(scope="module")
def repository(service_template: Path, tmp_path_factory) -> Repository:
    """The bake, committed as it is: the commit main_cache built."""
    return committed_copy(service_template, tmp_path_factory.mktemp("modes") / "origin")


@pytest.fixture(scope="module")
def scripted(service_template: Path, tmp_path_factory) -> Repository:
    """The bake plus an executable script, committed."""
    path = tmp_path_factory.mktemp("modes-script") / "origin"
    return committed_copy(service_template, path, script=True)


def test_checkouts_differ_in_modes_only(scripted: Repository, tmp_path: Path):
    """The premise: git gives the runner's checkout 0666/0777 and the laptop's 0644/0755."""
    runner, laptop = (checkout(scripted, tmp_path, kind) for kind in ("runner", "laptop"))
    runner_modes, laptop_modes = modes(runner), modes(laptop)
    assert runner_modes.keys() == laptop_modes.keys()
    assert (runner_modes["go.mod"], laptop_modes["go.mod"]) == (0o666, 0o644)
    assert (runner_modes[SCRIPT], laptop_modes[SCRIPT]) == (0o777, 0o755)
    assert (runner_modes["scripts"], laptop_modes["scripts"]) == (0o777, 0o755)
    contents = {path: content for path, (_, content) in tree(runner).items()}
    assert contents == {path: content for path, (_, content) in tree(laptop).items()}


def test_the_bake_is_a_laptop_checkout(
    repository: Repository, service_template: Path, tmp_path: Path
):
    """The premise of reusing main_cache: the baked folder it built holds the same
    files, contents and modes as a laptop's clone of the commit."""
    laptop = checkout(repository, tmp_path, "laptop")
    assert tree(service_template) == tree(laptop)


def test_each_checkout_hits_the_cache_the_other_wrote(
    main_cache, repository: Repository, new_builder, tmp_path: Path
):
    args = {"GIT_COMMIT": main_cache.commit, "VERSION": "1.0.0"}
    runner_ref = f"{main_cache.registry.address}/modes/cache:runner"
    runner = checkout(repository, tmp_path, "runner")
    extra = CiFile.of(runner).build_job.attestation_flags()
    builds = {
        "runner": new_builder().build(
            runner,
            cache_from=[f"type=registry,ref={main_cache.cache_ref}"],
            cache_to=registry_cache(runner_ref),
            build_args=args,
            extra=extra,
        ),
    }
    builds["laptop"] = new_builder().build(
        checkout(repository, tmp_path, "laptop"),
        cache_from=[f"type=registry,ref={runner_ref}"],
        build_args=args,
        extra=extra,
    )
    for kind, result in builds.items():
        result.assert_ok()
        assert_only_the_checkout_stage_ran(result.table, kind, result.report())


def test_context_stage_gives_both_checkouts_one_tree(
    scripted: Repository, new_builder, tmp_path: Path
):
    """The checkout stage's output, exported as a tar, is the same from a runner's and a
    laptop's checkout, with a laptop's modes: files 0644, directories and the
    executable script 0755."""
    builder = new_builder()
    exported: dict[str, dict[str, int]] = {}
    for kind in ("runner", "laptop"):
        tar = tmp_path / f"{kind}.tar"
        builder.build(
            checkout(scripted, tmp_path, kind),
            target=CONTEXT_STAGE,
            output=f"type=tar,dest={tar}",
        ).assert_ok()
        with tarfile.open(fileobj=io.BytesIO(tar.read_bytes())) as archive:
            exported[kind] = {
                member.name.removeprefix("./"): stat.S_IMODE(member.mode)
                for member in archive.getmembers()
                if member.name not in (".", "./")
            }
    assert exported["runner"] == exported["laptop"]
    found = exported["laptop"]
    assert (found["go.mod"], found["scripts"], found[SCRIPT]) == (0o644, 0o755, 0o755), found
    assert set(found.values()) == {0o644, 0o755}, found
