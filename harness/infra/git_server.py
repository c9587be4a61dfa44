"""A private Go module on an HTTPS git server that wants credentials, as a private
GitLab project is: the tests' stand-in for "gitlab.example.com/team/lib".

`PrivateGitServer(folder, ca, user, tokens)` makes a bare repository holding one Go
module, tagged v1.0.0, and serves it on https://127.0.0.1:443 (a module path names a
host, never a port, and the builders' RUN steps share the host's network), with a
certificate from `ca`:
- `GET /team/lib?go-get=1` answers the go command's discovery request with the
  go-import tag that points at the git repository, as GitLab does;
- everything under `/team/lib.git/` is git's smart HTTP protocol, answered by
  `git http-backend` (git's own CGI program).
Every request without the right Basic credentials gets 401, and each request is
recorded (path, user, status), so a test can show who fetched what. `tokens` is a set a
test may add to: a new job token is a new accepted password.
"""

from __future__ import annotations

import base64
import os
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from harness.infra.tls import TestCA

HOST = "127.0.0.1"
PORT = 443
GROUP_PATH = "team"  # the GOPRIVATE prefix is HOST/GROUP_PATH
REPO = "lib"
VERSION = "v1.0.0"
# The module's one package: something the service can import and call.
LIB_GO = """// Package lib is a private module of the test world.
package lib

// Greeting is what the service's private.go calls.
func Greeting() string { return "hello from a private module" }
"""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    user: str  # "" when no valid credentials came with it
    status: int


@dataclass
class PrivateGitServer:
    folder: Path
    ca: TestCA
    user: str
    tokens: set[str]
    requests: list[Request] = field(default_factory=list)

    @property
    def module(self) -> str:
        return f"{HOST}/{GROUP_PATH}/{REPO}"

    @property
    def prefix(self) -> str:
        """The GOPRIVATE value that covers the module."""
        return f"{HOST}/{GROUP_PATH}"

    def __enter__(self) -> PrivateGitServer:
        self.root = self.folder / "repos"
        self._make_repository()
        cert = self.ca.issue("git-server", [HOST])
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert.cert, cert.key)
        server = ThreadingHTTPServer((HOST, PORT), self._handler())
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fetched_by(self, user: str) -> list[Request]:
        return [r for r in self.requests if r.user == user and r.status == 200]

    def _make_repository(self) -> None:
        work = self.folder / "work"
        work.mkdir(parents=True)
        (work / "go.mod").write_text(f"module {self.module}\n\ngo 1.22\n", encoding="utf-8")
        (work / "lib.go").write_text(LIB_GO, encoding="utf-8")
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
        }  # fmt: skip
        bare = self.root / GROUP_PATH / f"{REPO}.git"
        for args in (
            ["init", "-q", "-b", "main", str(work)],
            ["-C", str(work), "add", "."],
            ["-C", str(work), "commit", "-q", "-m", "lib"],
            ["-C", str(work), "tag", VERSION],
            ["clone", "-q", "--bare", str(work), str(bare)],
        ):
            subprocess.run(["git", *args], env=env, check=True, capture_output=True)

    def _authorized(self, header: str | None) -> str:
        if not header or not header.startswith("Basic "):
            return ""
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return ""
        return user if user == self.user and password in self.tokens else ""

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                url = urlsplit(self.path)
                user = server._authorized(self.headers.get("Authorization"))
                if not user:
                    self._reply(401, b"credentials required\n", "text/plain",
                                {"WWW-Authenticate": 'Basic realm="private modules"'})  # fmt: skip
                elif url.path.startswith(f"/{GROUP_PATH}/{REPO}.git/"):
                    self._git(url.path, url.query, user)
                elif url.path == f"/{GROUP_PATH}/{REPO}" and "go-get=1" in url.query:
                    meta = (
                        f'<html><head><meta name="go-import" content="{server.module} git '
                        f'https://{server.module}.git"></head></html>\n'
                    )
                    self._reply(200, meta.encode(), "text/html")
                else:
                    self._reply(404, b"not found\n", "text/plain")
                server.requests.append(Request(self.command, url.path, user, self._status))

            def _reply(
                self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None
            ) -> None:
                self._status = status
                self.send_response(status)
                for name, value in {"Content-Type": kind, **(headers or {})}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        chunk = self.rfile.read(size)
                        self.rfile.readline()
                        if size == 0:
                            return b"".join(chunks)
                        chunks.append(chunk)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _git(self, path: str, query: str, user: str) -> None:
                body = self._body() if self.command == "POST" else b""
                env = {
                    "PATH": os.environ["PATH"],
                    "GIT_PROJECT_ROOT": str(server.root),
                    "GIT_HTTP_EXPORT_ALL": "1",
                    "PATH_INFO": path,
                    "QUERY_STRING": query,
                    "REQUEST_METHOD": self.command,
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                    "CONTENT_LENGTH": str(len(body)),
                    "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                    "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                    "REMOTE_USER": user,
                    "REMOTE_ADDR": HOST,
                }
                done = subprocess.run(
                    ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
                )
                head, sep, payload = done.stdout.partition(b"\r\n\r\n")
                if not sep:
                    head, _, payload = done.stdout.partition(b"\n\n")
                status, headers, kind = 200, {}, "application/octet-stream"
                for line in head.decode("latin-1").splitlines():
                    name, _, value = line.partition(":")
                    if name.lower() == "status":
                        status = int(value.split()[0])
                    elif name.lower() == "content-type":
                        kind = value.strip()
                    elif name:
                        headers[name] = value.strip()
                self._reply(status, payload, kind, headers)

        return Handler
