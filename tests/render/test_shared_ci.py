"""The shared builder's job: a buildx client with no daemon and no privilege, its
settings checked before anything runs, no secret shown.

The scripts run under `sh` with a stub `docker` that prints its arguments
(harness.ci.stub_runner). That it asks for the same build as the dind job is
tests/render/test_builder_jobs.py.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from harness.ci.ci_file import CiFile, Job
from harness.ci.stub_runner import PREDEFINED, run_job_script
from harness.template import default

SHARED = {"builder": "shared"}
KEY_TEXT = "-----BEGIN EC PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END EC PRIVATE KEY-----"


def build_job(project: Path) -> Job:
    return CiFile.of(project).build_job


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
    job = build_job(bake(SHARED)).spec
    assert job["image"] == f"${{IMAGE_PREFIX}}docker:{default('docker_version')}"
    assert "services" not in job and "variables" not in job
    text = yaml.safe_dump(job)
    assert "privileged" not in text and "DOCKER_HOST" not in text


def test_builder_is_created_from_the_file_variables(bake, tmp_path):
    variables = shared_files(tmp_path / "files")
    run = run_job_script(
        build_job(bake(SHARED)), "branch", tmp_path, "docker",
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
        build_job(bake(SHARED)), "default", tmp_path, "docker",
        with_before_script=True, trace=True, CI_COMMIT_REF_SLUG="main", **variables,
    )  # fmt: skip
    assert run.returncode != 0
    assert message in run.stderr
    assert 'docs/builder.md, "The shared builder: what it needs"' in run.stderr
    assert run.stdout == "", "docker ran before the settings were checked"
    assert "c2VjcmV0" not in run.stderr


# A variable marked protected reaches only pipelines of protected branches and tags:
# on any other ref the job sees it unset, as if it had never been added.
PROTECTION_HINT = "marked protected, it does not reach this pipeline"


@pytest.mark.parametrize("name", ["BUILDKIT_HOST", "BUILDKIT_CLIENT_KEY"])
@pytest.mark.parametrize(("ref_protected", "hinted"), [("false", True), ("true", False)])
def test_a_missing_setting_names_protection_on_an_unprotected_ref(
    bake, tmp_path, name, ref_protected, hinted
):
    """The likely cause on a feature branch or merge request: the variable is protected.
    On a protected ref that cannot be the cause, so the job does not suggest it."""
    variables = {**shared_files(tmp_path / "files"), name: ""}
    run = run_job_script(
        build_job(bake(SHARED)), "branch", tmp_path, "docker",
        with_before_script=True, CI_COMMIT_REF_PROTECTED=ref_protected, **variables,
    )  # fmt: skip
    assert run.returncode != 0
    assert f"CI/CD variable {name}" in run.stderr
    assert (PROTECTION_HINT in run.stderr) is hinted, run.stderr
    if hinted:
        assert "CI_COMMIT_REF_PROTECTED=false" in run.stderr
    assert run.stdout == "", "docker ran before the settings were checked"


def test_a_wrong_setting_does_not_blame_protection(bake, tmp_path):
    """A variable that reached the job is not protected away: no hint."""
    variables = {**shared_files(tmp_path / "files"), "BUILDKIT_CLIENT_KEY": KEY_TEXT}
    run = run_job_script(
        build_job(bake(SHARED)), "branch", tmp_path, "docker",
        with_before_script=True, CI_COMMIT_REF_PROTECTED="false", **variables,
    )  # fmt: skip
    assert run.returncode != 0
    assert PROTECTION_HINT not in run.stderr
