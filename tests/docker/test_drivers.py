"""Build drivers and platforms: what the docker driver can export, and multi-arch
builds that cross-compile instead of emulating."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.docker.buildx import BuildResult, registry_cache
from tests.docker.registry import MANIFEST_TYPES, Registry

ELF_MACHINE = {"amd64": 62, "arm64": 183}  # e_machine of x86-64 and AArch64


# ---- the docker driver and the image store -------------------------------------------


class PrivateDockerd:
    """A second dockerd of our own, on its own socket and data directory, so the test
    controls its image store without touching the machine's daemon."""

    def __init__(self, containerd_store: bool) -> None:
        self.bridge = ""
        self.root = Path(tempfile.mkdtemp(prefix="gotpl-dockerd-"))
        self.socket = self.root / "d.sock"
        self.containerd_store = containerd_store
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PrivateDockerd:
        config = self.root / "daemon.json"
        config.write_text(
            json.dumps({"features": {"containerd-snapshotter": self.containerd_store}})
        )
        suffix = self.root.name[-6:].lower()
        namespace = f"gotpl-{suffix}"
        # A bridge of its own. Never --bridge=none: dockerd then deletes the interface
        # named docker0, which belongs to the machine's daemon.
        self.bridge = f"gotpl{suffix}"[:15]
        subprocess.run(["ip", "link", "add", self.bridge, "type", "bridge"], check=True)
        subprocess.run(["ip", "addr", "add", "10.213.77.1/24", "dev", self.bridge], check=True)
        self.log = (self.root / "dockerd.log").open("wb")
        self.process = subprocess.Popen(
            [
                shutil.which("dockerd") or "dockerd",
                f"--config-file={config}",
                f"--data-root={self.root / 'data'}",
                f"--exec-root={self.root / 'exec'}",
                f"--pidfile={self.root / 'dockerd.pid'}",
                f"--host=unix://{self.socket}",
                f"--containerd-namespace={namespace}",
                f"--containerd-plugins-namespace={namespace}-plugins",
                f"--bridge={self.bridge}",
                "--iptables=false",
                "--ip6tables=false",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while self.docker("info", check=False).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("private dockerd did not start:\n" + self.read_log())
            time.sleep(0.5)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()
        subprocess.run(["ip", "link", "delete", self.bridge], check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def read_log(self) -> str:
        return (self.root / "dockerd.log").read_text(errors="replace")[-3000:]

    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": f"unix://{self.socket}"}

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["docker", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {result.stderr}")
        return result

    def build_with_docker_driver(self, context: Path, cache_to: str) -> BuildResult:
        # The "default" builder of a daemon is its built-in BuildKit: the docker driver.
        command = [
            "docker",
            "buildx",
            "build",
            "--builder",
            "default",
            "--progress=rawjson",
            "--cache-to",
            cache_to,
            str(context),
        ]
        started = time.monotonic()
        result = subprocess.run(
            command, env=self.env(), capture_output=True, text=True, timeout=600, check=False
        )
        return BuildResult(
            command, result.returncode, result.stderr + result.stdout, time.monotonic() - started
        )


@pytest.fixture
def tiny_context(tmp_path: Path) -> Path:
    """A build that needs no base image, so a bare private daemon can run it offline."""
    (tmp_path / "hello.txt").write_text("hello\n")
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /\n")
    return tmp_path


def test_docker_driver_needs_containerd_store(registry: Registry, tiny_context: Path, docker_tier):
    classic_ref = f"{registry.address}/drivers/cache:classic"
    with PrivateDockerd(containerd_store=False) as daemon:
        driver = daemon.docker("buildx", "inspect", "default").stdout
        assert "Driver:" in driver and "docker" in driver.split("Driver:")[1].split()[0]
        refused = daemon.build_with_docker_driver(tiny_context, registry_cache(classic_ref))
    assert refused.returncode != 0, "the classic store exported a cache\n" + refused.report()
    assert "Cache export is not supported for the docker driver" in refused.stream, refused.report()
    assert registry.manifest("drivers/cache", "classic") is None

    store_ref = f"{registry.address}/drivers/cache:containerd"
    with PrivateDockerd(containerd_store=True) as daemon:
        accepted = daemon.build_with_docker_driver(tiny_context, registry_cache(store_ref))
        assert accepted.returncode == 0, (
            accepted.report() + "\n--- dockerd ---\n" + daemon.read_log()
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


def blob(registry: Registry, repository: str, digest: str) -> bytes:
    url = f"http://{registry.address}/v2/{repository}/blobs/{digest}"
    with urllib.request.urlopen(url, timeout=60) as response:
        return response.read()


def manifest_by_digest(registry: Registry, repository: str, digest: str) -> dict:
    request = urllib.request.Request(
        f"http://{registry.address}/v2/{repository}/manifests/{digest}",
        headers={"Accept": MANIFEST_TYPES},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def binary_machine(registry: Registry, repository: str, manifest: dict) -> int:
    """e_machine of /app, read from the image layer that holds it."""
    for layer in reversed(manifest["layers"]):
        with tarfile.open(
            fileobj=io.BytesIO(gzip.decompress(blob(registry, repository, layer["digest"])))
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
        machine = binary_machine(
            registry, repository, manifest_by_digest(registry, repository, digest)
        )
        arch = platform.split("/")[1]
        assert machine == ELF_MACHINE[arch], (
            f"{platform} image holds a binary for e_machine {machine}"
        )
