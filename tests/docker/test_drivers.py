"""Build drivers and platforms: what the docker driver can export, and multi-arch
builds that cross-compile instead of emulating."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.buildx import Builder, registry_cache
from harness.engine import PrivateEngine
from harness.registry import Registry

ELF_MACHINE = {"amd64": 62, "arm64": 183}  # e_machine of x86-64 and AArch64


# ---- the docker driver and the image store -------------------------------------------


@pytest.fixture
def tiny_context(tmp_path: Path) -> Path:
    """A build that needs no base image, so a bare private daemon can run it offline."""
    (tmp_path / "hello.txt").write_text("hello\n")
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /\n")
    return tmp_path


def test_docker_driver_needs_containerd_store(registry: Registry, tiny_context: Path, docker_tier):
    classic_ref = f"{registry.address}/drivers/cache:classic"
    with PrivateEngine(containerd_store=False) as engine:
        builder = Builder.of_engine(engine.host)
        assert builder.driver() == "docker"
        refused = builder.build(tiny_context, cache_to=registry_cache(classic_ref))
    assert refused.returncode != 0, "the classic store exported a cache\n" + refused.report()
    assert "Cache export is not supported for the docker driver" in refused.stream, refused.report()
    assert registry.manifest("drivers/cache", "classic") is None

    store_ref = f"{registry.address}/drivers/cache:containerd"
    with PrivateEngine(containerd_store=True) as engine:
        accepted = Builder.of_engine(engine.host).build(
            tiny_context, cache_to=registry_cache(store_ref)
        )
        assert accepted.returncode == 0, (
            accepted.report() + "\n--- dockerd ---\n" + engine.read_log()
        )
    assert registry.manifest("drivers/cache", "containerd") is not None, (
        "no cache reached the registry"
    )


# ---- multi-platform ----------------------------------------------------------------------


def emulators() -> list[str]:
    """binfmt_misc entries that would let an arm64 RUN step execute on this machine."""
    folder = Path("/proc/sys/fs/binfmt_misc")
    if not folder.is_dir():
        return []
    return [p.name for p in folder.iterdir() if "aarch64" in p.name or "arm64" in p.name]


def binary_machine(registry: Registry, repository: str, manifest: dict) -> int:
    """e_machine of /app, read from the image layer that holds it."""
    for layer in reversed(manifest["layers"]):
        with tarfile.open(
            fileobj=io.BytesIO(gzip.decompress(registry.blob(repository, layer["digest"])))
        ) as tar:
            for member in tar.getmembers():
                if member.name.lstrip("./") == "app":
                    header = tar.extractfile(member).read(20)
                    assert header[:4] == b"\x7fELF"
                    return int.from_bytes(header[18:20], "little")
    raise AssertionError("no /app in any layer")


@pytest.fixture
def no_emulation() -> Iterator[None]:
    found = emulators()
    if found:
        pytest.skip(f"an emulator is registered ({found}); cannot prove the build avoided it")
    yield


def test_multi_platform_cross_compiles(
    registry: Registry, project: Path, new_builder, no_emulation
):
    repository = "multi/app"
    result = new_builder().build(
        project,
        tags=[f"{registry.address}/{repository}:main"],
        push=True,
        platforms="linux/amd64,linux/arm64",
        build_args={"GIT_COMMIT": "6" * 40},
    )
    # With no emulator registered, an arm64 RUN step could not execute at all: success
    # means every RUN ran natively and Go did the cross-compiling.
    result.assert_ok()
    found = registry.manifest(repository, "main")
    assert found is not None
    _, index = found
    platforms = {
        f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"]
        for m in index["manifests"]
        if m.get("platform", {}).get("os") != "unknown"  # attestation manifests
    }
    assert set(platforms) == {"linux/amd64", "linux/arm64"}, index
    for platform, digest in platforms.items():
        found = registry.manifest(repository, digest)
        assert found is not None, f"{repository}@{digest} is listed but absent"
        machine = binary_machine(registry, repository, found[1])
        arch = platform.split("/")[1]
        assert machine == ELF_MACHINE[arch], (
            f"{platform} image holds a binary for e_machine {machine}"
        )
