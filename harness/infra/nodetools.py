"""The Node tools pinned in tools/node (gitlab-ci-local, Renovate), found and checked.

`npm ci --prefix tools/node` installs exactly what package.json and its lock file pin
(`testbed/testbed.sh up` and `make test-fast` run it). A test asks for a tool by its
package and command name and gets its path, or the reason it cannot be used.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from harness.paths import NODE_TOOLS


def pinned_version(package: str) -> str:
    manifest = json.loads((NODE_TOOLS / "package.json").read_text(encoding="utf-8"))
    return manifest["dependencies"][package]


def find_tool(package: str, command: str | None = None) -> tuple[Path | None, str]:
    """(path, "") when the pinned `package` provides `command`, else (None, why not)."""
    if not shutil.which("node"):
        return None, "node is not on PATH"
    executable = NODE_TOOLS / "node_modules" / ".bin" / (command or package)
    if not executable.exists():
        return None, f"tools/node has no {command or package} (run `npm ci --prefix tools/node`)"
    pinned = pinned_version(package)
    installed = NODE_TOOLS / "node_modules" / package / "package.json"
    version = json.loads(installed.read_text(encoding="utf-8")).get("version", "")
    if version != pinned:
        return None, f"tools/node has {package} {version or '?'}, package.json pins {pinned}"
    # The package's own command must start (a broken install fails here, not mid-test).
    main = NODE_TOOLS / "node_modules" / ".bin" / package
    probe = subprocess.run(
        [str(main), "--version"], capture_output=True, text=True, timeout=120, check=False
    )
    if probe.returncode != 0:
        return None, f"{package} --version failed: {(probe.stderr or probe.stdout).strip()[:200]}"
    return executable, ""
