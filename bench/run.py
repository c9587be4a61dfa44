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
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import measure, plan, report
from bench.plan import SCENARIOS, VARIANTS, Variant
from harness.builders.buildx import Builder, BuildResult
from harness.builders.rootless import RootlessBuilder
from harness.builders.shared import SharedBuildKit
from harness.evidence.dockerfile_steps import edit_source
from harness.evidence.step_table import STEP_RE, iter_json_objects, merge_vertices
from harness.golang.deps_service import DEPENDENCY_BUMP, DepsService
from harness.golang.modproxy import ModuleProxy
from harness.infra.commands import docker
from harness.infra.registry import Registry
from harness.infra.settings import TierSettings
from harness.paths import REPO_ROOT
from harness.template import bake_defaults, base_image_args


@dataclass
class Service:
    """One project to build: as committed first, and as each scenario changes it."""

    name: str
    base: Path
    edited: Path  # a source change
    test_edited: Path  # a change to a _test.go file only
    bumped: Path | None  # one module upgraded (services with modules only)
    build_args: dict[str, str]  # the base images, for every Dockerfile

    def project(self, scenario: str) -> Path | None:
        """The context a scenario builds, None when the scenario does not apply."""
        changed = {"source-change": self.edited, "test-only": self.test_edited}
        if scenario == "dep-bump":
            return self.bumped
        return changed.get(scenario, self.base)


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
    bytes_pushed: int
    split: dict[str, float]  # measure.TimeSplit: pull, unpack, steps, export, push, other
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


def with_test_edit(project: Path, target: Path) -> Path:
    """A copy whose only change is a new line in one `_test.go` file."""
    shutil.copytree(project, target)
    tests = sorted(target.glob("*_test.go"))
    if not tests:
        raise FileNotFoundError(f"no *_test.go file in {project} to edit")
    with tests[0].open("a", encoding="utf-8") as f:
        f.write("\n// benchmark edit: a change to tests only\n")
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


class SharedServices:
    """The shared-builder variant's BuildKit services: a new, empty one for each cold
    build, kept for the rebuilds of that run, service and variant; all stopped at the end."""

    def __init__(self, settings: TierSettings, folder: Path) -> None:
        self.settings = settings
        self.folder = folder
        self.running: dict[tuple[int, str, str], SharedBuildKit] = {}

    def create_flags(self, run: int, service: str, variant: Variant, scenario: str) -> list[str]:
        """buildx flags for a remote builder on the right service (started if new)."""
        key = (run, service, variant.key)
        if scenario == SCENARIOS[0] or key not in self.running:
            if key in self.running:
                self.running.pop(key).stop()
            folder = self.folder / f"{run}-{service}-{variant.key}-{uuid.uuid4().hex[:6]}"
            self.running[key] = SharedBuildKit(self.settings, folder).__enter__()
        shared = self.running[key]
        return shared.buildx_create_flags(shared.client_files())

    def __enter__(self) -> SharedServices:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for shared in self.running.values():
            shared.stop()


@contextmanager
def builder_for(
    variant: Variant, create_flags: tuple[str, ...] | list[str]
) -> Iterator[Builder | RootlessBuilder]:
    """A new builder of the variant's kind: a buildx builder (docker-container, or
    remote on a shared service), or a rootless BuildKit that lives for the one build
    (nothing to remove afterwards)."""
    if variant.builder == "rootless":
        yield RootlessBuilder(TierSettings.load())
        return
    with fresh_builder(tuple(create_flags)) as builder:
        yield builder


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
    # CI passes the short SHA as VERSION; every Dockerfile gets the same base images.
    return {"GIT_COMMIT": commit, "VERSION": commit[:8], **service.build_args}


def repository(service: str, variant: Variant, run: int) -> str:
    """Each run and variant pushes to repositories of its own: a cold build starts empty."""
    return f"{service}-{variant.name}-r{run}"


def pushed_bytes(
    registry: Registry, repo: str, tag: str, variant: Variant, known: dict[str, set[str]]
) -> int:
    """Bytes of the blobs this build's image and cache manifests hold that their
    repositories did not hold before (known: digests per repository, updated here)."""
    total = 0
    parts = [("app", tag)] + ([("cache", tag)] if variant.cache in ("max", "min") else [])
    for kind, reference in parts:
        name = f"{repo}/{kind}"
        try:
            blobs = measure.manifest_blobs(registry, name, reference)
        except LookupError:
            continue  # a cache export that failed (ignore-error=true) wrote nothing
        total += measure.new_bytes(blobs, known.setdefault(name, set()))
    return total


def measured_build(
    create_flags: tuple[str, ...],
    registry: Registry,
    service: Service,
    variant: Variant,
    scenario: str,
    run: int,
    known: dict[str, set[str]],
    shared: SharedServices | None = None,
) -> Record:
    repo = repository(service.name, variant, run)
    tag = scenario
    cold_cache = f"{registry.address}/{repo}/cache:cold"
    cold_image = f"{registry.address}/{repo}/app:cold"
    project = service.project(scenario)
    assert project is not None, f"{scenario} does not apply to {service.name}"
    output = plan.image_output(variant)
    if variant.builder == "shared":
        assert shared is not None, "the shared-builder variant needs its services"
        create_flags = tuple(shared.create_flags(run, service.name, variant, scenario))
    with builder_for(variant, create_flags) as builder:
        load_before = os.getloadavg()[0]
        others = other_builders(builder.name)
        result = builder.build(
            project,
            dockerfile=plan.dockerfile(variant),
            tags=[f"{registry.address}/{repo}/app:{tag}"],
            push=output is None,
            output=output,
            cache_from=plan.cache_from(variant, cold_cache, cold_image, scenario),
            # Rebuilds write a tag of their own (blobs are shared within the repository),
            # so every rebuild of a run reads the same cold cache, as CI would pay for it.
            cache_to=plan.cache_to(variant, f"{registry.address}/{repo}/cache:{tag}"),
            build_args=build_args(service, plan.commit_of(scenario)),
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
        bytes_pushed=pushed_bytes(registry, repo, tag, variant, known),
        split=measure.time_split(result.stream, result.seconds).as_dict(),
        executed=result.table.executed(),
        steps=sum(1 for s in result.table if not s.text.startswith("FROM ")),
        table=[(s.label, s.status, round(s.seconds, 3)) for s in result.table],
        other=other_work(result.stream),
        load_before=round(load_before, 2),
        load_after=round(load_after, 2),
        other_builders=others,
    )


def registry_sizes(
    registry: Registry, service: str, run: int, variants: list[Variant]
) -> dict[str, object]:
    """Cache image size per mode, and image size against binary size, of one run."""
    sizes: dict[str, object] = {}
    for variant in variants:
        repo = repository(service, variant, run)
        try:
            if variant.cache in ("max", "min"):
                sizes[f"cache:{variant.name}"] = measure.manifest_bytes(
                    registry, f"{repo}/cache", "cold"
                )
            sizes[f"config:{variant.name}"] = measure.config_bytes(registry, f"{repo}/app", "cold")
        except LookupError:
            continue
    ours = [v for v in variants if v.name == "ours-max"]
    if ours:
        image = measure.image_sizes(registry, f"{repository(service, ours[0], run)}/app", "cold")
        sizes["image"] = asdict(image)
    return sizes


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
