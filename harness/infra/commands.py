"""Run commands as subprocesses, with failures that carry the command's own words."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import IO


def run(
    command: Sequence[str],
    *,
    check: bool = True,
    timeout: float = 300,
    env: Mapping[str, str] | None = None,
    stdin: IO[bytes] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output as text; raise with its stderr when it fails."""
    result = subprocess.run(
        list(command),
        capture_output=True,
        text=stdin is None,
        stdin=stdin,
        timeout=timeout,
        env=dict(env) if env is not None else None,
        check=False,
    )
    if check and result.returncode != 0:
        stderr = result.stderr if isinstance(result.stderr, str) else result.stderr.decode()
        raise AssertionError(f"{shlex.join(command)} failed ({result.returncode}):\n{stderr}")
    return result


def docker_env(host: str | None) -> dict[str, str] | None:
    """The environment for the docker CLI: this machine's engine, or the one at `host`."""
    return None if host is None else {**os.environ, "DOCKER_HOST": host}


def docker(
    *args: str, host: str | None = None, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`docker ARGS...` against this machine's engine, or a private one at `host`."""
    return run(["docker", *args], check=check, timeout=timeout, env=docker_env(host))


def image_exists(image: str, host: str | None = None) -> bool:
    return docker("image", "inspect", image, host=host, check=False).returncode == 0


def wait_until_ok(url: str, seconds: float, alive: Callable[[], bool] = lambda: True) -> bool:
    """Poll url until it answers 200 (True), or `seconds` pass or `alive()` turns false
    (False): how a test or the benchmark waits for a service it started."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and alive():
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False
