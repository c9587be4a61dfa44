"""Read BuildKit's `--progress=rawjson` stream into a table of Dockerfile steps.

Each step is classified as *executed* (BuildKit ran it in this build) or *cached* (its
result came from a cache: the builder's own or an imported registry cache). A step that
never started, because the build failed before reaching it, is *not run*.

The trap this module exists for: when a step's result is imported from a registry
cache and a later step needs its files, BuildKit pulls and unpacks the layer under the
step's own vertex. The vertex then carries layer-download and `extracting` statuses and
is NOT marked `cached`, although nothing ran. Trusting the `cached` flag alone (or the
word CACHED in plain progress) reports such steps as misses. Here a step counts as
executed only when it is not marked cached and its only activity is not the transfer
of cached layers. (BuildKit 0.32 and 0.34 first report such a vertex as cached, then
again without the flag while they move the layers: hence "cached" in ANY update counts.)

Layer transfers are recognised by their status ids: a download's id is the layer digest
("sha256:..."), an unpack's id is "extracting sha256:..." while its display name is just
"extracting".
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

EXECUTED = "executed"
CACHED = "cached"
NOT_RUN = "not run"

# The names BuildKit's Dockerfile frontend gives steps ("prefixCommand" in dockerfile2llb):
#   "[builder 4/7] RUN go mod download"
#   "[linux/amd64 runtime 2/2] COPY ..."             multi-platform: the step's platform
#   "[linux/amd64->arm64 builder 5/7] RUN ..."       ... running on amd64 for target arm64
#   "[linux/amd64->windows/amd64 builder 5/7] ..."   ... for a target of another OS
#   "[ 4/12] RUN ..."                                 unnamed stage; the number is padded
STEP_RE = re.compile(
    r"^\[(?:(?P<platform>[a-z0-9]+/[a-z0-9]+(?:/\w+)?(?:->[a-z0-9]+(?:/\w+){0,2})?) )?"
    r"(?:(?P<stage>[^\] /]+) )? *(?P<n>\d+)/(?P<of>\d+)\] (?P<text>.*)$"
)
# Statuses BuildKit reports while moving cached layers rather than running anything:
# layer downloads are named by digest, unpacking is "extracting sha256:...".
LAYER_STATUS_RE = re.compile(r"^(?:extracting )?sha256:[0-9a-f]{12,}")
# The status a registry cache export reports once it pushed its manifest ("writing
# cache image manifest" with image-manifest=true, "writing cache manifest" without).
CACHE_MANIFEST_RE = re.compile(r"^writing cache (?:image )?manifest (sha256:[0-9a-f]{64})$")


@dataclass
class Vertex:
    """Everything the stream said about one vertex, merged across updates."""

    digest: str
    name: str = ""
    cached: bool = False
    started: datetime | None = None
    completed: datetime | None = None
    error: str = ""
    statuses: dict[str, str] = field(default_factory=dict)  # status id -> name
    log: bytearray = field(default_factory=bytearray)
    inputs: list[str] = field(default_factory=list)  # digests of the vertices it reads


@dataclass(frozen=True)
class Step:
    """One Dockerfile instruction of one stage (and platform, when several are built)."""

    stage: str
    number: int
    text: str
    status: str
    seconds: float
    platform: str = ""
    reason: str = ""
    finished: bool = False  # the stream reported its end (it may still be running)

    @property
    def label(self) -> str:
        where = " ".join(part for part in (self.platform, self.stage, str(self.number)) if part)
        return f"[{where}] {self.text}"

    @property
    def short_label(self) -> str:
        """The label cut to a readable width for tables."""
        return self.label if len(self.label) <= 72 else self.label[:69] + "..."


class StepTable(list[Step]):
    """The steps of one build in Dockerfile order, with small query helpers."""

    def executed(self) -> list[str]:
        """Labels of the steps that ran. FROM only resolves a base image, so it is left out."""
        return [s.label for s in self if s.status == EXECUTED and not s.text.startswith("FROM ")]

    def find(self, stage: str, text_prefix: str) -> list[Step]:
        return [s for s in self if s.stage == stage and s.text.startswith(text_prefix)]

    def one(self, stage: str, text_prefix: str) -> Step:
        found = self.find(stage, text_prefix)
        assert len(found) == 1, (
            f"expected one step {stage}:{text_prefix!r}, got {found}\n{self.render()}"
        )
        return found[0]

    def labels(self, *steps: tuple[str, str]) -> list[str]:
        """Labels of the named (stage, instruction prefix) steps, each found exactly once."""
        return [self.one(stage, prefix).label for stage, prefix in steps]

    def render(self) -> str:
        if not self:
            return "(no Dockerfile steps in the progress stream)"
        width = max(len(step.short_label) for step in self)
        lines = [f"{'step'.ljust(width)}  {'result':8}  seconds"]
        for step in self:
            note = f"  ({step.reason})" if step.reason else ""
            label = step.short_label.ljust(width)
            lines.append(f"{label}  {step.status:8}  {step.seconds:7.2f}{note}")
        return "\n".join(lines)


def iter_json_objects(text: str) -> Iterator[dict[str, Any]]:
    """Yield each JSON object of a stream that may be pretty-printed and may hold
    plain lines (buildx prints errors such as 'ERROR: ...' between objects)."""
    decoder = json.JSONDecoder()
    position = 0
    while True:
        start = text.find("{", position)
        if start < 0:
            return
        try:
            obj, position = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            position = start + 1
            continue
        if isinstance(obj, dict):
            yield obj


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    # Go prints nanoseconds; Python's fromisoformat takes at most microseconds.
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", value.replace("Z", "+00:00"))
    return datetime.fromisoformat(trimmed)


def merge_vertices(
    objects: Iterable[dict[str, Any]], vertices: dict[str, Vertex] | None = None
) -> dict[str, Vertex]:
    """Each vertex the updates name, by digest, with everything they said about it;
    given `vertices`, the updates are merged into those."""
    vertices = {} if vertices is None else vertices

    def get(digest: str) -> Vertex:
        return vertices.setdefault(digest, Vertex(digest))

    for obj in objects:
        for update in obj.get("vertexes") or []:
            vertex = get(update["digest"])
            vertex.name = update.get("name") or vertex.name
            vertex.cached = vertex.cached or bool(update.get("cached"))
            vertex.started = _time(update.get("started")) or vertex.started
            vertex.completed = _time(update.get("completed")) or vertex.completed
            vertex.error = update.get("error") or vertex.error
            vertex.inputs = update.get("inputs") or vertex.inputs
        for status in obj.get("statuses") or []:
            get(status["vertex"]).statuses[status["id"]] = status.get("name") or status["id"]
        for log in obj.get("logs") or []:
            get(log["vertex"]).log.extend(base64.b64decode(log.get("data") or ""))
    return vertices


def exported_cache_manifests(stream: str) -> list[str]:
    """Digests of the cache manifests a build pushed, read from its rawjson stream, in
    the order it reported them. A ref's tag moves with the next export to it; the digest
    names this build's cache for good, so a later build can read exactly that one."""
    found: list[str] = []
    for vertex in merge_vertices(iter_json_objects(stream)).values():
        for status in vertex.statuses:
            match = CACHE_MANIFEST_RE.match(status)
            if match and match[1] not in found:
                found.append(match[1])
    return found


def classify(vertex: Vertex) -> tuple[str, str]:
    """(status, reason) for one vertex; see the module docstring for the rule."""
    if vertex.cached:
        return CACHED, ""
    if vertex.started is None:
        return NOT_RUN, ""
    # Match the ids: an unpack's display name is only "extracting".
    ids = list(vertex.statuses)
    only_layer_moves = bool(ids) and all(LAYER_STATUS_RE.match(status) for status in ids)
    if only_layer_moves and not vertex.log:
        return CACHED, "imported from the registry cache and unpacked"
    return EXECUTED, ""


def _stage_order(steps: list[tuple[Vertex, str]], stage_start: dict[str, datetime]) -> list[str]:
    """Stages in build order: a stage comes after every stage it copies from (the
    vertices' inputs say so), otherwise by when its first step after FROM started.
    Start times alone are not enough: a fully cached build reports the steps of all
    stages with one and the same start time."""
    stage_of = {vertex.digest: stage for vertex, stage in steps}
    needs: dict[str, set[str]] = {stage: set() for _, stage in steps}
    for vertex, stage in steps:
        needs[stage].update(stage_of[d] for d in vertex.inputs if stage_of.get(d, stage) != stage)
    never = datetime.max.replace(tzinfo=UTC)
    order: list[str] = []
    while len(order) < len(needs):
        left = [stage for stage in needs if stage not in order]
        ready = [stage for stage in left if needs[stage] <= set(order)] or left  # or: a cycle
        order.append(min(ready, key=lambda stage: (stage_start.get(stage, never), stage)))
    return order


def step_table(stream: str) -> StepTable:
    """Parse a whole rawjson progress stream into its Dockerfile steps."""
    return steps_of(merge_vertices(iter_json_objects(stream)).values())


def steps_of(vertices: Iterable[Vertex]) -> StepTable:
    """The Dockerfile steps among a build's vertices, classified and in build order."""
    table = StepTable()
    steps: list[tuple[Vertex, str]] = []
    # When each stage's first step after FROM started. (FROM vertices of every stage
    # resolve at the very start, whatever their order.)
    stage_start: dict[str, datetime] = {}
    for vertex in vertices:
        match = STEP_RE.match(vertex.name)
        if not match:
            continue  # [internal] vertices, metadata loads, exporters
        stage = match["stage"] or ""
        steps.append((vertex, stage))
        if vertex.started and not match["text"].startswith("FROM "):
            first = stage_start.get(stage)
            stage_start[stage] = min(first, vertex.started) if first else vertex.started
        status, reason = classify(vertex)
        seconds = 0.0
        if vertex.started and vertex.completed:
            seconds = max(0.0, (vertex.completed - vertex.started).total_seconds())
        table.append(
            Step(
                stage=stage,
                number=int(match["n"]),
                text=match["text"],
                status=status,
                seconds=seconds,
                platform=match["platform"] or "",
                reason=reason,
                finished=vertex.completed is not None,
            )
        )
    rank = {stage: i for i, stage in enumerate(_stage_order(steps, stage_start))}
    table.sort(key=lambda step: (step.platform, rank[step.stage], step.number))
    return StepTable(table)
