"""The files of a results folder written from the run's own records: the module
proxy's log, and the report (results.md, results.json, chart.png) of one run or of
several combined."""

from __future__ import annotations

import json
from pathlib import Path

from bench import report
from harness.golang.modproxy import ModuleProxy


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
