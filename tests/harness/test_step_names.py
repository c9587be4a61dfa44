"""STEP_RE, the pattern that tells a Dockerfile step's vertex name from every other
vertex: the names BuildKit gives steps (in the recordings, and the forms its naming code
produces that the recordings do not show) and names that are no step.

The recorded vertices that are no steps are checked in test_progress.py.
"""

from __future__ import annotations

import pytest

from harness.evidence.step_table import STEP_RE


@pytest.mark.parametrize(
    ("name", "platform", "stage", "number"),
    [
        ("[builder 4/7] RUN go mod download", None, "builder", "4"),
        ("[linux/arm64 runtime 2/2] COPY x /x", "linux/arm64", "runtime", "2"),
        ("[linux/amd64->arm64 builder 5/7] RUN x", "linux/amd64->arm64", "builder", "5"),
        # The forms below come from BuildKit's naming code, not from the recordings:
        # a variant, another OS, an unnamed stage, and the number padded to the width
        # of the total.
        ("[linux/amd64->arm/v7 builder 5/7] RUN x", "linux/amd64->arm/v7", "builder", "5"),
        ("[linux/amd64->windows/amd64 b 5/7] RUN x", "linux/amd64->windows/amd64", "b", "5"),
        ("[linux/arm/v7 builder 1/2] FROM x", "linux/arm/v7", "builder", "1"),
        ("[2/2] RUN x", None, None, "2"),
        ("[ 4/12] RUN x", None, None, "4"),
        ("[builder  4/12] RUN x", None, "builder", "4"),
        ("[linux/amd64 stage-1 10/12] RUN x", "linux/amd64", "stage-1", "10"),
    ],
)
def test_step_re_matches_buildkit_step_names(name, platform, stage, number):
    match = STEP_RE.match(name)
    assert match, name
    assert (match["platform"], match["stage"], match["n"]) == (platform, stage, number)


@pytest.mark.parametrize(
    "name",
    [
        "[internal] load build context",
        "[linux/amd64 internal] load metadata for docker.io/library/busybox:1",
        "importing cache manifest from localhost:5000/x/cache:main",
        "exporting to image",
    ],
)
def test_step_re_skips_other_vertices(name):
    assert STEP_RE.match(name) is None
