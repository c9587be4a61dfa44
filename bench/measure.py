"""Figures read from a build's progress stream and from the registry.

Bytes pulled per build: BuildKit reports every blob it downloads as a status whose id
is the blob digest ("sha256:...") and whose `total` is the blob's size. The sum of those
totals, each digest counted once, is what the builder fetched from registries (base
image layers and cache layers alike; the small manifest and config fetches are not in
the stream and not counted).

Sizes in the registry come from the registry HTTP API: a manifest lists its blobs with
their (compressed) sizes, so a cache image's size is the sum over its manifest.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass

from harness.progress import iter_json_objects
from harness.registry import Registry

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
