"""Record the rawjson streams the classifier tests read, from the template as it is.

    python -m harness.evidence.rawjson_fixtures [--out tests/harness/data]

Needs the testbed (`testbed/testbed.sh up`). Bakes the default project and runs five
builds, each on a FRESH docker-container builder, against a throwaway registry:

  cold            writes the registry cache (the pipeline's --cache-to options)
  no-change       reads it, same commit
  source-change   reads it, after a source edit and with a new commit
  failing         reads it, after an edit that does not compile
  multi-platform  no cache, linux/amd64 and linux/arm64

It writes <name>.rawjson for each, the Dockerfile they were built from
(Dockerfile.recorded, which a test compares with today's template) and recorded.json
(the builder's versions and the date).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from harness.builders.buildx import Builder, BuildResult, registry_cache
from harness.evidence.dockerfile_steps import edit_source
from harness.infra.commands import docker
from harness.infra.registry import Registry
from harness.infra.settings import TierSettings
from harness.paths import REPO_ROOT
from harness.template import bake_defaults

DEFAULT_OUT = REPO_ROOT / "tests" / "harness" / "data"
FIRST, SECOND, THIRD = "1" * 40, "2" * 40, "3" * 40


def record(out: Path) -> dict[str, str]:
    settings = TierSettings.load()
    settings.export_testcontainers()
    streams: dict[str, BuildResult] = {}
    versions: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="gotpl-record-") as tmp, Registry() as registry:
        project = bake_defaults(Path(tmp) / "bake")
        edited = Path(tmp) / "edited" / project.name
        shutil.copytree(project, edited)
        edit_source(edited, "recorded edit")
        broken = Path(tmp) / "broken" / project.name
        shutil.copytree(project, broken)
        (broken / "edit.go").write_text("package main\n\nfunc broken( {\n", encoding="utf-8")
        cache = f"{registry.address}/rec/cache:main"
        app = f"{registry.address}/rec/app"
        builds = {
            "cold": (project, {"cache_to": registry_cache(cache), "tags": [f"{app}:1"]}, FIRST),
            "no-change": (project, {"cache_from": [f"type=registry,ref={cache}"],
                                    "tags": [f"{app}:2"]}, FIRST),
            "source-change": (edited, {"cache_from": [f"type=registry,ref={cache}"],
                                       "tags": [f"{app}:3"]}, SECOND),
            "failing": (broken, {"cache_from": [f"type=registry,ref={cache}"]}, THIRD),
            "multi-platform": (project, {"platforms": "linux/amd64,linux/arm64",
                                         "tags": [f"{app}:multi"]}, FIRST),
        }  # fmt: skip
        for name, (context, options, commit) in builds.items():
            builder = Builder(settings.create_flags).create()
            try:
                versions.setdefault("buildkit", builder.buildkit_version()[1])
                push = bool(options.get("tags"))
                result = builder.build(
                    context, push=push, build_args={"GIT_COMMIT": commit}, **options
                )
            finally:
                builder.remove()
            if (result.returncode == 0) != (name != "failing"):
                raise SystemExit(f"{name}: unexpected exit code\n{result.report()}")
            streams[name] = result
            print(f"{name}: {result.seconds:.1f}s\n{result.table.render()}\n")
        out.mkdir(parents=True, exist_ok=True)
        for name, result in streams.items():
            (out / f"{name}.rawjson").write_text(result.stream, encoding="utf-8")
        shutil.copy2(project / "Dockerfile", out / "Dockerfile.recorded")
    versions["buildx"] = docker("buildx", "version").stdout.strip()
    meta = {"recorded": datetime.now(UTC).isoformat(timespec="seconds"), **versions}
    (out / "recorded.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    print(json.dumps(record(args.out), indent=2))


if __name__ == "__main__":
    main()
