"""The Docker engine a pipeline job talks to, and the registries next to it.

In GitLab the build job reaches a `docker:<ver>-dind` service: a Docker engine of its
own. Here a private dockerd plays that part. It has its own socket, data directory and
Linux bridge, so the `ci-builder` BuildKit container that the job creates lands on a
network the test made, next to the two registries it needs:

- a *mirror* that serves the offline stand-ins (golang, distroless) read-only from the
  Docker tier's mirror storage, for `FROM golang:...` and `FROM gcr.io/distroless/...`;
- the project's *container registry*, which requires a login (htpasswd), as
  `$CI_REGISTRY` does on GitLab.

BuildKit reaches both by their addresses on the test's own bridge; the test reads the
registry through a port published on 127.0.0.1. Nothing else is ever addressed.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tests.docker.registry import MANIFEST_TYPES

# The Docker tier labels the mirror container it starts; that is how we find it.
MIRROR_LABEL = "org.gotpl.docker-tier=mirror"
OURS_LABEL = "org.gotpl.pipeline-tier"
# Candidate subnets 10.213.<128-250>.0/24 (the Docker tier's private daemon uses .77).
SUBNET_OCTETS = range(128, 251)


def run(command: Sequence[str], *, check: bool = True, timeout: float = 300) -> str:
    result = subprocess.run(
        list(command), capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def host_mirror_storage() -> Path | None:
    """Storage folder of the Docker tier's stand-in mirror, when one runs on this machine."""
    found = run(["docker", "ps", "--quiet", "--filter", f"label={MIRROR_LABEL}"]).split()
    if not found:
        return None
    mounts = json.loads(run(["docker", "inspect", "--format", "{{json .Mounts}}", found[0]]))
    for mount in mounts:
        if mount.get("Destination") == "/var/lib/registry":
            return Path(mount["Source"])
    return None


def machine_has_image(image: str) -> bool:
    inspect = subprocess.run(["docker", "image", "inspect", image], capture_output=True)
    return inspect.returncode == 0


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 in 10.213.128-250.x that overlaps no address or route of this machine."""
    text = run(["ip", "-o", "-4", "addr", "show"]) + run(["ip", "-4", "route"])
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
    raise AssertionError("no free 10.213.x.0/24 subnet for the job engine")


class JobEngine:
    """A private dockerd on a bridge of its own: the job's Docker engine.

    The one change outside its own folder and bridge is a FORWARD rule that lets the
    containers on this bridge reach each other (this machine's firewall drops bridged
    traffic by default); it names the bridge and goes away with it.
    """

    def __init__(
        self, images: Sequence[str], mirror_storage: Path | None, pull_mirror: str = ""
    ) -> None:
        self.images = list(images)
        self.mirror_storage = mirror_storage
        self.pull_mirror = pull_mirror  # a loopback registry for this dockerd's own pulls
        self.root = Path(tempfile.mkdtemp(prefix="gotpl-job-engine-"))
        self.socket = self.root / "docker.sock"
        self.log_path = self.root / "dockerd.log"
        self.subnet = free_subnet()
        self.octet = self.subnet.network_address.packed[2]
        self.bridge = f"gotplci{self.octet}"
        self.process: subprocess.Popen[bytes] | None = None
        self.mirror_address = ""
        self._undo: list[list[str]] = []

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    # ---- life cycle -----------------------------------------------------------------

    def __enter__(self) -> JobEngine:
        try:
            self._bridge_up()
            self._start_dockerd()
            self._load_images()
            if self.mirror_storage:
                self.mirror_address = self._start_mirror()
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
        rule = ["FORWARD", "--in-interface", self.bridge, "--out-interface", self.bridge]
        run(["iptables", "--insert", *rule, "--jump", "ACCEPT"])
        self._undo.append(["iptables", "--delete", *rule, "--jump", "ACCEPT"])

    def _start_dockerd(self) -> None:
        config: dict[str, object] = {
            # The project registry speaks plain HTTP on the test's bridge.
            "insecure-registries": [str(self.subnet)],
            # Networks that gitlab-ci-local creates for services stay in 10.214.<octet>.x.
            "default-address-pools": [{"base": f"10.214.{self.octet}.0/24", "size": 28}],
        }
        if self.pull_mirror:
            # buildx asks the engine to pull the BuildKit image even when it has it: the
            # stand-in mirror answers first, so the pull never goes further.
            config["registry-mirrors"] = [f"http://{self.pull_mirror}"]
        (self.root / "daemon.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        namespace = f"gotplci{self.octet}"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    shutil.which("dockerd") or "dockerd",
                    f"--config-file={self.root / 'daemon.json'}",
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
        deadline = time.monotonic() + 60
        while self.docker("info", check=False).returncode != 0:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("the job engine did not start:\n" + self.read_log())
            time.sleep(0.5)

    def _load_images(self) -> None:
        """Copy images from the machine's engine, the only source this engine has offline."""
        present = [image for image in self.images if machine_has_image(image)]
        if present:
            save = subprocess.Popen(["docker", "save", *present], stdout=subprocess.PIPE)
            try:
                self._docker_stdin(["load"], save.stdout)
            finally:
                save.wait(timeout=600)

    def _start_mirror(self) -> str:
        container = self.docker(
            "run", "--detach", "--label", f"{OURS_LABEL}=mirror",
            "--volume", f"{self.mirror_storage}:/var/lib/registry:ro",
            "--env", 'REGISTRY_STORAGE_MAINTENANCE_READONLY={"enabled": true}',
            "registry:2",
        ).stdout.strip()  # fmt: skip
        # Ask from inside the container (busybox wget), not across the bridge.
        deadline = time.monotonic() + 30
        probe = ("exec", container, "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:5000/v2/")
        while self.docker(*probe, check=False).returncode != 0:
            if time.monotonic() > deadline:
                logs = self.docker("logs", container, check=False)
                raise AssertionError(f"the mirror did not answer:\n{logs.stdout}{logs.stderr}")
            time.sleep(0.5)
        return f"{self.ip_of(container)}:5000"

    # ---- helpers --------------------------------------------------------------------

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["docker", "--host", self.host, *args],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} (job engine): {result.stderr}")
        return result

    def _docker_stdin(self, args: list[str], stdin: IO[bytes] | None) -> None:
        result = subprocess.run(
            ["docker", "--host", self.host, *args],
            stdin=stdin,
            capture_output=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} (job engine): {result.stderr!r}")

    def ip_of(self, container: str) -> str:
        return self.docker(
            "inspect", "--format", "{{.NetworkSettings.IPAddress}}", container
        ).stdout.strip()

    def import_placeholder(self, image: str, note: str) -> None:
        """An image that only prints what it stands in for, then idles."""
        rootfs = self.root / "placeholder"
        (rootfs / "bin").mkdir(parents=True, exist_ok=True)
        shutil.copy2(shutil.which("busybox") or "/bin/busybox", rootfs / "bin" / "busybox")
        command = ["/bin/busybox", "sh", "-c", f"echo {json.dumps(note)}; exec sleep 3600"]
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        try:
            self._docker_stdin(
                ["import", "--change", f"CMD {json.dumps(command)}",
                 "--change", f"LABEL {OURS_LABEL}=placeholder", "-", image],
                tar.stdout,
            )  # fmt: skip
        finally:
            tar.wait(timeout=60)

    def remove_builder(self, name: str) -> None:
        """Drop a buildx builder's container and state volume: the next job starts empty."""
        container = f"buildx_buildkit_{name}0"  # buildx's name for a builder's first node
        self.docker("rm", "--force", "--volumes", container, check=False)
        self.docker("volume", "rm", "--force", f"{container}_state", check=False)

    def builder_config(self, plain_http: Sequence[str]) -> str:
        """A buildkitd.toml: docker.io and gcr.io through the mirror; which hosts are HTTP."""
        lines: list[str] = []
        if self.mirror_address:
            for upstream in ("docker.io", "gcr.io"):
                lines += [f'[registry."{upstream}"]', f'  mirrors = ["{self.mirror_address}"]']
            plain_http = [self.mirror_address, *plain_http]
        for address in plain_http:
            lines += [f'[registry."{address}"]', "  http = true"]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class RegistryLogin:
    user: str
    password: str

    @property
    def basic_auth(self) -> str:
        return base64.b64encode(f"{self.user}:{self.password}".encode()).decode()


class LoginRegistry:
    """testcontainers' registry with htpasswd authentication, run on the job engine.

    `address` (localhost:<port>) is the test's way in; `job_address` is where the job
    and its BuildKit container reach it, on the engine's bridge.
    """

    def __init__(self, engine: JobEngine, login: RegistryLogin) -> None:
        # Imported here: testcontainers reads its settings when first imported, after
        # the docker_tier fixture has set them.
        from testcontainers.community.registry import DockerRegistryContainer

        self.engine = engine
        self.login = login
        self.container = DockerRegistryContainer(
            username=login.user,
            password=login.password,
            docker_client_kw={"environment": {"DOCKER_HOST": engine.host}},
        )
        self.container.with_kwargs(labels={OURS_LABEL: "registry"})

    def __enter__(self) -> LoginRegistry:
        self.container.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.container.stop()

    @property
    def address(self) -> str:
        return f"localhost:{self.container.get_exposed_port(self.container.port)}"

    @property
    def job_address(self) -> str:
        return f"{self.engine.ip_of(self.container.get_wrapped_container().id)}:5000"

    def _get(self, path: str, accept: str = "") -> tuple[dict[str, str], dict] | None:
        request = urllib.request.Request(f"http://{self.address}/v2/{path}")
        request.add_header("Authorization", f"Basic {self.login.basic_auth}")
        if accept:
            request.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return dict(response.headers), json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def tags(self, repository: str) -> list[str]:
        found = self._get(f"{repository}/tags/list")
        return sorted((found[1].get("tags") or []) if found else [])

    def digest(self, repository: str, reference: str) -> str | None:
        found = self._get(f"{repository}/manifests/{reference}", MANIFEST_TYPES)
        return found[0]["Docker-Content-Digest"] if found else None

    def requires_login(self) -> bool:
        try:
            urllib.request.urlopen(f"http://{self.address}/v2/", timeout=10).close()
        except urllib.error.HTTPError as error:
            return error.code == 401
        return False
