"""The shared builder's job: a buildx client with no daemon and no privilege, the same
build as the dind job, its settings checked before anything runs, no secret shown.

The scripts run under `sh` with a stub `docker` that prints its arguments
(harness.job_script); the build command lines are compared as BuildRequests
(harness.build_request).
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from harness.build_request import from_buildx
from harness.gitlab_ci import RULE_IFS
from harness.job_script import PREDEFINED, run_job_script
from harness.template import default

SHARED = {"builder": "shared"}
# GitLab's predefined variables per kind of pipeline, beyond harness.job_script's.
PIPELINES = {
    "default": {"CI_COMMIT_REF_SLUG": "main"},
    "branch": {},
    "tag": {"CI_COMMIT_TAG": "v1.2.0", "CI_COMMIT_REF_SLUG": "v1-2-0"},
}
KEY_TEXT = "-----BEGIN EC PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END EC PRIVATE KEY-----"


def build_job(project: Path) -> dict:
    return yaml.safe_load((project / ".gitlab-ci.yml").read_text(encoding="utf-8"))["build-image"]


def shared_files(folder: Path) -> dict[str, str]:
    """The File-type variables as GitLab hands them over: absolute paths of files."""
    folder.mkdir(parents=True, exist_ok=True)
    variables = {}
    for name in ("BUILDKIT_CA_CERT", "BUILDKIT_CLIENT_CERT", "BUILDKIT_CLIENT_KEY"):
        path = folder / name
        path.write_text(KEY_TEXT if name.endswith("KEY") else "certificate\n", encoding="utf-8")
        variables[name] = str(path)
    return {"BUILDKIT_HOST": "tcp://buildkitd.test:1234", **variables}


def test_shared_job_runs_only_a_client(bake):
    job = build_job(bake(SHARED))
    assert job["image"] == f"${{IMAGE_PREFIX}}docker:{default('docker_version')}"
    assert "services" not in job and "variables" not in job
    text = yaml.safe_dump(job)
    assert "privileged" not in text and "DOCKER_HOST" not in text


def test_all_builders_share_the_rules(bake):
    assert build_job(bake(SHARED))["rules"] == build_job(bake({}))["rules"]


@pytest.mark.parametrize("kind", sorted(PIPELINES))
@pytest.mark.parametrize("cache_strategy", ["per-branch", "shared"])
@pytest.mark.parametrize("attestations", ["none", "provenance", "provenance+sbom"])
def test_shared_job_asks_for_the_same_build(bake, tmp_path, kind, cache_strategy, attestations):
    options = {"cache_strategy": cache_strategy, "attestations": attestations}
    ci = PIPELINES[kind]
    rule = RULE_IFS[kind]
    dind = run_job_script(build_job(bake(options)), rule, tmp_path / "dind", "docker", **ci)
    shared = run_job_script(
        build_job(bake({**options, **SHARED})), rule, tmp_path / "shared", "docker", **ci
    )
    assert dind.returncode == 0, dind.stderr
    assert shared.returncode == 0, shared.stderr
    assert shared.args[:2] == ["buildx", "build"]
    expected = from_buildx(dind.args[2:])
    assert from_buildx(shared.args[2:]) == expected
    assert expected.tags and expected.cache_from and expected.build_args and expected.push
    # Attestations in BuildKit's older format, which GitLab's registry takes in any
    # push order (an OCI artifact's subject must already be in the repository there).
    assert expected.oci_artifact == "false", expected


def test_builder_is_created_from_the_file_variables(bake, tmp_path):
    variables = shared_files(tmp_path / "files")
    run = run_job_script(
        build_job(bake(SHARED)), RULE_IFS["branch"], tmp_path, "docker",
        with_before_script=True, trace=True, **variables,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    create = run.args[: run.args.index("inspect") - 1]
    assert create == [
        "buildx", "create", "--name", "ci-builder", "--driver", "remote",
        "--driver-opt", f"cacert={variables['BUILDKIT_CA_CERT']}",
        "--driver-opt", f"cert={variables['BUILDKIT_CLIENT_CERT']}",
        "--driver-opt", f"key={variables['BUILDKIT_CLIENT_KEY']}",
        "--use", "tcp://buildkitd.test:1234",
    ]  # fmt: skip
    assert run.args[len(create) : len(create) + 3] == ["buildx", "inspect", "--bootstrap"]
    # Under `sh -x` (as with CI_DEBUG_TRACE) neither the registry password nor the key's
    # text shows, and no command line held them.
    password = PREDEFINED["CI_REGISTRY_PASSWORD"]
    for secret in (password, base64.b64encode(password.encode()).decode(), "c2VjcmV0"):
        for where in (run.stdout, run.stderr, run.argv_log):
            assert secret not in where


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"BUILDKIT_HOST": ""}, "set the CI/CD variable BUILDKIT_HOST"),
        ({"BUILDKIT_HOST": "buildkitd.test:1234"}, "BUILDKIT_HOST must start with tcp://"),
        ({"BUILDKIT_CA_CERT": ""}, "set the File-type CI/CD variable BUILDKIT_CA_CERT"),
        ({"BUILDKIT_CLIENT_CERT": "/nowhere/cert.pem"}, "the file of BUILDKIT_CLIENT_CERT"),
        # The key pasted into a variable of the default type: refused, and not shown.
        ({"BUILDKIT_CLIENT_KEY": KEY_TEXT}, "BUILDKIT_CLIENT_KEY must be a File-type"),
        ({"BUILDKIT_CLIENT_KEY": "/a,b/key.pem"}, "the path of BUILDKIT_CLIENT_KEY holds a comma"),
    ],
    ids=["no-host", "host-without-scheme", "no-ca", "missing-file", "key-as-text", "comma"],
)
def test_missing_or_wrong_settings_stop_the_job_first(bake, tmp_path, change, message):
    variables = {**shared_files(tmp_path / "files"), **change}
    run = run_job_script(
        build_job(bake(SHARED)), RULE_IFS["default"], tmp_path, "docker",
        with_before_script=True, trace=True, CI_COMMIT_REF_SLUG="main", **variables,
    )  # fmt: skip
    assert run.returncode != 0
    assert message in run.stderr
    assert 'docs/builder.md, "The shared builder: what it needs"' in run.stderr
    assert run.stdout == "", "docker ran before the settings were checked"
    assert "c2VjcmV0" not in run.stderr
