"""What the step-table tests expect: the steps the recorded streams should show, and
tables compared as rows.

Nothing here re-types the template. The expected step names are derived from
data/Dockerfile.recorded the way BuildKit names steps (continuation lines joined, the
backslash and newline dropped and the next line's indentation kept; build arguments and
ENV values expanded, unknown variables such as $deps left alone), and the digests that
BuildKit appends to each FROM are read from the recordings themselves (see
test_progress.py for how the recordings were made).
"""

from __future__ import annotations

import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from dockerfile_parse import DockerfileParser

from harness.evidence.step_table import StepTable

DATA = Path(__file__).parent / "data"
RECORDED_DOCKERFILE = DATA / "Dockerfile.recorded"
# The build argument each recording passed (see test_progress.py's docstring).
COLD_COMMIT, EDIT_COMMIT, BROKEN_COMMIT = "1" * 40, "2" * 40, "3" * 40


def recording(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


# --- the steps the recordings should show, derived from Dockerfile.recorded -------------

# The instructions BuildKit gives a vertex of their own; ARG, ENV, USER, LABEL and the
# like only change the image config or the build environment.
VERTEX_INSTRUCTIONS = ("FROM", "WORKDIR", "COPY", "ADD", "RUN")
VARIABLE_RE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class Planned:
    """One step as BuildKit will name it, with where it runs in a multi-platform build."""

    stage: str
    number: int
    total: int
    text: str
    # The stage runs on the build platform (FROM --platform=$BUILDPLATFORM) ...
    on_build_platform: bool
    # ... and this step comes after the stage declared a TARGET* argument, so it is
    # built once per target platform ("[linux/amd64->arm64 builder 5/7]").
    per_target: bool

    @property
    def is_from(self) -> bool:
        return self.text.startswith("FROM ")

    def label(self, platform: str = "") -> str:
        """The step's label in a StepTable."""
        where = " ".join(part for part in (platform, self.stage, str(self.number)) if part)
        return f"[{where}] {self.text}"

    def vertex_prefix(self, platform: str = "") -> str:
        """How the step's vertex name starts: BuildKit pads the number to the total."""
        count = f"{self.number:>{len(str(self.total))}}/{self.total}"
        where = " ".join(part for part in (platform, self.stage, count) if part)
        return f"[{where}] "


def expand(text: str, variables: dict[str, str]) -> str:
    """$NAME and ${NAME} replaced where known; BuildKit leaves unknown ones as written."""
    return VARIABLE_RE.sub(lambda m: variables.get(m[1] or m[2], m[0]), text)


def declared(value: str, variables: dict[str, str], build_args: dict[str, str]) -> dict:
    """The values an ARG line gives: the build argument, else the default, else an
    inherited global value; an argument with none of them stays unset."""
    values = {}
    for word in shlex.split(value):
        name, has_default, default = word.partition("=")
        if name in build_args:
            values[name] = build_args[name]
        elif has_default:
            values[name] = expand(default, variables)
        elif name in variables:
            values[name] = variables[name]
    return values


def env_pairs(value: str, variables: dict[str, str]) -> dict[str, str]:
    """The values an ENV line sets (KEY=VALUE pairs, or the legacy KEY VALUE form)."""
    if "=" not in value.split(maxsplit=1)[0]:
        name, _, rest = value.partition(" ")
        return {name: expand(rest.strip(), variables)}
    return {
        name: expand(val, variables)
        for name, _, val in (word.partition("=") for word in shlex.split(value))
    }


def normalized(image: str) -> str:
    """A reference as BuildKit prints it: Docker Hub names get their registry."""
    first, _, rest = image.partition("/")
    if not rest:
        return f"docker.io/library/{image}"
    if "." in first or ":" in first or first == "localhost":
        return image
    return f"docker.io/{image}"


def resolved(image: str) -> str:
    """FROM's text in a step name: the reference and the digest BuildKit resolved it to,
    read from the cold recording (and compared with every other one by the tables)."""
    pattern = re.compile(rf'"\[[^"\]]*\] FROM {re.escape(image)}@(sha256:[0-9a-f]{{64}})"')
    digests = set(pattern.findall(recording("cold.rawjson")))
    assert len(digests) == 1, f"the cold recording names FROM {image} with {digests or 'no'} digest"
    return f"{image}@{digests.pop()}"


def planned_steps(commit: str) -> list[Planned]:
    """Every vertex-producing step of Dockerfile.recorded in order, named as BuildKit
    names it in a build with --build-arg GIT_COMMIT=<commit>."""
    build_args = {"GIT_COMMIT": commit}
    global_args: dict[str, str] = {}
    stages: list[tuple[str, bool, list[tuple[str, bool]]]] = []
    froms: set[tuple[str, bool]] = set()  # the FROM steps of the stages so far
    variables: dict[str, str] = {}
    per_target = False
    # dockerfile_parse joins continuation lines just as BuildKit's parser does. (Given a
    # path, it wants a file named Dockerfile.)
    parser = DockerfileParser(fileobj=io.BytesIO(RECORDED_DOCKERFILE.read_bytes()))
    for item in parser.structure:
        instruction, value = item["instruction"], item["value"]
        if instruction == "ARG" and not stages:
            global_args.update(declared(value, global_args, build_args))
        elif instruction == "FROM":
            words = value.split()
            flags = [word for word in words if word.startswith("--")]
            image, *alias = [word for word in words if not word.startswith("--")]
            stage = alias[1] if len(alias) == 2 and alias[0].upper() == "AS" else ""
            on_build_platform = "--platform=$BUILDPLATFORM" in flags
            if image == "scratch":
                # No image to resolve: FROM scratch gets no vertex, and the stage's
                # steps are numbered from 1 without it.
                stages.append((stage, on_build_platform, []))
            else:
                text = f"FROM {resolved(normalized(expand(image, global_args)))}"
                stages.append((stage, on_build_platform, [(text, False)]))
            variables, per_target = {}, False
        elif instruction == "ARG":
            variables.update(declared(value, {**global_args, **variables}, build_args))
            per_target = per_target or "TARGET" in value
        elif instruction == "ENV":
            variables.update(env_pairs(value, variables))
        elif instruction in VERTEX_INSTRUCTIONS:
            stages[-1][2].append((f"{instruction} {expand(value, variables)}", per_target))
    planned = []
    for stage, on_build_platform, steps in stages:
        for number, (text, target) in enumerate(steps, start=1):
            step = Planned(stage, number, len(steps), text, on_build_platform, target)
            if step.is_from:
                # Two stages FROM the same image on the same platform share one vertex,
                # which BuildKit names after the first of them.
                if (text, on_build_platform) in froms:
                    continue
                froms.add((text, on_build_platform))
            if text.startswith("COPY --link "):
                # A linked copy is two vertices of one number: the link onto the
                # stage's state, and the copy itself into a layer of its own.
                planned.append(
                    Planned(stage, number, len(steps), f"LINK {text}", on_build_platform, target)
                )
            planned.append(step)
    return planned


def find(steps: list[Planned], wanted: tuple[str, str]) -> Planned:
    """The one planned step of a (stage, instruction prefix) from
    harness.evidence.dockerfile_steps."""
    stage, prefix = wanted
    found = [step for step in steps if step.stage == stage and step.text.startswith(prefix)]
    assert len(found) == 1, f"expected one step {wanted} in Dockerfile.recorded, got {found}"
    return found[0]


# --- step tables as rows -----------------------------------------------------------------


def rows(table: StepTable) -> list[tuple[str, str]]:
    """(label, status) in table order, but the two vertices of a linked copy, which
    share a number and come in either order in the stream, with the LINK first."""
    first: dict[tuple[str, str, int], int] = {}
    for index, step in enumerate(table):
        first.setdefault((step.platform, step.stage, step.number), index)
    ordered = sorted(
        table,
        key=lambda step: (
            first[(step.platform, step.stage, step.number)],
            not step.text.startswith("LINK "),
        ),
    )
    return [(step.label, step.status) for step in ordered]


def assert_rows(table: StepTable, expected: list[tuple[str, str]]) -> None:
    assert rows(table) == expected, (
        "step table differs from the expected one:\n"
        + table.render()
        + "\nexpected:\n"
        + "\n".join(f"{label}  {status}" for label, status in expected)
    )
