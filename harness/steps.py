"""The Dockerfile steps the tiers talk about, named once: (stage, instruction prefix).

They match the generated Dockerfile's builder and runtime stages; `StepTable.one`
finds a step by stage and the start of its instruction text.
"""

from __future__ import annotations

from pathlib import Path

DOWNLOAD = ("builder", "RUN go mod download")
WARM_UP = ("builder", "RUN go build std")
COPY_SOURCE = ("builder", "COPY . .")
COMPILE = ("builder", "RUN go build -ldflags")
# Its input (the binary) changes with every compile, so it reruns with it.
RUNTIME_COPY = ("runtime", "COPY --from=builder")

# What a source change may rerun; everything before COPY_SOURCE must come from cache.
RERUN_BY_SOURCE_CHANGE = (COPY_SOURCE, COMPILE, RUNTIME_COPY)


def edit_source(project: Path, marker: str) -> None:
    """A real source change: a new constant in the main package."""
    (project / "edit.go").write_text(
        "package main\n\n// buildMarker exists only to change the source.\n"
        f'const buildMarker = "{marker}"\n',
        encoding="utf-8",
    )
