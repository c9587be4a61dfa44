"""The gate that makes a test registry as strict as GitLab's container registry.

A plain distribution registry (testcontainers' `registry:2`) takes a manifest whose
`subject` names a manifest the repository does not hold yet; GitLab's registry refuses
it with MANIFEST_BLOB_UNKNOWN. BuildKit v0.32 and later push attestations as OCI
artifacts with such a `subject`, in an order the registry cannot rely on, so a test
world without that rule passes pushes that fail on GitLab.

The gate (testbed/standins/strict-registry, a static Go binary the testbed imports as
an image with nothing else in it) runs in the registry container's network namespace
and listens on the registry's usual port; the registry itself moves to a loopback port
behind it. Published ports, fixed addresses on a network, logins and TLS (the gate
serves HTTPS when the registry is given a certificate) therefore work as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.infra.commands import docker, image_exists

GATE_IMAGE = "gotpl/strict-registry:local"
UPSTREAM_ADDR = "127.0.0.1:5001"  # where the registry listens behind the gate
TLS_FOLDER = "/gotpl-tls"


@dataclass
class Gate:
    """One gate container, started next to one registry container."""

    engine_host: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    cert: tuple[Path, Path] | None = None  # (certificate, key) to serve HTTPS with
    container_id: str = ""

    @staticmethod
    def registry_env() -> dict[str, str]:
        """What the registry behind the gate is told: listen on loopback only."""
        return {"REGISTRY_HTTP_ADDR": UPSTREAM_ADDR}

    def start(self, registry_container: str) -> None:
        if not image_exists(GATE_IMAGE, host=self.engine_host):
            raise AssertionError(
                f"{GATE_IMAGE} is missing: testbed/testbed.sh up builds it "
                "(testbed/standins/strict-registry)"
            )
        args = ["run", "--detach", "--network", f"container:{registry_container}"]
        for key, value in self.labels.items():
            args += ["--label", f"{key}={value}"]
        args += ["--env", f"STRICT_UPSTREAM=http://{UPSTREAM_ADDR}"]
        if self.cert:
            args += ["--volume", f"{self.cert[0]}:{TLS_FOLDER}/cert.pem:ro"]
            args += ["--volume", f"{self.cert[1]}:{TLS_FOLDER}/key.pem:ro"]
            args += ["--env", f"STRICT_TLS_CERT={TLS_FOLDER}/cert.pem"]
            args += ["--env", f"STRICT_TLS_KEY={TLS_FOLDER}/key.pem"]
        result = docker(*args, GATE_IMAGE, host=self.engine_host)
        self.container_id = result.stdout.strip()

    def logs(self) -> str:
        """What the gate printed: one line per refused manifest."""
        if not self.container_id:
            return ""
        result = docker("logs", self.container_id, host=self.engine_host, check=False)
        return result.stdout + result.stderr

    def stop(self) -> None:
        if self.container_id:
            docker("rm", "--force", self.container_id, host=self.engine_host, check=False)
            self.container_id = ""
