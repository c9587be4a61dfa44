"""The two step classifiers agree: the harness's (Python) and the generated project's
`make cache-demo` (Go, tools/cachedemo), run on the same recorded rawjson streams.

The Go side runs through a small test file dropped into a copy of the baked project's
tools/cachedemo: it calls the demo's own ParseSteps on each stream and writes what it
found as JSON. Nothing is added to the generated project itself.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.evidence.step_table import step_table
from harness.infra.policy import require_tool
from harness.template import go_toolchain

DATA = Path(__file__).parent / "data"
RECORDED = sorted(DATA.glob("*.rawjson"))

# Small synthetic streams for what the recordings do not show: a step never flagged
# cached whose only activity is moving cached layers (the trap), the same with output
# (it ran), a step with output, and an unnamed stage.
LAYER = "sha256:" + "ab" * 32
STEP = "sha256:" + "01" * 32


def _vertex(name: str, start: str, end: str = "") -> dict:
    update = {"digest": STEP, "name": name, "started": f"2026-01-01T00:00:{start}Z"}
    if end:
        update["completed"] = f"2026-01-01T00:00:{end}Z"
    return {"vertexes": [update]}


def _log(text: bytes) -> dict:
    return {"logs": [{"vertex": STEP, "stream": 1, "data": base64.b64encode(text).decode()}]}


_DOWNLOAD = {"statuses": [{"id": LAYER, "vertex": STEP, "current": 10, "total": 10}]}
_UNPACK = {"statuses": [{"id": f"extracting {LAYER}", "vertex": STEP, "name": "extracting"}]}
_STD = "[builder 5/7] RUN go build std"
SYNTHETIC: dict[str, list[dict]] = {
    "trap": [_vertex(_STD, "01.0"), _DOWNLOAD, _UNPACK, _vertex(_STD, "01.0", "01.1")],
    "layers-and-output": [
        _vertex(_STD, "01.0"),
        _DOWNLOAD,
        _log(b"ok\n"),
        _vertex(_STD, "01.0", "02.0"),
    ],
    "output": [_vertex(_STD, "01.0"), _log(b"go: downloading\n"), _vertex(_STD, "01.0", "03.5")],
    "unnamed-stage": [_vertex("[2/2] RUN x", "01.0", "01.5")],
}


@pytest.fixture(scope="module")
def streams(tmp_path_factory) -> Path:
    """The recorded streams and the synthetic ones, in one folder."""
    folder = tmp_path_factory.mktemp("streams")
    for path in RECORDED:
        shutil.copy2(path, folder / path.name)
    for name, objects in SYNTHETIC.items():
        text = "\n".join(json.dumps(obj, indent=2) for obj in objects) + "\n"
        (folder / f"synthetic-{name}.rawjson").write_text(text, encoding="utf-8")
    return folder


STREAM_NAMES = [p.name for p in RECORDED] + [f"synthetic-{n}.rawjson" for n in SYNTHETIC]

DUMP_TEST = """package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestParityDump writes ParseSteps' view of every stream in PARITY_STREAMS as JSON.
func TestParityDump(t *testing.T) {
	found := map[string][]map[string]any{}
	paths, _ := filepath.Glob(filepath.Join(os.Getenv("PARITY_STREAMS"), "*.rawjson"))
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		steps := []map[string]any{}
		for _, s := range ParseSteps(data) {
			steps = append(steps, map[string]any{
				"platform": s.Platform, "stage": s.Stage, "number": s.Number,
				"text": s.Text, "status": s.Status, "seconds": s.Seconds,
			})
		}
		found[filepath.Base(path)] = steps
	}
	out, err := json.Marshal(found)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(os.Getenv("PARITY_OUT"), out, 0o644); err != nil {
		t.Fatal(err)
	}
}
"""


@pytest.fixture(scope="module")
def go_tables(bake, streams: Path, tmp_path_factory) -> dict[str, list[dict]]:
    go = require_tool("go")
    project = tmp_path_factory.mktemp("parity") / "project"
    shutil.copytree(bake({"include_cache_demo": True}), project)
    module = project / "tools" / "cachedemo"  # the demo is a Go module of its own
    (module / "parity_dump_test.go").write_text(DUMP_TEST)
    out = project.parent / "go-tables.json"
    env = {**os.environ, "PARITY_STREAMS": str(streams), "PARITY_OUT": str(out)}
    env["GOTOOLCHAIN"] = go_toolchain()
    result = subprocess.run(
        [go, "test", "-count=1", "-run", "^TestParityDump$", "."],
        cwd=module, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(out.read_text(encoding="utf-8"))


def test_there_are_recorded_streams():
    assert len(RECORDED) >= 5, f"recorded streams missing in {DATA}"


@pytest.mark.parametrize("name", STREAM_NAMES, ids=lambda name: name.removesuffix(".rawjson"))
def test_go_and_python_classify_every_step_alike(go_tables, streams: Path, name: str):
    stream = streams / name
    python = [
        {
            "platform": s.platform, "stage": s.stage, "number": s.number,
            "text": s.text, "status": s.status, "seconds": s.seconds,
        }
        for s in step_table(stream.read_text(encoding="utf-8"))
    ]  # fmt: skip
    go = go_tables[stream.name]
    assert python, f"the Python classifier found no steps in {stream.name}"

    def key(row: dict) -> tuple:
        return (row["platform"], row["stage"], row["number"], row["text"], row["status"])

    assert [key(row) for row in go] == [key(row) for row in python], (
        f"{stream.name}: the classifiers disagree\nGo:     {go}\nPython: {python}"
    )
    for g, p in zip(go, python, strict=True):
        assert g["seconds"] == pytest.approx(p["seconds"], abs=0.01), (g, p)
