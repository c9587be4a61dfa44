"""`make cache-demo` in a generated project (baked with include_cache_demo): real runs.

The demo (tools/cachedemo, Go, standard library only) starts its own registry and
builders, makes each bad variant from the project's own Dockerfile, and prints the
good and bad rebuilds side by side. It runs once for the module, with the scenarios
whose property no other test shows: the default one (the demo's own machinery, end to
end) and `cache-mount`, the Dockerfile without its warm-up layer and with a cache mount
on Go's build cache instead. Its rebuild on a new builder recompiles everything, which
is also all that `no-warm-up` (the same without the mount) shows, so that scenario is
left to the demo's Go tests (they make its variant). The pitfalls `arg-at-top`, `mode-min`,
`inline-cache` and `docker-driver` are shown once, in test_cache.py and
test_drivers.py, on the same Dockerfile, and the rootless and docker-container
builders sharing one cache, both ways, in test_rootless.py; the demo's Go tests check
that it makes those variants, starts rootless BuildKit as the rootless job does, and
words their results. Each test reads its
scenario's part of the report and checks which steps executed and which came from the
cache, never how long they took. Offline, the builders need this tier's buildkitd
config to find the stand-in images; the demo takes it from CACHE_DEMO_BUILDKITD_CONFIG.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.cachedemo import Section, one, parse_report, run_demo
from harness.infra.commands import docker
from harness.infra.policy import require_tool
from harness.infra.settings import TierSettings

# The scenarios run here (see the docstring for why these).
SCENARIOS = ("registry-cache", "cache-mount")
DEMO_TIMEOUT = 2400  # two cold builds and three rebuilds on a busy 2-core machine
DOWNLOAD = "RUN go mod download"
# The warm-up: the std stage's compile of the standard library, then (after its Go build
# cache is copied in) the builder stage's compile of the dependencies.
STD_WARM_UP, DEPS_WARM_UP = "RUN go build std", "RUN deps="
WARM_UP = (STD_WARM_UP, DEPS_WARM_UP)
COPY_SOURCE, COMPILE = "COPY --from=checkout / .", "RUN go build -v -ldflags"
# What "recompiles everything" and "compiles only our package" mean in counts: net/http
# alone pulls in well over a hundred standard packages; the service is one package.
MANY, FEW = 100, 10


@dataclass(frozen=True)
class DemoRun:
    output: str
    sections: dict[str, Section]
    project: Path
    main_go: bytes


@pytest.fixture(scope="module")
def demo(bake, docker_tier: TierSettings, tmp_path_factory) -> DemoRun:
    make = require_tool("make")
    require_tool("go")
    baked = bake({"include_cache_demo": True})
    project = tmp_path_factory.mktemp("demo") / baked.name
    shutil.copytree(baked, project)
    main_go = (project / "main.go").read_bytes()
    scenarios = ",".join(SCENARIOS)
    ran = run_demo(project, scenarios, docker_tier.buildkitd_config, make, DEMO_TIMEOUT)
    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output
    print(output)  # shown with -s, and in the report of a failing test
    return DemoRun(output, parse_report(output), project, main_go)


def section(demo: DemoRun, name: str) -> Section:
    assert name in demo.sections, f"no section {name!r} in the output:\n{demo.output}"
    return demo.sections[name]


def test_every_asked_scenario_ran(demo: DemoRun):
    assert set(demo.sections) == set(SCENARIOS), demo.output


def test_registry_cache_reuses_the_builder_stage_after_an_edit(demo: DemoRun):
    part = section(demo, "registry-cache")
    cold, rebuild = part.single_tables()
    assert cold[one(cold, STD_WARM_UP)] == "executed", part.text
    for step in (DOWNLOAD, *WARM_UP):
        assert rebuild[one(rebuild, step)] == "cached", part.text
    assert rebuild[one(rebuild, COPY_SOURCE)] == "executed", part.text
    assert rebuild[one(rebuild, COMPILE)] == "executed", part.text
    sentence = part.sentence()
    assert sentence.startswith("The rebuild ran on a brand-new builder"), part.text
    assert "the module download and the standard-library warm-up among them" in sentence
    assert "came from the registry cache" in sentence


def test_without_the_warm_up_layer_the_compile_recompiles_everything(demo: DemoRun):
    part = section(demo, "cache-mount")
    pairs = part.pairs()
    for step in WARM_UP:  # the bad variant has neither step, nor the std stage
        assert pairs[one(pairs, step)] == ("cached", "-"), part.text
    assert pairs[one(pairs, DOWNLOAD)] == ("cached", "cached"), part.text
    assert pairs[one(pairs, COMPILE)] == ("executed", "executed"), part.text
    compiled = part.compiled()
    assert compiled, part.text
    assert compiled["good"] <= FEW, part.text
    assert compiled["bad"] >= MANY, part.text
    # On the builder that ran the cold build, the mount still held Go's cache.
    assert compiled["same"] <= FEW, part.text
    assert "never reached the registry cache" in part.sentence(), part.text


def test_the_demo_cleans_up_after_itself(demo: DemoRun):
    assert (demo.project / "main.go").read_bytes() == demo.main_go, "main.go was not restored"
    port = re.search(r"registry at localhost:(\d+)", demo.output)
    assert port, demo.output
    published = docker("ps", "--all", "--format", "{{.Ports}}").stdout
    assert f"127.0.0.1:{port[1]}->" not in published, "the demo's registry is still there"
    # This run's names only: another demo may be running on the same engine.
    named = re.search(r"are named (cachedemo-[0-9a-f]+-)<n>", demo.output)
    assert named, demo.output
    leftovers = [
        line.split()[0]
        for line in docker("buildx", "ls").stdout.splitlines()
        if line.startswith(named[1])
    ]
    assert leftovers == [], f"builders left behind: {leftovers}"
    # Rootless BuildKit's containers, and the builders' own (buildx_buildkit_<name>0).
    names = docker("ps", "--all", "--format", "{{.Names}}").stdout.split()
    containers = [name for name in names if named[1] in name]
    assert containers == [], f"containers left behind: {containers}"
