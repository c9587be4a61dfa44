"""A throwaway registry for the Docker tier, and small reads of its contents."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


class Registry:
    """A registry container reached as localhost:<port>.

    BuildKit talks plain HTTP only to localhost registries unless told otherwise, so
    the address is always localhost, never the bridge gateway testcontainers reports.
    """

    def __init__(self, **env: str) -> None:
        # Imported here, not at the top: testcontainers reads its settings (set from the
        # Docker tier's env file by the docker_tier fixture) when first imported.
        from testcontainers.community.registry import DockerRegistryContainer

        self.container = DockerRegistryContainer()
        for key, value in env.items():
            self.container.with_env(key, value)

    def __enter__(self) -> Registry:
        self.container.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.container.stop()

    @property
    def address(self) -> str:
        return f"localhost:{self.container.get_exposed_port(self.container.port)}"

    def manifest(self, repository: str, reference: str) -> tuple[str, dict] | None:
        """(digest, manifest) of repository:reference, or None when it does not exist."""
        request = urllib.request.Request(
            f"http://{self.address}/v2/{repository}/manifests/{reference}",
            headers={"Accept": MANIFEST_TYPES},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.headers["Docker-Content-Digest"], json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def tags(self, repository: str) -> list[str]:
        try:
            with urllib.request.urlopen(
                f"http://{self.address}/v2/{repository}/tags/list", timeout=10
            ) as r:
                return sorted(json.load(r).get("tags") or [])
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return []
            raise
