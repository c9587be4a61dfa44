"""The generated `.gitlab-ci.yml`, read as data, so the Docker tier builds with the
flags and cache refs users run instead of hand copies of them.

- `cache_to_options()`: the `--cache-to` options of the build job, read from the
  template itself (the line holds no template syntax), e.g. "mode=max,image-manifest=...".
- `BuildJob(project)`: a baked project's build job; `cache_refs(kind, ...)` evaluates the
  rule GitLab would pick for a default-branch, other-branch or tag pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from harness.paths import TEMPLATE_DIR

# buildx writes --cache-to, buildctl (the rootless builder) --export-cache.
CACHE_TO_RE = re.compile(
    r'--(?:cache-to|export-cache) "type=registry,ref=\$CACHE_TO_REF,(?P<options>[^"]+)"'
)
# `$NAME` or `${NAME}` in a variable's value, as GitLab expands them.
VARIABLE_RE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
# The `if:` of each build-job rule, by the kind of pipeline it serves.
RULE_IFS = {
    "tag": "$CI_COMMIT_TAG",
    "default": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH",
    "branch": '$CI_COMMIT_BRANCH || $CI_PIPELINE_SOURCE == "merge_request_event"',
}


def expand(text: str, values: Mapping[str, str]) -> str:
    """One pass of GitLab's expansion: known `$NAME` and `${NAME}` replaced, unknown
    names left as written."""
    return VARIABLE_RE.sub(lambda m: values.get(m[1] or m[2], m[0]), text)


def resolve(variables: Mapping[str, str]) -> dict[str, str]:
    """Variables whose values name other variables, expanded until nothing changes (a
    variable may name one that names a third, as GO_IMAGE names IMAGE_PREFIX)."""
    values = dict(variables)
    for _ in range(10):
        changed = False
        for key, value in values.items():
            new = expand(value, values)
            if new != value:
                values[key], changed = new, True
        if not changed:
            return values
    raise AssertionError(f"variables refer to each other in a loop: {variables}")


@cache
def cache_to_options() -> str:
    """The options the pipeline passes after the cache ref, as the template writes them."""
    text = (TEMPLATE_DIR / ".gitlab-ci.yml").read_text(encoding="utf-8")
    (options,) = {match["options"] for match in CACHE_TO_RE.finditer(text)}
    return options


@dataclass(frozen=True)
class CacheRefs:
    """What one pipeline reads (in order) and writes; "" means none."""

    read: tuple[str, ...]
    write: str


class BuildJob:
    """The `build-image` job of a baked project."""

    def __init__(self, project: Path) -> None:
        self.config = yaml.safe_load((project / ".gitlab-ci.yml").read_text(encoding="utf-8"))
        self.job = self.config["build-image"]

    def script(self) -> str:
        return "\n".join(self.job["script"])

    def attestation_flags(self) -> list[str]:
        """The --provenance and --sbom flags, exactly as the job passes them."""
        return re.findall(r"--(?:provenance|sbom)=\S+", self.script())

    def export_flags(self) -> list[str]:
        """How the buildx job pushes: `--push`, or its `--output` flag (the value
        unquoted), exactly as the script writes them."""
        flags = re.findall(r'--push\b|--output (?:"[^"]+"|\S+)', self.script())
        return [flag.replace('"', "").replace("--output ", "--output=") for flag in flags]

    def platforms(self) -> str:
        return str(self.config["variables"]["PLATFORMS"])

    def rule_variables(self, kind: str) -> dict[str, str]:
        (rule,) = [rule for rule in self.job["rules"] if rule["if"] == RULE_IFS[kind]]
        return rule["variables"]

    def cache_refs(self, kind: str, repository: str, ref_slug: str = "") -> CacheRefs:
        """The rule's cache refs with GitLab's variables filled in: `repository` is where
        $CACHE_REPOSITORY points, `ref_slug` is CI_COMMIT_REF_SLUG."""
        values = {
            **{k: str(v) for k, v in self.config["variables"].items()},
            "CACHE_REPOSITORY": repository,
            "CI_COMMIT_REF_SLUG": ref_slug,
        }

        variables = self.rule_variables(kind)
        read = [variables["CACHE_FROM_REF"], variables["CACHE_FALLBACK_REF"]]
        return CacheRefs(
            tuple(expand(ref, values) for ref in read if ref),
            expand(variables["CACHE_TO_REF"], values),
        )
