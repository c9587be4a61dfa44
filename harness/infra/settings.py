"""The testbed's settings file, read in one place by the tiers and the benchmark.

`testbed/testbed.sh up` writes KEY=VALUE lines (default path below): how to create
builders on this machine, whether public images can be pulled, where the stand-in
mirror is. A machine with internet access and its own Docker needs no file.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from harness.template import buildkit_image

DEFAULT_ENV_FILE = Path("/var/lib/gotpl-docker-tier/env")
ENV_FILE_VARIABLE = "GOTPL_DOCKER_TIER_ENV"
# What a builder needs where nothing was set up: reach loopback registries.
ONLINE_CREATE_FLAGS = "--driver docker-container --driver-opt network=host"


def env_file_path() -> Path:
    return Path(os.environ.get(ENV_FILE_VARIABLE, DEFAULT_ENV_FILE))


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and # comments are skipped; values are kept verbatim."""
    settings = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            settings[key] = value
    return settings


@dataclass(frozen=True)
class TierSettings:
    """What the testbed set up, and how to create builders on it."""

    values: dict[str, str] = field(default_factory=dict)
    source: Path | None = None  # the env file, or None where defaults are used

    @classmethod
    def load(cls, *, require_file: bool = False) -> TierSettings:
        path = env_file_path()
        if path.is_file():
            return cls(parse_env_file(path.read_text(encoding="utf-8")), path)
        if require_file:
            raise FileNotFoundError(f"{path} is missing")
        return cls({"GOTPL_BUILDX_CREATE_FLAGS": ONLINE_CREATE_FLAGS})

    def get(self, key: str, default: str = "") -> str:
        return self.values.get(key, default)

    @property
    def create_flags(self) -> tuple[str, ...]:
        """`docker buildx create` flags: driver, network, the BuildKit config, and the
        BuildKit image the generated pipeline pins (unless the settings name one)."""
        flags = shlex.split(self.get("GOTPL_BUILDX_CREATE_FLAGS", ONLINE_CREATE_FLAGS))
        if not any(flag.startswith("image=") for flag in flags):
            flags += ["--driver-opt", f"image={buildkit_image()}"]
        return tuple(flags)

    @property
    def offline(self) -> bool:
        return self.get("GOTPL_OFFLINE") == "1"

    @property
    def buildkitd_config(self) -> str:
        return self.get("GOTPL_BUILDKITD_CONFIG")

    @property
    def buildkit_image(self) -> str:
        return self.get("GOTPL_BUILDKIT_IMAGE")

    @property
    def mirror(self) -> str:
        return self.get("GOTPL_MIRROR")

    def export_testcontainers(self) -> None:
        """testcontainers reads its settings from the environment when first imported."""
        for key, value in self.values.items():
            if key.startswith("TESTCONTAINERS_"):
                os.environ[key] = value


def engine_problem() -> str | None:
    """Why no Docker engine with buildx can be used here, or None when one can."""
    if not shutil.which("docker"):
        return "the docker CLI is not installed"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if info.returncode != 0:
        return f"no Docker engine answers ({info.stderr.strip()[:200]})"
    buildx = subprocess.run(
        ["docker", "buildx", "version"], capture_output=True, text=True, check=False
    )
    if buildx.returncode != 0:
        return "the buildx plugin is missing"
    return None
