"""A local Go module proxy, so that a build (benchmark or test) fetches modules offline.

The host fills a private module cache through the go command's own configured proxy;
its `cache/download` directory already has the GOPROXY layout (`<module>/@v/<v>.zip`,
`.mod`, `.info`, `list`), so serving it over plain HTTP on 127.0.0.1 is a module proxy.
A builder created with `--driver-opt network=host` runs its RUN steps in the host's
network namespace, so `GOPROXY=http://127.0.0.1:<port>` reaches it. Every request is
recorded: the log proves where the build's modules came from.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from harness.template import go_toolchain


@dataclass(frozen=True)
class Fetch:
    path: str
    status: int


def fill_module_cache(module_dir: Path, cache_dir: Path) -> None:
    """Download what the module at module_dir needs into cache_dir, on the host.

    The go command runs on a scratch copy of go.mod and go.sum, read-only, so the build
    context stays exactly as committed. `go mod download` fetches what the in-build
    `go mod download` will ask for; `go list -m all` adds the version info files that
    the dependency warm-up's `go list -m` reads.
    """
    env = {**os.environ, "GOMODCACHE": str(cache_dir), "GOFLAGS": "-mod=readonly"}
    with tempfile.TemporaryDirectory(prefix="gotpl-mod-") as scratch:
        for name in ("go.mod", "go.sum"):
            shutil.copy2(module_dir / name, Path(scratch) / name)
        for args in (["mod", "download"], ["list", "-m", "all"]):
            result = subprocess.run(
                ["go", *args], cwd=scratch, env=env, capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                raise RuntimeError(f"go {' '.join(args)} failed:\n{result.stderr}")


def go_get(project: Path, module: str, version: str, env: dict[str, str] | None = None) -> None:
    """`go get module@version` in `project` on the host, so go.mod and go.sum are what the
    go command leaves; the pinned toolchain from the host's own module cache. `env`
    adds to the environment (say, where a private module's credentials are)."""
    environment = {
        **os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": go_toolchain(), **(env or {}),
    }  # fmt: skip
    result = subprocess.run(
        ["go", "get", f"{module}@{version}"],
        cwd=project, env=environment, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"go get {module}@{version} failed:\n{result.stderr}")


class ModuleProxy:
    """Serves <cache_dir>/cache/download on <host>:<free port> until closed. The host is
    loopback unless a caller names another address of this machine (say, the gateway of
    a docker network the test made, which that network's containers reach)."""

    def __init__(self, cache_dir: Path, host: str = "127.0.0.1") -> None:
        self.root = cache_dir / "cache" / "download"
        self.fetches: list[Fetch] = []
        # More module caches served behind the first one (`add_cache`), in order.
        self.more_roots: list[Path] = []
        lock = threading.Lock()
        fetches = self.fetches
        more_roots = self.more_roots

        class Handler(SimpleHTTPRequestHandler):
            def translate_path(self, path: str) -> str:
                # The first cache that has the file answers; the base class keeps
                # every path inside the directory it is given.
                first = super().translate_path(path)
                if os.path.exists(first):
                    return first
                own = self.directory
                try:
                    for root in more_roots:
                        self.directory = str(root)
                        found = super().translate_path(path)
                        if os.path.exists(found):
                            return found
                finally:
                    self.directory = own
                return first

            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                with lock:
                    fetches.append(Fetch(self.path, int(code) if str(code).isdigit() else 0))

            def log_message(self, format: str, *args: object) -> None:
                pass  # requests are recorded above; nothing goes to stderr

        handler = functools.partial(Handler, directory=str(self.root))
        self.server = ThreadingHTTPServer((host, 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> ModuleProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_cache(self, cache_dir: Path) -> None:
        """Serve another module cache too (say, of a go.sum after a dependency bump);
        a file the first cache has is still served from the first cache."""
        self.more_roots.append(cache_dir / "cache" / "download")

    def summary(self) -> tuple[int, int, list[str]]:
        """(requests answered 200, requests answered otherwise, the zip files served)."""
        ok = [f for f in self.fetches if f.status == 200]
        zips = sorted({f.path for f in ok if f.path.endswith(".zip")})
        return len(ok), len(self.fetches) - len(ok), zips
