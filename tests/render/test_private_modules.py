"""Private modules (the go_private_modules prompt), without an engine: what the
Dockerfile and every job hold, and what the jobs' scripts do with the credentials.

The build jobs and go-test run under `sh` with stub commands (harness.ci.stub_runner).
The Docker tier builds against a real HTTPS git server (tests/docker/test_private_modules.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.builders.table import BUILDERS
from harness.ci.ci_file import CiFile
from harness.ci.job_script import job_script
from harness.ci.stub_runner import PREDEFINED, run_job_script
from harness.infra.policy import require_tool

PREFIXES = "gitlab.example.com/team,gitlab.example.com/other/lib,git.corp.example/x"
TOKEN = "job-T0ken-value"
# The build command's stub keeps a copy of each secret file it was given.
KEEP_SECRETS = (
    'for a; do case $a in id=*,src=*) cp "${a#*,src=}" "$PWD/secret.${a%%,*}";; esac; done'
)


def netrc(user: str, password: str, hosts: list[str]) -> str:
    return "".join(f"machine {host}\nlogin {user}\npassword {password}\n" for host in hosts)


HOSTS = ["gitlab.example.com", "gitlab.example.com", "git.corp.example"]


def test_default_project_has_no_private_module_machinery(default_project: Path):
    ci = (default_project / ".gitlab-ci.yml").read_text(encoding="utf-8")
    dockerfile = (default_project / "Dockerfile").read_text(encoding="utf-8")
    for text in (ci, dockerfile):
        assert "GOPRIVATE" not in text and "netrc" not in text and "--secret" not in text
    assert "RUN go mod download\n" in dockerfile


def test_dockerfile_mounts_the_secret_on_the_download_step_only(bake):
    dockerfile = (bake({"go_private_modules": PREFIXES}) / "Dockerfile").read_text(encoding="utf-8")
    runs = [line for line in dockerfile.splitlines() if line.startswith("RUN ")]
    mounted = [line for line in runs if "--mount=type=secret" in line]
    assert mounted == [
        "RUN --mount=type=secret,id=netrc,target=/root/.netrc,required=true go mod download"
    ]
    assert f'ARG GOPRIVATE="{PREFIXES}"' in dockerfile


@pytest.mark.parametrize("builder", list(BUILDERS))
@pytest.mark.parametrize(
    ("project_vars", "user", "password"),
    [
        ({}, "gitlab-ci-token", TOKEN),
        (
            {"GO_PRIVATE_TOKEN": "deploy-T0ken", "GO_PRIVATE_USER": "deployer"},
            "deployer",
            "deploy-T0ken",
        ),
        # A protected variable on an unprotected branch arrives empty: the job token then.
        ({"GO_PRIVATE_TOKEN": ""}, "gitlab-ci-token", TOKEN),
    ],
    ids=["job-token", "own-token", "empty-own-token"],
)
def test_build_job_passes_credentials_only_as_a_secret(
    bake, tmp_path, builder, project_vars, user, password
):
    row = BUILDERS[builder]
    job = CiFile.of(bake({"go_private_modules": PREFIXES, "builder": builder})).build_job
    temp = tmp_path / "temp"  # where mktemp puts the secret file
    temp.mkdir()
    run = run_job_script(
        job, "branch", tmp_path, row.build_command, trace=True, build_stub=KEEP_SECRETS,
        CI_JOB_TOKEN=TOKEN, TMPDIR=str(temp), **project_vars,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    request = row.request(run.args)
    assert request.secrets == ("netrc",)
    assert ("GOPRIVATE", PREFIXES) in request.build_args
    assert (tmp_path / "secret.id=netrc").read_text(encoding="utf-8") == netrc(
        user, password, HOSTS
    )
    # Nowhere else: not on a command line (the build's or a recorded tool's), not in
    # the shell's trace; and the file is gone when the job ends.
    for text in (*run.args, run.argv_log, run.stderr):
        assert password not in text
    assert not [p for p in temp.iterdir() if p.read_text(encoding="utf-8").count(password)], (
        "the secret file outlived the job"
    )


def test_build_without_the_prompt_passes_no_secret(bake, tmp_path):
    row = BUILDERS["dind"]
    run = run_job_script(
        CiFile.of(bake({})).build_job, "branch", tmp_path, row.build_command, CI_JOB_TOKEN=TOKEN
    )
    assert run.returncode == 0, run.stderr
    assert row.request(run.args).secrets == ()


def test_go_test_writes_the_netrc_before_its_script(bake, tmp_path):
    """go-test's before_script, run as GitLab runs it, leaves $HOME/.netrc (mode 0600)
    for the go command and git; its trace never shows the token."""
    job = CiFile.of(bake({"go_private_modules": PREFIXES})).job("go-test")
    # A tag pipeline: go-test's one rule with an `if:` (any kind would do here).
    script = job_script(job, "tag", {**PREDEFINED, "CI_JOB_TOKEN": TOKEN, "CI_COMMIT_TAG": "v1"})
    home = tmp_path / "home"
    home.mkdir()
    before = "\n".join(job.before_script)
    result = subprocess.run(
        [require_tool("sh"), "-x", "-c", before],
        env={"PATH": "/usr/bin:/bin", "HOME": str(home), **script.variables},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    written = home / ".netrc"
    assert written.read_text(encoding="utf-8") == netrc("gitlab-ci-token", TOKEN, HOSTS)
    assert written.stat().st_mode & 0o777 == 0o600
    assert TOKEN not in result.stderr
    assert script.variables["GOPRIVATE"] == PREFIXES
