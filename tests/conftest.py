"""Fixtures every tier shares, and the rule that markers follow folders.

tests/render/   the template rendered and checked without any engine    (marker: render)
tests/harness/  the harness and the benchmark's own logic, no engine     (marker: harness)
tests/docker/   real builds on a real BuildKit against a real registry   (marker: docker)
tests/pipeline/ the generated .gitlab-ci.yml run by gitlab-ci-local      (marker: pipeline;
                its real runs also carry `docker`)

`make test-fast` runs `-m "not docker"`: everything that needs no Docker engine.

`make test` runs in two processes (pytest-xdist, `-n 2`); each module of the Docker and
pipeline tiers joins a group (harness.infra.process_groups), and a group runs in one
process, in order, so the fixtures it shares are made once. The render and harness
tests fill in wherever a process is free.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.infra import policy
from harness.infra.process_groups import group_of
from harness.infra.settings import TierSettings, engine_problem
from harness.paths import REPO_ROOT
from harness.template import COMBINATIONS

TIERS = ("render", "harness", "docker", "pipeline")
TESTS = Path(__file__).parent

Bake = Callable[[dict[str, Any]], Path]


def tier_of(item: pytest.Item) -> str:
    relative = Path(str(item.fspath)).relative_to(TESTS)
    tier = relative.parts[0] if len(relative.parts) > 1 else ""
    if tier not in TIERS:
        raise pytest.UsageError(f"{relative}: every test lives in one of {TIERS}")
    return tier


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(getattr(pytest.mark, tier_of(item)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`make test`'s scheduler: xdist's by-module one, with harness.infra.process_groups's
    groups as the units. (xdist's own `--dist loadgroup` marks do not take with pytest 9,
    which no longer reads the node id xdist rewrites.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ProcessGroups(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid, config.rootpath) or nodeid

    return ProcessGroups(config, log)


@pytest.fixture(scope="session")
def bake(cookies_session) -> Bake:
    """Bake a combination (once per session) and return the generated project path.

    Baking failures stop the test with cookiecutter's own exception, so the hook's
    message is part of the report.
    """
    baked: dict[str, Path] = {}

    def _bake(overrides: dict[str, Any]) -> Path:
        key = json.dumps(overrides, sort_keys=True)
        if key not in baked:
            result = cookies_session.bake(extra_context=overrides, template=str(REPO_ROOT))
            assert result.exit_code == 0, f"bake failed for {overrides}: {result.exception}"
            assert result.exception is None
            baked[key] = Path(result.project_path)
        return baked[key]

    return _bake


@pytest.fixture(scope="session")
def default_project(bake: Bake) -> Path:
    return bake(COMBINATIONS[0])


@pytest.fixture(scope="session")
def docker_tier() -> TierSettings:
    """A working engine with buildx and the testbed's settings; skip or fail otherwise."""
    problem = engine_problem()
    if problem:
        policy.unavailable("Docker tier", problem)
    try:
        settings = TierSettings.load(require_file=policy.in_ci())
    except FileNotFoundError as missing:
        policy.unavailable("Docker tier", str(missing))
        raise
    settings.export_testcontainers()
    return settings
