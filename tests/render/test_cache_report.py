"""The build job's cache report: `ci/cache-report.awk` in a baked project, run on
builds recorded with plain progress (tests/harness/data/plain/, by
`python -m harness.evidence.plain_fixtures`), with each awk a job image may have (the
host's, and busybox's, which the `docker` and BuildKit images are built on); then the
job's own script, with a stub build command that prints such a recording.

Each report is held to what the harness reads from the same text
(harness.evidence.plain_progress), never to numbers typed here.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.ci.cache_report import EXPORT_FAILED, CacheReport, expected_counts
from harness.ci.ci_file import CiFile
from harness.ci.stub_runner import run_job_script
from harness.evidence.plain_progress import plain_step_table
from harness.infra.policy import require_tool
from harness.template import COMBINATIONS, combination_id

PLAIN = Path(__file__).parents[1] / "harness" / "data" / "plain"
RECORDINGS = ["cold.txt", "source-change.txt", "export-refused.txt", "export-unreachable.txt"]
WRITTEN = "reg.test/g/p/cache:main"


def awk(which: str) -> list[str]:
    if which == "busybox":
        return [require_tool("busybox"), "awk"]
    return [require_tool("awk")]


def report_of(project: Path, which: str, log: Path) -> tuple[int, CacheReport]:
    result = subprocess.run(
        [*awk(which), "-f", str(project / "ci" / "cache-report.awk"), str(log)],
        capture_output=True, text=True, env={"CACHE_TO_REF": WRITTEN}, check=False,
    )  # fmt: skip
    assert result.stderr == "", result.stderr
    return result.returncode, CacheReport.of(result.stdout)


@pytest.mark.parametrize("which", ["awk", "busybox"])
@pytest.mark.parametrize("name", RECORDINGS)
def test_the_report_counts_the_steps_as_the_harness_reads_them(default_project, which, name):
    log = PLAIN / name
    code, report = report_of(default_project, which, log)
    assert report.counts() == expected_counts(plain_step_table(log.read_text())), report.lines
    failed = name.startswith("export-")
    assert code == (EXPORT_FAILED if failed else 0), report.lines
    assert (report.export_failure() is not None) == failed, report.lines
    if failed:
        assert report.export_failure().startswith("error writing layer blob: "), report.lines
    else:
        assert f"wrote {WRITTEN}" in report.lines, report.lines


def test_the_report_names_each_ref_read_and_whether_it_was_there(default_project):
    _, cold = report_of(default_project, "awk", PLAIN / "cold.txt")
    assert list(cold.reads().values()) == ["not found"], cold.lines
    _, rebuild = report_of(default_project, "awk", PLAIN / "source-change.txt")
    reads = rebuild.reads()
    assert [ref.rsplit(":", 1)[1] for ref in reads] == ["absent", "main"], reads
    assert list(reads.values()) == ["not found", "found"], reads
    # One layer of the base image and one the cache held, each counted once.
    assert "pulled 12.0 MB of layers" in rebuild.lines, rebuild.lines


def test_the_report_says_so_when_the_output_is_not_plain(default_project):
    code, report = report_of(default_project, "awk", PLAIN / "source-change.rawjson")
    assert code == 0
    assert report.lines == ["no Dockerfile steps in the build's output (it needs --progress=plain)"]


@pytest.mark.parametrize(
    ("builder", "command"),
    [("dind", "docker"), ("rootless", "buildctl-daemonless.sh"), ("shared", "docker")],
)
@pytest.mark.parametrize(("name", "code"), [("source-change.txt", 0), ("export-refused.txt", 3)])
def test_the_job_ends_with_the_report_and_its_exit_code(
    bake, tmp_path, builder, command, name, code
):
    project = bake({"builder": builder})
    job = CiFile.of(project).build_job
    run = run_job_script(job, "default", tmp_path, command, build_output=PLAIN / name)
    assert run.returncode == code, run.stderr
    assert run.report and run.report[-1].startswith(
        "cache report: WARNING" if code else "cache report: wrote "
    ), run.stdout


def test_a_failed_build_fails_the_job_before_any_report(default_project, tmp_path):
    job = CiFile.of(default_project).build_job
    run = run_job_script(job, "default", tmp_path, "docker", build_exit=3)
    assert run.returncode == 1, "a build that failed with 3 must not pass with warnings"
    assert "build-image: the build failed (exit code 3)" in run.stderr
    assert run.report == []


@pytest.mark.parametrize("overrides", COMBINATIONS, ids=combination_id)
def test_only_a_failed_cache_export_is_allowed_to_fail(bake, overrides):
    job = CiFile.of(bake(overrides)).build_job
    assert job.spec["allow_failure"] == {"exit_codes": [EXPORT_FAILED]}
