"""Test files are not inputs of the binary in ANY package, not only the root one.

A .dockerignore pattern without `**/` matches at the root of the context only
(Docker's .dockerignore rules: Go's filepath.Match, plus `**` for any number of
directories). So the scenario gives the project a subpackage that main imports, with
its own test file and its own README, builds that commit on a new builder (reading the
default branch's cache, so only the copy of the source and the compile run), edits both
on another new builder, and expects nothing to execute.
"""

from __future__ import annotations

import re
from pathlib import Path

from harness.builders.buildx import registry_cache
from harness.ci.ci_file import CiFile
from harness.evidence.dockerfile_steps import assert_complete

PACKAGE = Path("internal") / "clock"


def add_subpackage(project: Path) -> None:
    """internal/clock with a test and a README, imported by the main package."""
    module = re.search(r"^module (\S+)$", (project / "go.mod").read_text(encoding="utf-8"), re.M)
    assert module, "go.mod names no module"
    folder = project / PACKAGE
    folder.mkdir(parents=True)
    (folder / "clock.go").write_text(
        "// Package clock tells the time the service reports.\npackage clock\n\n"
        'import "time"\n\n// Now is the current time in UTC.\n'
        "func Now() time.Time { return time.Now().UTC() }\n",
        encoding="utf-8",
    )
    (folder / "clock_test.go").write_text(
        'package clock\n\nimport "testing"\n\n'
        "func TestNowIsUTC(t *testing.T) {\n"
        '\tif Now().Location().String() != "UTC" {\n\t\tt.Fatal("not UTC")\n\t}\n}\n',
        encoding="utf-8",
    )
    (folder / "README.md").write_text("# clock\n\nThe service's clock.\n", encoding="utf-8")
    (project / "clock_use.go").write_text(
        f'package main\n\nimport _ "{module[1]}/{PACKAGE.as_posix()}"\n', encoding="utf-8"
    )


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_subpackage_test_and_readme_edits_execute_nothing(main_cache, project: Path, new_builder):
    add_subpackage(project)
    cache_ref = f"{main_cache.registry.address}/subpackage/cache:main"
    args = {"GIT_COMMIT": "7" * 40, "VERSION": "1.0.0"}
    extra = CiFile.of(project).build_job.attestation_flags()
    first = new_builder().build(
        project,
        cache_from=[f"type=registry,ref={main_cache.cache_ref}"],
        cache_to=registry_cache(cache_ref),
        build_args=args,
        extra=extra,
    )
    first.assert_ok()

    append(project / PACKAGE / "clock_test.go", "\n// an edited test\n")
    append(project / PACKAGE / "README.md", "\nAn edited README.\n")
    result = (
        new_builder()
        .build(project, cache_from=[f"type=registry,ref={cache_ref}"], build_args=args, extra=extra)
        .assert_ok()
    )
    assert_complete(result.table)
    assert result.table.executed() == [], (
        "an edit of a subpackage's test or README reran steps\n" + result.report()
    )
