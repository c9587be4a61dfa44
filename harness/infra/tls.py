"""A throwaway certificate authority for test services that must speak TLS.

A GitLab registry is reached over HTTPS, and docker-in-docker refuses a plain-HTTP
registry unless it is told otherwise. A test registry gets a certificate from this CA,
and the clients are told to trust the CA the way a real one is trusted (a `certs.d`
folder for a Docker engine, `ca = [...]` in a buildkitd.toml, an `ssl` context here).
The keys are made with this machine's `openssl`, in a folder of the test's own.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.infra.commands import run

DAYS = 30


@dataclass(frozen=True)
class ServerCert:
    cert: Path
    key: Path


class TestCA:
    """A CA whose key and certificate live in `folder`; `issue` signs server certificates."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, folder: Path, name: str = "gotpl test CA") -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.cert = folder / "ca.pem"
        self.key = folder / "ca-key.pem"
        _new_key(self.key)
        run(
            ["openssl", "req", "-new", "-x509", "-key", str(self.key), "-subj", f"/CN={name}",
             "-days", str(DAYS), "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", str(self.cert)]
        )  # fmt: skip

    def issue(self, name: str, addresses: Sequence[str], usage: str = "serverAuth") -> ServerCert:
        """A server certificate for every host name or IP address in `addresses`
        (`usage="clientAuth"`: a client certificate for mutual TLS)."""
        key = self.folder / f"{name}-key.pem"
        cert = self.folder / f"{name}.pem"
        request = self.folder / f"{name}.csr"
        extensions = self.folder / f"{name}.ext"
        names = ",".join(f"{'IP' if _is_ip(a) else 'DNS'}:{a}" for a in addresses)
        extensions.write_text(
            f"subjectAltName = {names}\nextendedKeyUsage = {usage}\n"
            "basicConstraints = critical,CA:FALSE\n",
            encoding="utf-8",
        )
        _new_key(key)
        run(
            [
                "openssl",
                "req",
                "-new",
                "-key",
                str(key),
                "-subj",
                f"/CN={name}",
                "-out",
                str(request),
            ]
        )
        run(
            ["openssl", "x509", "-req", "-in", str(request), "-CA", str(self.cert),
             "-CAkey", str(self.key), "-CAcreateserial", "-days", str(DAYS),
             "-extfile", str(extensions), "-out", str(cert)]
        )  # fmt: skip
        key.chmod(0o644)  # the registry in its container reads it as whatever user it runs
        return ServerCert(cert, key)

    def context(self) -> ssl.SSLContext:
        """An SSL context that trusts this CA only."""
        return ssl.create_default_context(cafile=str(self.cert))


def _new_key(path: Path) -> None:
    """An ECDSA P-256 key: quick to make, and every client here accepts it."""
    run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(path)])


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
