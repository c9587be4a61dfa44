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

Nothing below re-types the template: the expected steps come from Dockerfile.recorded
(step_expectations.py derives them the way BuildKit names steps), and the digests that
BuildKit appends to each FROM are read from the recordings themselves. The synthetic
streams are in test_progress_synthetic.py, the step-name pattern in test_step_names.py.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime

import pytest

from harness.builders.buildx import build_until, ends_an_update, finished
from harness.evidence.dockerfile_steps import (
    COMPILE,
    CONTEXT_COPY,
    COPY_SOURCE,
    DEPS_BUILD,
    DOWNLOAD,
    RERUN_BY_SOURCE_CHANGE,
    RUNTIME_COPY,
)
from harness.evidence.step_table import (
    CACHED,
    EXECUTED,
    LAYER_STATUS_RE,
    NOT_RUN,
    STEP_RE,
    Vertex,
    classify,
    exported_cache_manifests,
    iter_json_objects,
    merge_vertices,
    step_table,
)
from tests.harness.step_expectations import (
    BROKEN_COMMIT,
    COLD_COMMIT,
    DATA,
    EDIT_COMMIT,
    Planned,
    assert_rows,
    find,
    planned_steps,
    recording,
)

# --- reading the recordings ---------------------------------------------------------------


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
    rerun = [find(steps, step) for step in RERUN_BY_SOURCE_CHANGE]
    # The checkout stage's copy sees the edit; past it, everything before the source copy
    # comes from the cache. FROM counts as executed: the distroless base was even pulled
    # here (downloads, extracting), which is real work.
    assert_rows(
        table,
        [(step.label(), EXECUTED if step.is_from or step in rerun else CACHED) for step in steps],
    )
    assert table.executed() == [step.label() for step in rerun], table.render()


def test_source_change_recording_shows_the_trap_on_the_warm_up_step():
    """The layers under the dependency warm-up (its own, the copy of the std stage's Go
    cache, the module download's, the Go image's) were imported from the registry and
    unpacked under the warm-up's vertex, because the source copy needed its files. What the
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
    go_from = next(step for step in steps if step.is_from)  # the std stage's Go image
    base = vertex(recording("cold.rawjson"), go_from.vertex_prefix())
    base_layers = {i for i in base.statuses if i.startswith("sha256:")}
    assert base_layers and base_layers <= set(downloads), (base_layers, downloads)
    assert classify(warm_up) == (CACHED, "")


def test_failing_build_still_parses_and_blames_the_compile_step():
    stream = recording("failing.rawjson")
    assert "ERROR: failed to solve" in stream  # plain lines between the JSON objects
    table = step_table(stream)
    steps = planned_steps(BROKEN_COMMIT)
    context_copy, copy_source, compile_step, runtime_copy = (
        find(steps, CONTEXT_COPY),
        find(steps, COPY_SOURCE),
        find(steps, COMPILE),
        find(steps, RUNTIME_COPY),
    )

    def expected(step: Planned) -> str:
        if step == runtime_copy:
            return NOT_RUN  # never started: the build stopped at the compile step
        ran = (context_copy, copy_source, compile_step)
        return EXECUTED if step.is_from or step in ran else CACHED

    assert_rows(table, [(step.label(), expected(step)) for step in steps])
    compile_vertex = vertex(stream, compile_step.vertex_prefix())
    assert "did not complete successfully: exit code: 1" in compile_vertex.error
    assert "syntax error" in compile_vertex.log.decode(), compile_vertex.log
    failed = [v.name for v in merge_vertices(iter_json_objects(stream)).values() if v.error]
    assert failed == [compile_vertex.name], failed


def test_the_cold_recording_names_the_one_cache_manifest_it_pushed():
    """The cold build exported a registry cache; the others read it and wrote none."""
    (digest,) = exported_cache_manifests(recording("cold.rawjson"))
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert exported_cache_manifests(recording("no-change.rawjson")) == []


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


# --- stopping a build once its steps have run (harness.builders.buildx.build_until) ------


def updates_until(stream: str) -> list[str]:
    """The prefixes of a rawjson stream at which build_until checks its condition."""
    lines = stream.splitlines(keepends=True)
    return ["".join(lines[: i + 1]) for i, line in enumerate(lines) if ends_an_update(line)]


def test_a_stop_condition_holds_once_its_step_has_run_and_not_before():
    stream = recording("cold.rawjson")
    prefixes = updates_until(stream)
    holds = [finished(DOWNLOAD)(step_table(prefix)) for prefix in prefixes]
    assert holds[-1], "the whole cold stream does not satisfy finished(DOWNLOAD)"
    first = holds.index(True)
    assert not any(holds[:first]) and all(holds[first:]), "the condition came and went"
    table = step_table(prefixes[first])
    (download,) = table.find(*DOWNLOAD)
    assert download.status == EXECUTED and download.finished
    # Stopped there, the build is still before the end of its compile.
    (compile_step,) = table.find(*COMPILE)
    assert not compile_step.finished
    assert not finished(COMPILE)(table)


def test_a_stop_condition_holds_at_once_for_a_step_served_by_the_cache():
    stream = recording("no-change.rawjson")
    table = step_table(stream)
    (download,) = table.find(*DOWNLOAD)
    assert download.status == CACHED
    assert finished(DOWNLOAD, COMPILE)(table)


def test_build_until_stops_a_stream_at_the_update_that_meets_its_condition(tmp_path):
    """build_until on a command that prints a recorded build's updates one per line, as
    buildx 0.36 does, and then waits: it is stopped once the download has run."""
    compact = "".join(
        json.dumps(update) + "\n" for update in iter_json_objects(recording("cold.rawjson"))
    )
    stream = tmp_path / "stream"
    stream.write_text(compact, encoding="utf-8")
    # A command that ignores SIGINT, as one may that inherited it ignored (two CI runs
    # of this test saw exit code 0 after SIGINT): build_until kills it after STOP_GRACE.
    printer = "import signal, sys, time; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    printer += f"sys.stdout.write(open({str(stream)!r}).read()); sys.stdout.flush(); "
    printer += "time.sleep(60)"
    command = [sys.executable, "-c", printer]
    code, seen, stopped = build_until(command, None, finished(DOWNLOAD))
    assert stopped and code != 0, (code, stopped)
    table = step_table(seen)
    (download,) = table.find(*DOWNLOAD)
    assert download.status == EXECUTED and download.finished
    assert seen.startswith(compact), "the command was stopped before it printed everything"
