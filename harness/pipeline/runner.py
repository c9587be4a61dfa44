"""What a GitLab runner's docker executor puts around a job, for gitlab-ci-local to use.

A runner's `config.toml` decides how a job's containers run: privileged or not, which
volumes every job and service container gets (`/certs/client` for docker-in-docker's
TLS material, say), which networks. `DockerExecutor` holds those settings as data and
turns them into gitlab-ci-local options, so any job (with any image and services, as
its CI file names them) runs through the same machinery.

`JobNetwork` is a docker network of the test's own, with a subnet it chooses, on which
a test puts its registry and the stand-in mirror at fixed addresses. gitlab-ci-local
connects the job and its services to it. Containers nested in a docker-in-docker
service reach those addresses through the service's own NAT, but cannot resolve the
network's names (a nested engine gives its containers public DNS servers instead of
the embedded one), hence addresses, not names.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import shlex
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.builders import buildkitd
from harness.ci.ci_file import CiFile
from harness.infra.commands import docker, image_exists
from harness.infra.engine import free_subnet

# gitlab-ci-local's own images (its defaults); offline the testbed makes stand-ins.
HELPER_IMAGE = "firecow/gitlab-ci-local-util:latest"
WAIT_IMAGE = "sumina46/wait-for-it:latest"
OURS_LABEL = "org.gotpl.pipeline-runner"


@dataclass(frozen=True)
class DockerExecutor:
    """A runner's [runners.docker] settings that matter here, as data.

    volumes: `SOURCE:TARGET[:ro]` mounts for the job and every service, as a runner's
        `volumes` list gives them to both (a named volume shared by the two is how
        docker-in-docker's client certificates reach the job).
    networks: docker networks the job and its services join, besides the per-job one
        gitlab-ci-local makes (where services get their aliases). The first one is
        also how the harness finds the job's containers afterwards.
    """

    privileged: bool = False
    volumes: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    helper_image: str = HELPER_IMAGE
    wait_image: str = WAIT_IMAGE
    services_timeout: int = 120
    # False: the job runs as its image's user. gitlab-ci-local's default (its --umask)
    # runs every job as root, which a runner does not do.
    umask: bool = True
    # A docker CLI wrapper for gitlab-ci-local to call instead of `docker`, such as the
    # one `job_settings_wrapper` writes.
    container_executable: str = ""

    def options(self) -> list[str]:
        options = [
            "--helper-image", self.helper_image,
            "--wait-image", self.wait_image,
            "--wait-for-services-timeout", str(self.services_timeout),
            "--pull-policy", "if-not-present",
            # The harness removes the job's containers itself, after reading them.
            "--no-cleanup",
        ]  # fmt: skip
        if self.privileged:
            options.append("--privileged")
        if not self.umask:
            options.append("--no-umask")
        if self.container_executable:
            options += ["--container-executable", self.container_executable]
        for volume in self.volumes:
            options += ["--volume", volume]
        for network in self.networks:
            options += ["--network", network]
        return options


@dataclass
class Leftovers:
    """The containers a job left on its network (gitlab-ci-local runs with --no-cleanup),
    the helper containers that used their volumes, and the networks and volumes they
    used, so a test can look inside before they go."""

    containers: list[dict] = field(default_factory=list)

    @classmethod
    def on(cls, network: str, keep: Iterable[str] = ()) -> Leftovers:
        kept = set(keep)
        # `ps --all`: a job container that has exited is still on the network (where
        # `network inspect` lists only running ones).
        ids = docker("ps", "--all", "--quiet", "--no-trunc", "--filter", f"network={network}")
        found = [c for c in ids.stdout.split() if c not in kept]
        if not found:
            return cls([])
        containers = json.loads(docker("inspect", *found).stdout)
        # gitlab-ci-local's helper containers (the copies of caches and artifacts out of
        # the job's volume) run on the default network: found through that volume.
        volumes = {m["Name"] for c in containers for m in c["Mounts"] if m.get("Type") == "volume"}
        sharing: set[str] = set()
        for volume in sorted(volumes):
            users = docker("ps", "--all", "--quiet", "--no-trunc", "--filter", f"volume={volume}")
            sharing.update(users.stdout.split())
        more = sorted(sharing - set(found) - kept)
        if more:
            containers += json.loads(docker("inspect", *more).stdout)
        return cls(containers)

    def by_image(self, image: str) -> list[str]:
        return [c["Id"] for c in self.containers if c["Config"]["Image"] == image]

    def remove(self, own_network: str) -> None:
        volumes = {
            m["Name"] for c in self.containers for m in c["Mounts"] if m.get("Type") == "volume"
        }
        networks = {
            name
            for c in self.containers
            for name in c["NetworkSettings"]["Networks"]
            if name.startswith("gitlab-ci-local-") and name != own_network
        }
        if self.containers:
            docker("rm", "--force", "--volumes", *[c["Id"] for c in self.containers], check=False)
        for name in networks:
            docker("network", "rm", name, check=False)
        if volumes:
            docker("volume", "rm", "--force", *sorted(volumes), check=False)


class JobNetwork:
    """A docker network with a subnet of its own; `address(n)` is its n-th host address.
    Use it as a context manager: on exit it removes the containers started here."""

    def __init__(self, prefix: str = "gotpl-ci") -> None:
        self.subnet = free_subnet()
        self.name = f"{prefix}-{secrets.token_hex(3)}"
        self._started: list[str] = []
        self.mirror = ""  # host:port of the mirror, once started

    def address(self, n: int) -> str:
        return str(self.subnet.network_address + n)

    def __enter__(self) -> JobNetwork:
        gateway = self.address(1)
        docker(
            "network", "create", "--subnet", str(self.subnet), "--gateway", gateway,
            "--label", f"{OURS_LABEL}=network", self.name,
        )  # fmt: skip
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._started:
            docker("rm", "--force", "--volumes", *self._started, check=False)
        # Whatever a failed run left attached (gitlab-ci-local runs with --no-cleanup).
        Leftovers.on(self.name).remove(self.name)
        docker("network", "rm", self.name, check=False)

    def start_mirror(self, storage: Path, n: int = 3) -> str:
        """Serve the testbed mirror's storage read-only at address n; return host:port."""
        ip = self.address(n)
        container = docker(
            "run", "--detach", "--label", f"{OURS_LABEL}=mirror",
            "--network", self.name, "--ip", ip,
            "--volume", f"{storage}:/var/lib/registry:ro",
            "--env", 'REGISTRY_STORAGE_MAINTENANCE_READONLY={"enabled": true}',
            "registry:2",
        ).stdout.strip()  # fmt: skip
        self._started.append(container)
        probe = ("exec", container, "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:5000/v2/")
        deadline = time.monotonic() + 30
        while docker(*probe, check=False).returncode != 0:
            if time.monotonic() > deadline:
                logs = docker("logs", container, check=False)
                raise AssertionError(f"the mirror did not answer:\n{logs.stdout}{logs.stderr}")
            time.sleep(0.5)
        self.mirror = f"{ip}:5000"
        return self.mirror

    def in_subnet(self, address: str) -> bool:
        return ipaddress.ip_address(address.rsplit(":", 1)[0]) in self.subnet


def job_images(ci_file: Path, job: str) -> list[str]:
    """The job's image and its services' images, with the file's global variables
    expanded as the emulator will (enough for `${NAME}` and `$NAME` references)."""
    return CiFile(ci_file).job(job).images()


def ensure_local(images: Sequence[str], mirror: str) -> None:
    """Make every image present on this machine's engine, so gitlab-ci-local (pull policy
    if-not-present) never pulls: from the stand-in mirror when there is one."""
    for image in images:
        if image_exists(image):
            continue
        if not mirror:
            docker("pull", image, timeout=900)
            continue
        path = image if "/" in image.split(":", 1)[0] else f"library/{image}"
        docker("pull", f"{mirror}/{path}", timeout=900)
        docker("tag", f"{mirror}/{path}", image)
        docker("rmi", f"{mirror}/{path}", check=False)


# Where the job's docker CLI keeps buildx's settings (HOME is /root in the docker image).
BUILDX_DIR = "/root/.docker/buildx"


def dind_trust_volumes(folder: Path, *, registry: str, ca_cert: Path, mirror: str) -> list[str]:
    """Volumes that make a docker-in-docker job trust a TLS registry and use a mirror,
    the way a runner admin would: `/etc/docker` for the dind engine (`certs.d/<registry>/
    ca.crt`, and `registry-mirrors` in daemon.json), and buildx's folder for the job's
    CLI (`buildkitd.default.toml`, which buildx gives every builder it creates without a
    `--buildkitd-config`, with the CA it copies into the BuildKit container)."""
    etc = folder / "etc-docker"
    certs = etc / "certs.d" / registry
    certs.mkdir(parents=True)
    shutil.copy2(ca_cert, certs / "ca.crt")
    daemon = {"registry-mirrors": [f"http://{mirror}"]} if mirror else {}
    (etc / "daemon.json").write_text(json.dumps(daemon, indent=2), encoding="utf-8")
    buildx = folder / "buildx"
    buildx.mkdir(parents=True)
    shutil.copy2(ca_cert, buildx / "registry-ca.pem")
    config = buildkitd.render(mirror) + (
        f'[registry."{registry}"]\n  ca = ["{BUILDX_DIR}/registry-ca.pem"]\n'
    )
    (buildx / "buildkitd.default.toml").write_text(config, encoding="utf-8")
    return [f"{etc}:/etc/docker:ro", f"{buildx}:{BUILDX_DIR}"]


def job_settings_wrapper(folder: Path, job_image: str, settings: Sequence[str]) -> Path:
    """A docker CLI wrapper that adds `settings` (e.g. `--security-opt seccomp=unconfined
    --cap-drop ALL --cap-add SETUID`) to the `docker create` of containers from
    `job_image` only, as a runner's `security_opt`, `cap_drop` and `cap_add` apply to
    job containers and not to services. gitlab-ci-local has no such options; it calls
    this wrapper instead of `docker` (`DockerExecutor.container_executable`)."""
    real = shutil.which("docker")
    assert real, "the docker CLI is not on PATH"
    folder.mkdir(parents=True, exist_ok=True)
    wrapper = folder / "docker-with-job-settings"
    quoted = " ".join(shlex.quote(item) for item in settings)
    wrapper.write_text(
        "#!/bin/sh\n"
        "# Written by harness.pipeline.runner.job_settings_wrapper: runner settings for job\n"
        "# containers.\n"
        f'if [ "$1" = create ]; then\n'
        "\tfor arg; do\n"
        f'\t\tif [ "$arg" = {shlex.quote(job_image)} ]; then\n'
        "\t\t\tshift\n"
        f'\t\t\texec {shlex.quote(real)} create {quoted} "$@"\n'
        "\t\tfi\n"
        "\tdone\n"
        "fi\n"
        f'exec {shlex.quote(real)} "$@"\n',
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    return wrapper
