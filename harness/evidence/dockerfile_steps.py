"""The Dockerfile steps the tiers talk about, named once: (stage, instruction prefix).

They match the generated Dockerfile's context, std, builder and runtime stages;
`StepTable.one` finds a step by stage and the start of its instruction text.
"""

from __future__ import annotations

from pathlib import Path

from harness.evidence.step_table import StepTable

# The stage that gives the build context the same file modes from any checkout; the
# only one a checkout of other modes may rerun (tests/docker/test_checkout_modes.py).
# Named "checkout", since BuildKit reserves "context" as a stage name.
CONTEXT_STAGE = "checkout"
# Its one step: the build context copied with modes of its own. It reruns whenever the
# context changes, in content or in modes; what it makes is keyed by content only.
CONTEXT_COPY = (CONTEXT_STAGE, "COPY --chmod=")
# The std stage compiles the standard library; it never sees go.mod.
STD_BUILD = ("std", "RUN go build std")
# go.mod and go.sum, from the checkout stage: the download's only input.
MODULES_COPY = ("builder", "COPY --from=checkout /go.mod")
DOWNLOAD = ("builder", "RUN go mod download")
# The same step in a project with private modules: their credentials as a secret mount.
PRIVATE_DOWNLOAD = ("builder", "RUN --mount=type=secret,id=netrc,")
# The std stage's Go build cache joins the builder stage, then the dependencies compile.
# BuildKit shows a linked copy as two steps of one number: this one, the copy into a
# layer of its own, and "LINK COPY --link ...", which links that layer onto the stage.
STD_COPY = ("builder", "COPY --link --from=std")
DEPS_BUILD = ("builder", "RUN deps=")
# Everything that compiles ahead of the source: after a source change, all cached.
WARM_UP = (STD_BUILD, STD_COPY, DEPS_BUILD)
# The whole context, from the checkout stage (the prefix ends before `/go.mod`'s name).
COPY_SOURCE = ("builder", "COPY --from=checkout / .")
COMPILE = ("builder", "RUN go build -ldflags")
# Its input (the binary) changes with every compile, so it reruns with it.
RUNTIME_COPY = ("runtime", "COPY --from=builder")

# What a source change may rerun: the checkout stage sees the new file, and from its
# result only the source copy and what follows differ; every other step must come
# from the cache.
RERUN_BY_SOURCE_CHANGE = (CONTEXT_COPY, COPY_SOURCE, COMPILE, RUNTIME_COPY)
# Every step the scenarios reason about. A table without them was misread (say, after
# a change of BuildKit's output): an empty "executed" list would then prove nothing.
ALL_STEPS = (
    CONTEXT_COPY,
    STD_BUILD,
    MODULES_COPY,
    DOWNLOAD,
    STD_COPY,
    DEPS_BUILD,
    COPY_SOURCE,
    COMPILE,
    RUNTIME_COPY,
)


def executed_beyond_context(table: StepTable) -> list[str]:
    """Labels of the steps that ran, but those of CONTEXT_STAGE."""
    executed = set(table.executed())
    return [step.label for step in table if step.label in executed and step.stage != CONTEXT_STAGE]


def assert_only_the_checkout_stage_ran(table: StepTable, kind: str, report: str) -> None:
    """The checkout-mode proof's rule for one build (harness.ci.checkout.both_ways):
    nothing but CONTEXT_STAGE executed, and a "runner" build, whose cache knew the
    context only from a laptop's modes, did rerun its copy: the proof that the other
    modes reached BuildKit. (The laptop's build may find its copy in the runner's
    export, which keeps the keys it imported.)"""
    assert_complete(table)
    assert executed_beyond_context(table) == [], f"a {kind} checkout reran steps\n{report}"
    if kind == "runner":
        assert table.labels(CONTEXT_COPY)[0] in table.executed(), report


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
