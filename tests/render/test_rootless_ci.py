"""The rootless builder's job: no privileged anything, a login that shows no secret,
and tags that cannot break buildctl's output option.

Its script runs under `sh` with stub commands (harness.ci.stub_runner). That it asks for
the same build as the dind job is tests/render/test_builder_jobs.py.
"""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
import yaml

from harness.builders.rootless import JOB_VARIABLES
from harness.ci.build_request import from_buildctl
from harness.ci.ci_file import CiFile, Job
from harness.ci.stub_runner import PREDEFINED, run_job_script
from harness.template import default

ROOTLESS = {"builder": "rootless"}


def build_job(project: Path) -> Job:
    return CiFile.of(project).build_job


def test_default_builder_is_dind():
    assert default("builder") == "dind"


def test_rootless_job_needs_no_privilege(bake):
    job = build_job(bake(ROOTLESS)).spec
    assert job["image"] == {"name": "${BUILDKIT_IMAGE}-rootless", "entrypoint": [""]}
    # What the harness's rootless BuildKit gets too; the retries give a slow start ~12 s.
    assert job["variables"] == JOB_VARIABLES
    assert "services" not in job
    text = yaml.safe_dump(job)
    assert "privileged" not in text and "docker " not in text


def test_login_keeps_the_password_off_command_lines_and_out_of_a_trace(bake, tmp_path):
    """The before_script writes config.json with shell built-ins only: every external
    command it runs is a recording stub, and not one got the password. Even under
    `sh -x` (as with CI_DEBUG_TRACE) the trace does not show it."""
    job = build_job(bake({**ROOTLESS, "use_dependency_proxy": True}))
    proxy = {
        "CI_DEPENDENCY_PROXY_SERVER": "proxy.test:443",
        "CI_DEPENDENCY_PROXY_USER": "proxy-user",
        "CI_DEPENDENCY_PROXY_PASSWORD": "pr0xy-Secret",
    }
    run = run_job_script(
        job,
        "branch",
        tmp_path,
        "buildctl-daemonless.sh",
        with_before_script=True,
        trace=True,
        **proxy,
    )
    assert run.returncode == 0, run.stderr
    assert "base64" in run.argv_log  # the stubs did record the commands that ran
    for secret in (PREDEFINED["CI_REGISTRY_PASSWORD"], proxy["CI_DEPENDENCY_PROXY_PASSWORD"]):
        encoded = base64.b64encode(secret.encode()).decode()
        for where in (run.stdout, run.stderr, run.argv_log):
            assert secret not in where and encoded not in where
    config_file = tmp_path / "home" / ".docker" / "config.json"
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    auths = json.loads(config_file.read_text(encoding="utf-8"))["auths"]
    decoded = {host: base64.b64decode(entry["auth"]).decode() for host, entry in auths.items()}
    assert decoded == {
        "reg.test": f"ci-user:{PREDEFINED['CI_REGISTRY_PASSWORD']}",
        "proxy.test:443": f"proxy-user:{proxy['CI_DEPENDENCY_PROXY_PASSWORD']}",
    }


@pytest.mark.parametrize(
    "tag",
    ['v1",push=false', "v1,extra", "-v1", "v 1", "x" * 129],
)
def test_a_tag_that_could_break_the_output_option_is_refused(bake, tmp_path, tag):
    """Tags share one `--output name=...` value, so a comma or quote in a git tag could
    add options; the job refuses anything a Docker tag may not hold, before building."""
    job = build_job(bake(ROOTLESS))
    run = run_job_script(
        job, "tag", tmp_path, "buildctl-daemonless.sh", CI_COMMIT_TAG=tag, CI_COMMIT_REF_SLUG="v1"
    )
    assert run.returncode != 0
    assert "image tag" in run.stderr
    assert run.stdout == ""  # buildctl-daemonless.sh was never called


def test_longest_valid_tag_is_accepted(bake, tmp_path):
    job = build_job(bake(ROOTLESS))
    tag = "v" + "1" * 127
    run = run_job_script(
        job, "tag", tmp_path, "buildctl-daemonless.sh", CI_COMMIT_TAG=tag, CI_COMMIT_REF_SLUG="v1"
    )
    assert run.returncode == 0, run.stderr
    assert f"reg.test/g/p:{tag}" in from_buildctl(run.args[1:]).tags
