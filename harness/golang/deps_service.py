"""The deps service: the default project with real third-party modules, built offline.

The baked default project uses the standard library only, so its dependency steps
have nothing to do. `DepsService` lays `recipes/deps-service/` over a copy of it
(`deps.go` importing chi, uuid, zerolog, x/text and yaml.v3, with go.mod and go.sum),
fills a module cache for exactly that go.sum on the host (through the go command's
usual proxy), serves it on 127.0.0.1 (`ModuleProxy`), and pushes a Go image that
points at it (`GOPROXY=<that proxy>`, no `direct` fallback, `GOSUMDB=off`; go.sum still
verifies every module). The template's Dockerfile takes that image as `GO_IMAGE`; the
builders run with network=host, so their RUN steps reach the proxy.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from harness.builders.buildx import Builder
from harness.golang.modproxy import ModuleProxy, fill_module_cache, go_get
from harness.infra.registry import Registry
from harness.paths import RECIPES
from harness.template import base_image_args

OVERLAY = RECIPES / "deps-service"
MODULE_CACHES = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gotpl-deps"
# The benchmark's dependency bump: one direct dependency of the overlay's go.mod moved
# to its next release (`DepsService.bumped`).
DEPENDENCY_BUMP = ("golang.org/x/text", "v0.35.0")


class DepsService:
    """Use as a context manager; `base` is the project, `build_args` its base images."""

    def __init__(
        self,
        baked: Path,
        workdir: Path,
        registry: Registry,
        new_builder: Callable[[], Builder],
        log: Callable[[str], None] = lambda message: None,
        go_image: str | None = None,
    ) -> None:
        self.base = workdir / "base" / baked.name
        shutil.copytree(baked, self.base)
        for path in OVERLAY.iterdir():
            shutil.copy2(path, self.base / path.name)
        self.workdir = workdir
        self.registry = registry
        self.new_builder = new_builder
        self.log = log
        # The Go image the proxy image is made from: the template's unless one is given.
        self.base_go_image = go_image
        # One cache per go.sum: it holds what this module needs and nothing more.
        go_sum = hashlib.sha256((self.base / "go.sum").read_bytes()).hexdigest()[:12]
        self.cache_dir = MODULE_CACHES / f"gomodcache-{go_sum}"
        self.proxy: ModuleProxy | None = None
        self.go_image = ""
        self.go_image_dockerfile = ""

    def __enter__(self) -> DepsService:
        self.log(f"deps: filling the module cache {self.cache_dir} through the go command")
        fill_module_cache(self.base, self.cache_dir)
        self.proxy = ModuleProxy(self.cache_dir).__enter__()
        try:
            self._push_go_image()
        except BaseException:
            self.proxy.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.proxy:
            self.proxy.__exit__()

    def _push_go_image(self) -> None:
        assert self.proxy is not None
        template_go = self.base_go_image or base_image_args(self.base)["GO_IMAGE"]
        self.go_image = f"{self.registry.address}/deps/golang:{template_go.split(':')[-1]}"
        context = self.workdir / "go-image"
        context.mkdir(parents=True)
        # GOSUMDB=off: nothing may leave the machine; go.sum still verifies every module.
        self.go_image_dockerfile = (
            f"ARG BASE\nFROM ${{BASE}}\nENV GOPROXY={self.proxy.url} GOSUMDB=off\n"
        )
        (context / "Dockerfile").write_text(self.go_image_dockerfile, encoding="utf-8")
        builder = self.new_builder()
        try:
            builder.build(
                context, tags=[self.go_image], push=True, build_args={"BASE": template_go}
            ).assert_ok()
        finally:
            builder.remove()

    @property
    def build_args(self) -> dict[str, str]:
        """The base images for either Dockerfile: the template's, Go through the proxy."""
        return {**base_image_args(self.base), "GO_IMAGE": self.go_image}

    def bumped(self, target: Path, module: str, version: str) -> Path:
        """A copy of the project at target with one module moved to another version:
        go.mod and go.sum as `go get module@version` leaves them (the go command runs
        on the host, through its usual proxy, like `fill_module_cache`). The new
        go.sum's modules get a cache of their own, which the running proxy serves too."""
        assert self.proxy is not None, "use bumped() inside the with block"
        shutil.copytree(self.base, target)
        go_get(target, module, version)
        go_sum = hashlib.sha256((target / "go.sum").read_bytes()).hexdigest()[:12]
        cache_dir = MODULE_CACHES / f"gomodcache-{go_sum}"
        self.log(f"deps: {module} {version}: filling the module cache {cache_dir}")
        fill_module_cache(target, cache_dir)
        self.proxy.add_cache(cache_dir)
        return target
