"""ONE reader of the generated `.gitlab-ci.yml`: every test and every part of the
harness that needs the CI file reads it here, as data.

- `CiFile.of(project)`: a baked project's CI file; `config` is the parsed YAML, and
  `variables`, `workflow_rules`, `stages`, `job(name)` and `build_job` name its parts.
- `Job`: one job: `image`, `images()` (the job's and its services', expanded),
  `before_script`, `script`, `lines()`, `variables`, `rules`, `rule(kind)` (the rule
  GitLab picks for a default-branch, other-branch or tag pipeline, by `RULE_IFS`),
  `attestation_flags()` and `cache_refs(kind, ...)`.
- `cache_to_options()`: the `--cache-to` options of the build job, read from the
  template itself (the line holds no template syntax), e.g. "mode=max,image-manifest=...".
- `expand` and `resolve`: GitLab's `$NAME` expansion of variable values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import yaml

from harness.paths import PARTIALS_DIR, TEMPLATE_DIR

CI_FILE = ".gitlab-ci.yml"
BUILD_JOB = "build-image"
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


def _strings(mapping: Mapping[str, Any] | None) -> dict[str, str]:
    """Variable values as GitLab sees them: text, an empty value as ""."""
    return {key: "" if value is None else str(value) for key, value in (mapping or {}).items()}


@cache
def cache_to_options() -> str:
    """The options the pipeline passes after the cache ref, as the template writes them
    (in the CI file and the builders' partials, which must all agree)."""
    sources = [TEMPLATE_DIR / CI_FILE, *sorted((PARTIALS_DIR / "ci").glob("*.yml"))]
    text = "".join(path.read_text(encoding="utf-8") for path in sources)
    (options,) = {match["options"] for match in CACHE_TO_RE.finditer(text)}
    return options


@dataclass(frozen=True)
class CacheRefs:
    """What one pipeline reads (in order) and writes; "" means none."""

    read: tuple[str, ...]
    write: str


class CiFile:
    """A `.gitlab-ci.yml`, parsed once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.config: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))

    @classmethod
    def of(cls, project: Path) -> CiFile:
        """The CI file of a baked project."""
        return cls(project / CI_FILE)

    @cached_property
    def variables(self) -> dict[str, str]:
        """The file's global variables, as written (values as strings)."""
        return _strings(self.config.get("variables"))

    @property
    def workflow_rules(self) -> list[dict[str, Any]]:
        return self.config["workflow"]["rules"]

    @property
    def stages(self) -> list[str]:
        return self.config["stages"]

    def job(self, name: str) -> Job:
        return Job(self, name, self.config[name])

    @property
    def build_job(self) -> Job:
        return self.job(BUILD_JOB)


class Job:
    """One job of a CI file; `spec` is its mapping as parsed."""

    def __init__(self, ci: CiFile, name: str, spec: dict[str, Any]) -> None:
        self.ci = ci
        self.name = name
        self.spec = spec

    @property
    def image(self) -> str:
        """The image as written (the `name:` of a mapping), "" without one."""
        image = self.spec.get("image") or ""
        return image["name"] if isinstance(image, dict) else image

    def image_names(self) -> list[str]:
        """The job's image and its services' images, as the file writes them."""
        names = [self.image] if self.image else []
        for service in self.spec.get("services") or []:
            names.append(service["name"] if isinstance(service, dict) else service)
        return names

    def images(self) -> list[str]:
        """The job's image and its services' images, with the file's global variables
        expanded (enough for `${NAME}` and `$NAME` references)."""
        values = resolve(self.ci.variables)
        return [expand(name, values) for name in self.image_names()]

    @property
    def before_script(self) -> list[str]:
        return list(self.spec.get("before_script", []))

    @property
    def script(self) -> list[str]:
        return list(self.spec["script"])

    def lines(self, *, with_before_script: bool = True) -> list[str]:
        """What the job's shell runs: before_script (unless told not to), then script."""
        return (self.before_script if with_before_script else []) + self.script

    @property
    def variables(self) -> dict[str, str]:
        """The job's own variables (values as strings)."""
        return _strings(self.spec.get("variables"))

    @property
    def rules(self) -> list[dict[str, Any]]:
        return self.spec["rules"]

    def rule_if(self, condition: str) -> dict[str, Any]:
        """The one rule whose `if:` is `condition`."""
        (rule,) = [rule for rule in self.rules if rule.get("if") == condition]
        return rule

    def rule(self, kind: str) -> dict[str, Any]:
        """The rule of a "default", "branch" or "tag" pipeline (RULE_IFS)."""
        return self.rule_if(RULE_IFS[kind])

    def rule_variables(self, kind: str) -> dict[str, str]:
        return _strings(self.rule(kind).get("variables"))

    def attestation_flags(self) -> list[str]:
        """The --provenance and --sbom flags, exactly as the job passes them."""
        return re.findall(r"--(?:provenance|sbom)=\S+", "\n".join(self.script))

    def export_flags(self) -> list[str]:
        """How the buildx job pushes: `--push`, or its `--output` flag (the value
        unquoted), exactly as the script writes them."""
        flags = re.findall(r'--push\b|--output (?:"[^"]+"|\S+)', "\n".join(self.script))
        return [flag.replace('"', "").replace("--output ", "--output=") for flag in flags]

    def cache_refs(self, kind: str, repository: str, ref_slug: str = "") -> CacheRefs:
        """The rule's cache refs with GitLab's variables filled in: `repository` is where
        $CACHE_REPOSITORY points, `ref_slug` is CI_COMMIT_REF_SLUG."""
        values = {
            **self.ci.variables,
            "CACHE_REPOSITORY": repository,
            "CI_COMMIT_REF_SLUG": ref_slug,
        }
        variables = self.rule_variables(kind)
        read = [variables["CACHE_FROM_REF"], variables["CACHE_FALLBACK_REF"]]
        return CacheRefs(
            tuple(expand(ref, values) for ref in read if ref),
            expand(variables["CACHE_TO_REF"], values),
        )
