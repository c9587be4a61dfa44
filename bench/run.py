"""Measure the template's build caching side by side with the common recipe.

    python3 -m bench.run [--runs N] [--service default|deps|both] [--out results/] [--quick]

Every measured build runs on a fresh docker-container builder (a new CI job: an empty
local cache), against a throwaway registry. Per run, service and variant: a cold build
that writes the cache, then three rebuilds, each on its own fresh builder, that read
that cache: no change; a source change with a new commit; a new commit alone. Runs are
interleaved (all variants' cold builds, then all variants' no-change rebuilds, ...),
with the variant order rotated per run, so drift of a shared machine hits them alike.

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
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import measure, report
from harness.buildx import Builder, BuildResult, registry_cache
from harness.commands import docker
from harness.deps import DepsService
from harness.modproxy import ModuleProxy
from harness.paths import COMMON_RECIPE, REPO_ROOT
from harness.progress import STEP_RE, iter_json_objects, merge_vertices
from harness.registry import Registry
from harness.settings import TierSettings
from harness.steps import edit_source
from harness.template import bake_defaults, base_image_args

FIRST_COMMIT = "1" * 40
NEXT_COMMIT = "2" * 40


@dataclass(frozen=True)
class Variant:
    key: str
    name: str
    label: str
    dockerfile: str  # "ours" or "common"
    cache: str  # "max", "min", "inline" or "none"


VARIANTS = (
    Variant("a", "ours-max", "ours, registry cache mode=max", "ours", "max"),
    Variant("b", "common-max", "common recipe, registry cache mode=max", "common", "max"),
    Variant("c", "ours-min", "ours, registry cache mode=min", "ours", "min"),
    Variant("d", "ours-inline", "ours, inline cache", "ours", "inline"),
    Variant("e", "ours-none", "ours, no external cache", "ours", "none"),
)
QUICK_VARIANTS = ("a", "b")
SCENARIOS = ("cold", "no-change", "source-change", "commit-only")
REBUILDS = SCENARIOS[1:]


@dataclass
class Service:
    """One project to build: as committed first, and after a source edit."""

    name: str
    base: Path
    edited: Path
    common_dockerfile: Path
    build_args: dict[str, str]  # the base images, for both Dockerfiles


@dataclass
class Record:
    run: int
    service: str
    variant: str
    scenario: str
    seconds: float
    compile_step: str
    compile_status: str
    compile_seconds: float
    bytes_pulled: int
    executed: list[str]
    steps: int
    table: list[tuple[str, str, float]]  # every step: label, result, seconds
    other: list[tuple[str, float]]  # BuildKit's other work: cache import/export, push
    load_before: float
    load_after: float
    other_builders: int


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def with_edit(project: Path, target: Path) -> Path:
    shutil.copytree(project, target)
    edit_source(target, "benchmark edit")
    return target


def other_builders(mine: str) -> int:
    """BuildKit containers running that are not this build's (other sessions' load)."""
    names = docker("ps", "--format", "{{.Names}}", check=False).stdout.split()
    return sum(1 for name in names if name.startswith("buildx_buildkit_") and mine not in name)


@contextmanager
def fresh_builder(create_flags: tuple[str, ...]) -> Iterator[Builder]:
    builder = Builder(create_flags, name=f"gotpl-bench-{uuid.uuid4().hex[:8]}")
    try:
        yield builder.create()
    finally:
        builder.remove()


def compile_step(result: BuildResult) -> tuple[str, str, float]:
    """The compile step: the last RUN of the builder stage (in both Dockerfiles)."""
    runs = [s for s in result.table if s.stage == "builder" and s.text.startswith("RUN ")]
    if not runs:
        return "", "", 0.0
    step = runs[-1]
    return step.label, step.status, step.seconds


def other_work(stream: str) -> list[tuple[str, float]]:
    """Seconds of the vertices that are not Dockerfile steps (importing the cache
    manifest, exporting the image and the cache, pushing), of 0.05 s or more."""
    work = []
    for vertex in merge_vertices(iter_json_objects(stream)).values():
        if STEP_RE.match(vertex.name) or not (vertex.started and vertex.completed):
            continue
        seconds = (vertex.completed - vertex.started).total_seconds()
        if seconds >= 0.05:
            work.append((vertex.name[:90], round(seconds, 3)))
    return work


def build_args(service: Service, commit: str) -> dict[str, str]:
    # CI passes the short SHA as VERSION; both Dockerfiles get the same base images.
    return {"GIT_COMMIT": commit, "VERSION": commit[:8], **service.build_args}


def measured_build(
    create_flags: tuple[str, ...],
    registry: Registry,
    service: Service,
    variant: Variant,
    scenario: str,
    run: int,
) -> Record:
    repo = f"{service.name}-{variant.name}"
    tag = f"r{run}-{scenario}"
    cold_cache = f"{registry.address}/{repo}/cache:r{run}-cold"
    cold_image = f"{registry.address}/{repo}/app:r{run}-cold"
    cache_from: list[str] = []
    if scenario != "cold":
        if variant.cache in ("max", "min"):
            cache_from = [f"type=registry,ref={cold_cache}"]
        elif variant.cache == "inline":
            cache_from = [f"type=registry,ref={cold_image}"]
    cache_to = None
    if variant.cache in ("max", "min"):
        # Rebuilds write a tag of their own (blobs are shared within the repository),
        # so every rebuild of a run reads the same cold cache, as CI would pay for it.
        cache_to = registry_cache(f"{registry.address}/{repo}/cache:{tag}", variant.cache)
    elif variant.cache == "inline":
        cache_to = "type=inline"
    commit = FIRST_COMMIT if scenario in ("cold", "no-change") else NEXT_COMMIT
    with fresh_builder(create_flags) as builder:
        load_before = os.getloadavg()[0]
        others = other_builders(builder.name)
        result = builder.build(
            service.edited if scenario == "source-change" else service.base,
            dockerfile=service.common_dockerfile if variant.dockerfile == "common" else None,
            tags=[f"{registry.address}/{repo}/app:{tag}"],
            push=True,
            cache_from=cache_from,
            cache_to=cache_to,
            build_args=build_args(service, commit),
        ).assert_ok()
        load_after = os.getloadavg()[0]
    label, status, seconds = compile_step(result)
    return Record(
        run=run,
        service=service.name,
        variant=variant.name,
        scenario=scenario,
        seconds=round(result.seconds, 3),
        compile_step=label,
        compile_status=status,
        compile_seconds=round(seconds, 3),
        bytes_pulled=measure.bytes_pulled(result.stream),
        executed=result.table.executed(),
        steps=sum(1 for s in result.table if not s.text.startswith("FROM ")),
        table=[(s.label, s.status, round(s.seconds, 3)) for s in result.table],
        other=other_work(result.stream),
        load_before=round(load_before, 2),
        load_after=round(load_after, 2),
        other_builders=others,
    )


def registry_sizes(registry: Registry, service: str, run: int) -> dict[str, object]:
    """Cache image size per mode, and image size against binary size, of one run."""
    sizes: dict[str, object] = {}
    for variant in VARIANTS:
        repo = f"{service}-{variant.name}"
        try:
            if variant.cache in ("max", "min"):
                sizes[f"cache:{variant.name}"] = measure.manifest_bytes(
                    registry, f"{repo}/cache", f"r{run}-cold"
                )
            sizes[f"config:{variant.name}"] = measure.config_bytes(
                registry, f"{repo}/app", f"r{run}-cold"
            )
        except LookupError:
            continue  # a variant left out (--quick)
    image = measure.image_sizes(registry, f"{service}-ours-max/app", f"r{run}-cold")
    sizes["image"] = asdict(image)
    return sizes


def prepare_deps(
    stack: ExitStack,
    workdir: Path,
    baked: Path,
    registry: Registry,
    create_flags: tuple[str, ...],
    results: Path,
) -> tuple[Service, ModuleProxy]:
    """The deps service (harness.deps): real modules, served by a local proxy."""
    deps = stack.enter_context(
        DepsService(
            baked,
            workdir / "deps",
            registry,
            lambda: Builder(create_flags, name=f"gotpl-bench-{uuid.uuid4().hex[:8]}").create(),
            log,
        )
    )
    assert deps.proxy is not None
    (results / "go-image.Dockerfile").write_text(deps.go_image_dockerfile, encoding="utf-8")
    service = Service(
        "deps",
        deps.base,
        with_edit(deps.base, workdir / "deps" / "edited" / baked.name),
        COMMON_RECIPE,
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
    variants = [v for v in VARIANTS if not args.quick or v.key in QUICK_VARIANTS]
    services = ["default", "deps"] if args.service == "both" else [args.service]

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
        "machine": machine(),
        "load_at_start": os.getloadavg(),
    }
    (results / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gotpl-bench-")))
        registry = stack.enter_context(Registry())
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
                COMMON_RECIPE,
                base_image_args(base),
            )
        if "deps" in services:
            prepared["deps"], proxy = prepare_deps(
                stack, workdir, baked, registry, create_flags, results
            )
        for run in range(1, args.runs + 1):
            order = variants[(run - 1) % len(variants) :] + variants[: (run - 1) % len(variants)]
            for name in services:
                service = prepared[name]
                for scenario in SCENARIOS:
                    for variant in order:
                        record = measured_build(
                            create_flags, registry, service, variant, scenario, run
                        )
                        with records_file.open("a", encoding="utf-8") as f:
                            f.write(json.dumps(asdict(record)) + "\n")
                        log(
                            f"run {run} {name} {variant.name} {scenario}: {record.seconds:.2f}s"
                            f" (compile {record.compile_status} {record.compile_seconds:.2f}s,"
                            f" {record.bytes_pulled / 1e6:.1f} MB pulled,"
                            f" load {record.load_before:.1f})"
                        )
                        meta["seconds"] = round(time.monotonic() - started, 1)
                        meta["load_at_end"] = os.getloadavg()
                        (results / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
                figures = registry_sizes(registry, name, run)
                with (results / "sizes.jsonl").open("a", encoding="utf-8") as f:
                    f.write(json.dumps({"service": name, "run": run, **figures}) + "\n")
                if proxy is not None:
                    write_proxy_log(proxy, results)
    return write_report([results])


def write_proxy_log(proxy: ModuleProxy, results: Path) -> None:
    ok, failed, zips = proxy.summary()
    summary = {"served": ok, "not_found": failed, "zips": zips}
    (results / "module-proxy.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    (results / "module-proxy.log").write_text(
        "".join(f"{f.status} {f.path}\n" for f in proxy.fetches), encoding="utf-8"
    )


def write_report(parts: list[Path], out: Path | None = None) -> int:
    """results.md, results.json and chart.png from the files runs wrote as they went:
    of one run into its own folder, or of several runs combined into `out`."""
    out = out or parts[0]
    out.mkdir(parents=True, exist_ok=True)
    metas = [json.loads((p / "meta.json").read_text(encoding="utf-8")) for p in parts]
    meta = dict(metas[0])
    records: list[dict] = []
    sizes: dict[str, dict[str, object]] = {}
    runs: dict[str, set[tuple[str, int]]] = {}
    for part in parts:
        for line in (part / "records.jsonl").open(encoding="utf-8"):
            entry = json.loads(line)
            records.append(entry)
            runs.setdefault(entry["service"], set()).add((part.name, entry["run"]))
        sizes_file = part / "sizes.jsonl"
        for line in sizes_file.open(encoding="utf-8") if sizes_file.is_file() else []:
            entry = json.loads(line)
            service, run = entry.pop("service"), entry.pop("run")
            sizes.setdefault(service, {})[f"{part.name}-run{run}"] = entry
        proxy_file = part / "module-proxy.json"
        if proxy_file.is_file():
            meta["module_proxy"] = json.loads(proxy_file.read_text(encoding="utf-8"))
    meta["runs_completed"] = {service: len(found) for service, found in runs.items()}
    meta["seconds"] = sum(m.get("seconds", 0) for m in metas)
    meta["load_at_end"] = metas[-1].get("load_at_end", meta["load_at_start"])
    meta["variants"] = {k: v for m in metas for k, v in m["variants"].items()}
    meta["commands"] = [m["command"] for m in metas]
    summary = report.summarize(records, sizes, meta)
    (out / "results.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    (out / "results.md").write_text(report.markdown(summary), encoding="utf-8")
    report.chart(summary, out / "chart.png")
    for line in report.figure_lines(summary):
        print(line)
    print(f"results: {out} ({meta['seconds']:.0f} s of builds)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
