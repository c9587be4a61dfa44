"""harness.pipeline.shared_buildkit without an engine: the CI/CD variables file gitlab-ci-local
reads, and what the service on a job network is called and configured with."""

from __future__ import annotations

import stat
from types import SimpleNamespace

import yaml

from harness.builders.shared import FILE_VARIABLES, ClientFiles
from harness.infra.settings import TierSettings
from harness.pipeline.shared_buildkit import (
    REGISTRY_CA_IN_SERVICE,
    NetworkBuildKit,
    ci_variables_file,
)


def fake_client_files(folder) -> ClientFiles:
    folder.mkdir()
    for name, file in FILE_VARIABLES.items():
        (folder / file).write_text(f"-----BEGIN {name}-----\nline\n", encoding="utf-8")
    return ClientFiles(folder)


def test_file_variables_carry_the_files_text(tmp_path):
    files = fake_client_files(tmp_path / "client")
    written = ci_variables_file(
        tmp_path / "vars.yml", {"BUILDKIT_HOST": "tcp://shared-buildkit:1234"}, files
    )
    entries = yaml.safe_load(written.read_text(encoding="utf-8"))
    assert entries.pop("BUILDKIT_HOST") == "tcp://shared-buildkit:1234"
    assert sorted(entries) == sorted(FILE_VARIABLES)
    for name, file in FILE_VARIABLES.items():
        # `type: file`: gitlab-ci-local writes the text to a file and passes its path.
        assert entries[name] == {
            "type": "file",
            "values": {"*": (files.folder / file).read_text(encoding="utf-8")},
        }
    assert stat.S_IMODE(written.stat().st_mode) == 0o600


def test_left_out_variables_are_absent(tmp_path):
    files = fake_client_files(tmp_path / "client")
    written = ci_variables_file(
        tmp_path / "vars.yml",
        {"BUILDKIT_HOST": "tcp://x:1"},
        files,
        leave_out=("BUILDKIT_HOST", "BUILDKIT_CLIENT_KEY"),
    )
    entries = yaml.safe_load(written.read_text(encoding="utf-8"))
    assert sorted(entries) == ["BUILDKIT_CA_CERT", "BUILDKIT_CLIENT_CERT"]


def test_network_service_is_named_and_configured_for_the_job_network(tmp_path):
    network = SimpleNamespace(name="gotpl-ci-test", mirror="10.9.8.3:5000")
    service = NetworkBuildKit(
        TierSettings(),
        tmp_path,
        network,  # type: ignore[arg-type]
        registry="10.9.8.2:5000",
        registry_ca=tmp_path / "ca.pem",
    )
    assert service.address == "tcp://shared-buildkit:1234"
    assert service.listen_address == "tcp://0.0.0.0:1234"
    # The certificate names only the host the job uses, so every connection checks it.
    assert service.server_names() == ["shared-buildkit"]
    assert service.probe_address == service.address
    options = service.network_options()
    assert options[options.index("--network") + 1] == "gotpl-ci-test"
    assert options[options.index("--network-alias") + 1] == "shared-buildkit"
    config = (tmp_path / "buildkitd.toml").read_text(encoding="utf-8")
    assert service.config_file() == str(tmp_path / "buildkitd.toml")
    assert 'mirrors = ["10.9.8.3:5000"]' in config
    assert f'[registry."10.9.8.2:5000"]\n  ca = ["{REGISTRY_CA_IN_SERVICE}"]' in config


def test_a_service_can_be_reached_by_a_name_its_certificate_lacks(tmp_path):
    network = SimpleNamespace(name="gotpl-ci-test", mirror="")
    service = NetworkBuildKit(
        TierSettings(),
        tmp_path,
        network,  # type: ignore[arg-type]
        registry="10.9.8.2:5000",
        registry_ca=tmp_path / "ca.pem",
        name="renamed",
        certificate_names=["certified"],
    )
    assert service.address == "tcp://renamed:1234"
    assert service.server_names() == ["certified"]
    # The readiness probe must use a name the certificate holds.
    assert service.probe_address == "tcp://certified:1234"
    options = service.network_options()
    aliases = [options[i + 1] for i, item in enumerate(options) if item == "--network-alias"]
    assert aliases == ["renamed", "certified"]
