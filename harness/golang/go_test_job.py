"""What a run of the generated `go-test` job did with Go's caches, read from evidence.

Two sources, neither of them a clock:
- `GoTrace`: the job's log with `GOFLAGS=-x`, under which the go command prints each
  request to a module proxy (`# get <url>`, once before and once with the answer) and
  each tool it runs. A `compile ... -p <import path>` line is a package compiled in this
  job; a package found in the build cache prints nothing.
- `saved_caches` and `files_of`: the job caches gitlab-ci-local 4.70.0 keeps for a
  state folder, `<state>/cache/<key>/`. After a job whose policy pushes, its helper image
  copies the cache paths there (`rsync -Ra` inside the job's volume, then `docker cp`
  out); before the next run of a job with the same key and a policy that pulls, it
  copies that folder back into the project directory (`docker cp`). Its key for
  `key: {files: [...], prefix: P}` is `<index>_P-<checksum of the files>`, not GitLab's.

`DepsModules` is the deps service's modules (harness.golang.deps_service) for a job container: a
module cache filled on the host through the go command's usual proxy, served by a
`ModuleProxy` on the gateway address of a docker network the test made.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.golang.deps_service import MODULE_CACHES, OVERLAY
from harness.golang.modproxy import Fetch, ModuleProxy, fill_module_cache

# `# get https://proxy/path` (request) and `# get https://proxy/path: 200 OK (0.01s)`.
_GET = re.compile(r"# get (\S+)")
# The compiler's command line: `.../pkg/tool/<os_arch>/compile -o ... -p <path> ...`.
_COMPILE = re.compile(r"/compile\s.*?\s-p\s+(\S+)")


@dataclass(frozen=True)
class GoTrace:
    """The module requests and compiled packages of a job log written with GOFLAGS=-x."""

    gets: frozenset[str]
    compiled: frozenset[str]
    std: frozenset[str]  # the compiled packages that are the standard library's (-std)

    @classmethod
    def read(cls, log: str) -> GoTrace:
        gets: set[str] = set()
        compiled: set[str] = set()
        std: set[str] = set()
        for line in log.splitlines():
            get = _GET.search(line)
            if get:
                gets.add(get.group(1).rstrip(":"))
            compile_ = _COMPILE.search(line)
            if compile_:
                compiled.add(compile_.group(1))
                if " -std " in line:
                    std.add(compile_.group(1))
        return cls(frozenset(gets), frozenset(compiled), frozenset(std))

    def from_modules(self, modules: list[str]) -> set[str]:
        """The compiled packages that belong to any of these module paths."""
        return packages_of(self.compiled, modules)


def packages_of(packages: frozenset[str] | set[str], modules: list[str]) -> set[str]:
    """The import paths among `packages` at or under one of these module paths, element by
    element (a module nested in another's tree is not told apart; none is here)."""
    return {p for p in packages for m in modules if p == m or p.startswith(m + "/")}


def escape_module_path(path: str) -> str:
    """A module path as module proxies spell it: each upper-case letter becomes "!" and
    its lower-case form (golang.org/x/mod/module, EscapePath)."""
    return re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), path)


@dataclass(frozen=True)
class Requirement:
    path: str
    version: str
    indirect: bool

    @property
    def zip(self) -> str:
        """The proxy path of the module's zip, as the go command requests it."""
        return f"{escape_module_path(self.path)}/@v/{self.version}.zip"


@dataclass(frozen=True)
class GoMod:
    module: str
    requires: tuple[Requirement, ...]

    @classmethod
    def read(cls, project: Path) -> GoMod:
        """go.mod as `go mod edit -json` reads it (the go command's own parser)."""
        result = subprocess.run(
            ["go", "mod", "edit", "-json"], cwd=project, capture_output=True, text=True,
            check=False,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"go mod edit -json in {project} failed:\n{result.stderr}")
        data = json.loads(result.stdout)
        requires = tuple(
            Requirement(r["Path"], r["Version"], bool(r.get("Indirect")))
            for r in data.get("Require") or []
        )
        return cls(data["Module"]["Path"], requires)

    @property
    def direct(self) -> list[Requirement]:
        return [r for r in self.requires if not r.indirect]


def lay_deps_overlay(project: Path) -> None:
    """Put the deps service's files (deps.go, go.mod, go.sum) into a baked project."""
    for path in OVERLAY.iterdir():
        shutil.copy2(path, project / path.name)


class DepsModules:
    """The modules a project's go.sum names, served to containers on one docker network.

    Why the gateway: the job container reaches the host's address on its own network
    directly (no published port), the proxy stays the harness's `ModuleProxy`, which
    records every request in this process, and no image needs an HTTP server of its own.
    It listens on that one address, which only this machine and its containers route to.
    Use as a context manager.
    """

    def __init__(self, project: Path, gateway: str) -> None:
        self.project = project
        digest = hashlib.sha256((project / "go.sum").read_bytes()).hexdigest()[:12]
        # The same folder harness.golang.deps_service uses for this go.sum, so either fills it once.
        self.cache_dir = MODULE_CACHES / f"gomodcache-{digest}"
        self.gateway = gateway
        self.proxy: ModuleProxy | None = None

    def __enter__(self) -> DepsModules:
        fill_module_cache(self.project, self.cache_dir)
        self.proxy = ModuleProxy(self.cache_dir, host=self.gateway).__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.proxy:
            self.proxy.__exit__()

    @property
    def url(self) -> str:
        assert self.proxy is not None, "use DepsModules as a context manager"
        return self.proxy.url

    def fetches_since(self, mark: int) -> list[Fetch]:
        """The requests answered after `mark` (a length of `proxy.fetches` taken before)."""
        assert self.proxy is not None, "use DepsModules as a context manager"
        return list(self.proxy.fetches[mark:])

    def mark(self) -> int:
        assert self.proxy is not None, "use DepsModules as a context manager"
        return len(self.proxy.fetches)


def saved_caches(state: Path) -> dict[str, Path]:
    """The job caches gitlab-ci-local keeps in a state folder, by key."""
    root = state / "cache"
    if not root.is_dir():
        return {}
    return {p.name: p for p in sorted(root.iterdir()) if p.is_dir()}


def files_of(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under a folder: relative path -> (size, modification time in ns)."""
    found = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            stat = path.stat()
            found[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return found
