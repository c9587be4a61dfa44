"""Renovate, pinned in tools/node, run offline: its config validator and an
extract-only run whose JSON log the render tier reads (what Renovate would track)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from harness.infra import policy
from harness.infra.nodetools import find_tool, node_command, node_env


def renovate_tool(command: str) -> Path:
    """`renovate` or `renovate-config-validator`; skips locally, fails in CI, if absent."""
    executable, problem = find_tool("renovate", command)
    if executable is None:
        policy.unavailable(
            "Renovate", problem, "Run `make test-fast` or `npm ci --prefix tools/node`"
        )
        raise AssertionError("unreachable")
    return executable


def run(command: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """A Renovate command with a private HOME and base dir and a JSON debug log."""
    env = {
        **node_env(),
        "HOME": str(home),
        "RENOVATE_BASE_DIR": str(home / "renovate"),
        "LOG_LEVEL": "debug",
        "LOG_FORMAT": "json",
    }
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def extract(checkout: Path, home: Path) -> dict[str, object]:
    """Renovate's own log records (the first of each message) of an extract-only run on
    a git checkout: it reads the files, applies the managers and looks nothing up."""
    renovate = renovate_tool("renovate")
    command = [*node_command(renovate), "--platform=local", "--dry-run=extract"]
    result = run(command, checkout, home)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    records: dict[str, object] = {}
    for line in (result.stdout + result.stderr).splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            records.setdefault(record.get("msg", ""), record)
    assert "Extracted dependencies" in records, result.stdout[-3000:]
    return records


def found(extraction: dict, manager: str) -> set[tuple[str, str]]:
    """(package, version) of every dependency a manager extracted and did not skip."""
    files = extraction["Extracted dependencies"]["packageFiles"].get(manager, [])
    return {
        (dep["depName"], dep["currentValue"])
        for package_file in files
        for dep in package_file["deps"]
        if not dep.get("skipReason")
    }
