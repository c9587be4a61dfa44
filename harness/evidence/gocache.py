"""How much a compile step compiled, read from Go's build cache inside the builder.

A registry cache keeps layers, not Go's build cache: the warm-up layers exist so that
a compile after a source change finds the standard library (and the dependencies)
already compiled in /root/.cache/go-build. `count_compile_outputs` checks that from
the outside: it appends a probe stage to the project's own Dockerfile, which reuses
the builder stage unchanged from the same builder's cache, and counts the build-cache
outputs in it, in all and written after a marker file of the edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.builders.buildx import Builder
from harness.evidence.dockerfile_steps import COPY_SOURCE

PROBE = """
FROM builder AS probe
RUN mkdir /probe && cd /root/.cache/go-build \\
 && find . -type f -name '*-d' | wc -l > /probe/total \\
 && find . -type f -name '*-d' -newer {marker} | wc -l > /probe/new
FROM scratch AS counts
COPY --from=probe /probe/ /
"""


@dataclass(frozen=True)
class CompileOutputs:
    total: int  # compiled outputs in the builder stage's Go build cache
    new: int  # of those, the ones written after the marker (by the compile step)


def count_compile_outputs(
    builder: Builder, project: Path, marker: str, build_args: Mapping[str, str]
) -> CompileOutputs:
    """Run the probe on `builder` (which just built `project` with `build_args`);
    `marker` is the path, inside the builder stage, of a file the edit created."""
    probe = project.parent / f"{project.name}.probe.Dockerfile"  # outside the context
    dockerfile = (project / "Dockerfile").read_text(encoding="utf-8")
    probe.write_text(dockerfile + PROBE.format(marker=marker), encoding="utf-8")
    out = project.parent / f"{project.name}.probe-out"
    counted = builder.build(
        project,
        dockerfile=probe,
        target="counts",
        build_args=build_args,
        output=f"type=local,dest={out}",
    ).assert_ok()
    source_copy = counted.table.labels(COPY_SOURCE)
    reran = [label for label in counted.table.executed() if label in source_copy]
    assert reran == [], f"the probe rebuilt the builder stage\n{counted.report()}"
    return CompileOutputs(int((out / "total").read_text()), int((out / "new").read_text()))
