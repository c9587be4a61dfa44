"""Turn the benchmark's records into figures: a Markdown table, a chart, printed lines."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bench.plan import SCENARIOS

MiB = 1024 * 1024
SCENARIO_TITLES = {
    "cold": "cold build",
    "no-change": "rebuild, no change",
    "source-change": "rebuild, source change + new commit",
    "commit-only": "rebuild, new commit only",
    "test-only": "rebuild, _test.go change only",
    "dep-bump": "rebuild, dependency bump + new commit",
}
# Where a build's time went (bench.measure.TimeSplit), in report order.
SPLIT = ("pull", "unpack", "steps", "export", "push", "other")
OURS = "ours-max"
# The shared builder (issue 15), warm between the builds of a run.
SHARED = "ours-shared"
COMMON = "common-max"


def spread(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def summarize(
    records: list[dict[str, Any]], sizes: dict[str, dict[str, Any]], meta: dict[str, Any]
) -> dict[str, Any]:
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        grouped[record["service"], record["variant"], record["scenario"]].append(record)
    services: dict[str, Any] = {}
    for (service, variant, scenario), group in grouped.items():
        builds = services.setdefault(service, {"builds": {}})["builds"]
        builds.setdefault(variant, {})[scenario] = {
            "seconds": spread([r["seconds"] for r in group]),
            "compile_seconds": spread([r["compile_seconds"] for r in group]),
            "compile_status": Counter(r["compile_status"] for r in group).most_common(1)[0][0],
            "compile_step": group[0]["compile_step"],
            "bytes_pulled": spread([r["bytes_pulled"] for r in group]),
            # Records of runs before these figures existed have none.
            "bytes_pushed": spread([r.get("bytes_pushed", 0) for r in group]),
            "split": {
                part: statistics.median([(r.get("split") or {}).get(part, 0.0) for r in group])
                for part in SPLIT
            },
            "executed": group[0]["executed"],
            "executed_counts": sorted({len(r["executed"]) for r in group}),
            "steps": group[0]["steps"],
            "load": spread([r["load_before"] for r in group]),
            "other_builders_max": max(r["other_builders"] for r in group),
        }
    for service, data in services.items():
        builds = data["builds"]
        for scenarios in builds.values():
            cold = scenarios.get("cold", {}).get("seconds", {}).get("median")
            for scenario, figures in scenarios.items():
                median = figures["seconds"]["median"]
                common = builds.get(COMMON, {}).get(scenario, {}).get("seconds", {}).get("median")
                figures["vs_common"] = median / common if common else None
                figures["vs_cold"] = median / cold if cold else None
        data["sizes"] = _sizes(sizes.get(service, {}))
    summary = {"meta": meta, "services": services}
    summary["targets"] = targets(summary)
    return summary


def _sizes(per_run: dict[str, dict[str, Any]]) -> dict[str, Any]:
    values: dict[str, list[int]] = defaultdict(list)
    for run in per_run.values():
        for key, value in run.items():
            if key == "image":
                for field, number in value.items():
                    values[f"image:{field}"].append(number)
            else:
                values[key].append(value)
    return {key: statistics.median(numbers) for key, numbers in sorted(values.items())}


def _get(summary: dict[str, Any], service: str, variant: str, scenario: str) -> dict | None:
    return summary["services"].get(service, {}).get("builds", {}).get(variant, {}).get(scenario)


# The ratio targets against the common recipe: (scenario, wording, at most).
VS_COMMON_TARGETS = (
    ("source-change", "source-change rebuild <= 50% of the common recipe's", 0.50),
    ("dep-bump", "dependency-bump rebuild <= 60% of the common recipe's", 0.60),
    ("cold", "cold build <= 125% of the common recipe's", 1.25),
)


def targets(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Where each of the issue's targets stands (benchmark figures, never assertions)."""
    found = []
    for service in summary["services"]:
        no_change = _get(summary, service, OURS, "no-change")
        if no_change and no_change["vs_cold"] is not None:
            found.append(
                {
                    "service": service,
                    "target": "no-change rebuild <= 3% of the cold build",
                    "value": f"{no_change['vs_cold']:.1%}",
                    "met": no_change["vs_cold"] <= 0.03,
                }
            )
        source = _get(summary, service, OURS, "source-change")
        if source and service == "default":
            seconds = source["compile_seconds"]["median"]
            found.append(
                {
                    "service": service,
                    "target": "compile step after a source change <= 1 s",
                    "value": f"{seconds:.2f} s",
                    "met": seconds <= 1.0,
                }
            )
        for scenario, wording, limit in VS_COMMON_TARGETS:
            figures = _get(summary, service, OURS, scenario)
            if figures and figures["vs_common"] is not None:
                found.append(
                    {
                        "service": service,
                        "target": wording,
                        "value": f"{figures['vs_common']:.0%}",
                        "met": figures["vs_common"] <= limit,
                    }
                )
        shared = _get(summary, service, SHARED, "source-change")
        if shared and shared["vs_common"] is not None:
            found.append(
                {
                    "service": service,
                    "target": f"{SHARED}: source-change rebuild <= 15% of the common recipe's",
                    "value": f"{shared['vs_common']:.0%}",
                    "met": shared["vs_common"] <= 0.15,
                }
            )
        test_only = _get(summary, service, OURS, "test-only")
        if test_only:
            most = max(test_only["executed_counts"])
            found.append(
                {
                    "service": service,
                    "target": "test-only change executes no step",
                    "value": f"{most} steps executed (most in a run)",
                    "met": most == 0,
                }
            )
        sizes = summary["services"][service]["sizes"]
        if "image:binary" in sizes:
            over = sizes["image:uncompressed"] - sizes["image:binary"]
            found.append(
                {
                    "service": service,
                    "target": "image <= binary + 3 MiB",
                    "value": f"binary + {over / MiB:.2f} MiB",
                    "met": over <= 3 * MiB,
                }
            )
    return found


def _s(figures: dict[str, float], unit: str = "s") -> str:
    return f"{figures['median']:.2f} {unit} ({figures['min']:.2f}-{figures['max']:.2f})"


def _ratio(value: float | None, percent: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:.1%}" if percent else f"{value:.2f}x"


def markdown(summary: dict[str, Any]) -> str:
    meta = summary["meta"]
    m = meta["machine"]
    runs = ", ".join(f"{service} {n}" for service, n in meta["runs_completed"].items())
    lines = [
        "# Build cache benchmark",
        "",
        f"Started {meta['started']}; runs completed per service: {runs}; {meta['seconds']:.0f} s"
        " of benchmark in all.",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory']} memory, kernel {m['kernel']};"
        f" Docker {m['docker']}; {m['buildx']}.",
        f"Load average (1 min) at start {meta['load_at_start'][0]:.2f},"
        f" at end {meta['load_at_end'][0]:.2f}. Figures come from this one machine.",
        *[f"Command: `{command}`" for command in meta.get("commands", [meta["command"]])],
        "",
        "Variants:",
        "",
        *[f"- `{name}`: {label}" for name, label in meta["variants"].items()],
        "",
        "Each build runs on a fresh docker-container builder. Seconds are the wall time of",
        "`docker buildx build` (push and cache export included, builder start-up excluded):",
        "median (min-max). `x common` divides by the common recipe's median in the same",
        "scenario; `of cold` by the same variant's cold build. MB pulled: the blobs the",
        "builder downloaded (base image and cache layers), each digest once. MB pushed: the",
        "blobs of the image and cache manifests the build wrote that their repositories did",
        "not hold yet. Each run and variant has repositories of its own.",
        *(
            [
                "The rootless variant builds with `buildctl-daemonless.sh` in a new",
                "`-rootless` container per build, as the rootless CI job does: its seconds",
                "include starting that container and its BuildKit, which the buildx figures",
                "leave out.",
            ]
            if "ours-rootless" in meta["variants"]
            else []
        ),
        *(
            [
                f"The exception is `{SHARED}`: each run's cold build gets a new, empty BuildKit",
                "service, which stays up for that run's rebuilds, as a shared builder does",
                "between jobs (a new buildx builder entry connects to it for every build).",
            ]
            if SHARED in meta["variants"]
            else []
        ),
        "",
        f"Go image: `{meta.get('go_image', 'the template GO_IMAGE')}`.",
        "",
    ]
    for service, data in summary["services"].items():
        lines += [
            f"## Service `{service}`",
            "",
            "| scenario | variant | seconds | x common | of cold | compile step | steps run |"
            " MB pulled | MB pushed | load |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for scenario in SCENARIOS:
            for variant, scenarios in data["builds"].items():
                f = scenarios.get(scenario)
                if not f:
                    continue
                run_counts = "/".join(str(n) for n in f["executed_counts"])
                lines.append(
                    f"| {SCENARIO_TITLES[scenario]} | {variant} | {_s(f['seconds'])} |"
                    f" {_ratio(f['vs_common'])} | {_ratio(f['vs_cold'], percent=True)} |"
                    f" {f['compile_status']} {_s(f['compile_seconds'])} |"
                    f" {run_counts} of {f['steps']} | {f['bytes_pulled']['median'] / 1e6:.1f} |"
                    f" {f['bytes_pushed']['median'] / 1e6:.1f} | {f['load']['median']:.1f} |"
                )
        lines += [
            "",
            "Where the time went, seconds (medians; BuildKit's timestamps, see bench/measure.py:"
            " parts may overlap, `other` is the wall time none of them covers):",
            "",
            "| scenario | variant | " + " | ".join(SPLIT) + " |",
            "|---|---|" + "---|" * len(SPLIT),
        ]
        for scenario in SCENARIOS:
            for variant, scenarios in data["builds"].items():
                f = scenarios.get(scenario)
                if f:
                    parts = " | ".join(f"{f['split'][part]:.2f}" for part in SPLIT)
                    lines.append(f"| {SCENARIO_TITLES[scenario]} | {variant} | {parts} |")
        sizes = data["sizes"]
        lines += ["", "Sizes in the registry (compressed, median over runs):", ""]
        for key, value in sizes.items():
            if key.startswith("cache:"):
                lines.append(f"- cache image of `{key[6:]}`: {value / 1e6:.1f} MB")
        ours_config = sizes.get("config:ours-max")
        inline = sizes.get("config:ours-inline")
        if ours_config and inline:
            lines.append(
                f"- inline cache: no cache image; the records ride in the image config"
                f" ({inline / 1e3:.1f} kB against {ours_config / 1e3:.1f} kB without them)"
            )
        if "image:binary" in sizes:
            lines.append(
                f"- image of `{OURS}`: {sizes['image:compressed'] / MiB:.2f} MiB compressed,"
                f" {sizes['image:uncompressed'] / MiB:.2f} MiB unpacked; binary"
                f" {sizes['image:binary'] / MiB:.2f} MiB"
            )
        lines.append("")
    proxy = meta.get("module_proxy")
    if proxy:
        lines += [
            "Modules of the `deps` service came from a local module proxy on 127.0.0.1:"
            f" {proxy['served']} requests served, {proxy['not_found']} not found;"
            f" {len(proxy['zips'])} module zips (see module-proxy.log).",
            "",
        ]
    lines += ["## Targets", "", "| service | target | measured | met |", "|---|---|---|---|"]
    for t in summary["targets"]:
        lines.append(
            f"| {t['service']} | {t['target']} | {t['value']} | {'yes' if t['met'] else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def figure_lines(summary: dict[str, Any]) -> list[str]:
    """One line per figure, for the terminal."""
    lines = []
    for service, data in summary["services"].items():
        for scenario in SCENARIOS:
            for variant, scenarios in data["builds"].items():
                f = scenarios.get(scenario)
                if not f:
                    continue
                lines.append(
                    f"{service} {variant} {scenario}: {_s(f['seconds'])},"
                    f" {_ratio(f['vs_common'])} common, {_ratio(f['vs_cold'], True)} of cold,"
                    f" compile {f['compile_status']} {f['compile_seconds']['median']:.2f} s,"
                    f" {f['bytes_pulled']['median'] / 1e6:.1f} MB pulled,"
                    f" {f['bytes_pushed']['median'] / 1e6:.1f} MB pushed"
                )
        for key, value in data["sizes"].items():
            if key.startswith("image:"):
                shown = f"{value / MiB:.2f} MiB"
            elif key.startswith("config:"):
                shown = f"{value / 1e3:.1f} kB"
            else:
                shown = f"{value / 1e6:.1f} MB"
            lines.append(f"{service} size {key}: {shown}")
    for t in summary["targets"]:
        met = "met" if t["met"] else "NOT met"
        lines.append(f"target {t['service']}: {t['target']}: {t['value']} ({met})")
    return lines


def chart(summary: dict[str, Any], path: Path) -> None:
    """Grouped bars: one panel per service, scenarios on x, one bar per variant,
    whiskers from min to max."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    services = list(summary["services"])
    fig, axes = plt.subplots(
        1, len(services), figsize=(9 * len(services), 4.8), squeeze=False, layout="constrained"
    )
    for ax, service in zip(axes[0], services, strict=True):
        builds = summary["services"][service]["builds"]
        variants = list(builds)
        # Only the scenarios this service has (dep-bump needs modules).
        shown = [s for s in SCENARIOS if any(s in builds[v] for v in variants)]
        width = 0.8 / max(len(variants), 1)
        for i, variant in enumerate(variants):
            xs, ys, low, high = [], [], [], []
            for x, scenario in enumerate(shown):
                f = builds[variant].get(scenario)
                if not f:
                    continue
                s = f["seconds"]
                xs.append(x - 0.4 + width * (i + 0.5))
                ys.append(s["median"])
                low.append(s["median"] - s["min"])
                high.append(s["max"] - s["median"])
            bars = ax.bar(xs, ys, width, yerr=[low, high], capsize=2, label=variant)
            ax.bar_label(bars, fmt="%.1f", fontsize=6, padding=2)
        titles = [SCENARIO_TITLES[s].replace(", ", ",\n") for s in shown]
        ax.set_xticks(range(len(shown)), titles, fontsize=6)
        ax.set_ylabel("seconds (median, whiskers min-max)")
        ax.set_title(f"service '{service}'")
        ax.set_ylim(0, ax.get_ylim()[1] * 1.2)  # room for the legend above the bars
        ax.legend(fontsize=7, loc="upper center", ncols=3)
    m = summary["meta"]["machine"]
    runs = ", ".join(f"{s} {n}" for s, n in summary["meta"]["runs_completed"].items())
    # Every variant builds on a fresh builder but the shared one, which stays warm.
    kind = "Fresh-builder builds"
    if any(SHARED in service["builds"] for service in summary["services"].values()):
        kind += f" ({SHARED}: a shared BuildKit kept warm)"
    fig.suptitle(
        f"{kind} (runs: {runs}); one machine: {m['cores']} cores, {m['cpu']}",
        fontsize=9,
    )
    fig.savefig(path, dpi=120)
    plt.close(fig)
