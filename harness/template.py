"""The template's prompts as data: defaults and choices read from cookiecutter.json,
and the option combinations the tests bake.

Nothing here re-types a default: a test that needs "the default Go version" asks
`default("go_version")`, so changing cookiecutter.json changes every test with it.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from harness.paths import COOKIECUTTER_JSON, REPO_ROOT


@cache
def cookiecutter_json() -> dict[str, Any]:
    return json.loads(COOKIECUTTER_JSON.read_text(encoding="utf-8"))


def prompts() -> dict[str, Any]:
    """The user-facing prompts: every key that is neither private (_) nor templated."""
    return {key: value for key, value in cookiecutter_json().items() if not key.startswith("_")}


def choices(name: str) -> list[str]:
    """The allowed values of a choice prompt, first one being the default."""
    value = cookiecutter_json()[name]
    if not isinstance(value, list):
        raise KeyError(f"{name} is not a choice prompt")
    return list(value)


def default(name: str) -> Any:
    """The value a --no-input bake uses for a prompt that is not a Jinja expression."""
    value = cookiecutter_json()[name]
    if isinstance(value, list):
        return value[0]
    if isinstance(value, str) and "{{" in value:
        raise KeyError(f"{name} is derived from other answers; bake to see its value")
    return value


def pins() -> dict[str, Any]:
    """The exact releases behind the defaults (cookiecutter.json, "_pins")."""
    return cookiecutter_json()["_pins"]


def go_patch(line: str | None = None) -> str:
    """The Go release a line is pinned to (1.27 -> 1.27.4); an unpinned line stays as is."""
    line = line or default("go_version")
    return pins()["go_patch"].get(line, line)


def go_toolchain(line: str | None = None) -> str:
    """GOTOOLCHAIN for checking a project on a Go line: the pinned release (the go command
    fetches it through the module proxy), or the machine's own Go for an unpinned line."""
    line = line or default("go_version")
    return f"go{go_patch(line)}" if line in pins()["go_patch"] else "local"


def go_image(line: str | None = None) -> str:
    return f"golang:{go_patch(line)}"


def runtime_image(tag: str | None = None) -> str:
    return f"gcr.io/distroless/{pins()['distroless']}:{tag or default('runtime_image_tag')}"


def buildkit_image() -> str:
    return f"moby/buildkit:{pins()['buildkit']}"


BASE_IMAGE_ARG_RE = re.compile(r"^ARG (GO_IMAGE|RUNTIME_IMAGE)=(\S+)$", re.MULTILINE)


def bake_defaults(output_dir: Path) -> Path:
    """Generate the default project (what `cookiecutter --no-input` makes) into output_dir
    and return its path; for the benchmark and the recorder, which run outside pytest."""
    from cookiecutter.main import cookiecutter

    return Path(cookiecutter(str(REPO_ROOT), no_input=True, output_dir=str(output_dir)))


def base_image_args(project: Path) -> dict[str, str]:
    """GO_IMAGE and RUNTIME_IMAGE as a baked project's Dockerfile sets them: the build
    args that give another Dockerfile (the common recipe) the very same base images."""
    found = dict(BASE_IMAGE_ARG_RE.findall((project / "Dockerfile").read_text(encoding="utf-8")))
    assert set(found) == {"GO_IMAGE", "RUNTIME_IMAGE"}, f"base image ARGs not found: {found}"
    return found


def other_choice(name: str) -> str:
    """A valid non-default value of a choice prompt."""
    return choices(name)[1]


# Each entry is a set of answers that differ from the defaults. Together they use every
# choice of every choice prompt at least once; the render tests bake each one, and a
# test checks that coverage against cookiecutter.json.
DEFAULTS: dict[str, Any] = {}
COMBINATIONS: list[dict[str, Any]] = [
    DEFAULTS,
    {"builder": "rootless", "cache_strategy": "shared", "attestations": "provenance"},
    {
        "platforms": "linux/amd64,linux/arm64",
        "runtime_image_tag": "latest",
        "builder": "shared",
        "go_private_modules": "gitlab.example.com/team",
    },
    {"use_dependency_proxy": True, "include_explainer": False, "use_renovate": False},
    # The teaching kit (make cache-demo), with each builder it shows.
    {"include_cache_demo": True},
    {"include_cache_demo": True, "builder": "rootless", "include_explainer": False},
    {
        "project_name": "Payments API",
        "go_module_path": "example.org/team/payments",
        "go_version": "1.23",
        "http_port": "9090",
        "docker_version": "27.5.1",
        "default_branch": "release/Stable_2",
        "go_private_modules": "example.org/team,git.example.net/lib",
    },
    {
        "cache_strategy": "shared",
        "platforms": "linux/amd64,linux/arm64",
        "use_dependency_proxy": True,
        "default_branch": "develop",
        "attestations": "provenance+sbom",
        "go_version": "1.26",
        "builder": "rootless",
        "go_private_modules": "gitlab.example.com/group/sub",
    },
]


def combination_id(overrides: dict[str, Any]) -> str:
    """A short readable test id for one combination."""
    if not overrides:
        return "defaults"
    return ",".join(f"{key}={value}" for key, value in overrides.items())
