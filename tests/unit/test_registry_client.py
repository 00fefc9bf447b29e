"""The registry client (storage.transports.registry) against in-process fake registries, and a real one."""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import io
import json
import re
import shutil
import socket
import ssl
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from storage.transports import auth
from storage.transports.manifest import OCI_INDEX, OCI_MANIFEST
from storage.transports.registry import (
    DigestMismatchError, ManifestUnknownError, RegistryClient, RegistryError, RegistryOptions, UnauthorizedError,
)

USER, PASSWORD = "user", "s3cret-pass"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# -- a fake registry -----------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as registries do
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.app.handle(self)

    def do_HEAD(self) -> None:
        self.server.app.handle(self)

    # Pushing: see FakeRegistry.upload.
    do_POST = do_PATCH = do_PUT = do_GET


class _Server(ThreadingHTTPServer):
    app: FakeRegistry

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up mid-answer is expected in these tests


class FakeRegistry:
    """A registry on 127.0.0.1 serving canned manifests and blobs, with switchable auth and faults."""

    def __init__(self, tls: Optional[ssl.SSLContext] = None) -> None:
        self.manifests: dict[str, tuple[bytes, str]] = {}  # "repo:ref" -> (body, content type)
        self.blobs: dict[str, bytes] = {}
        self.log: list[tuple[str, str, dict[str, str], int]] = []  # method, path, headers, client port
        self.auth: Optional[str] = None  # None, "bearer" or "basic"
        self.token_needs_credentials = True
        self.token_key = "token"
        self.tokens: set[str] = set()
        self.token_requests: list[tuple[dict[str, list[str]], Optional[str]]] = []  # query, Authorization
        self.failures = 0  # answer 500 to this many /v2/ requests first
        self.status_forever: Optional[int] = None
        self.redirect: Optional[str] = None  # base URL blobs are redirected to
        self.chunked = False
        self.close_connections = False
        # Pushing.  Uploaded blobs go to `blobs`; `links` says which
        # repositories hold which blob, checked only when repo_scoped.
        self.repo_scoped = False
        self.links: set[tuple[str, str]] = set()
        self.uploads: dict[str, bytearray] = {}  # upload id -> content so far
        self.token_scopes: dict[str, str] = {}  # token -> scope it was issued for
        self.allow_mount = True
        self.upload_host: Optional[str] = None  # send absolute upload Locations naming this host
        self.put_failures = 0  # answer 500 to this many upload PUTs (after reading their body)
        self.manifest_digest: Optional[str] = None  # Docker-Content-Digest to answer a manifest PUT with
        self.lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.app = self
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def add_image(self, repo: str, tag: str, layers: list[bytes]) -> tuple[bytes, str]:
        """Store config + layers + an OCI manifest under tag; returns (manifest bytes, digest)."""
        config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
        self.blobs[sha(config)] = config
        doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config),
                          "size": len(config)},
               "layers": []}
        for layer in layers:
            self.blobs[sha(layer)] = layer
            doc["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                  "digest": sha(layer), "size": len(layer)})
        raw = json.dumps(doc).encode()
        self.manifests[f"{repo}:{tag}"] = (raw, OCI_MANIFEST)
        self.manifests[f"{repo}:{sha(raw)}"] = (raw, OCI_MANIFEST)
        return raw, sha(raw)

    def requests_to(self, fragment: str) -> list[tuple[str, str, dict[str, str], int]]:
        return [r for r in self.log if fragment in r[1]]

    # -- request handling --

    def send(self, h: _Handler, status: int, body: bytes = b"", headers: Optional[dict[str, str]] = None) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        if self.close_connections:
            h.send_header("Connection", "close")
            h.close_connection = True
        if self.chunked and h.command != "HEAD" and status == 200:
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            for i in range(0, len(body), 7):
                piece = body[i:i + 7]
                h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            h.wfile.write(b"0\r\n\r\n")
            return
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def error(self, h: _Handler, status: int, code: str, headers: Optional[dict[str, str]] = None) -> None:
        body = json.dumps({"errors": [{"code": code, "message": code.lower().replace("_", " ")}]}).encode()
        self.send(h, status, body, {"Content-Type": "application/json", **(headers or {})})

    def handle(self, h: _Handler) -> None:
        url = urlsplit(h.path)
        with self.lock:
            self.log.append((h.command, h.path, dict(h.headers.items()), h.client_address[1]))
        if url.path == "/token":
            return self.token(h, parse_qs(url.query))
        if url.path.startswith("/blobs/"):
            return self.blob(h, url.path.rsplit("/", 1)[1])
        if h.command in ("POST", "PATCH", "PUT"):
            return self.upload(h, url.path, parse_qs(url.query))
        if url.path == "/v2/":  # the API version check `login` uses
            if self.authorized(h, ""):
                self.send(h, 200, b"{}", {"Content-Type": "application/json"})
            return
        tags = re.match(r"^/v2/(.+)/tags/list$", url.path)
        if tags is not None and self.authorized(h, tags.group(1)):
            return self.tag_list(h, tags.group(1), parse_qs(url.query))
        m = re.match(r"^/v2/(.+)/(manifests|blobs)/([^/]+)$", url.path)
        if m is None:
            return self.error(h, 404, "NOT_FOUND")
        if self.status_forever is not None:
            return self.error(h, self.status_forever, "UNAVAILABLE")
        if self.failures > 0:
            self.failures -= 1
            return self.error(h, 500, "UNAVAILABLE")
        repo, kind, ref = m.groups()
        if not self.authorized(h, repo):
            return
        if kind == "manifests":
            if f"{repo}:{ref}" not in self.manifests:
                known = any(key.startswith(f"{repo}:") for key in self.manifests)
                return self.error(h, 404, "MANIFEST_UNKNOWN" if known else "NAME_UNKNOWN")
            body, media_type = self.manifests[f"{repo}:{ref}"]
            return self.send(h, 200, body, {"Content-Type": media_type, "Docker-Content-Digest": sha(body)})
        if self.repo_scoped and kind == "blobs" and (repo, ref) not in self.links:
            return self.error(h, 404, "BLOB_UNKNOWN")
        if self.redirect:
            return self.send(h, 307, b"", {"Location": f"{self.redirect}/blobs/{ref}?X-Signature=abc"})
        return self.blob(h, ref)

    def tag_list(self, h: _Handler, repo: str, query: dict[str, list[str]]) -> None:
        """The repository's tags, sorted, `n` a page (3 unless asked), continued after `last`
        with a Link header as docker-registry pages them."""
        names = sorted({key.split(":", 1)[1] for key in self.manifests
                        if key.startswith(f"{repo}:") and not key.split(":", 1)[1].startswith("sha256:")})
        if not names:
            return self.error(h, 404, "NAME_UNKNOWN")
        n = int(query.get("n", ["3"])[0])
        after = query.get("last", [""])[0]
        rest = [t for t in names if t > after]
        page, more = rest[:n], len(rest) > n
        headers = {"Content-Type": "application/json"}
        if more:
            headers["Link"] = f'</v2/{repo}/tags/list?{urlencode({"n": n, "last": page[-1]})}>; rel="next"'
        self.send(h, 200, json.dumps({"name": repo, "tags": page}).encode(), headers)

    def blob(self, h: _Handler, digest: str) -> None:
        if digest not in self.blobs:
            return self.error(h, 404, "BLOB_UNKNOWN")
        self.send(h, 200, self.blobs[digest], {"Content-Type": "application/octet-stream"})

    def upload(self, h: _Handler, path: str, query: dict[str, list[str]]) -> None:
        """The push side of the API: upload sessions (POST, PATCH, PUT), mounts, and manifest PUTs."""
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        m = re.match(r"^/v2/(.+)/(blobs/uploads|manifests)/([^/]*)$", path)
        if m is None:
            return self.error(h, 404, "NOT_FOUND")
        repo, kind, ref = m.groups()
        session = kind == "blobs/uploads" and ref != ""
        # A foreign upload host gets no credentials: the state token is its authorization.
        foreign = session and h.headers.get("Host", "").startswith(f"{self.upload_host}:")
        if foreign and query.get("_state") != [f"secret-{ref}"]:
            return self.error(h, 401, "UNAUTHORIZED")
        if not foreign and not self.authorized(h, repo, push=True):
            return
        if kind == "manifests" and h.command == "PUT":
            self.manifests[f"{repo}:{ref}"] = self.manifests[f"{repo}:{sha(body)}"] = (
                body, h.headers.get("Content-Type", ""))
            return self.send(h, 201, b"", {"Docker-Content-Digest": self.manifest_digest or sha(body),
                                           "Location": f"/v2/{repo}/manifests/{sha(body)}"})
        if kind == "manifests":
            return self.error(h, 405, "UNSUPPORTED")
        if h.command == "POST" and not session:
            digest, source = query.get("mount", [""])[0], query.get("from", [""])[0]
            if digest and self.allow_mount and (source, digest) in self.links:
                self.links.add((repo, digest))
                return self.send(h, 201, b"", {"Location": f"/v2/{repo}/blobs/{digest}",
                                               "Docker-Content-Digest": digest})
            with self.lock:
                upload_id = f"u{len(self.uploads)}"
                self.uploads[upload_id] = bytearray()
            return self.send(h, 202, b"", {"Location": self.session_url(repo, upload_id), "Range": "0-0"})
        if not session or ref not in self.uploads:
            return self.error(h, 404, "BLOB_UPLOAD_UNKNOWN")
        content = self.uploads[ref]
        if h.command == "PATCH":
            first, _, last = h.headers.get("Content-Range", "").partition("-")
            if not first.isdigit() or int(first) != len(content) or int(last) != len(content) + len(body) - 1:
                return self.error(h, 416, "BLOB_UPLOAD_INVALID")
            content += body
            return self.send(h, 202, b"", {"Location": self.session_url(repo, ref),
                                           "Range": f"0-{len(content) - 1}"})
        if self.put_failures > 0:
            self.put_failures -= 1
            return self.error(h, 500, "UNAVAILABLE")
        content += body
        digest = query.get("digest", [""])[0]
        if sha(bytes(content)) != digest:
            del self.uploads[ref]
            return self.error(h, 400, "DIGEST_INVALID")
        self.blobs[digest] = bytes(content)
        self.links.add((repo, digest))
        del self.uploads[ref]
        self.send(h, 201, b"", {"Location": f"/v2/{repo}/blobs/{digest}", "Docker-Content-Digest": digest})

    def session_url(self, repo: str, upload_id: str) -> str:
        path = f"/v2/{repo}/blobs/uploads/{upload_id}?_state=secret-{upload_id}"
        if self.upload_host:
            return f"http://{self.upload_host}:{self.server.server_address[1]}{path}"
        return path

    def authorized(self, h: _Handler, repo: str, push: bool = False) -> bool:
        given = h.headers.get("Authorization", "")
        if self.auth == "basic":
            if given == basic(USER, PASSWORD):
                return True
            self.error(h, 401, "UNAUTHORIZED", {"WWW-Authenticate": 'Basic realm="fake registry"'})
            return False
        if self.auth == "bearer":
            token = given[7:] if given.startswith("Bearer ") else ""
            if token in self.tokens and (not push or self.token_scopes[token].endswith(f"{repo}:pull,push")):
                return True
            challenge = (f'Bearer realm="http://{self.netloc}/token",service="fake, registry",'
                         f'scope="repository:{repo}:{"pull,push" if push else "pull"}"')
            self.error(h, 401, "UNAUTHORIZED", {"WWW-Authenticate": challenge})
            return False
        return True

    def token(self, h: _Handler, query: dict[str, list[str]]) -> None:
        given = h.headers.get("Authorization")
        self.token_requests.append((query, given))
        if self.token_needs_credentials and given != basic(USER, PASSWORD):
            return self.send(h, 401, b'{"details": "incorrect username or password"}')
        token = f"tok-{len(self.token_requests)}"
        self.tokens.add(token)
        self.token_scopes[token] = query.get("scope", [""])[0]
        self.send(h, 200, json.dumps({self.token_key: token, "expires_in": 300}).encode(),
                  {"Content-Type": "application/json"})


class StalledServer:
    """Accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.conns: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept)
        self.thread.start()

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join()
        for conn in self.conns:
            conn.close()


@pytest.fixture
def fake() -> Iterator[FakeRegistry]:
    registry = FakeRegistry()
    yield registry
    registry.close()


@pytest.fixture
def storage_server() -> Iterator[FakeRegistry]:
    server = FakeRegistry()
    yield server
    server.close()


def client(registry: FakeRegistry | StalledServer | str, **kw: Any) -> RegistryClient:
    options = {"insecure": True, "timeout": 5.0, "retries": 2, "backoff": 0.01, **kw}
    netloc = registry if isinstance(registry, str) else registry.netloc
    return RegistryClient(netloc, RegistryOptions(**options))


LAYERS = [gzip.compress(b"layer %d" % i * 100, mtime=0) for i in range(5)]


def read_all(c: RegistryClient, repo: str, digest: str, size: Optional[int] = None) -> bytes:
    with c.open_blob(repo, digest, size) as f:
        return f.read()


# -- WWW-Authenticate ------------------------------------------------------------------------


def test_parse_challenges() -> None:
    [c] = auth.parse_challenges(['Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                                 'scope="repository:library/busybox:pull,push"'])
    assert c.scheme == "bearer"
    assert c.params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                        "scope": "repository:library/busybox:pull,push"}
    cs = auth.parse_challenges(['BASIC realm = "a \\"quoted\\", realm" , Bearer realm=https://x/t, error=invalid_token',
                                "Negotiate", "Basic dXNlcjpwYXNz", ""])
    assert [(c.scheme, c.params, c.token68) for c in cs] == [
        ("basic", {"realm": 'a "quoted", realm'}, None),
        ("bearer", {"realm": "https://x/t", "error": "invalid_token"}, None),
        ("negotiate", {}, None),
        ("basic", {}, "dXNlcjpwYXNz"),
    ]
    # Garbage is skipped, not fatal.
    assert [c.scheme for c in auth.parse_challenges(['@@ Bearer realm="r"', '"unterminated'])] == ["bearer",
                                                                                                    "unterminated"]


def test_token_url() -> None:
    c = auth.Challenge("bearer", {"realm": "https://auth.example/token?x=1", "service": "reg"})
    assert auth.token_url(c, auth.token_scope("a/b")) == \
        "https://auth.example/token?x=1&service=reg&scope=repository%3Aa%2Fb%3Apull"
    assert auth.token_scope("a/b", push=True) == "repository:a/b:pull,push"
    assert auth.token_url(auth.Challenge("bearer", {"realm": "ftp://x"}), "s") is None
    assert auth.parse_token_response(b'{"access_token": "abc"}') == "abc"
    assert auth.parse_token_response(b'{"token": "a\\r\\nX: y"}') is None
    assert auth.parse_token_response(b"nope") is None


def test_token_url_adds_the_scopes_a_challenge_names() -> None:
    c = auth.Challenge("bearer", {"realm": "https://t/token", "service": "reg",
                                  "scope": "repository:dst:pull,push repository:src:pull"})
    url = auth.token_url(c, auth.token_scope("dst", push=True))
    assert url == ("https://t/token?service=reg&scope=repository%3Adst%3Apull%2Cpush"
                   "&scope=repository%3Asrc%3Apull")
    # a challenge scope ours already covers is not asked twice
    c2 = auth.Challenge("bearer", {"realm": "https://t/token", "scope": "repository:dst:pull"})
    assert auth.token_url(c2, auth.token_scope("dst", push=True)).count("scope=") == 1


# -- pulling from the fake -----------------------------------------------------------------------


def test_anonymous_pull_reuses_one_connection(fake: FakeRegistry) -> None:
    raw, digest = fake.add_image("library/busybox", "latest", LAYERS)
    with client(fake) as c:
        assert c.get_manifest("library/busybox", "latest") == (raw, OCI_MANIFEST, digest)
        image = c.resolve("library/busybox", "latest", "linux", "amd64", None)
        assert image.digest == digest and image.index_digest is None
        for layer in image.layers:
            assert read_all(c, "library/busybox", layer.digest, layer.size) == fake.blobs[layer.digest]
        assert c.blob_exists("library/busybox", image.layers[0].digest)
        assert not c.blob_exists("library/busybox", sha(b"absent"))
    assert len(fake.log) == 2 + len(LAYERS) + 2
    assert len({port for *_, port in fake.log}) == 1, "keep-alive connection not reused"
    assert all(r[2]["User-Agent"].startswith("podpy/") for r in fake.log)


def test_partial_read_then_close_does_not_poison_the_connection(fake: FakeRegistry) -> None:
    fake.add_image("a/b", "latest", LAYERS)
    with client(fake) as c:
        with c.open_blob("a/b", sha(LAYERS[0])) as f:
            assert f.read(3) == LAYERS[0][:3]
        assert read_all(c, "a/b", sha(LAYERS[1])) == LAYERS[1]


def test_server_closing_connections(fake: FakeRegistry) -> None:
    fake.close_connections = True
    fake.chunked = True
    fake.add_image("a/b", "latest", LAYERS)
    with client(fake) as c:
        image = c.resolve("a/b", "latest", "linux", "amd64", None)
        for layer in image.layers:
            assert read_all(c, "a/b", layer.digest, layer.size) == fake.blobs[layer.digest]


def test_index_is_resolved_for_the_platform(fake: FakeRegistry) -> None:
    amd_raw, amd = fake.add_image("multi", "amd", LAYERS[:1])
    arm_raw, arm = fake.add_image("multi", "arm", LAYERS[1:3])
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": amd, "size": len(amd_raw),
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": OCI_MANIFEST, "digest": arm, "size": len(arm_raw),
         "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    ]}).encode()
    fake.manifests["multi:latest"] = (index, OCI_INDEX)
    with client(fake) as c:
        image = c.resolve("multi", "latest", "linux", "arm64", None)
        assert (image.digest, image.raw, image.index_digest) == (arm, arm_raw, sha(index))
        assert [x.digest for x in image.layers] == [sha(x) for x in LAYERS[1:3]]
        with pytest.raises(RegistryError, match=r"^pulling 127\.0\.0\.1:\d+/multi:latest: no image .* "
                                                r"linux/ppc64le \(available: linux/amd64, linux/arm64/v8\)$"):
            c.resolve("multi", "latest", "linux", "ppc64le", None)
        # An index whose entry size lies is caught too.
        fake.manifests["multi:bad"] = (index.replace(b'"size": %d' % len(arm_raw), b'"size": 1'), OCI_INDEX)
        with pytest.raises(DigestMismatchError, match="the list says 1"):
            c.resolve("multi", "bad", "linux", "arm64", "v8")


def test_manifest_digest_is_one_head_request(fake: FakeRegistry) -> None:
    """auto-update's check: the tag's digest and media type from a HEAD, no body fetched."""
    _raw, digest = fake.add_image("a/b", "latest", LAYERS[:1])
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}).encode()
    fake.manifests["a/b:multi"] = (index, OCI_INDEX)
    with client(fake) as c:
        assert c.manifest_digest("a/b", "latest") == (digest, OCI_MANIFEST)
        assert c.manifest_digest("a/b", "multi") == (sha(index), OCI_INDEX)
        with pytest.raises(ManifestUnknownError, match=r"^checking 127\.0\.0\.1:\d+/a/b:gone: manifest unknown$"):
            c.manifest_digest("a/b", "gone")
        with pytest.raises(RegistryError, match="invalid tag"):
            c.manifest_digest("a/b", "../x")
    assert {r[0] for r in fake.requests_to("/manifests/")} == {"HEAD"}


def test_manifest_unknown(fake: FakeRegistry) -> None:
    fake.add_image("busybox", "1.36", [])
    with client(fake) as c:
        with pytest.raises(ManifestUnknownError) as info:
            c.get_manifest("busybox", "latest")
        assert str(info.value) == f"pulling {fake.netloc}/busybox:latest: manifest unknown"
        with pytest.raises(ManifestUnknownError) as info:
            c.get_manifest("library/absent", "latest")
        assert str(info.value) == (f"pulling {fake.netloc}/library/absent:latest: "
                                   "manifest unknown (repository name not known to registry)")


def test_manifest_digest_mismatch(fake: FakeRegistry) -> None:
    raw, digest = fake.add_image("a/b", "latest", LAYERS[:1])
    wrong = sha(b"something else")
    fake.manifests[f"a/b:{wrong}"] = (raw, OCI_MANIFEST)
    with client(fake) as c:
        assert c.get_manifest("a/b", digest)[2] == digest
        with pytest.raises(DigestMismatchError, match=f"@{wrong}: manifest digest mismatch"):
            c.get_manifest("a/b", wrong)


def test_blob_digest_mismatch(fake: FakeRegistry) -> None:
    fake.add_image("a/b", "latest", LAYERS[:1])
    fake.blobs[sha(LAYERS[0])] = LAYERS[0][:-1] + b"X"
    with client(fake) as c:
        f = c.open_blob("a/b", sha(LAYERS[0]), len(LAYERS[0]))
        with pytest.raises(DigestMismatchError, match="digest mismatch"):
            f.read()
        f.close()
        # The client goes on working after a refused blob.
        assert c.blob_exists("a/b", sha(LAYERS[0]))
        config = c.resolve("a/b", "latest", "linux", "amd64", None).config
        assert read_all(c, "a/b", config.digest, config.size) == fake.blobs[config.digest]


@pytest.mark.parametrize("chunked", [False, True])
def test_blob_size_mismatch(fake: FakeRegistry, chunked: bool) -> None:
    fake.chunked = chunked
    fake.add_image("a/b", "latest", LAYERS[:1])
    digest, n = sha(LAYERS[0]), len(LAYERS[0])
    with client(fake) as c:
        for size in (n - 1, n + 1):
            with pytest.raises(DigestMismatchError, match="size mismatch"):
                read_all(c, "a/b", digest, size)
        assert read_all(c, "a/b", digest, n) == LAYERS[0]


def test_bearer_token_flow(fake: FakeRegistry) -> None:
    fake.auth = "bearer"
    fake.add_image("library/busybox", "latest", LAYERS)
    with client(fake, credentials=(USER, PASSWORD)) as c:
        image = c.resolve("library/busybox", "latest", "linux", "amd64", None)
        for _ in range(3):
            for layer in image.layers:
                assert read_all(c, "library/busybox", layer.digest, layer.size) == fake.blobs[layer.digest]
    assert len(fake.token_requests) == 1, "the token should be fetched once and reused"
    query, given = fake.token_requests[0]
    assert query == {"service": ["fake, registry"], "scope": ["repository:library/busybox:pull"]}
    assert given == basic(USER, PASSWORD)
    v2 = fake.requests_to("/v2/")
    assert v2[0][2].get("Authorization") is None  # the first try is anonymous and answered 401
    assert all(r[2]["Authorization"] == "Bearer tok-1" for r in v2[1:])
    assert len(v2) == 2 + 3 * len(LAYERS)


def test_anonymous_token_and_refresh(fake: FakeRegistry) -> None:
    fake.auth = "bearer"
    fake.token_needs_credentials = False
    fake.token_key = "access_token"
    fake.add_image("a/b", "latest", LAYERS[:2])
    with client(fake) as c:
        assert read_all(c, "a/b", sha(LAYERS[0])) == LAYERS[0]
        assert fake.token_requests[0][1] is None
        fake.tokens.clear()  # the token expires
        assert read_all(c, "a/b", sha(LAYERS[1])) == LAYERS[1]
    assert len(fake.token_requests) == 2


def test_bearer_wrong_password(fake: FakeRegistry) -> None:
    fake.auth = "bearer"
    fake.add_image("a/b", "latest", LAYERS[:1])
    for credentials in [(USER, "wrong-password"), None]:
        with client(fake, credentials=credentials) as c, pytest.raises(UnauthorizedError) as info:
            c.get_manifest("a/b", "latest")
        assert "authentication required" in str(info.value)
        assert "wrong-password" not in str(info.value) and "\n" not in str(info.value)


def test_basic_auth(fake: FakeRegistry) -> None:
    fake.auth = "basic"
    fake.add_image("a/b", "latest", LAYERS[:2])
    with client(fake, credentials=(USER, PASSWORD)) as c:
        image = c.resolve("a/b", "latest", "linux", "amd64", None)
        for layer in image.layers:
            read_all(c, "a/b", layer.digest, layer.size)
    v2 = fake.requests_to("/v2/")
    assert [r[2].get("Authorization") for r in v2] == [None] + [basic(USER, PASSWORD)] * 3
    with client(fake) as c, pytest.raises(UnauthorizedError, match="authentication required"):
        c.get_manifest("a/b", "latest")
    with client(fake, credentials=(USER, "nope")) as c, pytest.raises(UnauthorizedError) as info:
        c.get_manifest("a/b", "latest")
    assert "nope" not in str(info.value)


def test_access_denied(fake: FakeRegistry) -> None:
    fake.status_forever = 403
    with client(fake) as c, pytest.raises(UnauthorizedError, match=r"/a/b:latest: access denied$"):
        c.get_manifest("a/b", "latest")


def test_redirect_does_not_leak_authorization(fake: FakeRegistry, storage_server: FakeRegistry) -> None:
    fake.auth = "bearer"
    fake.add_image("a/b", "latest", LAYERS[:2])
    storage_server.blobs = fake.blobs
    fake.redirect = f"http://{storage_server.netloc}"
    with client(fake, credentials=(USER, PASSWORD)) as c:
        image = c.resolve("a/b", "latest", "linux", "amd64", None)
        for layer in image.layers:
            assert read_all(c, "a/b", layer.digest, layer.size) == fake.blobs[layer.digest]
        fake.blobs[sha(LAYERS[0])] = b"tampered"
        with pytest.raises(DigestMismatchError):
            read_all(c, "a/b", sha(LAYERS[0]))
    assert [r[1].split("?")[0] for r in storage_server.log] == [f"/blobs/{sha(x)}" for x in (*LAYERS[:2], LAYERS[0])]
    assert all("Authorization" not in r[2] for r in storage_server.log)
    assert all(r[1].endswith("?X-Signature=abc") for r in storage_server.log)
    assert len(fake.token_requests) == 1


def test_fork_copy_shares_tokens_not_connections(fake: FakeRegistry) -> None:
    fake.auth = "bearer"
    fake.add_image("a/b", "latest", LAYERS[:3])
    with client(fake, credentials=(USER, PASSWORD)) as c:
        assert read_all(c, "a/b", sha(LAYERS[0])) == LAYERS[0]
        results: list[bytes] = []

        def fetch(layer: bytes) -> None:
            results.append(read_all(c.fork_copy(), "a/b", sha(layer)))

        threads = [threading.Thread(target=fetch, args=(layer,)) for layer in LAYERS[1:3]]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == sorted(LAYERS[1:3])
    assert len(fake.token_requests) == 1


def test_forgotten_client_closes_its_connections(fake: FakeRegistry) -> None:
    fake.add_image("a/b", "latest", [])
    c = client(fake)
    c.get_manifest("a/b", "latest")
    del c  # no ResourceWarning (an error here) for the pooled socket


def test_retry_after_500(fake: FakeRegistry) -> None:
    raw, digest = fake.add_image("a/b", "latest", LAYERS[:1])
    fake.failures = 2
    with client(fake, retries=3) as c:
        assert c.get_manifest("a/b", "latest")[0] == raw
        fake.failures = 1
        assert read_all(c, "a/b", sha(LAYERS[0])) == LAYERS[0]
    assert len(fake.requests_to("/manifests/")) == 3


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_forever(fake: FakeRegistry, status: int) -> None:
    fake.status_forever = status
    start = time.monotonic()
    with client(fake, retries=3, backoff=0.01) as c, pytest.raises(RegistryError) as info:
        c.get_manifest("a/b", "latest")
    message = str(info.value)
    assert re.match(rf"^pulling {fake.netloc}/a/b:latest: {fake.netloc} answered {status} .* \(after 4 attempts\)$",
                    message), message
    assert len(fake.log) == 4
    assert time.monotonic() - start < 2


def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        netloc = f"127.0.0.1:{s.getsockname()[1]}"  # nobody listens
    with client(netloc, retries=2) as c, pytest.raises(RegistryError) as info:
        c.get_manifest("a/b", "latest")
    assert re.match(rf"^pulling {netloc}/a/b:latest: cannot talk to {netloc}: .*refused.* \(after 3 attempts\)$",
                    str(info.value)), str(info.value)


def test_stalled_server_times_out() -> None:
    stalled = StalledServer()
    try:
        start = time.monotonic()
        with client(stalled, timeout=0.3, retries=3) as c, pytest.raises(RegistryError, match="did not answer"):
            c.get_manifest("a/b", "latest")
        assert time.monotonic() - start < 0.3 * 3
    finally:
        stalled.close()


def test_plain_http_needs_insecure(fake: FakeRegistry) -> None:
    fake.add_image("a/b", "latest", LAYERS[:1])
    with client(fake, insecure=False) as c, pytest.raises(RegistryError, match="must be marked insecure"):
        c.get_manifest("a/b", "latest")
    assert fake.log == []


def test_bad_arguments(fake: FakeRegistry) -> None:
    with pytest.raises(RegistryError, match="invalid registry address"):
        RegistryClient("host:port", RegistryOptions())
    with client(fake) as c:
        with pytest.raises(RegistryError, match="only sha256 digests"):
            c.open_blob("a/b", "md5:abc")
        with pytest.raises(RegistryError, match="invalid repository name"):
            c.get_manifest("A/../b", "latest")
        with pytest.raises(RegistryError, match=r"a/b:latest\\r\\nX: y: invalid tag$"):
            c.get_manifest("a/b", "latest\r\nX: y")
    assert fake.log == []


def test_docker_hub_api_host() -> None:
    c = RegistryClient("docker.io", RegistryOptions())
    assert c._session.registry_key("https") == ("https", "registry-1.docker.io", 443)
    c.close()


# -- the real registry ----------------------------------------------------------------------------


def _push_blob(conn: http.client.HTTPConnection, repo: str, data: bytes) -> None:
    conn.request("POST", f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
    r = conn.getresponse()
    r.read()
    assert r.status == 202, r.status
    location = urlsplit(r.getheader("Location") or "")
    query = (location.query + "&" if location.query else "") + urlencode({"digest": sha(data)})
    conn.request("PUT", f"{location.path}?{query}", body=data,
                 headers={"Content-Type": "application/octet-stream"})
    r = conn.getresponse()
    r.read()
    assert r.status == 201, r.status


def _push_manifest(conn: http.client.HTTPConnection, repo: str, ref: str, raw: bytes, media_type: str) -> None:
    conn.request("PUT", f"/v2/{repo}/manifests/{ref}", body=raw, headers={"Content-Type": media_type})
    r = conn.getresponse()
    body = r.read()
    assert r.status == 201, (r.status, body)


def _tiny_image(arch: str) -> tuple[bytes, bytes, bytes]:
    """(config, gzipped layer, manifest) of a one-file image for arch."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = f"hello from {arch}\n".encode()
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    layer = gzip.compress(buf.getvalue(), mtime=0)
    config = json.dumps({"architecture": arch, "os": "linux", "rootfs": {
        "type": "layers", "diff_ids": [sha(buf.getvalue())]}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": sha(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                       "digest": sha(layer), "size": len(layer)}]}).encode()
    return config, layer, manifest


def test_real_registry(real_registry: str) -> None:
    port = int(real_registry.rsplit(":", 1)[1])
    repo = "test/tiny"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    entries = []
    try:
        for arch in ("amd64", "arm64"):
            cfg, layer, manifest = _tiny_image(arch)
            _push_blob(conn, repo, cfg)
            _push_blob(conn, repo, layer)
            _push_manifest(conn, repo, sha(manifest), manifest, OCI_MANIFEST)
            entries.append({"mediaType": OCI_MANIFEST, "digest": sha(manifest), "size": len(manifest),
                            "platform": {"os": "linux", "architecture": arch}})
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
        _push_manifest(conn, repo, "latest", index, OCI_INDEX)
    finally:
        conn.close()

    with RegistryClient(f"127.0.0.1:{port}", RegistryOptions(insecure=True, timeout=5, backoff=0.01)) as c:
        raw, media_type, digest = c.get_manifest(repo, "latest")
        assert (raw, media_type, digest) == (index, OCI_INDEX, sha(index))
        image = c.resolve(repo, "latest", "linux", "arm64", None)
        assert image.index_digest == sha(index) and image.digest == entries[1]["digest"]
        cfg, layer, manifest = _tiny_image("arm64")
        assert image.raw == manifest
        [desc] = image.layers
        assert read_all(c, repo, desc.digest, desc.size) == layer
        assert json.loads(read_all(c, repo, image.config.digest, image.config.size))["architecture"] == "arm64"
        assert c.blob_exists(repo, desc.digest)
        assert not c.blob_exists(repo, sha(b"absent"))
        with pytest.raises(ManifestUnknownError, match=rf"^pulling 127.0.0.1:{port}/test/tiny:nope: "):
            c.get_manifest(repo, "nope")
        with pytest.raises(ManifestUnknownError):
            c.get_manifest("test/absent", "latest")


# -- TLS ------------------------------------------------------------------------------------------


def _self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls_registry(tmp_path: Path) -> Iterator[tuple[FakeRegistry, Path, Path]]:
    """An HTTPS fake requiring a client certificate; yields (registry, server cert, client cert dir)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    server_cert, server_key = _self_signed(tmp_path, "server")
    client_cert, client_key = _self_signed(tmp_path, "client")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(server_cert, server_key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(client_cert)
    registry = FakeRegistry(tls=context)
    certs = tmp_path / "certs.d" / registry.netloc
    certs.mkdir(parents=True)
    shutil.copy(client_cert, certs / "client.cert")
    shutil.copy(client_key, certs / "client.key")
    registry.add_image("a/b", "latest", LAYERS[:1])
    yield registry, server_cert, certs
    registry.close()


def test_tls_with_certs_d(tls_registry: tuple[FakeRegistry, Path, Path], tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    registry, server_cert, certs = tls_registry
    # Without the CA, verification fails at once (no retries) with a hint.
    with client(registry, insecure=False, cert_dir=str(tmp_path / "certs.d")) as c, \
            pytest.raises(RegistryError, match=r"TLS certificate of 127.0.0.1:\d+ is not trusted .*certs.d"):
        c.get_manifest("a/b", "latest")
    shutil.copy(server_cert, certs / "ca.crt")
    with client(registry, insecure=False, cert_dir=str(tmp_path / "certs.d")) as c:
        assert read_all(c, "a/b", sha(LAYERS[0])) == LAYERS[0]
    # The default places: $XDG_CONFIG_HOME/containers/certs.d first.
    (tmp_path / "xdg" / "containers").mkdir(parents=True)
    shutil.copytree(tmp_path / "certs.d", tmp_path / "xdg" / "containers" / "certs.d")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    with client(registry, insecure=False) as c:
        assert c.get_manifest("a/b", "latest")[1] == OCI_MANIFEST


def test_tls_verification_off(tls_registry: tuple[FakeRegistry, Path, Path], tmp_path: Path) -> None:
    registry, _, _ = tls_registry
    cert_dir = str(tmp_path / "certs.d")  # the client certificate, no CA
    for options in ({"insecure": False, "tls_verify": False}, {"insecure": True}):
        with client(registry, cert_dir=cert_dir, **options) as c:
            assert read_all(c, "a/b", sha(LAYERS[0])) == LAYERS[0]
            assert c._session.scheme == "https"


def test_tags_are_listed_across_pages(fake: FakeRegistry) -> None:
    for tag in ("v5", "v1", "v3", "latest", "v2", "v4", "v6"):
        fake.add_image("lib/app", tag, [b"layer"])
    with client(fake) as c:
        assert c.list_tags("lib/app") == ["latest", "v1", "v2", "v3", "v4", "v5", "v6"]
    pages = fake.requests_to("/tags/list")
    assert len(pages) == 3 and "last=v2" in pages[1][1]
    with client(fake) as c, pytest.raises(ManifestUnknownError, match="repository name not known"):
        c.list_tags("lib/nothing")
