"""The Kubernetes manifest of the shared builder, `shared-buildkit.yaml`: shipped only
with builder=shared, valid against Kubernetes' own schemas in strict mode (offline,
from the kubernetes-validate package), and saying what the job and README rely on.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from harness.template import buildkit_image

MANIFEST = "shared-buildkit.yaml"
# The oldest release the manifest is written for (appArmorProfile came in 1.30) and
# the newest the package has schemas for.
KUBERNETES_RELEASES = ("1.30.0", kubernetes_validate.utils.latest_version())
GIB = 1024**3


def documents(project: Path) -> dict[str, dict[str, Any]]:
    docs = yaml.safe_load_all((project / MANIFEST).read_text(encoding="utf-8"))
    return {doc["kind"]: doc for doc in docs if doc}


def size(text: str) -> float:
    """BuildKit's "10GB" or Kubernetes' "100Gi", in bytes."""
    units = {"Gi": GIB, "GB": 1000**3}
    return float(text[:-2]) * units[text[-2:]]


@pytest.fixture(scope="module")
def manifest(bake) -> dict[str, dict[str, Any]]:
    return documents(bake({"builder": "shared"}))


@pytest.mark.parametrize("builder", ["dind", "rootless"])
def test_only_the_shared_builder_ships_it(bake, builder):
    assert not (bake({"builder": builder}) / MANIFEST).exists()


@pytest.mark.parametrize("release", KUBERNETES_RELEASES)
def test_every_resource_is_valid_in_strict_mode(manifest, release):
    assert sorted(manifest) == ["ConfigMap", "Deployment", "PodDisruptionBudget", "Service"]
    for resource in manifest.values():
        kubernetes_validate.validate(resource, release, strict=True)


def test_a_misspelt_field_is_refused(manifest):
    """The check can fail: strict mode refuses a field Kubernetes does not know."""
    broken = copy.deepcopy(manifest["Deployment"])
    broken["spec"]["replica"] = broken["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_RELEASES[-1], strict=True)


def container(manifest) -> dict[str, Any]:
    (only,) = manifest["Deployment"]["spec"]["template"]["spec"]["containers"]
    return only


def test_rootless_image_of_the_pinned_release(manifest):
    assert container(manifest)["image"] == f"{buildkit_image()}-rootless"


def test_security_context_is_what_rootless_buildkit_needs(manifest):
    context = container(manifest)["securityContext"]
    assert context == {
        "runAsUser": 1000,
        "runAsGroup": 1000,
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": True,
        "seccompProfile": {"type": "Unconfined"},
        "appArmorProfile": {"type": "Unconfined"},
        "capabilities": {"drop": ["ALL"], "add": ["SETUID", "SETGID"]},
    }
    assert "privileged" not in yaml.safe_dump(manifest["Deployment"])


def test_mutual_tls_from_the_secret(manifest):
    args = container(manifest)["args"]
    flags = dict(zip(args[::2], args[1::2], strict=False))
    mounts = {m["name"]: m["mountPath"] for m in container(manifest)["volumeMounts"]}
    for flag, file in (
        ("--tlscacert", "ca.pem"),
        ("--tlscert", "cert.pem"),
        ("--tlskey", "key.pem"),
    ):
        assert flags[flag] == f"{mounts['certs']}/{file}"
    volumes = {v["name"]: v for v in manifest["Deployment"]["spec"]["template"]["spec"]["volumes"]}
    assert volumes["certs"]["secret"]["secretName"] == "buildkitd-tls"
    assert "tcp://0.0.0.0:1234" in args


def test_service_and_budget_select_the_pods(manifest):
    labels = manifest["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert manifest["Deployment"]["spec"]["selector"]["matchLabels"] == labels
    assert manifest["Service"]["spec"]["selector"] == labels
    assert manifest["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == labels
    (port,) = container(manifest)["ports"]
    (service_port,) = manifest["Service"]["spec"]["ports"]
    assert service_port["targetPort"] == port["name"] and service_port["port"] == 1234
    # A budget that allows no disruption would block every node drain.
    assert manifest["PodDisruptionBudget"]["spec"]["maxUnavailable"] >= 1
    assert manifest["Deployment"]["spec"]["replicas"] > 1


def test_garbage_collection_fits_the_cache_volume(manifest):
    config = tomllib.loads(manifest["ConfigMap"]["data"]["buildkitd.toml"])["worker"]["oci"]
    assert config["gc"] is True
    volumes = {v["name"]: v for v in manifest["Deployment"]["spec"]["template"]["spec"]["volumes"]}
    volume = size(volumes["cache"]["emptyDir"]["sizeLimit"])
    reserved, used, free = (
        size(config[k]) for k in ("reservedSpace", "maxUsedSpace", "minFreeSpace")
    )
    assert reserved < used < volume and free > 0
    mounts = {m["name"]: m["mountPath"] for m in container(manifest)["volumeMounts"]}
    # Where the rootless buildkitd reads its configuration and keeps its state.
    assert mounts["config"] == "/home/user/.config/buildkit"
    assert mounts["cache"] == "/home/user/.local/share/buildkit"
