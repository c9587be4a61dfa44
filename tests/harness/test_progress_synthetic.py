"""The step classifier on synthetic streams, written below for what the recordings
(test_progress.py) show only inside a real build: the registry-cache trap in its bare
form (a vertex never marked cached, only layer downloads and unpacks, no output), a step
that really ran, and an unnamed stage.
"""

from __future__ import annotations

import base64
import json

import pytest

from harness.evidence.step_table import CACHED, EXECUTED, step_table
from tests.harness.step_expectations import rows

LAYER = "sha256:" + "ab" * 32
STEP_DIGEST = "sha256:" + "01" * 32
NEXT_DIGEST = "sha256:" + "02" * 32


def stream_of(*objects: dict) -> str:
    """Pretty-printed objects one after another, as buildx writes them."""
    return "\n".join(json.dumps(obj, indent=2) for obj in objects) + "\n"


def step_vertex(digest: str, name: str, *, start: str, end: str | None = None) -> dict:
    update = {"digest": digest, "name": name, "started": f"2026-01-01T00:00:{start}Z"}
    if end:
        update["completed"] = f"2026-01-01T00:00:{end}Z"
    return {"vertexes": [update]}


@pytest.mark.parametrize(
    "unpack_name",
    [
        "extracting",  # what BuildKit sends (0.32 and 0.34 alike)
        None,  # no display name: the id is all there is
        f"extracting {LAYER}",  # the form plain progress prints
    ],
)
def test_synthetic_trap_is_cached_although_never_flagged(unpack_name):
    """ENVIRONMENT.md's trap: the step's vertex is never marked cached, carries a layer
    download and an unpack, and printed nothing. It did not run."""
    unpack = {"id": f"extracting {LAYER}", "vertex": STEP_DIGEST, "current": 0}
    if unpack_name:
        unpack["name"] = unpack_name
    name = "[builder 5/7] RUN go build std"
    stream = stream_of(
        step_vertex(STEP_DIGEST, name, start="01.000000000"),
        {"statuses": [{"id": LAYER, "vertex": STEP_DIGEST, "current": 10, "total": 10}]},
        {"statuses": [unpack]},
        step_vertex(STEP_DIGEST, name, start="01.000000000", end="01.100000000"),
        step_vertex(NEXT_DIGEST, "[builder 6/7] COPY . .", start="01.200000000", end="01.3"),
    )
    table = step_table(stream)
    assert rows(table) == [
        ("[builder 5] RUN go build std", CACHED),
        ("[builder 6] COPY . .", EXECUTED),
    ], table.render()
    assert table[0].reason == "imported from the registry cache and unpacked", table.render()
    assert table.executed() == ["[builder 6] COPY . ."], table.render()


def test_synthetic_step_with_output_executed():
    name = "[builder 4/7] RUN go mod download"
    output = base64.b64encode(b"go: downloading example.com/mod v1.0.0\n").decode()
    stream = stream_of(
        step_vertex(STEP_DIGEST, name, start="01.000000000"),
        {"logs": [{"vertex": STEP_DIGEST, "stream": 2, "data": output}]},
        step_vertex(STEP_DIGEST, name, start="01.000000000", end="03.500000000"),
    )
    table = step_table(stream)
    assert rows(table) == [("[builder 4] RUN go mod download", EXECUTED)], table.render()
    assert table[0].seconds == pytest.approx(2.5), table.render()


def test_synthetic_layer_moves_with_output_count_as_executed():
    """Layer statuses excuse a step only when it printed nothing."""
    name = "[builder 5/7] RUN make"
    stream = stream_of(
        step_vertex(STEP_DIGEST, name, start="01.000000000"),
        {"statuses": [{"id": LAYER, "vertex": STEP_DIGEST, "current": 1, "total": 1}]},
        {
            "logs": [
                {"vertex": STEP_DIGEST, "stream": 1, "data": base64.b64encode(b"ok\n").decode()}
            ]
        },
        step_vertex(STEP_DIGEST, name, start="01.000000000", end="02.000000000"),
    )
    table = step_table(stream)
    assert rows(table) == [("[builder 5] RUN make", EXECUTED)], table.render()


def test_unnamed_stage_label_has_no_blank():
    stream = stream_of(step_vertex(STEP_DIGEST, "[2/2] RUN x", start="01.0", end="01.5"))
    assert rows(step_table(stream)) == [("[2] RUN x", EXECUTED)], step_table(stream).render()
