"""The test registry is as strict as GitLab's: a manifest whose `subject` is not yet in
the repository is refused with MANIFEST_BLOB_UNKNOWN, and once the subject is there the
same manifest is taken. Against the real registry container and its gate, over plain
HTTP and over HTTPS with a login (what the pipeline tier's $CI_REGISTRY is)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pytest

from harness.infra.registry import Login, Registry
from harness.infra.tls import TestCA

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
EMPTY_CONFIG = b"{}"


@pytest.fixture(params=["http", "https+login"], scope="module")
def strict_registry(request, docker_tier, tmp_path_factory) -> Iterator[Registry]:
    if request.param == "http":
        with Registry() as registry:
            yield registry
        return
    ca = TestCA(tmp_path_factory.mktemp("strict-ca"))
    cert = ca.issue("registry", ["localhost", "127.0.0.1"])
    with Registry(login=Login("ci-user", secrets.token_urlsafe(18)), tls=(ca, cert)) as registry:
        assert registry.requires_login(), "the gate let a request without login through"
        yield registry


def image_manifest(config: str, marker: str) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config, "size": len(EMPTY_CONFIG)},
            "layers": [],
            "annotations": {"marker": marker},
        }
    ).encode()  # fmt: skip


def referrer(config: str, subject: bytes, subject_digest: str) -> bytes:
    """An attestation-like artifact whose subject is `subject`."""
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": "application/vnd.docker.attestation.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                       "digest": config, "size": len(EMPTY_CONFIG)},
            "layers": [],
            "subject": {"mediaType": OCI_MANIFEST, "digest": subject_digest,
                        "size": len(subject)},
        }
    ).encode()  # fmt: skip


def digest_of(body: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(body).hexdigest()


def test_a_referrer_before_its_subject_is_refused_then_taken(strict_registry: Registry):
    repository = f"strict/{secrets.token_hex(4)}/app"
    config = strict_registry.put_blob(repository, EMPTY_CONFIG)
    image = image_manifest(config, secrets.token_hex(8))
    artifact = referrer(config, image, digest_of(image))

    status, body = strict_registry.put_manifest(repository, digest_of(artifact), artifact)
    assert status == 400, f"a referrer of an absent subject was taken ({status}): {body}"
    (error,) = json.loads(body)["errors"]
    assert error == {
        "code": "MANIFEST_BLOB_UNKNOWN",
        "message": "blob unknown to registry",
        "detail": digest_of(image),
    }
    assert strict_registry.manifest(repository, digest_of(artifact)) is None
    assert f"subject {digest_of(image)} is not in {repository}" in strict_registry.gate_log()

    assert strict_registry.put_manifest(repository, "v1", image)[0] == 201
    status, body = strict_registry.put_manifest(repository, digest_of(artifact), artifact)
    assert status == 201, f"the referrer was refused with its subject present: {body}"
    stored = strict_registry.manifest(repository, digest_of(artifact))
    assert stored is not None and stored[0] == digest_of(artifact)


def test_a_subject_in_another_repository_does_not_count(strict_registry: Registry):
    """GitLab checks the repository the manifest goes to, not the whole registry."""
    here, there = (f"strict/{secrets.token_hex(4)}/{name}" for name in ("here", "there"))
    config = strict_registry.put_blob(there, EMPTY_CONFIG)
    strict_registry.put_blob(here, EMPTY_CONFIG)
    image = image_manifest(config, secrets.token_hex(8))
    assert strict_registry.put_manifest(there, "v1", image)[0] == 201
    artifact = referrer(config, image, digest_of(image))
    status, body = strict_registry.put_manifest(here, digest_of(artifact), artifact)
    assert status == 400, f"a subject from another repository was accepted: {body}"


def test_manifests_without_subject_pass(strict_registry: Registry):
    repository = f"strict/{secrets.token_hex(4)}/app"
    config = strict_registry.put_blob(repository, EMPTY_CONFIG)
    image = image_manifest(config, "plain")
    assert strict_registry.put_manifest(repository, "main", image)[0] == 201
    assert strict_registry.digest(repository, "main") == digest_of(image)
