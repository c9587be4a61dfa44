"""The default project's image, built and pushed by the cold pipeline run, really runs."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.infra.commands import docker, wait_until_ok
from harness.template import default

NONROOT_UID = 65532
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def pulled(main_cache) -> str:
    docker("pull", "--quiet", main_cache.image, timeout=300)
    return main_cache.image


@pytest.fixture(scope="module")
def running(pulled: str) -> Iterator[tuple[str, str]]:
    """(container id, base URL) of the image running with its port on loopback."""
    container = docker("run", "--detach", "--publish", "127.0.0.1::8080", pulled).stdout.strip()
    try:
        host_port = docker("port", container, "8080/tcp").stdout.split()[0].rsplit(":", 1)[1]
        url = f"http://127.0.0.1:{host_port}"
        if not wait_until_ok(f"{url}/readyz", 30):
            logs = docker("logs", container, check=False)
            raise AssertionError(f"the service never became ready:\n{logs.stdout}{logs.stderr}")
        yield container, url
    finally:
        docker("rm", "--force", container, check=False)


def test_version_reports_the_commit_given_at_build_time(running, main_cache):
    _, url = running
    with urllib.request.urlopen(f"{url}/version", timeout=5) as response:
        body = json.load(response)
    assert body["commit"] == main_cache.commit
    assert body["version"] == "1.0.0"
    assert body["go_version"].startswith(f"go{default('go_version')}")


def test_process_runs_as_nonroot(running):
    container, _ = running
    pid = docker("inspect", "--format", "{{.State.Pid}}", container).stdout.strip()
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert {int(uid) for uid in uids} == {NONROOT_UID}, status


def test_labels_carry_the_commit(pulled, main_cache):
    labels = json.loads(
        docker("image", "inspect", "--format", "{{json .Config.Labels}}", pulled).stdout
    )
    assert labels["org.opencontainers.image.revision"] == main_cache.commit
    assert labels["git_commit"] == main_cache.commit
    assert labels["org.opencontainers.image.version"] == "1.0.0"


def image_files(image: str) -> dict[str, tarfile.TarInfo]:
    container = docker("create", image).stdout.strip()
    try:
        exported = subprocess_bytes(["docker", "export", container])
    finally:
        docker("rm", container, check=False)
    with tarfile.open(fileobj=io.BytesIO(exported)) as archive:
        return {member.name.lstrip("./"): member for member in archive.getmembers()}


def subprocess_bytes(command: list[str]) -> bytes:
    return subprocess.run(command, capture_output=True, check=True, timeout=120).stdout


def test_there_is_no_shell(pulled):
    files = image_files(pulled)
    shells = [name for name in files if name.rsplit("/", 1)[-1] in {"sh", "bash", "ash", "busybox"}]
    assert shells == []
    attempt = docker("run", "--rm", "--entrypoint", "/bin/sh", pulled, "-c", "true", check=False)
    assert attempt.returncode != 0


def test_image_is_at_most_3_mb_larger_than_the_binary(pulled):
    files = image_files(pulled)
    binary = files["app"].size
    image = int(docker("image", "inspect", "--format", "{{.Size}}", pulled).stdout)
    assert image - binary <= 3 * MiB, f"image {image} bytes, binary {binary} bytes"


def test_sigterm_stops_it_cleanly_within_its_deadline(pulled):
    container = docker("run", "--detach", pulled).stdout.strip()
    try:
        # Signal only once the service has installed its handlers and said so.
        deadline = time.monotonic() + 30
        while "server started" not in docker("logs", container).stdout:
            assert time.monotonic() < deadline, "the service never logged its start"
            time.sleep(0.2)
        # docker stop sends SIGTERM and waits 20 s before SIGKILL: more than the default
        # drain delay (5 s) plus the shutdown deadline (10 s). Exit code 0 means the
        # service stopped itself in time.
        docker("stop", "--time", "20", container, timeout=60)
        state = json.loads(docker("inspect", "--format", "{{json .State}}", container).stdout)
        logs = docker("logs", container).stdout
    finally:
        docker("rm", "--force", container, check=False)
    assert state["ExitCode"] == 0, f"exit code {state['ExitCode']}, logs:\n{logs}"
    assert not state["OOMKilled"]
    lines = [json.loads(line) for line in logs.strip().splitlines()]
    assert lines[-1]["level"] == "INFO", logs
    (drain,) = [line for line in lines if line["msg"].startswith("draining")]
    assert drain["delay"] == "5s", f"the image's default drain delay changed:\n{logs}"
