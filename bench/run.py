"""Measure the template's build caching side by side with the common recipe.

    python3 -m bench.run [--runs N] [--service default|deps|both] [--out results/] [--quick]
                         [--variants a,b,...|all] [--go-image debian|small|IMAGE]

Every measured build runs on a fresh docker-container builder (a new CI job: an empty
local cache), against a throwaway registry. Per run, service and variant: a cold build
that writes the cache, then rebuilds, each on its own fresh builder, that read that
cache: no change; a source change with a new commit; a new commit alone; a test-only
change (a `_test.go` edit, same commit); and, for the deps service, a dependency bump
(harness.golang.deps_service.DEPENDENCY_BUMP, with a new commit). Runs are interleaved
(all variants' cold builds, then all variants' no-change rebuilds, ...), with the variant
order rotated per run, so drift of a shared machine hits them alike. Each run and variant
pushes to repositories of its own, so a cold build always starts from an empty one.
The Go image is the realistic Debian-based one unless --go-image says otherwise.

Results go to <out>/<timestamp>/: records.jsonl (one line per build) and sizes.jsonl
(registry sizes, per run) are written as the run goes, then results.md, results.json
and chart.png; one line per figure is printed. `--report-from DIR` writes the report
again from DIR's records, for example of a run that was cut short.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from bench import plan
from bench.builds import SharedServices, measured_build, registry_sizes
from bench.contexts import Service, with_edit, with_test_edit
from bench.plan import SCENARIOS, VARIANTS
from bench.result_files import write_proxy_log, write_report
from harness.builders.buildx import Builder
from harness.golang.deps_service import DEPENDENCY_BUMP, DepsService
from harness.golang.modproxy import ModuleProxy
from harness.infra.registry import Registry
from harness.infra.settings import TierSettings
from harness.paths import REPO_ROOT
from harness.template import bake_defaults, base_image_args


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def prepare_deps(
    stack: ExitStack,
    workdir: Path,
    baked: Path,
    registry: Registry,
    create_flags: tuple[str, ...],
    results: Path,
    go_image: str,
) -> tuple[Service, ModuleProxy]:
    """The deps service (harness.golang.deps_service): real modules, served by a local proxy."""
    deps = stack.enter_context(
        DepsService(
            baked,
            workdir / "deps",
            registry,
            lambda: Builder(create_flags, name=f"gotpl-bench-{uuid.uuid4().hex[:8]}").create(),
            log,
            go_image=go_image,
        )
    )
    assert deps.proxy is not None
    (results / "go-image.Dockerfile").write_text(deps.go_image_dockerfile, encoding="utf-8")
    module, version = DEPENDENCY_BUMP
    service = Service(
        "deps",
        deps.base,
        with_edit(deps.base, workdir / "deps" / "edited" / baked.name),
        with_test_edit(deps.base, workdir / "deps" / "test-edited" / baked.name),
        deps.bumped(workdir / "deps" / "bumped" / baked.name, module, version),
        deps.build_args,
    )
    return service, deps.proxy


def machine() -> dict[str, str]:
    def out(*command: str) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, check=False).stdout
        except OSError:
            return ""

    model = re.search(r"Model name:\s*(.+)", out("lscpu"))
    memory = re.search(r"Mem:\s+(\S+)", out("free", "-h"))
    return {
        "cores": str(os.cpu_count()),
        "cpu": model.group(1).strip() if model else platform.processor(),
        "memory": memory.group(1) if memory else "?",
        "kernel": platform.release(),
        "docker": out("docker", "version", "--format", "{{.Server.Version}}").strip(),
        "buildx": out("docker", "buildx", "version").strip(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of every build (default 3)")
    parser.add_argument(
        "--service",
        choices=("default", "deps", "both"),
        help="which service to build (default: both; with --quick: default)",
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "results")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: variants (a) and (b) only, and the default service unless --service",
    )
    parser.add_argument(
        "--variants",
        help="variants by key or name, comma-separated, or 'all' (default: "
        + ",".join(plan.DEFAULT_VARIANTS)
        + "; the experiments are "
        + ", ".join(f"({v.key}) {v.name}" for v in VARIANTS if v.key not in plan.DEFAULT_VARIANTS)
        + ")",
    )
    parser.add_argument(
        "--go-image",
        default="debian",
        help="the Go image of every build: 'debian' (default: golang:<patch>-"
        + plan.DEBIAN_RELEASE
        + ", the realistic one), 'small' (the template's GO_IMAGE as is) or an image reference",
    )
    parser.add_argument(
        "--report-from",
        type=Path,
        nargs="+",
        metavar="DIR",
        help="only write the report again from DIR's records (a run cut short, say); with"
        " several DIRs, one combined report goes to a new folder under --out",
    )
    args = parser.parse_args(argv)
    if args.report_from:
        if len(args.report_from) == 1:
            return write_report(args.report_from)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return write_report(args.report_from, args.out / f"{stamp}-combined")
    if args.service is None:
        args.service = "default" if args.quick else "both"
    default = plan.QUICK_VARIANTS if args.quick else plan.DEFAULT_VARIANTS
    try:
        variants = plan.select_variants(args.variants or ",".join(default))
    except ValueError as error:
        parser.error(str(error))
    services = ["default", "deps"] if args.service == "both" else [args.service]
    go_image = plan.resolve_go_image(args.go_image)

    settings = TierSettings.load()
    settings.export_testcontainers()
    create_flags = settings.create_flags
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    results = args.out / stamp
    results.mkdir(parents=True)
    records_file = results / "records.jsonl"
    started = time.monotonic()
    meta: dict[str, object] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": shlex.join([sys.executable, "-m", "bench.run", *(argv or sys.argv[1:])]),
        "runs": args.runs,
        "quick": args.quick,
        "variants": {v.name: f"({v.key}) {v.label}" for v in variants},
        "go_image": go_image,
        "machine": machine(),
        "load_at_start": os.getloadavg(),
    }
    (results / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gotpl-bench-")))
        registry = stack.enter_context(Registry())
        shared = stack.enter_context(SharedServices(settings, workdir / "shared"))
        log(f"registry at {registry.address}; results in {results}")
        baked = bake_defaults(workdir / "bake")
        prepared: dict[str, Service] = {}
        proxy = None
        if "default" in services:
            base = workdir / "default" / "base" / baked.name
            shutil.copytree(baked, base)
            prepared["default"] = Service(
                "default",
                base,
                with_edit(base, workdir / "default" / "edited" / baked.name),
                with_test_edit(base, workdir / "default" / "test-edited" / baked.name),
                None,  # the standard library only: no module to bump
                {**base_image_args(base), "GO_IMAGE": go_image},
            )
        if "deps" in services:
            prepared["deps"], proxy = prepare_deps(
                stack, workdir, baked, registry, create_flags, results, go_image
            )
        known: dict[str, set[str]] = {}  # blob digests per repository, for bytes pushed
        for run in range(1, args.runs + 1):
            order = variants[(run - 1) % len(variants) :] + variants[: (run - 1) % len(variants)]
            for name in services:
                service = prepared[name]
                for scenario in SCENARIOS:
                    if service.project(scenario) is None:
                        continue
                    for variant in order:
                        record = measured_build(
                            create_flags,
                            registry,
                            service,
                            variant,
                            scenario,
                            run,
                            known,
                            shared,
                        )
                        with records_file.open("a", encoding="utf-8") as f:
                            f.write(json.dumps(asdict(record)) + "\n")
                        log(
                            f"run {run} {name} {variant.name} {scenario}: {record.seconds:.2f}s"
                            f" (compile {record.compile_status} {record.compile_seconds:.2f}s,"
                            f" {record.bytes_pulled / 1e6:.1f} MB pulled,"
                            f" {record.bytes_pushed / 1e6:.1f} MB pushed,"
                            f" load {record.load_before:.1f})"
                        )
                        meta["seconds"] = round(time.monotonic() - started, 1)
                        meta["load_at_end"] = os.getloadavg()
                        (results / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
                figures = registry_sizes(registry, name, run, variants)
                with (results / "sizes.jsonl").open("a", encoding="utf-8") as f:
                    f.write(json.dumps({"service": name, "run": run, **figures}) + "\n")
                if proxy is not None:
                    write_proxy_log(proxy, results)
    return write_report([results])


if __name__ == "__main__":
    raise SystemExit(main())
