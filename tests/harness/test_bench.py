"""The benchmark's own arithmetic and helpers (bench/), without building anything."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bench import measure, report
from harness.modproxy import ModuleProxy

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
    assert met["source-change rebuild <= 60% of the common recipe's"] == ("40%", True)
    assert met["image <= binary + 3 MiB"] == ("binary + 1.00 MiB", True)


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
