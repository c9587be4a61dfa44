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


@dataclass(frozen=True)
class Fetch:
    path: str
    status: int


def fill_module_cache(module_dir: Path, cache_dir: Path) -> None:
    """Download what the module at module_dir needs into cache_dir, on the host.

    The go command runs on a scratch copy of go.mod and go.sum, read-only, so the build
    context stays exactly as committed. `go mod download` fetches what the in-build
    `go mod download` will ask for; `go list -m all` adds the version info files that
    the warm-up step's `go list -m` reads.
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


class ModuleProxy:
    """Serves <cache_dir>/cache/download on 127.0.0.1:<free port> until closed."""

    def __init__(self, cache_dir: Path) -> None:
        self.root = cache_dir / "cache" / "download"
        self.fetches: list[Fetch] = []
        lock = threading.Lock()
        fetches = self.fetches

        class Handler(SimpleHTTPRequestHandler):
            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                with lock:
                    fetches.append(Fetch(self.path, int(code) if str(code).isdigit() else 0))

            def log_message(self, format: str, *args: object) -> None:
                pass  # requests are recorded above; nothing goes to stderr

        handler = functools.partial(Handler, directory=str(self.root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> ModuleProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def summary(self) -> tuple[int, int, list[str]]:
        """(requests answered 200, requests answered otherwise, the zip files served)."""
        ok = [f for f in self.fetches if f.status == 200]
        zips = sorted({f.path for f in ok if f.path.endswith(".zip")})
        return len(ok), len(self.fetches) - len(ok), zips
