"""The rawjson progress parser, checked on streams recorded from real builds.

No Docker is needed here: the streams in data/ were recorded once with buildx 0.13 and
BuildKit 0.32 (docker-container driver, stand-in base images from the local mirror),
building the default project (`cookiecutter --no-input`) with
`docker buildx build --progress=rawjson ... 2> FILE`, each on a FRESH builder:

  cold.rawjson            --cache-to type=registry,ref=R/cache:main,mode=max,
                          image-manifest=true,oci-mediatypes=true,ignore-error=true
                          --push -t R/app:1 --build-arg GIT_COMMIT=1111...
  no-change.rawjson       --cache-from type=registry,ref=R/cache:main
                          --push -t R/app:2 --build-arg GIT_COMMIT=1111...
  source-change.rawjson   the same cache-from, plus edit.go (package main + a const),
                          --push -t R/app:3 --build-arg GIT_COMMIT=2222...
  failing.rawjson         the same cache-from, edit.go with a syntax error,
                          --build-arg GIT_COMMIT=3333... (no output)
  multi-platform.rawjson  no cache, --platform linux/amd64,linux/arm64
                          --push -t R/app:multi --build-arg GIT_COMMIT=1111...

Two more streams are synthetic, written below: the registry-cache trap in its bare form
(a vertex never marked cached, only layer downloads and unpacks, no output) and a step
that really ran.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from harness.progress import (
    CACHED,
    EXECUTED,
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

GO_DIGEST = "sha256:5bbd779deda7d7774ad0b548dcbc68b77fbdac05ba0a8c30a53e34f2b2c999a9"
RUNTIME_DIGEST = "sha256:385262e49e70d448bd0ec2266187f3d9d6bf967ece9fb473a1f3fd4052b42b68"
FROM_GO = f"FROM docker.io/library/golang:1.24@{GO_DIGEST}"
FROM_RUNTIME = f"FROM gcr.io/distroless/static-debian12:nonroot@{RUNTIME_DIGEST}"
DOWNLOAD = "RUN go mod download"
# The warm-up step exactly as BuildKit names it: line continuations become spaces.
WARM_UP = (
    "RUN go build std &&     deps=\"$(go list -m -f '{{if not (or .Main .Indirect)}}"
    '{{.Path}}/...{{end}}\' all)" &&     if [ -n "$deps" ]; then go build $deps || '
    'echo "note: some dependency packages were not precompiled"; fi'
)
RUNTIME_COPY = "COPY --from=builder /out/app /app"


def compile_step(commit: str) -> str:
    flags = f"-s -w -X main.version=dev -X main.commit={commit}"
    return f'RUN go build -ldflags="{flags}" -o /out/app .'


def recording(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def rows(table: StepTable) -> list[tuple[str, str]]:
    return [(step.label, step.status) for step in table]


def assert_rows(table: StepTable, expected: list[tuple[str, str]]) -> None:
    assert rows(table) == expected, "step table differs from the expected one:\n" + table.render()


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


# --- recorded streams ------------------------------------------------------------------


def test_cold_build_executes_every_step():
    table = step_table(recording("cold.rawjson"))
    commit = compile_step("1" * 40)
    assert_rows(
        table,
        [
            (f"[builder 1] {FROM_GO}", EXECUTED),
            ("[builder 2] WORKDIR /src", EXECUTED),
            ("[builder 3] COPY go.mod go.sum ./", EXECUTED),
            (f"[builder 4] {DOWNLOAD}", EXECUTED),
            (f"[builder 5] {WARM_UP}", EXECUTED),
            ("[builder 6] COPY . .", EXECUTED),
            (f"[builder 7] {commit}", EXECUTED),
            (f"[runtime 1] {FROM_RUNTIME}", EXECUTED),
            (f"[runtime 2] {RUNTIME_COPY}", EXECUTED),
        ],
    )
    assert all(step.reason == "" for step in table), table.render()
    # FROM only resolves (and here pulls) a base image: executed() leaves it out.
    assert len(table.executed()) == 7, table.render()


def test_no_change_rebuild_serves_every_step_from_the_registry_cache():
    stream = recording("no-change.rawjson")
    table = step_table(stream)
    assert_rows(
        table,
        [
            # FROM is a source: BuildKit resolves it on every build and never marks it
            # cached. Here it only resolved the digest (no layer was pulled).
            (f"[builder 1] {FROM_GO}", EXECUTED),
            ("[builder 2] WORKDIR /src", CACHED),
            ("[builder 3] COPY go.mod go.sum ./", CACHED),
            (f"[builder 4] {DOWNLOAD}", CACHED),
            (f"[builder 5] {WARM_UP}", CACHED),
            ("[builder 6] COPY . .", CACHED),
            (f"[builder 7] {compile_step('1' * 40)}", CACHED),
            (f"[runtime 1] {FROM_RUNTIME}", EXECUTED),
            (f"[runtime 2] {RUNTIME_COPY}", CACHED),
        ],
    )
    assert table.executed() == [], table.render()


def test_stages_keep_build_order_when_all_start_times_are_equal():
    """In the no-change recording every cached step of BOTH stages carries the same
    start time; only the vertices' inputs tell that runtime copies from builder."""
    stream = recording("no-change.rawjson")
    starts = {vertex(stream, name).started for name in ("[builder 2/7]", "[runtime 2/2]")}
    assert len(starts) == 1, f"the recording no longer shows equal start times: {starts}"
    stages = [step.stage for step in step_table(stream)]
    assert stages == ["builder"] * 7 + ["runtime"] * 2, step_table(stream).render()


def test_source_change_reruns_only_copy_compile_and_runtime_copy():
    stream = recording("source-change.rawjson")
    table = step_table(stream)
    commit = compile_step("2" * 40)
    assert_rows(
        table,
        [
            (f"[builder 1] {FROM_GO}", EXECUTED),
            ("[builder 2] WORKDIR /src", CACHED),
            ("[builder 3] COPY go.mod go.sum ./", CACHED),
            (f"[builder 4] {DOWNLOAD}", CACHED),
            (f"[builder 5] {WARM_UP}", CACHED),
            ("[builder 6] COPY . .", EXECUTED),
            (f"[builder 7] {commit}", EXECUTED),
            # The distroless base was pulled here (downloads, extracting): real work.
            (f"[runtime 1] {FROM_RUNTIME}", EXECUTED),
            (f"[runtime 2] {RUNTIME_COPY}", EXECUTED),
        ],
    )
    assert table.executed() == [
        "[builder 6] COPY . .",
        f"[builder 7] {commit}",
        f"[runtime 2] {RUNTIME_COPY}",
    ], table.render()


def test_source_change_recording_shows_the_trap_on_the_warm_up_step():
    """The warm-up's layers were imported from the registry and unpacked under its own
    vertex, because COPY . . needed its files. What the stream really says about it."""
    stream = recording("source-change.rawjson")
    flags = [bool(u.get("cached")) for u in raw_updates(stream, "[builder 5/7]") if "started" in u]
    # BuildKit first reports the step cached, then again WITHOUT the flag while its
    # layers move: a reader that keeps only the latest state sees a cache miss.
    assert flags[0] and not flags[-1], flags
    warm_up = vertex(stream, "[builder 5/7]")
    downloads = [i for i in warm_up.statuses if i.startswith("sha256:")]
    unpacks = [i for i in warm_up.statuses if i.startswith("extracting sha256:")]
    assert len(downloads) == len(unpacks) == len(warm_up.statuses) // 2 > 0, warm_up.statuses
    # An unpack's display NAME is just "extracting"; only its id carries the digest.
    assert {warm_up.statuses[i] for i in unpacks} == {"extracting"}
    assert not warm_up.log and not warm_up.error
    # The truth: the command did not run. Cold, the warm-up took 37 s; here the whole
    # vertex, pulling and unpacking about 120 MB of layers included, took 3 s.
    cold = vertex(recording("cold.rawjson"), "[builder 5/7]")
    cold_seconds = (cold.completed - cold.started).total_seconds()
    # The cached steps before it were all reported at the warm-up's first start.
    span = warm_up.completed - vertex(stream, "[builder 4/7]").started
    assert cold_seconds > 30 and span.total_seconds() < cold_seconds / 10, (cold_seconds, span)
    assert classify(warm_up) == (CACHED, "")


def test_failing_build_still_parses_and_blames_the_compile_step():
    stream = recording("failing.rawjson")
    assert "ERROR: failed to solve" in stream  # plain lines between the JSON objects
    table = step_table(stream)
    commit = compile_step("3" * 40)
    assert_rows(
        table,
        [
            (f"[builder 1] {FROM_GO}", EXECUTED),
            ("[builder 2] WORKDIR /src", CACHED),
            ("[builder 3] COPY go.mod go.sum ./", CACHED),
            (f"[builder 4] {DOWNLOAD}", CACHED),
            (f"[builder 5] {WARM_UP}", CACHED),
            ("[builder 6] COPY . .", EXECUTED),
            (f"[builder 7] {commit}", EXECUTED),
            (f"[runtime 1] {FROM_RUNTIME}", EXECUTED),
            # Never started: the build stopped at the compile step.
            (f"[runtime 2] {RUNTIME_COPY}", NOT_RUN),
        ],
    )
    compile_vertex = vertex(stream, "[builder 7/7]")
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
    commit = compile_step("1" * 40)
    amd64, cross, arm64 = "linux/amd64", "linux/amd64->arm64", "linux/arm64"
    assert_rows(
        table,
        [
            # The builder stage runs on the build platform: steps before the target
            # platform enters (ARG TARGETOS TARGETARCH) are built once, for both.
            (f"[{amd64} builder 1] {FROM_GO}", EXECUTED),
            (f"[{amd64} builder 2] WORKDIR /src", EXECUTED),
            (f"[{amd64} builder 3] COPY go.mod go.sum ./", EXECUTED),
            (f"[{amd64} builder 4] {DOWNLOAD}", EXECUTED),
            (f"[{amd64} builder 5] {WARM_UP}", EXECUTED),
            (f"[{amd64} builder 6] COPY . .", EXECUTED),
            (f"[{amd64} builder 7] {commit}", EXECUTED),
            (f"[{amd64} runtime 1] {FROM_RUNTIME}", EXECUTED),
            (f"[{amd64} runtime 2] {RUNTIME_COPY}", EXECUTED),
            (f"[{cross} builder 5] {WARM_UP}", EXECUTED),
            (f"[{cross} builder 6] COPY . .", EXECUTED),
            (f"[{cross} builder 7] {commit}", EXECUTED),
            (f"[{arm64} runtime 1] {FROM_RUNTIME}", EXECUTED),
            (f"[{arm64} runtime 2] {RUNTIME_COPY}", EXECUTED),
        ],
    )
    assert len(table.find("builder", "RUN go build -ldflags")) == 2, table.render()


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
        "[linux/amd64 internal] load metadata for docker.io/library/golang:1.24",
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
        "extracting",  # what BuildKit 0.32 sends
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
