"""Figures read from a build's progress stream and from the registry.

Bytes pulled per build: BuildKit reports every blob it downloads as a status whose id
is the blob digest ("sha256:...") and whose `total` is the blob's size. The sum of those
totals, each digest counted once, is what the builder fetched from registries (base
image layers and cache layers alike; the small manifest and config fetches are not in
the stream and not counted).

Sizes in the registry come from the registry HTTP API: a manifest lists its blobs with
their (compressed) sizes, so a cache image's size is the sum over its manifest.

Bytes pushed per build: the stream names no sizes for uploads, so they come from the
registry: the blobs of the image and cache manifests the build wrote, less those the
repository already held before it (BuildKit checks a blob exists before it uploads it).

Where the time went (`time_split`): every status of the stream has start and end
times. Layer downloads (id "sha256:...") are the pull, "extracting sha256:..." the
unpack, the Dockerfile steps that ran are the steps, the exporters' own work
("exporting layers", manifests, "preparing build cache for export") is the export,
and uploads ("pushing ...", the cache's "writing layer/config/manifest") are the push.
Each figure is wall time covered (parallel downloads count once); steps exclude the
time a pull or unpack ran at the same moment. What the stream cannot split: cache
layers compressed while they are written count as push, not export; a lazy pull
waits inside the step that needs it; and the client's own start-up, the context
upload and the cache manifest import are left in "other" (wall time minus the rest).
"""

from __future__ import annotations

import gzip
import io
import re
import tarfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

from harness.evidence.step_table import (
    EXECUTED,
    STEP_RE,
    classify,
    iter_json_objects,
    merge_vertices,
)
from harness.infra.registry import Registry

LAYER_DOWNLOAD_PREFIX = "sha256:"


def bytes_pulled(stream: str) -> int:
    """Sum of the sizes of the blobs a build downloaded, each digest once."""
    sizes: dict[str, int] = {}
    for obj in iter_json_objects(stream):
        for status in obj.get("statuses") or []:
            status_id = status.get("id") or ""
            if status_id.startswith(LAYER_DOWNLOAD_PREFIX):
                sizes[status_id] = max(sizes.get(status_id, 0), int(status.get("total") or 0))
    return sum(sizes.values())


def manifest_bytes(registry: Registry, repository: str, reference: str) -> int:
    """Sum of the blob sizes a manifest lists (layers plus config): its size in the
    registry, compressed. For a registry cache stored with image-manifest=true this
    is the cache image's size."""
    manifest = registry.platform_manifest(repository, reference)
    return sum(layer["size"] for layer in manifest.get("layers") or []) + int(
        (manifest.get("config") or {}).get("size") or 0
    )


def config_bytes(registry: Registry, repository: str, reference: str) -> int:
    """Size of an image's config blob (where an inline cache keeps its records)."""
    return int(registry.platform_manifest(repository, reference)["config"]["size"])


@dataclass(frozen=True)
class ImageSizes:
    compressed: int  # layers plus config, as stored in the registry
    uncompressed: int  # the layers' tar streams, unpacked
    binary: int  # the /app file in the image


def _decompress(blob: bytes, media_type: str) -> bytes:
    if media_type.endswith("zstd"):
        raise ValueError("zstd layers are not supported here")
    return gzip.decompress(blob) if blob.startswith(b"\x1f\x8b") else blob


def image_sizes(
    registry: Registry, repository: str, reference: str, binary: str = "app"
) -> ImageSizes:
    """Compressed and unpacked size of a pushed image, and the size of its binary."""
    manifest = registry.platform_manifest(repository, reference)
    compressed = manifest["config"]["size"]
    uncompressed = 0
    binary_size = 0
    for layer in manifest["layers"]:
        compressed += layer["size"]
        blob = registry.blob(repository, layer["digest"])
        data = _decompress(blob, layer.get("mediaType", ""))
        uncompressed += len(data)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.lstrip("./") == binary:
                    binary_size = member.size
    return ImageSizes(compressed, uncompressed, binary_size)


def manifest_blobs(registry: Registry, repository: str, reference: str) -> dict[str, int]:
    """digest -> size of every blob a (platform) manifest names: config and layers."""
    manifest = registry.platform_manifest(repository, reference)
    blobs = {layer["digest"]: int(layer["size"]) for layer in manifest.get("layers") or []}
    config = manifest.get("config") or {}
    if config.get("digest"):
        blobs[config["digest"]] = int(config.get("size") or 0)
    return blobs


def new_bytes(blobs: dict[str, int], known: set[str]) -> int:
    """Bytes of the blobs not yet in `known`, which then holds them too."""
    fresh = sum(size for digest, size in blobs.items() if digest not in known)
    known.update(blobs)
    return fresh


Interval = tuple[datetime, datetime]


def _timestamp(value: str | None) -> datetime | None:
    # Go prints nanoseconds; Python's fromisoformat takes at most microseconds.
    if not value:
        return None
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value.replace("Z", "+00:00")))


DOWNLOAD_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
UNPACK_RE = re.compile(r"^extracting sha256:")
EXPORT_RE = re.compile(r"^(?:exporting |preparing build cache)")
PUSH_RE = re.compile(r"^(?:pushing |writing (?:layer|config|cache)|sending cache export)")


def _merged(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[list[datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def covered(intervals: Iterable[Interval]) -> float:
    """Seconds covered by the union of the intervals."""
    return sum(((end - start).total_seconds() for start, end in _merged(intervals)), 0.0)


def covered_outside(intervals: Iterable[Interval], holes: Iterable[Interval]) -> float:
    """Seconds covered by the intervals and not by the holes."""
    mine = _merged(intervals)
    both = covered(
        (max(a, c), min(b, d)) for a, b in mine for c, d in _merged(holes) if max(a, c) < min(b, d)
    )
    return covered(mine) - both


@dataclass(frozen=True)
class TimeSplit:
    """Where one build's time went, in seconds (see the module docstring)."""

    pull: float
    unpack: float
    steps: float
    export: float
    push: float
    other: float

    def as_dict(self) -> dict[str, float]:
        return {key: round(value, 3) for key, value in asdict(self).items()}


def time_split(stream: str, wall_seconds: float) -> TimeSplit:
    objects = list(iter_json_objects(stream))
    spans: dict[tuple[str, str], list[datetime]] = {}
    for obj in objects:
        for status in obj.get("statuses") or []:
            started = _timestamp(status.get("started"))
            completed = _timestamp(status.get("completed"))
            if not (started and completed):
                continue
            key = (status.get("vertex", ""), status["id"])
            span = spans.setdefault(key, [started, completed])
            span[0], span[1] = min(span[0], started), max(span[1], completed)
    kinds: dict[str, list[Interval]] = {"pull": [], "unpack": [], "export": [], "push": []}
    for (_, status_id), (started, completed) in spans.items():
        for kind, pattern in (
            ("pull", DOWNLOAD_RE),
            ("unpack", UNPACK_RE),
            ("export", EXPORT_RE),
            ("push", PUSH_RE),
        ):
            if pattern.match(status_id):
                kinds[kind].append((started, completed))
                break
    steps: list[Interval] = []
    for vertex in merge_vertices(objects).values():
        match = STEP_RE.match(vertex.name)
        if not match or match["text"].startswith("FROM ") or classify(vertex)[0] != EXECUTED:
            continue
        if vertex.started and vertex.completed:
            steps.append((vertex.started, vertex.completed))
    layers = kinds["pull"] + kinds["unpack"]
    everything = layers + steps + kinds["export"] + kinds["push"]
    return TimeSplit(
        pull=covered(kinds["pull"]),
        unpack=covered(kinds["unpack"]),
        steps=covered_outside(steps, layers),
        export=covered_outside(kinds["export"], kinds["push"]),
        push=covered(kinds["push"]),
        other=max(0.0, wall_seconds - covered(everything)),
    )
