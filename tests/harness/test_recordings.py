"""The recorded streams in data/ must come from the template as it is today.

test_progress.py derives its expectations from data/Dockerfile.recorded (through
step_expectations.py), so it keeps passing on recordings of an older template. These
tests catch that: they fail when today's default project renders another Dockerfile,
or when cookiecutter.json pins another BuildKit than the one the streams were recorded
with. Comments and blank lines are not compared: BuildKit never sees them, so a
reworded comment needs no new recording.
"""

from __future__ import annotations

import difflib
import json
import re
from pathlib import Path

import pytest

from harness.template import pins

DATA = Path(__file__).parent / "data"
DIRECTIVE_RE = re.compile(r"#\s*(syntax|escape|check)\s*=", re.IGNORECASE)
RERECORD = "re-record with `python -m harness.evidence.rawjson_fixtures` (as root, testbed up)"


def instructions(dockerfile: str) -> list[str]:
    """The lines BuildKit reads: no comment lines (a `#` first on the line, also inside
    a continued instruction) and no blank ones. Parser directives (`# syntax=...`,
    `# escape=...`, `# check=...`) look like comments but change the build: kept."""
    return [
        line
        for line in dockerfile.splitlines(keepends=True)
        if line.strip() and (not line.lstrip().startswith("#") or DIRECTIVE_RE.match(line))
    ]


def test_recordings_were_built_from_todays_dockerfile(bake):
    today = (bake({}) / "Dockerfile").read_text(encoding="utf-8")
    recorded = (DATA / "Dockerfile.recorded").read_text(encoding="utf-8")
    if instructions(recorded) != instructions(today):
        diff = difflib.unified_diff(
            instructions(recorded),
            instructions(today),
            "tests/harness/data/Dockerfile.recorded",
            "Dockerfile of today's default project",
        )
        pytest.fail(
            "the recorded streams were built from another Dockerfile than the template "
            f"renders today; {RERECORD}\n{''.join(diff)}"
        )


def test_recordings_name_the_pinned_buildkit():
    meta = json.loads((DATA / "recorded.json").read_text(encoding="utf-8"))
    pinned = pins()["buildkit"]
    recorded = meta.get("buildkit", "")
    # `buildkitd --version`: "buildkitd github.com/moby/buildkit v0.34.2 [revision]"
    assert pinned in recorded.split(), (
        f"recorded.json names BuildKit {recorded!r}, cookiecutter.json pins {pinned}; {RERECORD}"
    )
