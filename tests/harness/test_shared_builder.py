"""harness.builders.shared without an engine: the benchmark's remote builder is made
the way the generated job makes one, and the client files are what the job expects."""

from __future__ import annotations

import shlex
from pathlib import Path

from harness.builders.shared import FILE_VARIABLES, SharedBuildKit
from harness.ci.ci_file import CiFile
from harness.infra.settings import TierSettings


def job_create_line(project: Path) -> list[str]:
    job = CiFile.of(project).build_job
    (line,) = [item for item in job.before_script if item.startswith("docker buildx create")]
    return shlex.split(line)


def test_bench_builder_matches_the_job_builder(bake, tmp_path):
    shared = SharedBuildKit(TierSettings(), tmp_path)
    files = shared.client_files()
    job = job_create_line(bake({"builder": "shared"}))
    # The job's line with GitLab's File variables replaced by the files on this host.
    paths = {f"${name}": str(files.folder / file) for name, file in FILE_VARIABLES.items()}
    paths["$BUILDKIT_HOST"] = shared.address
    expected = []
    for word in job[job.index("--driver") :]:
        for variable, value in paths.items():
            word = word.replace(variable, value)
        expected.append(word)
    expected.remove("--use")  # the benchmark names its builder on each build instead
    assert shared.buildx_create_flags(files) == expected


def test_client_files_are_a_client_certificate_of_the_service_ca(tmp_path):
    shared = SharedBuildKit(TierSettings(), tmp_path)
    files = shared.client_files()
    assert sorted(p.name for p in files.folder.iterdir()) == sorted(FILE_VARIABLES.values())
    assert (files.folder / "ca.pem").read_bytes() == shared.ca.cert.read_bytes()
    cert = (files.folder / "client.pem").read_text(encoding="utf-8")
    assert cert.startswith("-----BEGIN CERTIFICATE-----")
    assert all(path.startswith("/") for path in files.variables().values())
