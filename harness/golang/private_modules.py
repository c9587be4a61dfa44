"""The test world of the go_private_modules prompt: a service that imports a private
module, the HTTPS git server that holds it, and a Go image that can fetch it.

`PrivateModules(workdir, registry, base_go_image, new_builder)` is used as a context:
- `server`: the private module on https://127.0.0.1 (harness.infra.git_server), which
  wants Basic credentials; `server.tokens` holds the passwords it takes;
- `proxy`: an empty module proxy that records every request (harness.golang.modproxy).
  The Go image names it as GOPROXY, so its log shows that the private module never
  went through a proxy;
- `go_image`: the Go image pushed to `registry`. The official golang image (Debian)
  has git and trusts the public CAs that a GitLab's certificate chains to. The small
  stand-in has neither, so this image adds this machine's git (the binary, its HTTPS
  helper and the libraries they load) and a CA bundle that also holds the test CA;
- `overlay(project)`: the project with `private.go` importing the module, and go.mod
  and go.sum as `go get` leaves them (run on the host, against the same server).
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from harness.builders.buildx import Builder
from harness.builders.rootless import RootlessJob
from harness.golang.modproxy import ModuleProxy, go_get
from harness.infra.git_server import VERSION, PrivateGitServer
from harness.infra.registry import Registry
from harness.infra.tls import TestCA

USER = "gitlab-ci-token"  # what GitLab's job token authenticates as
SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
GIT_FILES = (Path("/usr/bin/git"), Path("/usr/lib/git-core/git-remote-http"))
PRIVATE_GO = """package main

import lib "{module}"

// Built into the service so that the private module is a real dependency.
var privateGreeting = lib.Greeting
"""


def netrc_text(host: str, user: str, token: str) -> str:
    return f"machine {host}\nlogin {user}\npassword {token}\n"


def shared_libraries(binaries: tuple[Path, ...]) -> list[Path]:
    """The libraries `ldd` says these binaries load, the dynamic loader included."""
    found: set[Path] = set()
    for binary in binaries:
        listing = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True)
        for line in listing.stdout.splitlines():
            parts = line.split()
            if "=>" in parts and len(parts) > parts.index("=>") + 1:
                target = parts[parts.index("=>") + 1]
                if target.startswith("/"):
                    found.add(Path(target))
            elif parts and parts[0].startswith("/"):
                found.add(Path(parts[0]))
    return sorted(found)


def copy_into(root: Path, path: Path) -> None:
    """Copy the file `path` names (following symlinks) to the same path under `root`."""
    target = root / path.relative_to("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        shutil.copy2(path, target)


class PrivateModules:
    def __init__(
        self,
        workdir: Path,
        registry: Registry,
        base_go_image: str,
        new_builder: Callable[[], Builder],
    ) -> None:
        self.workdir = workdir
        self.registry = registry
        self.base_go_image = base_go_image
        self.new_builder = new_builder
        self.ca = TestCA(workdir / "ca")
        self.bundle = workdir / "ca-bundle.pem"
        self.bundle.write_bytes(SYSTEM_BUNDLE.read_bytes() + self.ca.cert.read_bytes())
        self.server = PrivateGitServer(workdir / "git", self.ca, USER, set())
        empty = workdir / "empty-module-cache"
        (empty / "cache" / "download").mkdir(parents=True)
        self.proxy = ModuleProxy(empty)
        self.go_image = f"{registry.address}/private/golang:{base_go_image.split(':')[-1]}"

    def __enter__(self) -> PrivateModules:
        self.proxy.__enter__()
        try:
            self.server.__enter__()
            self._push_go_image()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if getattr(self.server, "_server", None):
            self.server.__exit__()
        self.proxy.__exit__()

    def netrc(self, token: str, name: str = "netrc") -> Path:
        """A .netrc file for the server with `token`, which the server then takes."""
        self.server.tokens.add(token)
        path = self.workdir / name
        path.write_text(netrc_text(self.server.module.split("/")[0], USER, token), "utf-8")
        path.chmod(0o600)
        return path

    def _push_go_image(self) -> None:
        context = self.workdir / "go-image"
        root = context / "rootfs"
        for path in (*GIT_FILES, *shared_libraries(GIT_FILES)):
            copy_into(root, path)
        (root / "usr/lib/git-core/git-remote-https").symlink_to("git-remote-http")
        bundle = root / "etc/ssl/certs/ca-certificates.crt"
        bundle.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.bundle, bundle)
        (context / "Dockerfile").write_text(
            f"ARG BASE\nFROM ${{BASE}}\nCOPY rootfs/ /\nENV GOPROXY={self.proxy.url}\n",
            encoding="utf-8",
        )
        builder = self.new_builder()
        try:
            builder.build(
                context, tags=[self.go_image], push=True, build_args={"BASE": self.base_go_image}
            ).assert_ok()
        finally:
            builder.remove()

    def overlay(self, project: Path) -> Path:
        """`project`, importing the private module (edited in place)."""
        module = self.server.module
        (project / "private.go").write_text(PRIVATE_GO.format(module=module), encoding="utf-8")
        home = self.workdir / "host-home"
        home.mkdir(exist_ok=True)
        netrc = home / ".netrc"
        netrc.write_text(netrc_text(module.split("/")[0], USER, "host-token"), "utf-8")
        netrc.chmod(0o600)
        self.server.tokens.add("host-token")
        go_get(
            project, module, VERSION,
            {
                "HOME": str(home),  # git reads $HOME/.netrc; the go command does as well
                "SSL_CERT_FILE": str(self.bundle),
                "GIT_SSL_CAINFO": str(self.bundle),
                "GOPRIVATE": self.server.prefix,
            },
        )  # fmt: skip
        self.server.tokens.discard("host-token")
        return project


def places_holding(registry: Registry, repository: str, reference: str, needle: bytes) -> list[str]:
    """Every blob behind repository:reference (index, manifests, configs, layers, and so
    the attestations and a cache image's records too) whose bytes, uncompressed, hold
    `needle`: where a secret leaked, or [] when it did not."""
    found = registry.manifest(repository, reference)
    assert found is not None, f"{repository}:{reference} is not in the registry"
    digest, manifest = found
    places = [f"manifest {digest}"] if needle in json.dumps(manifest).encode() else []
    for entry in manifest.get("manifests", []):
        places += places_holding(registry, repository, entry["digest"], needle)
    for blob in [manifest.get("config"), *manifest.get("layers", [])]:
        if not blob:
            continue
        data = registry.blob(repository, blob["digest"])
        kind = blob.get("mediaType", "")
        assert "zstd" not in kind, f"{kind}: a zstd layer needs a reader here"
        if kind.endswith("gzip"):
            data = gzip.decompress(data)
        if needle in data:
            places.append(f"{kind} {blob['digest']}")
    return places


class GoTestJob(RootlessJob):
    """The generated go-test job, run the way the Docker tier runs every job
    (RootlessJob.run): its before_script and script in its image (GO_IMAGE, which a test
    overrides with `go_image`), as that image's user, on the host's network."""

    def __init__(self, project: Path, registry: Registry, settings) -> None:
        super().__init__(project, registry, settings, job_name="go-test")

    def container_options(self, runner_settings) -> list[str]:
        return []
