"""The recorded streams in data/ must come from the template as it is today.

test_progress.py derives its expectations from data/Dockerfile.recorded (through
step_expectations.py), so it keeps passing on recordings of an older template. These
tests catch that: they fail when today's default project renders another Dockerfile,
or when cookiecutter.json pins another BuildKit than the one the streams were recorded
with.
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest

from harness.template import pins

DATA = Path(__file__).parent / "data"
RERECORD = "re-record with `python -m harness.evidence.rawjson_fixtures` (as root, testbed up)"


def test_recordings_were_built_from_todays_dockerfile(bake):
    today = (bake({}) / "Dockerfile").read_text(encoding="utf-8")
    recorded = (DATA / "Dockerfile.recorded").read_text(encoding="utf-8")
    if recorded != today:
        diff = difflib.unified_diff(
            recorded.splitlines(keepends=True),
            today.splitlines(keepends=True),
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
