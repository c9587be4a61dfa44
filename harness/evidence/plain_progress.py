"""Read BuildKit's plain progress (`--progress=plain`, what a CI job log shows) into
the same table of Dockerfile steps as the rawjson reader, with the same rule.

Each line of a vertex starts with its number: the first gives its name, then come its
statuses, its output ("#7 0.215 go: downloading ...", with the seconds since it
started) and its end ("#7 CACHED", "#7 DONE 1.2s", "#7 ERROR: ..."). Layer moves are
statuses named by digest ("#7 sha256:<digest> 45.21MB / 45.21MB 1.0s done", "#7
extracting sha256:<digest> 0.3s done"), as in rawjson, so step_table.classify applies
unchanged. Plain progress has no clock times: each vertex is given a start time in
the order it first appears, which keeps the stages in build order.

The generated project's own reader of the same text is `ci/cache-report.awk`, the build
job's cache report; the pipeline tier holds the two to the same counts.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from harness.evidence.step_table import LAYER_STATUS_RE, StepTable, Vertex, step_table, steps_of

LINE_RE = re.compile(r"^#(?P<id>\d+) (?P<rest>.*)$")
OUTPUT_RE = re.compile(r"^\d+\.\d+ (?P<text>.*)$")
DONE_RE = re.compile(r"^DONE (?P<seconds>\d+(?:\.\d+)?)s$")
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def plain_vertices(text: str) -> list[Vertex]:
    """Every vertex the plain output names, with what it said about each."""
    vertices: dict[str, Vertex] = {}
    for line in text.splitlines():
        match = LINE_RE.match(line)
        if not match:
            continue
        number, rest = match["id"], match["rest"]
        vertex = vertices.get(number)
        if vertex is None:
            started = EPOCH + timedelta(seconds=len(vertices))
            vertices[number] = Vertex(number, name=rest, started=started)
            continue
        if rest == vertex.name:
            continue  # the name again, where its output resumes after another vertex's
        if rest == "CACHED":
            vertex.cached = True
        elif done := DONE_RE.match(rest):
            assert vertex.started is not None
            vertex.completed = vertex.started + timedelta(seconds=float(done["seconds"]))
        elif rest.startswith("ERROR: "):
            vertex.error = rest.removeprefix("ERROR: ")
        elif output := OUTPUT_RE.match(rest):
            vertex.log.extend(output["text"].encode() + b"\n")
        elif layer := LAYER_STATUS_RE.match(rest):
            vertex.statuses[layer[0]] = layer[0]
        else:
            vertex.statuses[rest] = rest
    return list(vertices.values())


def plain_step_table(text: str) -> StepTable:
    """The Dockerfile steps of a build's plain progress."""
    return steps_of(plain_vertices(text))


def any_step_table(text: str) -> StepTable:
    """The steps of a job's output, whichever progress it holds: rawjson when any line
    is a rawjson update, plain otherwise."""
    if any(line.startswith('{"vertexes"') for line in text.splitlines()):
        return step_table(text)
    return plain_step_table(text)
