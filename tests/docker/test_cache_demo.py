"""`make cache-demo` in a generated project: the teaching demo runs end to end.

The demo (tools/cachedemo, Go, standard library only) starts its own registry and
builders. Offline, the builders need this tier's buildkitd config to find the
stand-in images; the demo takes it from CACHE_DEMO_BUILDKITD_CONFIG.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from harness.commands import docker
from harness.policy import require_tool
from harness.settings import TierSettings
from harness.template import go_toolchain

ROW_RE = re.compile(r"^(?P<label>\[.+?)\s{2,}(?P<status>executed|cached|not run)\s+\d+\.\d\d\b")
DEMO_TIMEOUT = 1500  # two builds on a busy 2-core machine, with room to spare


def rows(section: str) -> dict[str, str]:
    """Step label -> result, from one step table of the demo's output."""
    found = {}
    for line in section.splitlines():
        match = ROW_RE.match(line)
        if match:
            found[match["label"]] = match["status"]
    return found


def status_of(table: dict[str, str], text_prefix: str) -> str:
    matches = [status for label, status in table.items() if text_prefix in label]
    assert len(matches) == 1, f"expected one step {text_prefix!r} in {table}"
    return matches[0]


def test_make_cache_demo_reuses_the_builder_stage_after_an_edit(
    project: Path, docker_tier: TierSettings
):
    make = require_tool("make")
    require_tool("go")
    # A user's own shell, not a nested make: drop what an outer `make test` (as in CI)
    # exports, which would make this make print "Entering directory" lines.
    inherited = {"MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES"}
    env = {k: v for k, v in os.environ.items() if k not in inherited}
    env["GOTOOLCHAIN"] = go_toolchain()
    config = docker_tier.buildkitd_config
    if config and Path(config).is_file():
        env["CACHE_DEMO_BUILDKITD_CONFIG"] = config
    main_go = (project / "main.go").read_bytes()
    builders_before = docker("buildx", "ls").stdout

    demo = subprocess.run(
        [make, "cache-demo"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT,
        check=False,
    )
    output = demo.stdout + demo.stderr
    assert demo.returncode == 0, output

    cold_part, _, rebuild_part = output.partition("Rebuild after editing")
    assert rebuild_part, "no rebuild table in the output:\n" + output
    cold = rows(cold_part)
    rebuild = rows(rebuild_part)
    assert status_of(cold, "RUN go build std") == "executed", output
    assert status_of(rebuild, "RUN go mod download") == "cached", output
    assert status_of(rebuild, "RUN go build std") == "cached", output
    assert status_of(rebuild, "COPY . .") == "executed", output
    assert status_of(rebuild, "RUN go build -ldflags") == "executed", output

    (sentence,) = [line for line in output.splitlines() if line.startswith("The rebuild ran")]
    assert sentence.startswith("The rebuild ran on a brand-new builder"), output
    assert "the module download and the standard-library warm-up among them" in sentence
    assert "came from the registry cache" in sentence

    # It cleans up after itself: the edit, the registry container, the builders.
    assert (project / "main.go").read_bytes() == main_go, "main.go was not restored"
    port = re.search(r"registry at localhost:(\d+)", output)
    assert port, output
    published = docker("ps", "--all", "--format", "{{.Ports}}").stdout
    assert f"127.0.0.1:{port[1]}->" not in published, "the demo's registry is still there"
    leftovers = [
        line.split()[0]
        for line in docker("buildx", "ls").stdout.splitlines()
        if line.startswith("cachedemo-") and line not in builders_before
    ]
    assert leftovers == [], f"builders left behind: {leftovers}"
