"""The generated project's `make cache-demo`, run and read back.

`run_demo` runs it in a baked project the way a user would (from their own shell, not
a nested make), with the testbed's buildkitd config when there is one. `parse_report`
turns its printed report into data: per scenario, the step table (or the good and bad
tables side by side), the packages each compile step compiled, and the closing sentence.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from harness.template import go_toolchain

STATUS = r"(?:executed|cached|not run)"
# One row of a single table: "[builder 4/9] RUN go mod download  cached  0.10".
SINGLE_ROW_RE = re.compile(rf"^(?P<label>\[.+?)\s{{2,}}(?P<status>{STATUS})\s+\d+\.\d\d\b")
# One row of a side-by-side table: label, then a cell per variant ("cached 0.10" or "-").
PAIR_ROW_RE = re.compile(
    rf"^(?P<label>\[[^\]]*\] .*?)\s{{2,}}"
    rf"(?P<good>{STATUS}\s+\d+\.\d\d|-)\s+(?P<bad>{STATUS}\s+\d+\.\d\d|-)\s*$"
)
# The two columns are "good" and "bad", or the names a scenario gives its two variants
# (the rootless scenario's "buildx->rootless" and "rootless->buildx"); "good" and "bad"
# below are the left and the right one.
COMPILED_RE = re.compile(
    r"^compiled by the compile step: \S+ (?P<good>\d+) packages?, \S+ (?P<bad>\d+) packages?"
    r"(?:, bad on the cold build's own builder (?P<same>\d+) packages?)?$"
)
# What the rootless scenario prints about the container rootless BuildKit ran in.
RAN_AS_PREFIX = "rootless BuildKit ran as: "
HEADING_RE = re.compile(r"^=== (?P<name>[a-z0-9-]+)(?:: (?P<pitfall>.+?))?(?: \(.*\))? ===$")
# Variables an outer `make` exports; a user's shell has none of them.
MAKE_VARIABLES = {"MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES"}


@dataclass
class Section:
    """One scenario's part of the report."""

    name: str
    pitfall: str = ""
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def single_tables(self) -> list[dict[str, str]]:
        """The default scenario's tables (cold, then rebuild): label -> result."""
        tables: list[dict[str, str]] = []
        for line in self.lines:
            if line.startswith(("Cold build (", "Rebuild after editing")):
                tables.append({})
            elif tables and (match := SINGLE_ROW_RE.match(line)):
                tables[-1][match["label"]] = match["status"]
        return tables

    def pairs(self) -> dict[str, tuple[str, str]]:
        """The side-by-side rebuild table: label -> (good result, bad result); "-" when
        a variant has no such step."""
        found = {}
        for line in self.lines:
            if match := PAIR_ROW_RE.match(line):
                found[match["label"]] = (cell_status(match["good"]), cell_status(match["bad"]))
        return found

    def compiled(self) -> dict[str, int]:
        """Packages compiled by the compile step: good, bad and (if shown) same."""
        for line in self.lines:
            if match := COMPILED_RE.match(line):
                return {k: int(v) for k, v in match.groupdict().items() if v is not None}
        return {}

    def ran_as(self) -> str:
        """How rootless BuildKit's container was started ("" when the scenario has none)."""
        for line in self.lines:
            if line.startswith(RAN_AS_PREFIX):
                return line.removeprefix(RAN_AS_PREFIX)
        return ""

    def sentence(self) -> str:
        """The closing sentence: the last non-empty line."""
        return next(line for line in reversed(self.lines) if line.strip())


def cell_status(cell: str) -> str:
    return cell if cell == "-" else cell.rsplit(maxsplit=1)[0]


def parse_report(output: str) -> dict[str, Section]:
    """Scenario name -> its section of the demo's output."""
    sections: dict[str, Section] = {}
    current: Section | None = None
    for line in output.splitlines():
        if match := HEADING_RE.match(line):
            current = Section(match["name"], match["pitfall"] or "")
            sections[current.name] = current
        elif current is not None:
            if line.startswith("cache-demo: ") and "builds in" in line:
                current = None  # the closing summary
                continue
            current.lines.append(line)
    return sections


def one(table: dict, text: str) -> str:
    """The one label of a table that contains `text`."""
    matches = [label for label in table if text in label]
    assert len(matches) == 1, f"expected one step {text!r} in {list(table)}"
    return matches[0]


def run_demo(
    project: Path, scenario: str | None, buildkitd_config: str | None, make: str, timeout: int
) -> subprocess.CompletedProcess[str]:
    """`make cache-demo [SCENARIO=...]` in the project, as from a user's shell."""
    env = {k: v for k, v in os.environ.items() if k not in MAKE_VARIABLES}
    env["GOTOOLCHAIN"] = go_toolchain()
    if buildkitd_config and Path(buildkitd_config).is_file():
        env["CACHE_DEMO_BUILDKITD_CONFIG"] = buildkitd_config
    command = [make, "cache-demo"] + ([f"SCENARIO={scenario}"] if scenario else [])
    return subprocess.run(
        command, cwd=project, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def list_scenarios(project: Path, go: str) -> dict[str, str]:
    """`go run . list` in the project's `tools/cachedemo` (a module of its own): scenario
    name -> the pitfall it replays ("" for none). Needs no Docker."""
    env = {**os.environ, "GOTOOLCHAIN": go_toolchain()}
    listed = subprocess.run(
        [go, "run", ".", "list"],
        cwd=project / "tools" / "cachedemo",
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stdout + listed.stderr
    found: dict[str, str] = {}
    last = ""
    for line in listed.stdout.splitlines()[1:]:
        name, _, rest = line.strip().partition(" ")
        if line.startswith("  ") and not line.startswith("   "):
            last = name
            found[last] = ""
        elif rest.strip() and name == "pitfall:":
            found[last] = rest.strip()
    return found
