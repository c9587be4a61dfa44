"""Validate every answer before cookiecutter writes a single project file.

Cookiecutter renders this file with Jinja, then runs it. The answers arrive through
one `tojson` expression inside a raw string, so whatever a user typed (quotes,
backslashes, `$(...)`, template syntax) reaches this code only as data. Unrendered,
the file is plain Python: the tests import it and call `validate()` directly.

A failed check prints one message per problem (field, value, reason, fix) and exits
non-zero; cookiecutter then removes the half-made project directory.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

# Filled in by cookiecutter. Before rendering it is just a string that is never parsed.
ANSWERS_JSON = r"""{{ cookiecutter | tojson }}"""

PROJECT_NAME_MAX = 100
SLUG_MAX = 63  # a DNS label, GitLab's own slug length and a safe image-name part
SLUG_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# A module path: slash-separated elements of letters, digits and . _ ~ -; the first
# element (usually a host) is lower case. Go's own rules are stricter in corners that
# this does not reach, so the checks below add the ones users actually trip over.
MODULE_ELEMENT_RE = re.compile(r"[A-Za-z0-9._~-]+")
MODULE_FIRST_ELEMENT_RE = re.compile(r"[a-z0-9.-]+")
GO_VERSION_RE = re.compile(r"1\.(\d+)")
GO_MIN_MINOR = 22  # method-and-path routing patterns in net/http arrived in Go 1.22
DOCKER_VERSION_RE = re.compile(r"(\d+)\.(\d+)\.(\d+)")
DOCKER_MIN_MAJOR = 24  # the docker:<ver> images ship buildx from here on
PORT_MIN, PORT_MAX = 1024, 65535  # below 1024 needs root, and the image runs as nonroot
BRANCH_RE = re.compile(r"[A-Za-z0-9._/-]+")
# Characters that would break a line of YAML, Go, Markdown or a terminal: control and
# format characters, line and paragraph separators, surrogates, unassigned code points.
FORBIDDEN_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}

CHOICES: dict[str, tuple[str, ...]] = {
    "builder": ("dind", "rootless", "shared"),
    "runtime_image_tag": ("nonroot", "latest"),
    "cache_strategy": ("per-branch", "shared"),
    "platforms": ("linux/amd64", "linux/amd64,linux/arm64"),
    "attestations": ("none", "provenance", "provenance+sbom"),
}
BOOLEANS = ("use_dependency_proxy", "include_explainer", "include_cache_demo", "use_renovate")


class Problem(ValueError):
    """One invalid answer: why it is wrong and how to put it right."""

    def __init__(self, reason: str, fix: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fix = fix


def check_project_name(value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise Problem("it is empty", "give the project a name, for example 'Payments API'")
    if len(value) > PROJECT_NAME_MAX:
        raise Problem(
            f"it is {len(value)} characters long (at most {PROJECT_NAME_MAX})",
            "use a shorter name; the slug can carry the details",
        )
    bad = [ch for ch in value if unicodedata.category(ch) in FORBIDDEN_CATEGORIES]
    if bad:
        shown = ", ".join(f"U+{ord(ch):04X}" for ch in dict.fromkeys(bad))
        raise Problem(
            f"it contains control or invisible characters ({shown})",
            "use printable characters only, on one line",
        )


def check_project_slug(value: Any) -> None:
    # "-" is what cookiecutter.json derives from a name with no letters or digits.
    if not isinstance(value, str) or not any(ch.isalnum() for ch in value):
        raise Problem(
            "it is empty (the project name has no letters or digits to derive it from)",
            "set project_slug yourself, for example 'payments-api'",
        )
    if len(value) > SLUG_MAX:
        raise Problem(f"it is {len(value)} characters long (at most {SLUG_MAX})", "shorten it")
    if not SLUG_RE.fullmatch(value):
        raise Problem(
            "a slug may hold only lower-case ASCII letters, digits and single hyphens between them",
            "use something like 'payments-api'",
        )


def check_go_module_path(value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise Problem("it is empty", "use a path like 'gitlab.com/your-group/payments-api'")
    elements = value.split("/")
    if any(not element for element in elements):
        raise Problem(
            "it has an empty element (a leading, trailing or doubled '/')",
            "remove the extra slash",
        )
    for element in elements:
        if not MODULE_ELEMENT_RE.fullmatch(element):
            raise Problem(
                f"the element {element!r} holds characters Go does not allow in a module path",
                "use ASCII letters, digits and . _ ~ - only",
            )
        if element.startswith(".") or element.endswith("."):
            raise Problem(f"the element {element!r} starts or ends with a dot", "remove the dot")
    if not MODULE_FIRST_ELEMENT_RE.fullmatch(elements[0]) or elements[0].startswith("-"):
        raise Problem(
            f"the first element {elements[0]!r} must be lower case letters, digits, dots "
            "and hyphens, not starting with a hyphen",
            "start with a host name such as 'gitlab.com'",
        )


def check_go_private_modules(value: Any) -> None:
    """GOPRIVATE's value: comma-separated module path prefixes, or empty. Each one's
    host gets a .netrc entry in CI, so patterns (* ? [) are not taken."""
    if value == "":
        return
    if not isinstance(value, str):
        raise Problem("it is not text", "give prefixes like 'gitlab.example.com/your-group'")
    for prefix in value.split(","):
        if not prefix:
            raise Problem("it has an empty entry (a leading, trailing or doubled ',')", "remove it")
        if any(ch in prefix for ch in "*?["):
            raise Problem(
                f"{prefix!r} is a pattern; CI writes credentials for each host, so it needs "
                "plain prefixes",
                "list the prefixes themselves, such as 'gitlab.example.com/your-group'",
            )
        try:
            check_go_module_path(prefix)
        except Problem as problem:
            raise Problem(f"in {prefix!r}: {problem.reason}", problem.fix) from None
        if "." not in prefix.split("/")[0]:
            raise Problem(
                f"{prefix!r} does not start with a host name (Go wants a dot in it)",
                "start each prefix with your GitLab's host, such as 'gitlab.example.com'",
            )


def check_go_version(value: Any) -> None:
    match = GO_VERSION_RE.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise Problem(
            "it is not of the form 1.N",
            "give a Go release line such as '1.27' (it also names the golang image tag)",
        )
    if int(match.group(1)) < GO_MIN_MINOR:
        raise Problem(
            f"the service needs Go 1.{GO_MIN_MINOR} or newer (method patterns in net/http)",
            f"use 1.{GO_MIN_MINOR} or later",
        )


def check_http_port(value: Any) -> None:
    text = str(value)
    if isinstance(value, bool) or not text.isascii() or not text.isdigit():
        raise Problem("it is not a whole number", f"give a port between {PORT_MIN} and {PORT_MAX}")
    port = int(text)
    if not PORT_MIN <= port <= PORT_MAX:
        raise Problem(
            f"it is outside {PORT_MIN}-{PORT_MAX}; the container runs as a non-root user, "
            "which may not bind ports below 1024",
            "pick a port such as 8080",
        )


def check_docker_version(value: Any) -> None:
    match = DOCKER_VERSION_RE.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise Problem(
            "it is not a pinned X.Y.Z version (tags like 'latest' or 'stable' move under you)",
            "give an exact Docker release such as '29.10.0'",
        )
    if int(match.group(1)) < DOCKER_MIN_MAJOR:
        raise Problem(
            f"Docker before {DOCKER_MIN_MAJOR}.0 is too old for this pipeline's buildx usage",
            f"use {DOCKER_MIN_MAJOR}.0.0 or later",
        )


def check_default_branch(value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise Problem("it is empty", "use your GitLab project's default branch, usually 'main'")
    if not BRANCH_RE.fullmatch(value):
        raise Problem(
            "it holds characters this template does not accept in a branch name",
            "use ASCII letters, digits and . _ / - only",
        )
    bad_shape = (
        value.startswith(("-", "/", "."))
        or value.endswith(("/", ".", ".lock"))
        or ".." in value
        or "//" in value
        or "/." in value
    )
    if bad_shape:
        raise Problem(
            "git does not allow this branch name", "use a plain name such as 'main' or 'develop'"
        )
    if not any(ch.isalnum() for ch in value):
        raise Problem("it has no letter or digit", "use a plain name such as 'main'")


def choice_check(field: str) -> Callable[[Any], None]:
    allowed = CHOICES[field]

    def check(value: Any) -> None:
        if value not in allowed:
            raise Problem(
                "it is not one of the offered choices", "choose one of: " + ", ".join(allowed)
            )

    return check


def check_boolean(value: Any) -> None:
    if not isinstance(value, bool):
        raise Problem("it is not a yes/no answer", "answer true or false")


CHECKS: dict[str, Callable[[Any], None]] = {
    "project_name": check_project_name,
    "project_slug": check_project_slug,
    "go_module_path": check_go_module_path,
    "go_private_modules": check_go_private_modules,
    "go_version": check_go_version,
    "http_port": check_http_port,
    "docker_version": check_docker_version,
    "default_branch": check_default_branch,
    **{field: choice_check(field) for field in CHOICES},
    **{field: check_boolean for field in BOOLEANS},
}


def warnings(answers: Mapping[str, Any]) -> list[str]:
    """Valid answers worth a second thought: today only a Go line out of support.

    The supported lines are the ones cookiecutter.json pins an exact release for
    (`_pins.go_patch`), so this list never has to be edited by hand.
    """
    supported = sorted(
        (answers.get("_pins") or {}).get("go_patch") or {}, key=lambda v: int(v.split(".")[1])
    )
    match = GO_VERSION_RE.fullmatch(str(answers.get("go_version", "")))
    if not supported or not match:
        return []
    oldest = int(supported[0].split(".")[1])
    if int(match.group(1)) >= oldest:
        return []
    return [
        f"go_version: {answers['go_version']} is out of support: Go fixes security issues only "
        f"in its two newest release lines ({' and '.join(reversed(supported))} today). The "
        f"project is generated with the moving golang:{answers['go_version']} image tag; move "
        "to a supported line soon."
    ]


def validate(answers: Mapping[str, Any]) -> list[str]:
    """Return one readable message per invalid answer; an empty list means all good."""
    messages = []
    for field, check in CHECKS.items():
        if field not in answers:
            messages.append(f"{field}: missing from the answers (is the template complete?)")
            continue
        value = answers[field]
        try:
            check(value)
        except Problem as problem:
            messages.append(
                f"{field}: {json.dumps(value)} is invalid: {problem.reason}. Fix: {problem.fix}."
            )
    return messages


def main() -> int:
    answers = json.loads(ANSWERS_JSON)
    messages = validate(answers)
    if not messages:
        for warning in warnings(answers):
            print(f"WARNING: {warning}", file=sys.stderr)
        return 0
    print("ERROR: this template cannot be generated with these answers:", file=sys.stderr)
    for message in messages:
        print(f"  - {message}", file=sys.stderr)
    print("Nothing was generated. Run cookiecutter again with fixed values.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
