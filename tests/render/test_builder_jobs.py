"""Every builder's job against the dind job, one test per question, parametrized over
the table of builders (harness.builders.table): the same rules, and for every kind of
pipeline, cache strategy and attestation choice the same build.

The jobs' scripts run under `sh` with stub build commands (harness.ci.stub_runner);
their command lines are read into BuildRequests (harness.ci.build_request) and
compared field by field.
"""

from __future__ import annotations

import pytest

from harness.builders.table import BUILDERS, OTHER_THAN_DIND
from harness.ci.ci_file import CiFile
from harness.ci.stub_runner import run_job_script

# GitLab's predefined variables per kind of pipeline, beyond harness.ci.stub_runner's.
PIPELINES = {
    "default": {"CI_COMMIT_REF_SLUG": "main"},
    "branch": {},
    "tag": {"CI_COMMIT_TAG": "v1.2.0", "CI_COMMIT_REF_SLUG": "v1-2-0"},
}


@pytest.mark.parametrize("builder", OTHER_THAN_DIND)
def test_builders_share_the_rules(bake, builder):
    rules = CiFile.of(bake({"builder": builder})).build_job.rules
    assert rules == CiFile.of(bake({})).build_job.rules


@pytest.mark.parametrize("builder", OTHER_THAN_DIND)
@pytest.mark.parametrize("kind", sorted(PIPELINES))
@pytest.mark.parametrize("cache_strategy", ["per-branch", "shared"])
@pytest.mark.parametrize("attestations", ["none", "provenance", "provenance+sbom"])
def test_job_asks_for_the_same_build(bake, tmp_path, builder, kind, cache_strategy, attestations):
    options = {"cache_strategy": cache_strategy, "attestations": attestations}
    ci = PIPELINES[kind]
    dind_row, row = BUILDERS["dind"], BUILDERS[builder]
    dind = run_job_script(
        CiFile.of(bake(options)).build_job, kind, tmp_path / "dind", dind_row.build_command, **ci
    )
    other = run_job_script(
        CiFile.of(bake({**options, "builder": builder})).build_job,
        kind,
        tmp_path / builder,
        row.build_command,
        **ci,
    )
    assert dind.returncode == 0, dind.stderr
    assert other.returncode == 0, other.stderr
    assert dind.args[:2] == ["buildx", "build"]
    # request() checks the builder's own subcommand: `build` (buildctl), `buildx build`.
    expected = dind_row.request(dind.args)
    assert row.request(other.args) == expected
    # The comparison has something to compare: tags, cache refs and build args.
    assert expected.tags and expected.cache_from and expected.build_args and expected.push
    # Attestations in BuildKit's older format, which GitLab's registry takes in any
    # push order (an OCI artifact's subject must already be in the repository there).
    assert expected.oci_artifact == "false", expected
