"""The generated Go service formats, vets, tests and builds clean.

A project on a pinned Go line is checked with exactly the release its image pins
(the go command fetches that toolchain through the module proxy); an older line, with
the machine's own Go.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from harness.infra.policy import require_tool
from harness.template import go_toolchain

# The defaults, plus a combination with another Go version, port and module path.
GO_COMBINATIONS = [
    {},
    {"go_version": "1.23", "http_port": "9090", "go_module_path": "example.org/team/payments"},
]


def toolchain(project: Path) -> str:
    line = json.loads((project / ".cookiecutter.json").read_text(encoding="utf-8"))["go_version"]
    return go_toolchain(line)


def go(project: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CGO_ENABLED": "0",
        "GOFLAGS": "-mod=mod",
        "GOTOOLCHAIN": toolchain(project),
    }
    return subprocess.run(
        [require_tool("go"), *args],
        cwd=cwd or project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("overrides", GO_COMBINATIONS, ids=["defaults", "go1.23"])
def test_gofmt_vet_test_build(bake, overrides, tmp_path):
    project = bake(overrides)
    gofmt = subprocess.run(
        [require_tool("gofmt"), "-l", "."], cwd=project, capture_output=True, text=True, check=False
    )
    assert gofmt.returncode == 0 and gofmt.stdout == "", (
        f"unformatted: {gofmt.stdout}{gofmt.stderr}"
    )
    for args in (["vet", "./..."], ["test", "-count=1", "./..."]):
        result = go(project, *args)
        assert result.returncode == 0, f"go {' '.join(args)}:\n{result.stdout}{result.stderr}"
    binary = tmp_path / "app"
    ldflags = "-s -w -X main.version=1.2.3 -X main.commit=abc123"
    build = go(project, "build", "-trimpath", f"-ldflags={ldflags}", "-o", str(binary), ".")
    assert build.returncode == 0, build.stderr


def test_module_line_and_go_version(bake):
    project = bake(GO_COMBINATIONS[1])
    result = go(project, "mod", "edit", "-json")
    assert result.returncode == 0, result.stderr
    module = json.loads(result.stdout)
    assert module["Module"]["Path"] == "example.org/team/payments"
    assert module["Go"] == "1.23"
    assert module.get("Require") is None, "the service uses the standard library only"


def test_cache_demo_is_a_module_of_its_own(bake):
    """With the teaching kit, the demo vets and tests clean in its own module, and the
    service's `./...` (what the go-test CI job runs) never reaches it."""
    project = bake({"include_cache_demo": True})
    listed = go(project, "list", "./...")
    assert listed.returncode == 0, listed.stderr
    assert "cachedemo" not in listed.stdout, f"the service's packages:\n{listed.stdout}"
    demo = project / "tools" / "cachedemo"
    for args in (["vet", "./..."], ["test", "-count=1", "./..."]):
        result = go(project, *args, cwd=demo)
        assert result.returncode == 0, f"go {' '.join(args)}:\n{result.stdout}{result.stderr}"
