"""What a build job asks BuildKit for, read from either builder's command line.

The dind job runs `docker buildx build ...`, the rootless job `buildctl-daemonless.sh
build ...`. Their flags differ but must ask for the same build: the same tags, platforms,
build arguments, cache refs, cache options, attestations, the attestations' storage
format (`oci-artifact`) and the ids of the secrets passed. `from_buildx()` and
`from_buildctl()` turn each command line into a `BuildRequest`, so a test can compare
the two jobs field by field.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class BuildRequest:
    tags: tuple[str, ...]
    platforms: str
    build_args: tuple[tuple[str, str], ...]  # sorted (name, value) pairs
    cache_from: tuple[str, ...]  # registry refs, in the order they are read
    cache_to: str  # "ref,options" of the registry cache written, or ""
    provenance: str  # "" (none) or its options, e.g. "mode=max"
    sbom: bool
    push: bool
    oci_artifact: str  # the image output's oci-artifact option, "" when not given
    context: str
    secrets: tuple[str, ...] = ()  # the ids of the BuildKit secrets passed, sorted


def _pairs(args: Sequence[str]) -> list[tuple[str, str]]:
    """Flag/value pairs of a command line whose flags all take a value (`--f v` or
    `--f=v`); a lone positional argument comes back with flag ""."""
    pairs, i = [], 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--") and "=" in arg:
            flag, value = arg.split("=", 1)
            pairs.append((flag, value))
            i += 1
        elif arg.startswith("--"):
            if arg == "--push":  # the one buildx switch without a value
                pairs.append((arg, "true"))
                i += 1
                continue
            pairs.append((arg, args[i + 1]))
            i += 2
        else:
            pairs.append(("", arg))
            i += 1
    return pairs


def _csv_fields(value: str) -> dict[str, str]:
    """BuildKit's `key=value,key="a,b"` option syntax, as its CLIs read it."""
    (fields,) = list(csv.reader([value]))
    return dict(field.split("=", 1) for field in fields)


def _registry_ref(value: str) -> str:
    fields = _csv_fields(value)
    assert fields.pop("type") == "registry", value
    return fields.pop("ref")


def _cache_to(value: str) -> str:
    fields = _csv_fields(value)
    assert fields.pop("type") == "registry", value
    ref = fields.pop("ref")
    return ",".join([ref, *(f"{key}={val}" for key, val in fields.items())])


def _secret_id(value: str) -> str:
    """The id of a `--secret id=...,src=...` value (the same syntax in both CLIs)."""
    fields = _csv_fields(value)
    assert set(fields) <= {"id", "src", "type", "env"}, value
    return fields["id"]


def from_buildx(args: Sequence[str]) -> BuildRequest:
    """`buildx build` arguments (without `buildx build` itself)."""
    tags, cache_from, build_args, secrets = [], [], [], []
    platforms = cache_to = provenance = context = oci_artifact = ""
    sbom = push = False
    for flag, value in _pairs(args):
        if flag == "--output":
            fields = _csv_fields(value)
            # type=registry is buildx's short form of type=image,push=true.
            assert fields["type"] in ("registry", "image"), value
            push = fields["type"] == "registry" or fields.get("push") == "true"
            oci_artifact = fields.get("oci-artifact", "")
        elif flag == "--tag":
            tags.append(value)
        elif flag == "--platform":
            platforms = value
        elif flag == "--build-arg":
            build_args.append(tuple(value.split("=", 1)))
        elif flag == "--cache-from":
            cache_from.append(_registry_ref(value))
        elif flag == "--cache-to":
            cache_to = _cache_to(value)
        elif flag == "--provenance":
            provenance = "" if value == "false" else value
        elif flag == "--sbom":
            sbom = value == "true"
        elif flag == "--push":
            push = True
        elif flag == "--secret":
            secrets.append(_secret_id(value))
        elif flag == "--progress":
            pass  # how the build's progress is shown, not what is built
        elif flag == "":
            context = value
        else:
            raise AssertionError(f"unexpected buildx flag {flag} {value}")
    return BuildRequest(
        tuple(tags), platforms, tuple(sorted(build_args)), tuple(cache_from), cache_to,
        provenance, sbom, push, oci_artifact, context, tuple(sorted(secrets)),
    )  # fmt: skip


def from_buildctl(args: Sequence[str]) -> BuildRequest:
    """`buildctl build` arguments (without `build` itself), dockerfile frontend."""
    tags, cache_from, build_args, secrets, locals_ = [], [], [], [], {}
    platforms = cache_to = provenance = oci_artifact = ""
    sbom = push = False
    for flag, value in _pairs(args):
        if flag == "--opt":
            key, _, val = value.partition("=")
            if key == "platform":
                platforms = val
            elif key.startswith("build-arg:"):
                build_args.append((key.removeprefix("build-arg:"), val))
            elif key == "attest:provenance":
                provenance = val
            elif key == "attest:sbom":
                sbom = True
            else:
                raise AssertionError(f"unexpected buildctl option {value}")
        elif flag == "--output":
            fields = _csv_fields(value)
            assert fields["type"] == "image", value
            tags = fields["name"].split(",")
            push = fields.get("push") == "true"
            oci_artifact = fields.get("oci-artifact", "")
        elif flag == "--import-cache":
            cache_from.append(_registry_ref(value))
        elif flag == "--export-cache":
            cache_to = _cache_to(value)
        elif flag == "--secret":
            secrets.append(_secret_id(value))
        elif flag == "--local":
            name, _, path = value.partition("=")
            locals_[name] = path
        elif flag in ("--frontend", "--progress"):
            continue
        else:
            raise AssertionError(f"unexpected buildctl flag {flag} {value}")
    assert locals_.get("dockerfile") == locals_.get("context"), locals_
    return BuildRequest(
        tuple(tags), platforms, tuple(sorted(build_args)), tuple(cache_from), cache_to,
        provenance, sbom, push, oci_artifact, locals_.get("context", ""),
        tuple(sorted(secrets)),
    )  # fmt: skip
