"""Record the plain-progress builds that the cache report's tests read.

    python -m harness.evidence.plain_fixtures [--out tests/harness/data/plain]

Needs the testbed (`testbed/testbed.sh up`). Builds a three-stage Dockerfile of a few
lines (data/plain/Dockerfile: a base stage whose RUN a later stage needs, a stage that
copies the one source file, a final stage), each build on a FRESH docker-container
builder with `--progress=plain`, as a CI job log shows it:

  cold.txt                reads an absent cache ref, writes the cache
  source-change.txt       after an edit: reads an absent ref and the cache, writes a ref
  source-change.rawjson   the same build with --progress=rawjson, for the readers' parity
  export-refused.txt      the same build, its cache export refused (read-only registry)
  export-unreachable.txt  the same build, nothing listening where it exports
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from harness.builders.buildx import Builder, registry_cache
from harness.infra.registry import Registry
from harness.infra.settings import TierSettings
from harness.paths import REPO_ROOT

DEFAULT_OUT = REPO_ROOT / "tests" / "harness" / "data" / "plain"


def record(out: Path) -> None:
    settings = TierSettings.load(require_file=True)
    settings.export_testcontainers()
    with tempfile.TemporaryDirectory() as tmp:
        context = Path(tmp)
        shutil.copy(out / "Dockerfile", context / "Dockerfile")
        (context / "src.txt").write_text("one\n", encoding="utf-8")

        def build(name: str, progress: str = "plain", **options) -> None:
            builder = Builder(settings.create_flags).create()
            try:
                result = builder.build(context, progress=progress, push=True, **options)
                result.assert_ok()
                (out / name).write_text(result.stream, encoding="utf-8")
            finally:
                builder.remove()

        readonly = {"REGISTRY_STORAGE_MAINTENANCE_READONLY": '{"enabled": true}'}
        with Registry() as registry, Registry(**readonly) as refusing:
            main = f"{registry.address}/t/cache:main"
            build("cold.txt", cache_from=[f"type=registry,ref={main}"],
                  cache_to=registry_cache(main), tags=[f"{registry.address}/t:1"])  # fmt: skip
            (context / "src.txt").write_text("two\n", encoding="utf-8")
            reads = [f"type=registry,ref={registry.address}/t/cache:absent",
                     f"type=registry,ref={main}"]  # fmt: skip
            again = {"cache_from": reads, "tags": [f"{registry.address}/t:2"]}
            build(
                "source-change.txt",
                cache_to=registry_cache(f"{registry.address}/t/cache:two"),
                **again,
            )
            build(
                "source-change.rawjson",
                "rawjson",
                cache_to=registry_cache(f"{registry.address}/t/cache:three"),
                **again,
            )
            build(
                "export-refused.txt",
                cache_to=registry_cache(f"{refusing.address}/t/cache:main"),
                **again,
            )
            build(
                "export-unreachable.txt",
                cache_to=registry_cache("localhost:1/t/cache:main"),
                **again,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    record(parser.parse_args().out)


if __name__ == "__main__":
    main()
