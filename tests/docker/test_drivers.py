"""Build drivers and platforms: what the docker driver can export, and multi-arch
builds that cross-compile instead of emulating."""

from __future__ import annotations

import gzip
import io
import platform
import tarfile
from pathlib import Path

import pytest

from harness.builders.buildx import Builder, registry_cache
from harness.infra.engine import PrivateEngine
from harness.infra.registry import Registry

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


def build_platform() -> str:
    """This machine's platform, as BuildKit names it (the BUILDPLATFORM of a build)."""
    machine = platform.machine().lower()
    return "linux/" + {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


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


def test_multi_platform_cross_compiles(main_cache, project: Path, new_builder):
    """The build reads the default branch's cache (built for this machine's platform
    only), so the other target's steps are the ones that must run, natively."""
    registry = main_cache.registry
    repository = "multi/app"
    result = new_builder().build(
        project,
        tags=[f"{registry.address}/{repository}:main"],
        push=True,
        platforms="linux/amd64,linux/arm64",
        cache_from=[f"type=registry,ref={main_cache.cache_ref}"],
        build_args={"GIT_COMMIT": "6" * 40},
    )
    result.assert_ok()
    # No emulation, read from the build itself: every RUN step ran on this machine's own
    # platform (named "[<build>-><target> ...]" for the other target), none on arm64.
    runs = [step for step in result.table if step.text.startswith("RUN ")]
    native = build_platform()
    foreign = [step.label for step in runs if step.platform.split("->")[0] != native]
    assert foreign == [], f"RUN steps ran on another platform (emulated): {foreign}"
    # The two warm-ups and the compile exist once per target (the module download, which
    # does not depend on the target, once for both); for the target that is not this
    # machine's, the default branch's cache had nothing: they executed.
    executed = set(result.table.executed())
    other = next(t for t in ("linux/arm64", "linux/amd64") if t != native).split("/")[1]
    for prefix in ("RUN go build std", "RUN deps=", "RUN go build -ldflags"):
        steps = [s for s in runs if s.text.startswith(prefix)]
        targets = {s.platform.split("->")[-1] for s in steps}
        assert len(targets) == 2, f"{prefix}: ran for {targets} only\n{result.report()}"
        ran = {s.platform.split("->")[-1] for s in steps if s.label in executed}
        assert any(other in target for target in ran), (
            f"{prefix} did not execute for {other}\n{result.report()}"
        )
    found = registry.manifest(repository, "main")
    assert found is not None
    _, index = found
    platforms = {
        f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"]
        for m in index["manifests"]
        if m.get("platform", {}).get("os") != "unknown"  # attestation manifests
    }
    assert set(platforms) == {"linux/amd64", "linux/arm64"}, index
    for target, digest in platforms.items():
        found = registry.manifest(repository, digest)
        assert found is not None, f"{repository}@{digest} is listed but absent"
        machine = binary_machine(registry, repository, found[1])
        arch = target.split("/")[1]
        assert machine == ELF_MACHINE[arch], (
            f"{target} image holds a binary for e_machine {machine}"
        )
