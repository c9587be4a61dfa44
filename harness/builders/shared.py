"""A shared BuildKit, as a runner fleet would keep one, and the `build-image` job of a
project baked with builder=shared.

`SharedBuildKit(settings, folder)` starts the pinned BuildKit image (the testbed's
stand-in offline) as a long-running service: buildkitd listening on TCP with mutual
TLS, with a server certificate from a test CA (`harness.infra.tls`), on this host's loopback.
`client_files()` issues the files a project keeps as File-type CI/CD variables (the CA,
a client certificate and its key). Each instance is a new, empty builder: its state
lives in the container's own volume, removed with it.

`SharedJob(project, registry, settings, files, address)` runs the generated job's
before_script and script in the `docker:<version>` job image, in a new container, as
`harness.builders.rootless.RootlessJob` does for the rootless job: the File-type variables
become files mounted into the job and variables holding their paths, as GitLab hands
them to a job.

The service runs privileged on the host's network: BuildKit then reaches the loopback
registries and the stand-in mirror as the other tiers' builders do, and listens on
127.0.0.1 only. The job container gets no privilege at all.
"""

from __future__ import annotations

import shlex
import socket
import ssl
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.builders.rootless import RootlessJob
from harness.evidence.step_table import iter_json_objects
from harness.infra.commands import docker, run
from harness.infra.registry import Registry
from harness.infra.settings import TierSettings
from harness.infra.tls import TestCA
from harness.template import buildkit_image

LOOPBACK = "127.0.0.1"
CERTS_IN_SERVICE = "/certs"
CONFIG_IN_SERVICE = "/etc/buildkit/buildkitd.toml"
# Where the job finds its File-type variables; GitLab puts them in a folder next to the
# checkout, whose path the job learns only from the variables.
FILES_IN_JOB = "/builds.tmp"
READY_SECONDS = 60
# The job's variables that name files, and the file each gets.
FILE_VARIABLES = {
    "BUILDKIT_CA_CERT": "ca.pem",
    "BUILDKIT_CLIENT_CERT": "client.pem",
    "BUILDKIT_CLIENT_KEY": "client-key.pem",
}


@dataclass(frozen=True)
class ClientFiles:
    """The mutual-TLS files of one client, in one folder, named as FILE_VARIABLES says."""

    folder: Path

    def variables(self) -> dict[str, str]:
        """The File-type variables as the job sees them: paths inside the job."""
        return {name: f"{FILES_IN_JOB}/{file}" for name, file in FILE_VARIABLES.items()}


def client_files(ca: TestCA, folder: Path, name: str = "ci-client") -> ClientFiles:
    """A client certificate from `ca`, with the CA's own certificate, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    issued = ca.issue(name, [name], usage="clientAuth")
    for source, target in ((ca.cert, "ca.pem"), (issued.cert, "client.pem")):
        (folder / target).write_bytes(source.read_bytes())
    (folder / "client-key.pem").write_bytes(issued.key.read_bytes())
    # Readable by the job whatever user its image runs as, as GitLab's files are.
    for file in folder.iterdir():
        file.chmod(0o644)
    return ClientFiles(folder)


def unused_loopback_port() -> int:
    """A port nothing listens on now. buildkitd cannot report a port it picked itself,
    so the service is told one; `SharedBuildKit` fails clearly if it was taken meanwhile."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


class SharedBuildKit:
    """A new, empty BuildKit service with mutual TLS on 127.0.0.1; use it in `with`."""

    def __init__(self, settings: TierSettings, folder: Path) -> None:
        self.settings = settings
        self.folder = folder
        self.ca = TestCA(folder / "ca")
        self.name = f"gotpl-shared-buildkit-{uuid.uuid4().hex[:8]}"
        self.port = unused_loopback_port()

    @property
    def address(self) -> str:
        """BUILDKIT_HOST for a job on this host."""
        return f"tcp://{LOOPBACK}:{self.port}"

    # Where the service runs and what it is called; `harness.pipeline.shared_buildkit` puts it on
    # a job network under a host name instead.
    @property
    def listen_address(self) -> str:
        """buildkitd's --addr."""
        return self.address

    @property
    def probe_address(self) -> str:
        """Where the readiness probe, inside the service's container, connects."""
        return self.address

    def server_names(self) -> list[str]:
        """The host names and addresses the server certificate names."""
        return [LOOPBACK, "localhost"]

    def network_options(self) -> list[str]:
        """`docker run` options that place the service (network, extra volumes)."""
        return ["--network", "host"]

    def config_file(self) -> str:
        """The buildkitd.toml on this host mounted into the service (empty: none)."""
        return self.settings.buildkitd_config

    def client_files(self, name: str = "ci-client") -> ClientFiles:
        return client_files(self.ca, self.folder / name, name)

    def buildx_create_flags(self, files: ClientFiles) -> list[str]:
        """`docker buildx create` flags for a remote builder on this host, as the
        generated job makes one (the files at their paths on this host)."""
        options = [
            f"{option}={files.folder / FILE_VARIABLES[variable]}"
            for option, variable in (
                ("cacert", "BUILDKIT_CA_CERT"),
                ("cert", "BUILDKIT_CLIENT_CERT"),
                ("key", "BUILDKIT_CLIENT_KEY"),
            )
        ]
        return [
            "--driver", "remote",
            *(item for option in options for item in ("--driver-opt", option)),
            self.address,
        ]  # fmt: skip

    def __enter__(self) -> SharedBuildKit:
        server = self.ca.issue("buildkitd", self.server_names())
        # The readiness probe is a client too, with a certificate of its own.
        probe = self.ca.issue("probe", ["probe"], usage="clientAuth")
        certs = self.folder / "server"
        certs.mkdir()
        for source, target in (
            (self.ca.cert, "ca.pem"),
            (server.cert, "cert.pem"),
            (server.key, "key.pem"),
            (probe.cert, "probe.pem"),
            (probe.key, "probe-key.pem"),
        ):
            (certs / target).write_bytes(source.read_bytes())
        command = [
            "docker", "run", "--detach", "--name", self.name,
            # As buildx runs its docker-container builders: runc needs the privilege.
            "--privileged", *self.network_options(),
            "--volume", f"{certs}:{CERTS_IN_SERVICE}:ro",
        ]  # fmt: skip
        config = self.config_file()
        if config and Path(config).is_file():
            command += ["--volume", f"{config}:{CONFIG_IN_SERVICE}:ro"]
        command += [buildkit_image(), *self.daemon_flags()]
        run(command)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def daemon_flags(self) -> list[str]:
        return [
            "--addr", self.listen_address,
            "--tlscacert", f"{CERTS_IN_SERVICE}/ca.pem",
            "--tlscert", f"{CERTS_IN_SERVICE}/cert.pem",
            "--tlskey", f"{CERTS_IN_SERVICE}/key.pem",
            "--config", CONFIG_IN_SERVICE,
        ]  # fmt: skip

    def _wait_ready(self) -> None:
        """Until buildctl, in the service's container with the probe's certificate,
        lists the workers over TLS."""
        probe = [
            "exec", self.name, "buildctl", "--addr", self.probe_address,
            "--tlscacert", f"{CERTS_IN_SERVICE}/ca.pem",
            "--tlscert", f"{CERTS_IN_SERVICE}/probe.pem",
            "--tlskey", f"{CERTS_IN_SERVICE}/probe-key.pem",
            "debug", "workers",
        ]  # fmt: skip
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            state = docker("inspect", "--format", "{{.State.Running}}", self.name, check=False)
            if state.stdout.strip() != "true":
                break
            if docker(*probe, check=False).returncode == 0:
                return
            time.sleep(0.2)
        logs = run(["docker", "logs", self.name], check=False)
        raise AssertionError(
            f"the shared BuildKit did not answer on {self.probe_address} within {READY_SECONDS}s\n"
            f"$ {shlex.join(['docker', *probe])}\n{logs.stdout}{logs.stderr}"
        )

    def refusal(self, files: ClientFiles) -> str:
        """What the service answers a client presenting `files`: "" when it serves the
        client, else the TLS error of the refusal.

        Under TLS 1.3 a client finishes its handshake before the server has checked the
        client's certificate, so the server's alert arrives with the first read. A job
        that writes first may see only the closed connection ("broken pipe"); this
        probe reads, and so always gets the alert itself.
        """
        context = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=files.folder / FILE_VARIABLES["BUILDKIT_CA_CERT"]
        )
        context.load_cert_chain(
            files.folder / FILE_VARIABLES["BUILDKIT_CLIENT_CERT"],
            files.folder / FILE_VARIABLES["BUILDKIT_CLIENT_KEY"],
        )
        context.set_alpn_protocols(["h2"])
        with socket.create_connection((LOOPBACK, self.port), timeout=10) as raw:
            try:
                with context.wrap_socket(raw, server_hostname=LOOPBACK) as tls:
                    tls.recv(1)
            except ssl.SSLError as error:
                return str(error)
            except (ConnectionResetError, TimeoutError):
                # Served: an HTTP/2 server waits for the client's preface (timeout) or
                # answers nothing to a client that never sent one.
                return ""
        return ""

    def stop(self) -> None:
        docker("rm", "--force", "--volumes", self.name, check=False)

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class SharedJob(RootlessJob):
    """The `build-image` job of a project baked with builder=shared, against the
    service at `address` with the client files `files`."""

    def __init__(
        self,
        project: Path,
        registry: Registry,
        settings: TierSettings,
        files: ClientFiles,
        address: str,
        repository: str = "svc",
    ) -> None:
        super().__init__(project, registry, settings, repository)
        self.files = files
        self.address = address

    def project_variables(self) -> dict[str, str]:
        """BUILDKIT_HOST and the File-type variables, as a project sets them."""
        return {"BUILDKIT_HOST": self.address, **self.files.variables()}

    def container_options(self, runner_settings: Sequence[str]) -> list[str]:
        """No user, capability or security option: the job image's defaults, with
        every capability dropped, since the job only runs a client."""
        return ["--cap-drop", "ALL", "--volume", f"{self.files.folder}:{FILES_IN_JOB}:ro"]


def layer_downloads(stream: str) -> list[str]:
    """Digests of the blobs a build downloaded (its `sha256:...` statuses), in order."""
    seen: dict[str, None] = {}
    for obj in iter_json_objects(stream):
        for status in obj.get("statuses") or []:
            status_id = status.get("id") or ""
            if status_id.startswith("sha256:"):
                seen[status_id] = None
    return list(seen)
