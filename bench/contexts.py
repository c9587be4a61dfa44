"""The build contexts of the benchmark: a project as committed, and its copies with the
change each scenario makes (a source edit, a test-only edit, a module bump)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from harness.evidence.dockerfile_steps import edit_source


@dataclass
class Service:
    """One project to build: as committed first, and as each scenario changes it."""

    name: str
    base: Path
    edited: Path  # a source change
    test_edited: Path  # a change to a _test.go file only
    bumped: Path | None  # one module upgraded (services with modules only)
    build_args: dict[str, str]  # the base images, for every Dockerfile

    def project(self, scenario: str) -> Path | None:
        """The context a scenario builds, None when the scenario does not apply."""
        changed = {"source-change": self.edited, "test-only": self.test_edited}
        if scenario == "dep-bump":
            return self.bumped
        return changed.get(scenario, self.base)


def with_edit(project: Path, target: Path) -> Path:
    shutil.copytree(project, target)
    edit_source(target, "benchmark edit")
    return target


def with_test_edit(project: Path, target: Path) -> Path:
    """A copy whose only change is a new line in one `_test.go` file."""
    shutil.copytree(project, target)
    tests = sorted(target.glob("*_test.go"))
    if not tests:
        raise FileNotFoundError(f"no *_test.go file in {project} to edit")
    with tests[0].open("a", encoding="utf-8") as f:
        f.write("\n// benchmark edit: a change to tests only\n")
    return target
