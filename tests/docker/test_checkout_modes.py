"""One commit, two checkouts that differ only in their file modes, one cache.

GitLab Runner's docker and Kubernetes executors check out under umask 0000 unless
their FF_DISABLE_UMASK_FOR_* flag is true; shell executors and laptops use 0022
(harness.checkout). BuildKit's cache keys for files copied from the build context
include the files' modes, so unless the Dockerfile makes them the same, a cache
written from one kind of checkout misses on the other from the first COPY on.

Each scenario builds a commit cold from one checkout on a new builder, writing a
registry cache, then builds the same commit from the other checkout on another new
builder: no step of the std, builder and runtime stages may execute. Only the
context stage, whose one job is to give the context the same modes, may run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.buildx import registry_cache
from harness.checkout import LAPTOP_UMASK, RUNNER_UMASK, Repository, clone_with_umask, modes
from harness.gitlab_ci import BuildJob
from harness.progress import StepTable
from harness.steps import CONTEXT_STAGE, assert_complete

UMASKS = {"runner": RUNNER_UMASK, "laptop": LAPTOP_UMASK}
# A script kept executable in git: a checkout gives it 0777 or 0755.
SCRIPT = "scripts/check.sh"


@pytest.fixture(scope="module")
def repository(service_template: Path, tmp_path_factory) -> Repository:
    """The default project with an executable script, committed once."""
    path = tmp_path_factory.mktemp("modes") / "origin"
    shutil.copytree(service_template, path)
    script = path / SCRIPT
    script.parent.mkdir()
    script.write_text("#!/bin/sh\necho checked\n", encoding="utf-8")
    script.chmod(0o755)
    repository = Repository(path)
    repository.commit("one commit, two checkouts")
    return repository


def checkout(repository: Repository, parent: Path, kind: str) -> Path:
    return clone_with_umask(repository, parent / kind, UMASKS[kind])


def executed_outside_context(table: StepTable) -> list[str]:
    executed = set(table.executed())
    return [step.label for step in table if step.label in executed and step.stage != CONTEXT_STAGE]


def test_checkouts_differ_in_modes_only(repository: Repository, tmp_path: Path):
    """The premise: git gives the runner's checkout 0666/0777 and the laptop's 0644/0755."""
    runner, laptop = (checkout(repository, tmp_path, kind) for kind in ("runner", "laptop"))
    runner_modes, laptop_modes = modes(runner), modes(laptop)
    assert runner_modes.keys() == laptop_modes.keys()
    assert (runner_modes["go.mod"], laptop_modes["go.mod"]) == (0o666, 0o644)
    assert (runner_modes[SCRIPT], laptop_modes[SCRIPT]) == (0o777, 0o755)
    assert (runner_modes["scripts"], laptop_modes["scripts"]) == (0o777, 0o755)


@pytest.mark.parametrize(("first", "second"), [("laptop", "runner"), ("runner", "laptop")])
def test_other_checkout_of_same_commit_hits_every_step(
    registry, repository: Repository, new_builder, tmp_path: Path, first: str, second: str
):
    cache_ref = f"{registry.address}/modes-{first}/cache:main"
    args = {"GIT_COMMIT": "6" * 40, "VERSION": "1.0.0"}
    cold_context = checkout(repository, tmp_path, first)
    extra = BuildJob(cold_context).attestation_flags()
    new_builder().build(
        cold_context, cache_to=registry_cache(cache_ref), build_args=args, extra=extra
    ).assert_ok()

    result = (
        new_builder()
        .build(
            checkout(repository, tmp_path, second),
            cache_from=[f"type=registry,ref={cache_ref}"],
            build_args=args,
            extra=extra,
        )
        .assert_ok()
    )
    assert_complete(result.table)
    assert executed_outside_context(result.table) == [], (
        f"a {second} checkout of the commit a {first} checkout cached reran steps\n"
        + result.report()
    )
