"""Which of `make test`'s two processes runs a test (pytest-xdist; tests/conftest.py).

A group runs in one process, in order, so the fixtures its modules share are made
once. `docker-main`: the Docker modules that read the session's cold build (the
`main_cache` fixture, named in their source); `pipeline`: the pipeline tier (one dind
`Pipelines` per session, whose cache the other builders' first jobs start from). Every
other Docker module makes every cache it needs, so it is a group of its own (its
path), which the scheduler hands to whichever process is free. The render and harness
tests belong to no group: each goes wherever a process is free.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

DOCKER_MAIN, PIPELINE = "docker-main", "pipeline"


@cache
def reads_main_cache(module: Path) -> bool:
    """Whether a test module names the main_cache fixture (tests/harness/test_tiers.py
    checks this against the fixtures its tests really request)."""
    return "main_cache" in module.read_text(encoding="utf-8")


def group_of(nodeid: str, root: Path) -> str | None:
    """The group of a test id relative to `root` (pytest's rootdir), or None."""
    path = nodeid.split("::", 1)[0]
    if path.startswith("tests/pipeline/"):
        return PIPELINE
    if path.startswith("tests/docker/"):
        return DOCKER_MAIN if reads_main_cache(root / path) else path
    return None
