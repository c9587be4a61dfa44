"""The rawjson progress parser, checked on streams recorded from real builds.

No Docker is needed here. The streams in data/ are written by the recorder,

    python -m harness.evidence.rawjson_fixtures   (root, with the testbed up: testbed/testbed.sh up)

which bakes the default project (`cookiecutter --no-input`) and builds it five times
with `docker buildx build --progress=rawjson`, each time on a FRESH docker-container
builder running the BuildKit image cookiecutter.json pins, against a throwaway registry
(stand-in base images come from the testbed's mirror):

  cold.rawjson            --cache-to the pipeline's registry cache options (R/cache:main)
                          --push -t R/app:1 --build-arg GIT_COMMIT=1111...
  no-change.rawjson       --cache-from type=registry,ref=R/cache:main
                          --push -t R/app:2 --build-arg GIT_COMMIT=1111...
  source-change.rawjson   the same cache-from, plus edit.go (package main + a const),
                          --push -t R/app:3 --build-arg GIT_COMMIT=2222...
  failing.rawjson         the same cache-from, edit.go with a syntax error,
                          --build-arg GIT_COMMIT=3333... (no output)
  multi-platform.rawjson  no cache, --platform linux/amd64,linux/arm64
                          --push -t R/app:multi --build-arg GIT_COMMIT=1111...

It also writes Dockerfile.recorded, the Dockerfile the streams were built from, and
recorded.json: the BuildKit and buildx versions and the date. test_recordings.py fails
once the template renders another Dockerfile or pins another BuildKit: re-record then.

Nothing below re-types the template. The expected step names are derived from
Dockerfile.recorded the way BuildKit names steps (continuation lines joined, the
backslash and newline dropped and the next line's indentation kept; build arguments and
ENV values expanded, unknown variables such as $deps left alone), and the digests that
BuildKit appends to each FROM are read from the recordings themselves.

Two more streams are synthetic, written below: the registry-cache trap in its bare form
(a vertex never marked cached, only layer downloads and unpacks, no output) and a step
that really ran.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shlex
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from harness.evidence.dockerfile_steps import (
    COMPILE,
    COPY_SOURCE,
    DEPS_BUILD,
    DOWNLOAD,
    RUNTIME_COPY,
)
from harness.evidence.step_table import (
    CACHED,
    EXECUTED,
    LAYER_STATUS_RE,
    NOT_RUN,
    STEP_RE,
    StepTable,
    Vertex,
    classify,
    iter_json_objects,
    merge_vertices,
    step_table,
)

DATA = Path(__file__).parent / "data"
RECORDED_DOCKERFILE = DATA / "Dockerfile.recorded"
# The build argument each recording passed (see the module docstring).
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


# --- reading the recordings ---------------------------------------------------------------


def rows(table: StepTable) -> list[tuple[str, str]]:
    return [(step.label, step.status) for step in table]


def assert_rows(table: StepTable, expected: list[tuple[str, str]]) -> None:
    assert rows(table) == expected, (
        "step table differs from the expected one:\n"
        + table.render()
        + "\nexpected:\n"
        + "\n".join(f"{label}  {status}" for label, status in expected)
    )


def raw_updates(stream: str, name_prefix: str) -> list[dict]:
    """Every update the stream holds for the step vertex whose name starts so."""
    return [
        update
        for obj in iter_json_objects(stream)
        for update in obj.get("vertexes") or []
        if update["name"].startswith(name_prefix)
    ]


def vertex(stream: str, name_prefix: str) -> Vertex:
    vertices = merge_vertices(iter_json_objects(stream)).values()
    found = [v for v in vertices if v.name.startswith(name_prefix)]
    assert len(found) == 1, f"expected one vertex {name_prefix!r}, got {[v.name for v in found]}"
    return found[0]


def at(value: str) -> datetime:
    """A timestamp of the stream (Go prints nanoseconds; Python reads microseconds)."""
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value.replace("Z", "+00:00")))


def layer_moves(stream: str, digest: str) -> dict[str, tuple[datetime, datetime]]:
    """(started, completed) of each layer download and unpack reported under a vertex."""
    last: dict[str, dict] = {}
    for obj in iter_json_objects(stream):
        for status in obj.get("statuses") or []:
            if status["vertex"] == digest and LAYER_STATUS_RE.match(status["id"]):
                last[status["id"]] = status
    return {
        key: (at(s["started"]), at(s.get("completed") or s["timestamp"])) for key, s in last.items()
    }


def seconds_not_covered(
    busy: list[tuple[datetime, datetime]], cover: list[tuple[datetime, datetime]]
) -> float:
    """How long the busy intervals ran while none of the cover intervals did."""
    total = 0.0
    for start, end in busy:
        position = start
        for cover_start, cover_end in sorted(cover):
            if cover_end <= position or cover_start >= end:
                continue
            total += max(0.0, (cover_start - position).total_seconds())
            position = max(position, cover_end)
        total += max(0.0, (end - position).total_seconds())
    return total


# --- recorded streams ------------------------------------------------------------------


def test_cold_build_executes_every_step():
    table = step_table(recording("cold.rawjson"))
    steps = planned_steps(COLD_COMMIT)
    assert_rows(table, [(step.label(), EXECUTED) for step in steps])
    assert all(step.reason == "" for step in table), table.render()
    # FROM only resolves (and here pulls) a base image: executed() leaves it out.
    assert table.executed() == [step.label() for step in steps if not step.is_from]


def test_no_change_rebuild_serves_every_step_from_the_registry_cache():
    stream = recording("no-change.rawjson")
    table = step_table(stream)
    steps = planned_steps(COLD_COMMIT)
    # FROM is a source: BuildKit resolves it on every build and never marks it cached.
    assert_rows(table, [(step.label(), EXECUTED if step.is_from else CACHED) for step in steps])
    assert table.executed() == [], table.render()
    # Here FROM only resolved the digest: no layer was pulled.
    for step in steps:
        if step.is_from:
            statuses = vertex(stream, step.vertex_prefix()).statuses
            assert all(s.startswith("resolve ") for s in statuses), (step.label(), statuses)


def test_stages_keep_build_order_when_all_start_times_are_equal():
    """In the no-change recording every cached step of BOTH stages carries the same
    start time; only the vertices' inputs tell that runtime copies from builder."""
    stream = recording("no-change.rawjson")
    steps = planned_steps(COLD_COMMIT)
    firsts = [step for step in steps if step.number == 2]  # each stage's first after FROM
    starts = {vertex(stream, step.vertex_prefix()).started for step in firsts}
    assert len(starts) == 1, f"the recording no longer shows equal start times: {starts}"
    stages = [step.stage for step in step_table(stream)]
    assert stages == [step.stage for step in steps], step_table(stream).render()


def test_source_change_reruns_only_copy_compile_and_runtime_copy():
    stream = recording("source-change.rawjson")
    table = step_table(stream)
    steps = planned_steps(EDIT_COMMIT)
    rerun = [find(steps, COPY_SOURCE), find(steps, COMPILE), find(steps, RUNTIME_COPY)]
    # Everything before COPY . . comes from the cache. FROM counts as executed: the
    # distroless base was even pulled here (downloads, extracting), which is real work.
    assert_rows(
        table,
        [(step.label(), EXECUTED if step.is_from or step in rerun else CACHED) for step in steps],
    )
    assert table.executed() == [step.label() for step in rerun], table.render()


def test_source_change_recording_shows_the_trap_on_the_warm_up_step():
    """The layers under the dependency warm-up (its own, the copy of the std stage's Go
    cache, the module download's, the Go image's) were imported from the registry and
    unpacked under the warm-up's vertex, because COPY . . needed its files. What the
    stream really says about it."""
    stream = recording("source-change.rawjson")
    steps = planned_steps(EDIT_COMMIT)
    prefix = find(steps, DEPS_BUILD).vertex_prefix()
    updates = [u for u in raw_updates(stream, prefix) if "started" in u]
    flags = [bool(u.get("cached")) for u in updates]
    # BuildKit first reports the step cached, then again WITHOUT the flag while its
    # layers move: a reader that keeps only the latest state sees a cache miss.
    assert flags[0] and not flags[-1], flags
    warm_up = vertex(stream, prefix)
    downloads = [i for i in warm_up.statuses if i.startswith("sha256:")]
    unpacks = [i for i in warm_up.statuses if i.startswith("extracting sha256:")]
    assert len(downloads) == len(unpacks) == len(warm_up.statuses) // 2 > 0, warm_up.statuses
    # An unpack's display NAME is just "extracting"; only its id carries the digest.
    assert {warm_up.statuses[i] for i in unpacks} == {"extracting"}
    assert not warm_up.log and not warm_up.error
    # The cached steps before it were all reported at the warm-up's first start.
    assert vertex(stream, find(steps, DOWNLOAD).vertex_prefix()).started == at(
        updates[0]["started"]
    )
    # The truth: the command did not run. Whenever the vertex was busy after its
    # cached report, a layer was being downloaded or unpacked. (The recordings of
    # BuildKit 0.32 showed the same. A wall-clock comparison with the cold build is no
    # proof: here the cold command took 0.2 s, the default service having no
    # dependencies, while the vertex spent seconds moving layers.)
    busy = [
        (at(u["started"]), at(u["completed"]))
        for u in updates
        if "completed" in u and not u.get("cached")
    ]
    moves = layer_moves(stream, warm_up.digest)
    assert busy and sorted(moves) == sorted(warm_up.statuses), (busy, moves)
    idle = seconds_not_covered(busy, list(moves.values()))
    busy_seconds = sum((end - start).total_seconds() for start, end in busy)
    assert idle < 0.1 and busy_seconds > 20 * idle, (idle, busy_seconds)
    # Among the layers: the Go base image's own, which the cold build pulled under FROM.
    base = vertex(recording("cold.rawjson"), steps[0].vertex_prefix())
    base_layers = {i for i in base.statuses if i.startswith("sha256:")}
    assert base_layers and base_layers <= set(downloads), (base_layers, downloads)
    assert classify(warm_up) == (CACHED, "")


def test_failing_build_still_parses_and_blames_the_compile_step():
    stream = recording("failing.rawjson")
    assert "ERROR: failed to solve" in stream  # plain lines between the JSON objects
    table = step_table(stream)
    steps = planned_steps(BROKEN_COMMIT)
    copy_source, compile_step, runtime_copy = (
        find(steps, COPY_SOURCE),
        find(steps, COMPILE),
        find(steps, RUNTIME_COPY),
    )

    def expected(step: Planned) -> str:
        if step == runtime_copy:
            return NOT_RUN  # never started: the build stopped at the compile step
        return EXECUTED if step.is_from or step in (copy_source, compile_step) else CACHED

    assert_rows(table, [(step.label(), expected(step)) for step in steps])
    compile_vertex = vertex(stream, compile_step.vertex_prefix())
    assert "did not complete successfully: exit code: 1" in compile_vertex.error
    assert "syntax error" in compile_vertex.log.decode(), compile_vertex.log
    failed = [v.name for v in merge_vertices(iter_json_objects(stream)).values() if v.error]
    assert failed == [compile_vertex.name], failed


def test_multi_platform_build_names_parse():
    stream = recording("multi-platform.rawjson")
    names = [v.name for v in merge_vertices(iter_json_objects(stream)).values()]
    # Whatever looks like a Dockerfile step must match, including the cross-compiling
    # steps, which BuildKit names "[linux/amd64->arm64 builder 5/7] ...".
    looks_like_a_step = [name for name in names if re.match(r"^\[[^\]]*\d+/\d+\] ", name)]
    assert any("->arm64 " in name for name in looks_like_a_step), looks_like_a_step
    assert [name for name in looks_like_a_step if not STEP_RE.match(name)] == []

    table = step_table(stream)
    steps = planned_steps(COLD_COMMIT)
    amd64, cross, arm64 = "linux/amd64", "linux/amd64->arm64", "linux/arm64"
    # Everything once for amd64, the build platform. The builder stage runs on the
    # build platform: only its steps after the target platform enters (ARG TARGETOS
    # TARGETARCH) are built again, for arm64; a stage without --platform is built for
    # arm64 as a whole.
    cross_built = [step for step in steps if step.on_build_platform and step.per_target]
    arm64_built = [step for step in steps if not step.on_build_platform]
    assert_rows(
        table,
        [(step.label(amd64), EXECUTED) for step in steps]
        + [(step.label(cross), EXECUTED) for step in cross_built]
        + [(step.label(arm64), EXECUTED) for step in arm64_built],
    )
    assert len(table.find(*COMPILE)) == 2, table.render()


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.rawjson")))
def test_recorded_vertices_that_are_no_steps_do_not_match(name):
    """[internal] loads, metadata loads (with a platform in a multi-platform build),
    cache imports and exporters: none may pass for a Dockerfile step."""
    vertices = merge_vertices(iter_json_objects(recording(name))).values()
    others = [v.name for v in vertices if not re.match(r"^\[[^\]]*\d+/\d+\] ", v.name)]
    assert others, "the recording holds no other vertices"
    assert [other for other in others if STEP_RE.match(other)] == []


# --- step names ------------------------------------------------------------------------


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


# --- synthetic streams -----------------------------------------------------------------

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
