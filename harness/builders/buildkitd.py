"""The one place that writes a buildkitd.toml for the builders the tiers create.

A builder on an offline machine pulls `docker.io` and `gcr.io` images through the
stand-in mirror, and talks plain HTTP to the mirror and to the test registries. The
testbed writes the machine-wide file through the command line below; the pipeline tier
writes one for the job engine's own bridge addresses.

    python3 -m harness.builders.buildkitd [--mirror HOST:PORT] [--http HOST:PORT ...]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

# The registries whose images the generated Dockerfile and CI file pull.
MIRRORED_UPSTREAMS = ("docker.io", "gcr.io")


def render(mirror: str = "", plain_http: Sequence[str] = ()) -> str:
    """A buildkitd.toml: upstreams through `mirror` (if any); which registries are HTTP."""
    lines: list[str] = ["# Written by harness.builders.buildkitd."]
    hosts = list(plain_http)
    if mirror:
        lines.append(f"# Public images come from the stand-in mirror at {mirror}.")
        for upstream in MIRRORED_UPSTREAMS:
            lines += [f'[registry."{upstream}"]', f'  mirrors = ["{mirror}"]']
        hosts.insert(0, mirror)
    else:
        lines.append("# Public images are pulled from their own registries: no mirror.")
    for host in dict.fromkeys(hosts):  # keep order, drop repeats
        lines += [f'[registry."{host}"]', "  http = true"]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default="", help="HOST:PORT of the stand-in mirror")
    parser.add_argument(
        "--http", action="append", default=[], help="a registry reached over plain HTTP"
    )
    args = parser.parse_args(argv)
    print(render(args.mirror, args.http), end="")


if __name__ == "__main__":
    main()
