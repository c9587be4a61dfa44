"""The option combinations the template supports, kept as data.

Each entry is a set of answers that differ from the defaults. Together they use every
choice of every prompt at least once; the tests bake each one.
"""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {}

COMBINATIONS: list[dict[str, Any]] = [
    DEFAULTS,
    {"cache_strategy": "shared"},
    {"platforms": "linux/amd64,linux/arm64", "runtime_image_tag": "latest"},
    {"use_dependency_proxy": True, "include_explainer": False},
    {
        "project_name": "Payments API",
        "go_module_path": "example.org/team/payments",
        "go_version": "1.23",
        "http_port": "9090",
        "docker_version": "27.5.1",
        "default_branch": "release/Stable_2",
    },
    {
        "cache_strategy": "shared",
        "platforms": "linux/amd64,linux/arm64",
        "use_dependency_proxy": True,
        "default_branch": "develop",
    },
]


def combination_id(overrides: dict[str, Any]) -> str:
    """A short readable test id for one combination."""
    if not overrides:
        return "defaults"
    return ",".join(f"{key}={value}" for key, value in overrides.items())
