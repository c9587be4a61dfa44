"""The benchmark's own arithmetic and helpers (bench/), without building anything."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bench import measure, plan, report
from harness.evidence.step_table import iter_json_objects, merge_vertices
from harness.golang.modproxy import ModuleProxy

MiB = 1024 * 1024


def status(vertex: str, status_id: str, total: int | None = None) -> dict:
    entry = {"vertex": vertex, "id": status_id}
    if total is not None:
        entry["total"] = total
    return entry


def test_bytes_pulled_counts_each_downloaded_blob_once():
    objects = [
        {"statuses": [status("v1", "sha256:" + "a" * 64, 100)]},
        {"statuses": [status("v1", "sha256:" + "a" * 64, 100)]},  # a later update
        {"statuses": [status("v2", "sha256:" + "b" * 64, 50)]},
        {"statuses": [status("v2", "extracting sha256:" + "b" * 64)]},  # unpacking
        {"statuses": [status("v0", "transferring context:", 999)]},  # the upload
    ]
    stream = "WARNING: plain text\n" + "\n".join(json.dumps(o, indent=2) for o in objects)
    assert measure.bytes_pulled(stream) == 150


def record(variant: str, scenario: str, seconds: float, compile_seconds: float) -> dict:
    return {
        "run": 1,
        "service": "default",
        "variant": variant,
        "scenario": scenario,
        "seconds": seconds,
        "compile_step": "[builder 7] RUN go build",
        "compile_status": "executed",
        "compile_seconds": compile_seconds,
        "bytes_pulled": 1_000_000,
        "executed": ["[builder 7] RUN go build"],
        "steps": 7,
        "table": [],
        "load_before": 1.0,
        "load_after": 1.0,
        "other_builders": 0,
    }


@pytest.fixture
def summary() -> dict:
    records = [
        record("ours-max", "cold", 40.0, 0.5),
        record("ours-max", "no-change", 1.0, 0.0),
        record("ours-max", "source-change", 12.0, 0.4),
        record("common-max", "cold", 30.0, 20.0),
        record("common-max", "no-change", 0.8, 0.0),
        record("common-max", "source-change", 30.0, 20.0),
        record("ours-shared", "cold", 41.0, 0.5),
        record("ours-shared", "source-change", 3.0, 0.4),
    ]
    sizes = {
        "default": {
            "run1": {
                "cache:ours-max": 120_000_000,
                "cache:common-max": 100_000_000,
                "config:ours-max": 3000,
                "config:ours-inline": 9000,
                "image": {"compressed": 3 * MiB, "uncompressed": 7 * MiB, "binary": 6 * MiB},
            }
        }
    }
    meta = {
        "started": "2026-01-01T00:00:00+00:00",
        "runs": 1,
        "runs_completed": {"default": 1},
        "seconds": 100.0,
        "command": "python3 -m bench.run",
        "variants": {"ours-max": "(a) ours", "common-max": "(b) common"},
        "machine": {
            "cores": "2",
            "cpu": "Some CPU",
            "memory": "24Gi",
            "kernel": "6",
            "docker": "28",
            "buildx": "buildx",
        },
        "load_at_start": [1.0, 1.0, 1.0],
        "load_at_end": [2.0, 1.0, 1.0],
    }
    return report.summarize(records, sizes, meta)


def test_ratios_against_the_common_recipe_and_the_cold_build(summary):
    figures = summary["services"]["default"]["builds"]["ours-max"]["source-change"]
    assert figures["vs_common"] == pytest.approx(12 / 30)
    assert figures["vs_cold"] == pytest.approx(12 / 40)
    assert figures["seconds"] == {"median": 12.0, "min": 12.0, "max": 12.0, "n": 1}


def test_targets_report_where_each_stands(summary):
    met = {t["target"]: (t["value"], t["met"]) for t in summary["targets"]}
    assert met["no-change rebuild <= 3% of the cold build"] == ("2.5%", True)
    assert met["compile step after a source change <= 1 s"] == ("0.40 s", True)
    assert met["source-change rebuild <= 50% of the common recipe's"] == ("40%", True)
    assert met["cold build <= 125% of the common recipe's"] == ("133%", False)
    assert met["image <= binary + 3 MiB"] == ("binary + 1.00 MiB", True)
    assert met["ours-shared: source-change rebuild <= 15% of the common recipe's"] == ("10%", True)


def test_markdown_and_printed_lines(summary):
    text = report.markdown(summary)
    assert "| rebuild, source change + new commit | ours-max | 12.00 s (12.00-12.00) |" in text
    assert "cache image of `ours-max`: 120.0 MB" in text
    assert "inline cache: no cache image" in text
    lines = report.figure_lines(summary)
    assert any(line.startswith("default ours-max no-change: 1.00 s") for line in lines)
    assert any(line.startswith("target default: image <= binary + 3 MiB") for line in lines)


def test_chart_is_a_png(summary, tmp_path: Path):
    pytest.importorskip("matplotlib", reason="the chart needs the bench extra")
    out = tmp_path / "chart.png"
    report.chart(summary, out)
    assert out.read_bytes().startswith(b"\x89PNG")


def test_module_proxy_serves_the_cache_and_records_requests(tmp_path: Path):
    versions = tmp_path / "cache" / "download" / "example.com" / "m" / "@v"
    versions.mkdir(parents=True)
    (versions / "list").write_text("v1.0.0\n", encoding="utf-8")
    with ModuleProxy(tmp_path) as proxy:
        assert proxy.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{proxy.url}/example.com/m/@v/list", timeout=5) as r:
            assert r.read() == b"v1.0.0\n"
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{proxy.url}/example.com/m/@v/v9.0.0.zip", timeout=5)
    served, not_found, zips = proxy.summary()
    assert (served, not_found, zips) == (1, 1, [])


def test_module_proxy_serves_an_added_cache_after_its_own(tmp_path: Path):
    def cache(name: str, version: str) -> Path:
        versions = tmp_path / name / "cache" / "download" / "example.com" / "m" / "@v"
        versions.mkdir(parents=True)
        (versions / "list").write_text(f"{version}\n", encoding="utf-8")
        (versions / f"{version}.mod").write_text("module example.com/m\n", encoding="utf-8")
        return tmp_path / name

    with ModuleProxy(cache("first", "v1.0.0")) as proxy:
        proxy.add_cache(cache("bumped", "v1.1.0"))
        with urllib.request.urlopen(f"{proxy.url}/example.com/m/@v/list", timeout=5) as r:
            assert r.read() == b"v1.0.0\n"  # the first cache answers what it has
        with urllib.request.urlopen(f"{proxy.url}/example.com/m/@v/v1.1.0.mod", timeout=5) as r:
            assert r.read() == b"module example.com/m\n"
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{proxy.url}/example.com/m/@v/v9.0.0.mod", timeout=5)
        with pytest.raises(urllib.error.HTTPError):  # nothing outside the caches
            urllib.request.urlopen(f"{proxy.url}/../../first/cache/download", timeout=5)
    assert proxy.summary()[:2] == (2, 2)


# ---- bytes pushed and where the time went ----------------------------------------


def test_new_bytes_counts_blobs_the_repository_did_not_hold():
    known: set[str] = set()
    assert measure.new_bytes({"sha256:a": 100, "sha256:b": 50}, known) == 150
    assert measure.new_bytes({"sha256:a": 100, "sha256:c": 7}, known) == 7
    assert known == {"sha256:a", "sha256:b", "sha256:c"}


def at(second: float) -> str:
    return f"2026-01-01T00:00:{second:09.6f}123Z"  # nanoseconds, as BuildKit prints


def timed(vertex: str, status_id: str, start: float, end: float) -> dict:
    return {"vertex": vertex, "id": status_id, "started": at(start), "completed": at(end)}


def test_time_split_of_a_synthetic_build():
    layer_a, layer_b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    objects = [
        {
            "vertexes": [
                {"digest": "from", "name": "[builder 1/3] FROM golang", "started": at(0)},
                {"digest": "run", "name": "[builder 3/3] RUN go build", "started": at(4)},
                {"digest": "cached", "name": "[builder 2/3] COPY . .", "cached": True},
                {"digest": "export", "name": "exporting to image", "started": at(10)},
            ],
            "statuses": [
                # Two downloads in parallel (0-2 and 1-3): 3 s covered, not 4.
                timed("from", layer_a, 0, 2),
                timed("from", layer_b, 1, 3),
                timed("from", "extracting " + layer_a, 2, 4),
                timed("export", "exporting layers", 10, 11),
                timed("export", "pushing layers", 11, 13),
                timed("cache", "preparing build cache for export", 13, 14),
                timed("cache", "writing layer " + layer_a, 14, 14.5),
            ],
        },
        # A later update: the step really started at 3 s, while the unpack still ran.
        {
            "vertexes": [
                {
                    "digest": "run",
                    "name": "[builder 3/3] RUN go build",
                    "started": at(3),
                    "completed": at(9),
                }
            ]
        },
        {"vertexes": [{"digest": "from", "completed": at(4)}]},
    ]
    stream = "\n".join(json.dumps(obj) for obj in objects)
    split = measure.time_split(stream, wall_seconds=16.0)
    assert split.pull == pytest.approx(3.0)
    assert split.unpack == pytest.approx(2.0)
    assert split.steps == pytest.approx(5.0)  # 3-9 s less the unpack's 3-4 s
    assert split.export == pytest.approx(2.0)
    assert split.push == pytest.approx(2.5)
    # Covered: 0-4 (layers), 4-9 (step), 10-14.5 (export and push): 13.5 s of 16.
    assert split.other == pytest.approx(2.5)


def test_time_split_of_recorded_builds():
    """On real streams (tests/harness/data): the parts never exceed the build's
    seconds, a no-change rebuild ran no step, and a cold build's steps dominate."""
    data = Path(__file__).parent / "data"
    streams = {
        name: (data / f"{name}.rawjson").read_text(encoding="utf-8")
        for name in ("cold", "no-change")
    }
    # Each build's seconds, as its own stream spans them (the recorder's machine was busy).
    seconds = {name: span(stream) for name, stream in streams.items()}
    cold = measure.time_split(streams["cold"], seconds["cold"])
    again = measure.time_split(streams["no-change"], seconds["no-change"])
    assert again.steps == 0 and again.pull == 0
    assert cold.steps > 10 and cold.unpack > 1 and cold.export > 0 and cold.push > 0
    for split, total in ((cold, seconds["cold"]), (again, seconds["no-change"])):
        parts = split.pull + split.steps + split.export + split.push
        assert parts <= total and split.other >= 0


def span(stream: str) -> float:
    """Seconds from the first start to the last completion the stream reports."""
    vertices = merge_vertices(iter_json_objects(stream)).values()
    starts = [v.started for v in vertices if v.started]
    ends = [v.completed for v in vertices if v.completed]
    return (max(ends) - min(starts)).total_seconds()


# ---- the plan: variants, options, scenarios --------------------------------------


def test_variants_are_chosen_by_key_or_name_and_unknown_ones_are_refused():
    assert [v.key for v in plan.select_variants("a, joined-warm-up,a")] == ["a", "h"]
    assert len(plan.select_variants("all")) == len(plan.VARIANTS)
    with pytest.raises(ValueError, match="unknown variant 'z'"):
        plan.select_variants("a,z")


def test_zstd_variants_align_the_cache_and_the_image():
    zstd, force = plan.select_variants("ours-zstd,ours-zstd-force")
    assert plan.cache_to(zstd, "r/cache:t").endswith(",compression=zstd")
    assert plan.image_output(zstd) == "type=image,push=true,compression=zstd"
    options = "compression=zstd,force-compression=true"
    assert plan.cache_to(force, "r/cache:t").endswith("," + options)
    assert plan.image_output(force) == "type=image,push=true," + options
    (ours,) = plan.select_variants("a")
    assert "compression" not in plan.cache_to(ours, "r/cache:t")
    assert plan.image_output(ours) is None  # the build uses --push


def test_scenarios_carry_the_commit_a_ci_job_would():
    assert plan.commit_of("test-only") == plan.commit_of("cold") == plan.FIRST_COMMIT
    assert plan.commit_of("dep-bump") == plan.commit_of("source-change") == plan.NEXT_COMMIT


def test_the_realistic_go_image_is_named_like_the_official_tag():
    from harness.template import go_image

    assert plan.resolve_go_image("debian") == f"{go_image()}-{plan.DEBIAN_RELEASE}"
    assert plan.resolve_go_image("small") == go_image()
    assert plan.resolve_go_image("example.org/go:1") == "example.org/go:1"


def test_the_joined_warm_up_recipe_compiles_like_the_template(bake):
    """The experiment differs from the template in the warm-up only: its checkout stage
    and everything from the source copy on (the compile step, runtime stage and labels)
    are the baked default project's, line for line; in between, it has no std stage and
    warms up in one RUN."""
    baked = (bake({}) / "Dockerfile").read_text(encoding="utf-8")
    recipe = plan.JOINED_WARM_UP_RECIPE.read_text(encoding="utf-8")

    def lines(text: str) -> list[str]:
        return [line for line in text.splitlines() if line and not line.startswith("#")]

    def tail(text: str) -> list[str]:
        return lines(text)[lines(text).index("COPY --from=checkout / .") :]

    def context_stage(text: str) -> list[str]:
        start = lines(text).index("FROM --platform=$BUILDPLATFORM scratch AS checkout")
        return lines(text)[start : start + 2]

    assert tail(recipe) == tail(baked)
    assert context_stage(recipe) == context_stage(baked)
    assert "COPY --from=checkout /go.mod /go.sum ./" in lines(recipe)
    assert " AS std" not in recipe and "--from=std" not in recipe
    assert [line for line in recipe.splitlines() if line.startswith("RUN go build std && ")]


def test_each_scenario_builds_its_own_context_and_dep_bump_needs_modules(tmp_path: Path):
    from bench.contexts import Service, with_test_edit

    base = tmp_path / "base"
    base.mkdir()
    (base / "main.go").write_text("package main\n", encoding="utf-8")
    (base / "main_test.go").write_text("package main\n", encoding="utf-8")
    edited = with_test_edit(base, tmp_path / "test-edited")
    assert (edited / "main.go").read_bytes() == (base / "main.go").read_bytes()
    assert (edited / "main_test.go").read_bytes() != (base / "main_test.go").read_bytes()
    service = Service("default", base, tmp_path / "src", edited, None, {})
    assert [service.project(s) for s in plan.SCENARIOS] == [
        base, base, tmp_path / "src", base, edited, None
    ]  # fmt: skip
