"""The rootless builder's job: no privileged anything, and the same build as the dind job.

Both jobs' scripts run under `sh` with stub build commands (harness.job_script); their
command lines are read into BuildRequests (harness.build_request) and compared field
by field for every kind of pipeline, cache strategy and attestation choice.
"""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
import yaml

from harness.build_request import from_buildctl, from_buildx
from harness.job_script import PREDEFINED, run_job_script
from harness.template import default

ROOTLESS = {"builder": "rootless"}
DEFAULT_BRANCH = "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"
OTHER = '$CI_COMMIT_BRANCH || $CI_PIPELINE_SOURCE == "merge_request_event"'
TAG = "$CI_COMMIT_TAG"
KINDS = {
    "default-branch": (DEFAULT_BRANCH, {"CI_COMMIT_REF_SLUG": "main"}),
    "feature-branch": (OTHER, {}),
    "tag": (TAG, {"CI_COMMIT_TAG": "v1.2.0", "CI_COMMIT_REF_SLUG": "v1-2-0"}),
}


def build_job(project: Path) -> dict:
    return yaml.safe_load((project / ".gitlab-ci.yml").read_text(encoding="utf-8"))["build-image"]


def test_default_builder_is_dind():
    assert default("builder") == "dind"


def test_rootless_job_needs_no_privilege(bake):
    job = build_job(bake(ROOTLESS))
    assert job["image"] == {"name": "${BUILDKIT_IMAGE}-rootless", "entrypoint": [""]}
    assert job["variables"] == {"BUILDKITD_FLAGS": "--oci-worker-no-process-sandbox"}
    assert "services" not in job
    text = yaml.safe_dump(job)
    assert "privileged" not in text and "docker " not in text


def test_both_builders_share_the_rules(bake):
    assert build_job(bake(ROOTLESS))["rules"] == build_job(bake({}))["rules"]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("cache_strategy", ["per-branch", "shared"])
@pytest.mark.parametrize("attestations", ["none", "provenance", "provenance+sbom"])
def test_rootless_job_asks_for_the_same_build(bake, tmp_path, kind, cache_strategy, attestations):
    options = {"cache_strategy": cache_strategy, "attestations": attestations}
    rule, ci = KINDS[kind]
    dind = run_job_script(build_job(bake(options)), rule, tmp_path / "dind", "docker", **ci)
    rootless = run_job_script(
        build_job(bake({**options, **ROOTLESS})),
        rule,
        tmp_path / "rootless",
        "buildctl-daemonless.sh",
        **ci,
    )
    assert dind.returncode == 0, dind.stderr
    assert rootless.returncode == 0, rootless.stderr
    assert dind.args[:2] == ["buildx", "build"]
    assert rootless.args[0] == "build"
    expected = from_buildx(dind.args[2:])
    assert from_buildctl(rootless.args[1:]) == expected
    # The comparison has something to compare: tags, cache refs and build args.
    assert expected.tags and expected.cache_from and expected.build_args and expected.push
    # Attestations in BuildKit's older format, which GitLab's registry takes in any
    # push order (an OCI artifact's subject must already be in the repository there).
    assert expected.oci_artifact == "false", expected


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
        job, OTHER, tmp_path, "buildctl-daemonless.sh", with_before_script=True, trace=True, **proxy
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
        job, TAG, tmp_path, "buildctl-daemonless.sh", CI_COMMIT_TAG=tag, CI_COMMIT_REF_SLUG="v1"
    )
    assert run.returncode != 0
    assert "image tag" in run.stderr
    assert run.stdout == ""  # buildctl-daemonless.sh was never called


def test_longest_valid_tag_is_accepted(bake, tmp_path):
    job = build_job(bake(ROOTLESS))
    tag = "v" + "1" * 127
    run = run_job_script(
        job, TAG, tmp_path, "buildctl-daemonless.sh", CI_COMMIT_TAG=tag, CI_COMMIT_REF_SLUG="v1"
    )
    assert run.returncode == 0, run.stderr
    assert f"reg.test/g/p:{tag}" in from_buildctl(run.args[1:]).tags
