"""The go-test job keeps Go's module and build caches in GitLab's job cache.

GitLab saves only paths inside the project directory, so the caches must live there;
the key follows go.sum; a release reads the cache and writes none. The format check
must then ignore the restored caches, which hold other projects' code."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.ci.ci_file import CiFile
from harness.infra.policy import require_tool
from harness.template import COMBINATIONS, combination_id

PROJECT_DIR = "$CI_PROJECT_DIR/"


def go_test_job(project: Path) -> dict[str, Any]:
    return CiFile.of(project).job("go-test").spec


@pytest.mark.parametrize("overrides", COMBINATIONS, ids=combination_id)
def test_go_caches_live_inside_the_project_and_are_cached(bake, overrides):
    job = go_test_job(bake(overrides))
    variables = job["variables"]
    cached = []
    for name in ("GOMODCACHE", "GOCACHE"):
        value = variables[name]
        assert value.startswith(PROJECT_DIR), f"{name}={value} is outside the project dir"
        cached.append(value.removeprefix(PROJECT_DIR))
    assert job["cache"]["paths"] == cached, "the cache must save exactly Go's two caches"
    assert job["cache"]["key"]["files"] == ["go.sum"]
    assert all(not path.startswith(("/", "..")) for path in job["cache"]["paths"])


def policy_for(job: dict[str, Any], condition: str | None) -> str:
    """The cache policy a pipeline gets: the first rule that can match, else the job's."""
    policy = job["variables"]["GO_CACHE_POLICY"]
    for rule in job["rules"]:
        if rule.get("if") in (condition, None):
            return (rule.get("variables") or {}).get("GO_CACHE_POLICY", policy)
    raise AssertionError(f"no rule runs go-test for {condition}")


def test_cache_policy_per_pipeline(default_project):
    job = go_test_job(default_project)
    assert job["cache"]["policy"] == "$GO_CACHE_POLICY"
    assert policy_for(job, "$CI_COMMIT_TAG") == "pull", "a release must not write the cache"
    # Every branch pipeline writes: GitLab keeps protected and unprotected caches apart
    # (since 14.10.1), so a feature branch that only read would never find one.
    assert policy_for(job, None) == "pull-push"
    # The rules end with an unconditional one, so go-test still runs in every pipeline.
    assert job["rules"][-1] == {"when": "on_success"}
    assert "unprotect" not in job["cache"], "sharing caches across protection opens poisoning"


def format_check(job: dict[str, Any]) -> str:
    lines = [line for line in job["script"] if "gofmt" in line or "UNFORMATTED" in line]
    assert lines, "the format check is gone from go-test"
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("unformatted", "fails"),
    [(".go/mod/example.com/dep@v1.0.0/dep.go", False), ("own.go", True)],
    ids=["in-restored-cache", "own-file"],
)
def test_format_check_skips_the_restored_caches(default_project, tmp_path, unformatted, fails):
    """Run the job's own format lines in a shell, on a copy of the project with one
    unformatted Go file: inside `.go/` it is not ours; elsewhere the job must fail."""
    gofmt = require_tool("gofmt")
    project = tmp_path / "project"
    shutil.copytree(default_project, project)
    bad = project / unformatted
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_text("package dep\nfunc  F( ) {}\n", encoding="utf-8")
    env = {"PATH": f"{Path(gofmt).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    result = subprocess.run(
        ["sh", "-euc", format_check(go_test_job(project))],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode != 0) is fails, result.stdout + result.stderr
    if fails:
        assert unformatted in result.stdout
