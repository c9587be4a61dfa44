"""The shared builder as a runner fleet reaches it, for the pipeline tier.

`NetworkBuildKit(settings, folder, network, registry=..., registry_ca=...)` is
`SharedBuildKit` on a test's `JobNetwork` instead of the host's loopback: a job
container on that network reaches it by a host name (a network alias, resolved by
Docker's embedded DNS), and the server certificate names that host name and nothing
else (unless given `certificate_names`), so a job that connects at all has checked the
name. BuildKit there pulls base images through the network's stand-in mirror and trusts
the test registry's CA, as its operator would configure it.

`ci_variables_file(path, variables, files)` writes CI/CD variables in gitlab-ci-local's
YAML form (its `--variables-file`): plain ones as text, File-type ones as
`type: file` with the file's text as the value. gitlab-ci-local 4.70.0 then does what
a GitLab runner does with a File-type variable: it writes the text to a file of its own
(in a volume mounted at `/tmp/gitlab-ci-local-file-variables-<project>-<job id>/` in
the job container) and gives the job the file's path as the variable's value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from harness.builders import buildkitd
from harness.builders.shared import FILE_VARIABLES, ClientFiles, SharedBuildKit
from harness.infra.settings import TierSettings
from harness.pipeline.runner import JobNetwork

SERVICE_NAME = "shared-buildkit"
# BuildKit's customary TCP port; the service has an address of its own, so no clash.
SERVICE_PORT = 1234
REGISTRY_CA_IN_SERVICE = "/etc/buildkit/registry-ca.pem"


class NetworkBuildKit(SharedBuildKit):
    """A new, empty BuildKit with mutual TLS at tcp://shared-buildkit:1234 on `network`."""

    def __init__(
        self,
        settings: TierSettings,
        folder: Path,
        network: JobNetwork,
        *,
        registry: str,
        registry_ca: Path,
        name: str = SERVICE_NAME,
        certificate_names: Sequence[str] = (),
    ) -> None:
        """`certificate_names`: what the server certificate names, if not `name` (a
        service also reachable under a name its certificate does not hold); the
        readiness probe uses the first."""
        super().__init__(settings, folder)
        self.network = network
        self.host = name
        self.certificate_names = list(certificate_names) or [name]
        self.port = SERVICE_PORT
        self.registry_ca = registry_ca
        self.config = folder / "buildkitd.toml"
        # The mirror for docker.io and gcr.io, and the registry's CA.
        self.config.write_text(
            buildkitd.render(network.mirror)
            + f'[registry."{registry}"]\n  ca = ["{REGISTRY_CA_IN_SERVICE}"]\n',
            encoding="utf-8",
        )

    @property
    def address(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    @property
    def listen_address(self) -> str:
        return f"tcp://0.0.0.0:{self.port}"

    @property
    def probe_address(self) -> str:
        return f"tcp://{self.certificate_names[0]}:{self.port}"

    def server_names(self) -> list[str]:
        return self.certificate_names

    def network_options(self) -> list[str]:
        # Reachable by its name and by every name its certificate holds.
        aliases = dict.fromkeys([self.host, *self.certificate_names])
        return [
            "--network", self.network.name,
            *(item for alias in aliases for item in ("--network-alias", alias)),
            "--volume", f"{self.registry_ca}:{REGISTRY_CA_IN_SERVICE}:ro",
        ]  # fmt: skip

    def config_file(self) -> str:
        return str(self.config)


def ci_variables_file(
    path: Path,
    variables: Mapping[str, str],
    files: ClientFiles | None,
    *,
    leave_out: tuple[str, ...] = (),
) -> Path:
    """Write `variables` and the client's three File-type variables (the files' text,
    as a project's settings hold it), less the names in `leave_out`, to `path`."""
    entries: dict[str, object] = {k: v for k, v in variables.items() if k not in leave_out}
    if files is not None:
        for name, file in FILE_VARIABLES.items():
            if name in leave_out:
                continue
            text = (files.folder / file).read_text(encoding="utf-8")
            entries[name] = {"type": "file", "values": {"*": text}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(entries, sort_keys=True), encoding="utf-8")
    path.chmod(0o600)
    return path
