"""The Dockerfile steps the tiers talk about, named once: (stage, instruction prefix).

They match the generated Dockerfile's builder and runtime stages; `StepTable.one`
finds a step by stage and the start of its instruction text.
"""

from __future__ import annotations

from pathlib import Path

from harness.progress import StepTable

DOWNLOAD = ("builder", "RUN go mod download")
WARM_UP = ("builder", "RUN go build std")
COPY_SOURCE = ("builder", "COPY . .")
COMPILE = ("builder", "RUN go build -ldflags")
# Its input (the binary) changes with every compile, so it reruns with it.
RUNTIME_COPY = ("runtime", "COPY --from=builder")

# What a source change may rerun; everything before COPY_SOURCE must come from cache.
RERUN_BY_SOURCE_CHANGE = (COPY_SOURCE, COMPILE, RUNTIME_COPY)
# Every step the scenarios reason about. A table without them was misread (say, after
# a change of BuildKit's output): an empty "executed" list would then prove nothing.
ALL_STEPS = (DOWNLOAD, WARM_UP, COPY_SOURCE, COMPILE, RUNTIME_COPY)


def assert_complete(table: StepTable) -> None:
    """Fail unless the table names each of ALL_STEPS exactly once, cached or not."""
    table.labels(*ALL_STEPS)


def edit_source(project: Path, marker: str) -> None:
    """A real source change: a new constant in the main package."""
    (project / "edit.go").write_text(
        "package main\n\n// buildMarker exists only to change the source.\n"
        f'const buildMarker = "{marker}"\n',
        encoding="utf-8",
    )
