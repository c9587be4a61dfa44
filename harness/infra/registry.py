"""ONE throwaway registry class for every tier, and reads of what it holds.

`Registry()` is testcontainers' registry on this machine's engine, reached as
localhost:<port>: BuildKit talks plain HTTP only to localhost unless told otherwise,
so the address is never the bridge gateway testcontainers would report. With a
`login`, it requires htpasswd authentication, as `$CI_REGISTRY` does on GitLab; with
`engine_host`, it runs on a private engine, and `address_on_engine()` is where that
engine's containers reach it. With `tls`, it serves HTTPS with a certificate from a test
CA (`harness.infra.tls`), and the reads here trust that CA; with `network` and `ip`, it also
sits at a fixed address on a docker network (`address_on_network()`), so containers
nested in a docker-in-docker service, which cannot resolve that network's names, reach
it by address.

Every registry is strict (`strict=True`, the default): a gate in front of it
(`harness.infra.registry_gate`) refuses a manifest whose `subject` is not yet in the
repository, as GitLab's container registry does. `strict=False` gives the plain
registry; no test needs it today.
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.infra.commands import docker
from harness.infra.registry_gate import Gate

if TYPE_CHECKING:
    from harness.infra.tls import ServerCert, TestCA

MANIFEST_MEDIA_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
MANIFEST_TYPES = ", ".join(MANIFEST_MEDIA_TYPES)  # an Accept header
CONTAINER_PORT = 5000
TLS_FOLDER = "/gotpl-tls"  # where a TLS registry's certificate is mounted


@dataclass(frozen=True)
class Login:
    user: str
    password: str

    @property
    def basic_auth(self) -> str:
        return base64.b64encode(f"{self.user}:{self.password}".encode()).decode()


class Registry:
    """A registry container, optionally with a login, optionally on a private engine."""

    def __init__(
        self,
        *,
        login: Login | None = None,
        engine_host: str | None = None,
        labels: dict[str, str] | None = None,
        tls: tuple[TestCA, ServerCert] | None = None,
        network: str = "",
        ip: str = "",
        strict: bool = True,
        **env: str,
    ) -> None:
        self.login = login
        self.engine_host = engine_host
        self.ca = tls[0] if tls else None
        self.ip = ip
        self.gate: Gate | None = None
        if strict:
            cert = (tls[1].cert, tls[1].key) if tls else None
            self.gate = Gate(engine_host=engine_host, labels=dict(labels or {}), cert=cert)
        kwargs: dict[str, object] = {}
        if login:
            kwargs.update(username=login.user, password=login.password)
        if engine_host:
            kwargs["docker_client_kw"] = {"environment": {"DOCKER_HOST": engine_host}}
        self.container = _container_class(self.ca, self.gate)(**kwargs)
        run_kwargs: dict[str, object] = {"labels": labels or {}}
        if self.gate:
            # The gate speaks TLS, if any; the registry behind it plain HTTP on loopback.
            for key, value in self.gate.registry_env().items():
                self.container.with_env(key, value)
        elif tls:
            cert = tls[1]
            self.container.with_volume_mapping(str(cert.cert), f"{TLS_FOLDER}/cert.pem", "ro")
            self.container.with_volume_mapping(str(cert.key), f"{TLS_FOLDER}/key.pem", "ro")
            self.container.with_env("REGISTRY_HTTP_TLS_CERTIFICATE", f"{TLS_FOLDER}/cert.pem")
            self.container.with_env("REGISTRY_HTTP_TLS_KEY", f"{TLS_FOLDER}/key.pem")
        if network:
            from docker.types import EndpointConfig

            run_kwargs["network"] = network
            if ip:
                run_kwargs["networking_config"] = {network: EndpointConfig("1.44", ipv4_address=ip)}
        self.container.with_kwargs(**run_kwargs)
        for key, value in env.items():
            self.container.with_env(key, value)

    def __enter__(self) -> Registry:
        try:
            self.container.start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.gate:
            self.gate.stop()
        self.container.stop()

    def gate_log(self) -> str:
        """What the strict gate printed (a line per refused manifest); "" when not strict."""
        return self.gate.logs() if self.gate else ""

    @property
    def address(self) -> str:
        """host:port where this machine (the tests, a host-network builder) reaches it."""
        return f"localhost:{self.container.get_exposed_port(self.container.port)}"

    def address_on_engine(self) -> str:
        """host:port where containers of the registry's own engine reach it."""
        container = self.container.get_wrapped_container().id
        ip = docker(
            "inspect", "--format", "{{.NetworkSettings.IPAddress}}", container,
            host=self.engine_host,
        ).stdout.strip()  # fmt: skip
        return f"{ip}:{CONTAINER_PORT}"

    def address_on_network(self) -> str:
        """host:port at the fixed address given as `ip` on `network`."""
        assert self.ip, "this registry was given no fixed address"
        return f"{self.ip}:{CONTAINER_PORT}"

    @property
    def scheme(self) -> str:
        return "https" if self.ca else "http"

    def _open(self, request: urllib.request.Request | str, timeout: float):
        context = self.ca.context() if self.ca else None
        return urllib.request.urlopen(request, timeout=timeout, context=context)

    # ---- reads over the registry's HTTP API ----------------------------------------

    def _request(self, path: str, accept: str = "") -> urllib.request.Request:
        request = urllib.request.Request(f"{self.scheme}://{self.address}/v2/{path}")
        if self.login:
            request.add_header("Authorization", f"Basic {self.login.basic_auth}")
        if accept:
            request.add_header("Accept", accept)
        return request

    def _get(self, path: str, accept: str = "") -> tuple[dict[str, str], bytes] | None:
        """(headers, body), or None for a 404."""
        try:
            with self._open(self._request(path, accept), timeout=120) as response:
                return dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def manifest(self, repository: str, reference: str) -> tuple[str, dict] | None:
        """(digest, manifest) of repository:reference (a tag or a digest), or None."""
        found = self._get(f"{repository}/manifests/{reference}", MANIFEST_TYPES)
        if found is None:
            return None
        headers, body = found
        return headers["Docker-Content-Digest"], json.loads(body)

    def digest(self, repository: str, reference: str) -> str | None:
        found = self.manifest(repository, reference)
        return found[0] if found else None

    def tags(self, repository: str) -> list[str]:
        found = self._get(f"{repository}/tags/list")
        return sorted((json.loads(found[1]).get("tags") or []) if found else [])

    def blob(self, repository: str, digest: str) -> bytes:
        found = self._get(f"{repository}/blobs/{digest}")
        if found is None:
            raise LookupError(f"{repository}@{digest} is not in the registry")
        return found[1]

    def platform_manifest(
        self, repository: str, reference: str, os: str = "linux", architecture: str = "amd64"
    ) -> dict:
        """The image manifest for one platform behind a tag (buildx may push an index,
        with attestation manifests next to the images)."""
        found = self.manifest(repository, reference)
        if found is None:
            raise LookupError(f"{repository}:{reference} is not in the registry")
        manifest = found[1]
        if "manifests" not in manifest:
            return manifest
        for entry in manifest["manifests"]:
            platform = entry.get("platform") or {}
            if platform.get("os") == os and platform.get("architecture") == architecture:
                inner = self.manifest(repository, entry["digest"])
                assert inner is not None, f"{repository}@{entry['digest']} is listed but absent"
                return inner[1]
        raise LookupError(f"{repository}:{reference} has no {os}/{architecture} manifest")

    # ---- writes, for tests of the registry's own rules ------------------------------

    def put_blob(self, repository: str, data: bytes) -> str:
        """Upload `data` as a blob in one POST + PUT; its digest."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        start = self._request(f"{repository}/blobs/uploads/")
        start.method = "POST"
        with self._open(start, timeout=60) as response:
            location = response.headers["Location"]
        separator = "&" if "?" in location else "?"
        if location.startswith("/"):
            location = f"{self.scheme}://{self.address}{location}"
        finish = urllib.request.Request(f"{location}{separator}digest={digest}", data=data)
        finish.method = "PUT"
        finish.add_header("Content-Type", "application/octet-stream")
        if self.login:
            finish.add_header("Authorization", f"Basic {self.login.basic_auth}")
        self._open(finish, timeout=60).close()
        return digest

    def put_manifest(self, repository: str, reference: str, manifest: bytes) -> tuple[int, str]:
        """PUT a manifest (its own `mediaType` as the Content-Type): (status, body)."""
        request = self._request(f"{repository}/manifests/{reference}")
        request.method = "PUT"
        request.data = manifest
        request.add_header("Content-Type", json.loads(manifest)["mediaType"])
        try:
            with self._open(request, timeout=60) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def copy_to(
        self, target: Registry, repository: str, reference: str, into: str | None = None
    ) -> str:
        """Copy repository:reference, byte for byte (blobs, then the manifest, then an
        index's manifests before the index), to `target` under the same tag, in
        repository `into` (default: the same name). Returns the manifest's digest. A
        copied image or cache image is what its writer pushed, only somewhere else:
        tests use it to start one builder's job from a cache another builder wrote."""
        into = into or repository
        found = self._get(f"{repository}/manifests/{reference}", MANIFEST_TYPES)
        if found is None:
            raise LookupError(f"{repository}:{reference} is not in the registry")
        body = found[1]
        manifest = json.loads(body)
        for entry in manifest.get("manifests", []):
            if entry.get("mediaType") in MANIFEST_MEDIA_TYPES:
                self.copy_to(target, repository, entry["digest"], into)
            else:  # an index whose entries are blobs (BuildKit's cache without image-manifest)
                target.put_blob(into, self.blob(repository, entry["digest"]))
        for blob in [manifest.get("config"), *manifest.get("layers", [])]:
            if blob:
                target.put_blob(into, self.blob(repository, blob["digest"]))
        status, answer = target.put_manifest(into, reference, body)
        assert status == 201, f"copying {repository}:{reference} was refused: {status} {answer}"
        return "sha256:" + hashlib.sha256(body).hexdigest()

    def requires_login(self) -> bool:
        """True when the registry answers 401 to a request without credentials."""
        try:
            self._open(f"{self.scheme}://{self.address}/v2/", timeout=10).close()
        except urllib.error.HTTPError as error:
            return error.code == 401
        return False


def _container_class(ca: TestCA | None, gate: Gate | None) -> type:
    """testcontainers' registry class; for TLS, one whose readiness probe speaks HTTPS;
    with a gate, one that starts the gate in its network namespace before the probe
    (which then goes through the gate, as every later request does)."""
    base = _probe_class(ca)
    if gate is None:
        return base

    class GatedRegistryContainer(base):
        def _readiness_probe(self) -> None:
            if not gate.container_id:
                gate.start(self.get_wrapped_container().id)
            base._readiness_probe(self)

    return GatedRegistryContainer


def _probe_class(ca: TestCA | None) -> type:
    """testcontainers' registry class; for TLS, one whose readiness probe speaks HTTPS.
    Imported here, not at the top: testcontainers reads its settings (exported from the
    testbed's settings file) when first imported."""
    from testcontainers.community.registry import DockerRegistryContainer

    if ca is None:
        return DockerRegistryContainer
    from requests import get
    from requests.auth import HTTPBasicAuth
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import ReadTimeout, SSLError
    from testcontainers.core.waiting_utils import wait_container_is_ready

    class TlsRegistryContainer(DockerRegistryContainer):
        @wait_container_is_ready(RequestsConnectionError, ReadTimeout, SSLError)
        def _readiness_probe(self) -> None:
            auth = HTTPBasicAuth(self.username, self.password) if self.password else None
            url = f"https://{self.get_registry()}/v2/"
            get(url, auth=auth, timeout=1, verify=str(ca.cert)).raise_for_status()

    return TlsRegistryContainer
