"""ONE private Docker engine class: a dockerd of the test's own, beside the machine's.

A private engine has its own socket, data and exec directories, containerd namespace
and Linux bridge, so a test controls its settings (the image store, the registries it
trusts, its mirrors) without touching the machine's daemon. The Docker tier uses it to
show what the `docker` driver can export with the classic image store and with the
containerd image store. The pipeline tier runs a real `docker:<ver>-dind` service
through gitlab-ci-local's docker executor instead (harness/pipeline/runner.py), and takes only
`free_subnet` and `testbed_mirror_storage` from here.
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from harness.infra.commands import docker, run

# The label of the testbed's mirror container: that is how a test finds it.
MIRROR_LABEL = "org.gotpl.docker-tier=mirror"
# Candidate subnets 10.213.<128-250>.0/24 for private engines' bridges.
SUBNET_OCTETS = range(128, 251)
START_TIMEOUT = 60


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 in 10.213.128-250.x that overlaps no address or route of this machine."""
    text = run(["ip", "-o", "-4", "addr", "show"]).stdout + run(["ip", "-4", "route"]).stdout
    taken = [
        ipaddress.IPv4Network(match, strict=False)
        for match in re.findall(r"\b(\d+\.\d+\.\d+\.\d+/\d+)", text)
    ]
    octets = list(SUBNET_OCTETS)
    random.shuffle(octets)
    for octet in octets:
        subnet = ipaddress.IPv4Network(f"10.213.{octet}.0/24")
        if not any(subnet.overlaps(other) for other in taken):
            return subnet
    raise AssertionError("no free 10.213.x.0/24 subnet for a private engine")


def testbed_mirror_storage() -> Path | None:
    """Storage folder of the testbed's stand-in mirror, when one runs on this machine."""
    found = docker("ps", "--quiet", "--filter", f"label={MIRROR_LABEL}").stdout.split()
    if not found:
        return None
    mounts = json.loads(docker("inspect", "--format", "{{json .Mounts}}", found[0]).stdout)
    for mount in mounts:
        if mount.get("Destination") == "/var/lib/registry":
            return Path(mount["Source"])
    return None


class PrivateEngine:
    """A private dockerd on a bridge of its own. Use it as a context manager.

    containerd_store: the containerd image store (Docker's `containerd-snapshotter`
        feature) instead of the classic overlay2 store.
    """

    def __init__(self, *, containerd_store: bool = False) -> None:
        self.containerd_store = containerd_store
        self.root = Path(tempfile.mkdtemp(prefix="gotpl-engine-"))
        self.socket = self.root / "docker.sock"
        self.log_path = self.root / "dockerd.log"
        self.subnet = free_subnet()
        self.octet = self.subnet.network_address.packed[2]
        # Never --bridge=none: dockerd then deletes the interface named docker0, which
        # belongs to the machine's daemon. A bridge of its own instead.
        self.bridge = f"gotplpe{self.octet}"
        self.process: subprocess.Popen[bytes] | None = None
        self._undo: list[list[str]] = []

    @property
    def host(self) -> str:
        """The DOCKER_HOST value that reaches this engine."""
        return f"unix://{self.socket}"

    # ---- life cycle -----------------------------------------------------------------

    def __enter__(self) -> PrivateEngine:
        try:
            self._bridge_up()
            self._start_dockerd()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.process:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        for command in reversed(self._undo):
            run(command, check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def _bridge_up(self) -> None:
        gateway = f"{self.subnet.network_address + 1}/{self.subnet.prefixlen}"
        run(["ip", "link", "add", self.bridge, "type", "bridge"])
        self._undo.append(["ip", "link", "delete", self.bridge])
        run(["ip", "addr", "add", gateway, "dev", self.bridge])
        run(["ip", "link", "set", self.bridge, "up"])

    def daemon_config(self) -> dict[str, object]:
        return {
            "features": {"containerd-snapshotter": self.containerd_store},
            # Networks made on this engine stay in 10.214.<octet>.x.
            "default-address-pools": [{"base": f"10.214.{self.octet}.0/24", "size": 28}],
        }

    def _start_dockerd(self) -> None:
        config_file = self.root / "daemon.json"
        config_file.write_text(json.dumps(self.daemon_config(), indent=2), encoding="utf-8")
        namespace = f"gotplpe{self.octet}"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    shutil.which("dockerd") or "dockerd",
                    f"--config-file={config_file}",
                    f"--data-root={self.root / 'data'}",
                    f"--exec-root={self.root / 'exec'}",
                    f"--pidfile={self.root / 'dockerd.pid'}",
                    f"--host={self.host}",
                    f"--containerd-namespace={namespace}",
                    f"--containerd-plugins-namespace={namespace}-plugins",
                    f"--bridge={self.bridge}",
                    "--iptables=false",
                    "--ip6tables=false",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while self.docker("info", check=False).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the private engine did not start:\n" + self.read_log())
            time.sleep(0.5)

    # ---- what runs on it ------------------------------------------------------------

    def docker(
        self, *args: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        return docker(*args, host=self.host, check=check, timeout=timeout)

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]
