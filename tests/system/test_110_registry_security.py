"""Registries that want TLS and credentials: a private CA, HTTP Basic (htpasswd) and bearer tokens.

Every registry is a real docker-registry on 127.0.0.1.  The certificates are
made here with the openssl command; the token server is a small HTTP server in
this process that signs its tokens (RS256) with openssl too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import shutil
import stat
import subprocess
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from registry import LocalRegistry, oci_layout, push, tar_of

USER, PASSWORD = "tester", "s3cret-Pa55"
SERVICE, ISSUER = "test-registry", "test-issuer"

# What podpy prints on stderr while it works; anything else before the error is a fault.
PROGRESS = ("Trying to pull ", "Getting image source signatures", "Copying ", "Writing manifest")


def _need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (needed for the registry security tests)")


def _openssl(*args: object, cwd: Path, input: bytes | None = None) -> bytes:
    proc = subprocess.run(["openssl", *map(str, args)], cwd=cwd, input=input, capture_output=True, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


def _one_error(res, *words: str) -> str:
    """The command failed with exit code 125 and one `Error:` line (after progress lines only); returns it."""
    shown = f"exit {res.returncode}\n--- stdout ---\n{res.stdout}--- stderr ---\n{res.stderr}"
    assert res.returncode == 125, shown
    lines = res.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("Error: "), shown
    assert all(line.startswith(PROGRESS) for line in lines[:-1]), shown
    for word in words:
        assert word in lines[-1], shown
    return lines[-1]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# ----------------------------------------------------------------- set-up --


class Pki:
    """A CA and a server certificate for IP 127.0.0.1 signed by it, and a self-signed token signer."""

    def __init__(self, work: Path) -> None:
        self.dir = work
        (work / "ca.cnf").write_text(
            "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = podpy test CA\n"
            "[v3_ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
            "subjectKeyIdentifier = hash\n")
        _openssl("req", "-x509", "-config", "ca.cnf", "-extensions", "v3_ca", "-newkey", "rsa:2048", "-nodes",
                 "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", cwd=work)
        (work / "server.ext").write_text(
            "basicConstraints = CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1\n"
            "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
                 "-subj", "/CN=127.0.0.1", cwd=work)
        _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial", "2",
                 "-days", "2", "-extfile", "server.ext", "-out", "server.crt", cwd=work)
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "signer.key", "-out", "signer.crt",
                 "-subj", "/CN=podpy test token signer", "-days", "2", cwd=work)
        self.ca = work / "ca.crt"
        self.server = (work / "server.crt", work / "server.key")
        self.signer_key, self.signer_cert = work / "signer.key", work / "signer.crt"
        # A certs.d-style directory holding only the CA (what --cert-dir and skopeo are given).
        self.trust = work / "trust"
        self.trust.mkdir()
        shutil.copy(self.ca, self.trust / "ca.crt")


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    _need("openssl", "docker-registry", "skopeo")
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def client(new_podpy, tmp_path):
    """Factory of fresh stores, each with its own runtime directory (so its own auth.json)."""
    count = iter(range(100))

    def make():
        p = new_podpy()
        run = tmp_path / f"run{next(count)}"
        run.mkdir(mode=0o700)
        env = {k: v for k, v in p.base_env.items() if k != "REGISTRY_AUTH_FILE"}
        env["XDG_RUNTIME_DIR"] = str(run)
        p.base_env = env
        p.auth_json = run / "containers" / "auth.json"
        return p

    return make


def _trust_by_default(p, pki: Pki, host: str) -> Path:
    """Put the CA where podpy looks without being told: $XDG_CONFIG_HOME/containers/certs.d/HOST/ca.crt."""
    target = p.config_home / "containers" / "certs.d" / host
    target.mkdir(parents=True)
    shutil.copy(pki.ca, target / "ca.crt")
    return target


def _insecure(p, host: str) -> None:
    conf = p.config_home / "containers"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "registries.conf").write_text(f'[[registry]]\nlocation = "{host}"\ninsecure = true\n')


def _small_image(layout: Path, layers: int = 1) -> None:
    oci_layout(layout, [tar_of({f"file{i}": f"layer {i}\n".encode() * (i + 1)}) for i in range(layers)],
               ["cat", "/file0"])


def _remote_digest(ref: str, *opts: str) -> str | None:
    """The manifest digest skopeo sees for docker://ref, or None when it cannot read it."""
    proc = subprocess.run(["skopeo", "inspect", "--raw", *opts, f"docker://{ref}"], capture_output=True, timeout=60)
    if proc.returncode != 0:
        return None
    return "sha256:" + hashlib.sha256(proc.stdout).hexdigest()


# ------------------------------------------------------------------- TLS --


@pytest.fixture(scope="module")
def tls_registry(pki, tmp_path_factory):
    work = tmp_path_factory.mktemp("tls-registry")
    reg = LocalRegistry(work, tls=pki.server)
    try:
        _small_image(work / "tiny")
        push(work / "tiny", f"{reg.host}/tests/tiny:latest", cert_dir=pki.trust)
        yield reg
    finally:
        reg.stop()


def test_tls_unknown_ca_is_refused_in_one_line(client, tls_registry):
    p = client()
    res = p("pull", f"{tls_registry.host}/tests/tiny:latest", check=False)
    line = _one_error(res, "certificate", tls_registry.host)
    assert "not trusted" in line or "verify failed" in line
    assert p("images", "-q").stdout == ""


@pytest.mark.parametrize("layout", ["flat", "per-host"])
def test_tls_ca_from_cert_dir(client, tls_registry, pki, tmp_path, layout):
    p = client()
    certs = tmp_path / "certs"
    # podman's --cert-dir names the directory with ca.crt; a certs.d tree with HOST/ca.crt works too.
    target = certs if layout == "flat" else certs / tls_registry.host
    target.mkdir(parents=True)
    shutil.copy(pki.ca, target / "ca.crt")
    res = p("pull", "--cert-dir", certs, f"{tls_registry.host}/tests/tiny:latest")
    assert len(res.stdout.strip()) == 64
    assert p("image", "exists", f"{tls_registry.host}/tests/tiny:latest").returncode == 0


def test_tls_ca_from_the_users_certs_d(client, tls_registry, pki):
    p = client()
    _trust_by_default(p, pki, tls_registry.host)
    res = p("pull", f"{tls_registry.host}/tests/tiny:latest")
    assert len(res.stdout.strip()) == 64
    # A CA for another host:port is not used for this one.
    q = client()
    _trust_by_default(q, pki, "127.0.0.1:1")
    _one_error(q("pull", f"{tls_registry.host}/tests/tiny:latest", check=False), "certificate")


def test_tls_verify_false_needs_no_ca(client, tls_registry):
    p = client()
    res = p("pull", "--tls-verify=false", f"{tls_registry.host}/tests/tiny:latest")
    assert len(res.stdout.strip()) == 64


def test_tls_push_with_cert_dir(client, tls_registry, pki, image_tar):
    p = client()
    p("import", image_tar, "busybox")
    dest = f"{tls_registry.host}/pushed/busybox:tls"
    _one_error(p("push", "busybox", dest, check=False), "certificate")
    p("push", "--cert-dir", pki.trust, "--digestfile", p.home / "digest", "busybox", dest)
    assert _remote_digest(dest, f"--cert-dir={pki.trust}") == (p.home / "digest").read_text().strip()


# ------------------------------------------------------- Basic over TLS --


def _bcrypt(password: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt
        except ImportError:
            pytest.skip("Python's crypt module is not available (needed to write a bcrypt htpasswd)")
    # Cost 4, the least bcrypt allows: the registry checks the password on every request.
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
    if not hashed or not hashed.startswith("$2"):
        pytest.skip("the C library's crypt() cannot make bcrypt hashes")
    return hashed


@pytest.fixture(scope="module")
def basic_registry(pki, tmp_path_factory):
    work = tmp_path_factory.mktemp("basic-registry")
    (work / "htpasswd").write_text(f"{USER}:{_bcrypt(PASSWORD)}\n")
    reg = LocalRegistry(work, tls=pki.server,
                        auth={"htpasswd": {"realm": "podpy-test", "path": str(work / "htpasswd")}})
    try:
        _small_image(work / "tiny", layers=2)
        push(work / "tiny", f"{reg.host}/tests/tiny:latest", cert_dir=pki.trust, creds=f"{USER}:{PASSWORD}")
        yield reg
    finally:
        reg.stop()


def test_basic_anonymous_pull_is_refused(client, basic_registry, pki):
    p = client()
    _trust_by_default(p, pki, basic_registry.host)
    _one_error(p("pull", f"{basic_registry.host}/tests/tiny:latest", check=False), "authentication required")
    assert p("images", "-q").stdout == ""


def test_basic_login_with_a_wrong_password_writes_nothing(client, basic_registry, pki):
    p = client()
    _trust_by_default(p, pki, basic_registry.host)
    res = p("login", "-u", USER, "-p", "wrong", basic_registry.host, check=False)
    assert not p.auth_json.exists()
    assert not (p.config_home / "containers" / "auth.json").exists()
    # podman's words, as for a token server that refuses the password.
    _one_error(res, f'logging into "{basic_registry.host}": invalid username/password')


def test_basic_login_pull_push_logout(client, basic_registry, pki, image_tar):
    p = client()
    _trust_by_default(p, pki, basic_registry.host)
    host = basic_registry.host
    res = p("login", "-u", USER, "--password-stdin", host, input=PASSWORD + "\n")
    assert "Login Succeeded" in res.stdout
    assert stat.S_IMODE(p.auth_json.stat().st_mode) == 0o600
    stored = json.loads(p.auth_json.read_text())["auths"]
    assert list(stored) == [host]
    assert base64.b64decode(stored[host]["auth"]).decode() == f"{USER}:{PASSWORD}"
    assert p("login", "--get-login", host).stdout.strip() == USER

    assert len(p("pull", f"{host}/tests/tiny:latest").stdout.strip()) == 64
    p("import", image_tar, "busybox")
    dest = f"{host}/pushed/busybox:v1"
    p("push", "--digestfile", p.home / "digest", "busybox", dest)
    assert _remote_digest(dest, f"--cert-dir={pki.trust}", f"--creds={USER}:{PASSWORD}") \
        == (p.home / "digest").read_text().strip()

    assert host in p("logout", host).stdout
    assert host not in json.loads(p.auth_json.read_text())["auths"]
    p("rmi", f"{host}/tests/tiny:latest")
    _one_error(p("pull", f"{host}/tests/tiny:latest", check=False), "authentication required")
    _one_error(p("push", "busybox", f"{host}/pushed/busybox:v2", check=False), "authentication required")


def test_basic_creds_without_login(client, basic_registry, pki, image_tar):
    p = client()
    _trust_by_default(p, pki, basic_registry.host)
    host = basic_registry.host
    assert len(p("pull", "--creds", f"{USER}:{PASSWORD}", f"{host}/tests/tiny:latest").stdout.strip()) == 64
    p("import", image_tar, "busybox")
    p("push", "--creds", f"{USER}:{PASSWORD}", "busybox", f"{host}/pushed/busybox:creds")
    assert not p.auth_json.exists()
    q = client()
    _trust_by_default(q, pki, host)
    res = q("pull", "--creds", f"{USER}:wrong", f"{host}/tests/tiny:latest", check=False)
    assert q("images", "-q").stdout == ""
    _one_error(res, ": unauthorized: authentication required (credentials rejected)")   # podman's words, and why


# ---------------------------------------------------------- bearer tokens --


class TokenServer:
    """A token endpoint in the style of docker/distribution's token auth.

    Basic credentials, when sent, must be right (401 otherwise) and give pull
    and push; anonymous callers get pull only.  Every request is recorded.
    """

    def __init__(self, pki: Pki) -> None:
        der = _openssl("x509", "-in", pki.signer_cert, "-outform", "DER", cwd=pki.dir)
        self._x5c = base64.b64encode(der).decode("ascii")
        self._key = pki.signer_key
        self._lock = threading.Lock()
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep the test output clean
                pass

            def do_GET(self):
                server._answer(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.realm = f"http://127.0.0.1:{self.httpd.server_address[1]}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def since(self, start: int) -> list[dict]:
        with self._lock:
            return self.requests[start:]

    def _sign(self, claims: dict) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = _openssl("dgst", "-sha256", "-sign", self._key, cwd=self._key.parent,
                             input=signing_input.encode())
        return f"{signing_input}.{_b64url(signature)}"

    def _reply(self, handler, status: int, doc: dict, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(doc).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    def _answer(self, handler) -> None:
        url = urlsplit(handler.path)
        query = parse_qs(url.query)
        scopes = [s for value in query.get("scope", []) for s in value.split()]
        user, authorization = None, handler.headers.get("Authorization") or ""
        record = {"service": query.get("service", [""])[0], "scopes": scopes, "basic": bool(authorization)}
        if authorization.startswith("Basic "):
            name, _, password = base64.b64decode(authorization[6:]).decode(errors="replace").partition(":")
            if (name, password) != (USER, PASSWORD):
                record.update(status=401, user=name)
                with self._lock:
                    self.requests.append(record)
                self._reply(handler, 401, {"details": "wrong user name or password"},
                            {"WWW-Authenticate": 'Basic realm="podpy-test-tokens"'})
                return
            user = name
        if url.path != "/token" or record["service"] != SERVICE:
            record.update(status=400, user=user)
            with self._lock:
                self.requests.append(record)
            self._reply(handler, 400, {"details": "unknown service"})
            return
        allowed = ("pull", "push") if user else ("pull",)
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind == "repository" and name:
                access.append({"type": "repository", "name": name,
                               "actions": [a for a in actions.split(",") if a in allowed]})
        now = int(time.time())
        token = self._sign({"iss": ISSUER, "sub": user or "", "aud": SERVICE, "exp": now + 300, "nbf": now - 10,
                            "iat": now, "jti": secrets.token_hex(8), "access": access})
        record.update(status=200, user=user, access=access)
        with self._lock:
            self.requests.append(record)
        self._reply(handler, 200, {"token": token, "access_token": token, "expires_in": 300,
                                   "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))})


@pytest.fixture(scope="module")
def token_registry(pki, tmp_path_factory):
    """A plain-HTTP registry with token auth, tests/multi (three layers) in it; yields (registry, token server)."""
    work = tmp_path_factory.mktemp("token-registry")
    tokens = TokenServer(pki)
    try:
        reg = LocalRegistry(work, auth={"token": {"realm": tokens.realm, "service": SERVICE, "issuer": ISSUER,
                                                  "rootcertbundle": str(pki.signer_cert)}})
    except BaseException:
        tokens.stop()
        raise
    try:
        _small_image(work / "multi", layers=3)
        push(work / "multi", f"{reg.host}/tests/multi:latest", creds=f"{USER}:{PASSWORD}")
        yield reg, tokens
    finally:
        reg.stop()
        tokens.stop()


def test_token_anonymous_pull_reuses_its_token(client, token_registry):
    reg, tokens = token_registry
    p = client()
    _insecure(p, reg.host)
    start = tokens.count()
    res = p("pull", f"{reg.host}/tests/multi:latest")
    assert len(res.stdout.strip()) == 64
    asked = tokens.since(start)
    # One token serves the manifest, the config and all three layers.
    assert 1 <= len(asked) <= 2, asked
    assert all(r["status"] == 200 and r["user"] is None and not r["basic"] for r in asked), asked
    assert all(r["scopes"] == ["repository:tests/multi:pull"] for r in asked), asked
    layers = json.loads(p("image", "inspect", f"{reg.host}/tests/multi:latest").stdout)[0]["RootFS"]["Layers"]
    assert len(layers) == 3


def test_token_anonymous_push_is_refused(client, token_registry, image_tar):
    reg, tokens = token_registry
    p = client()
    _insecure(p, reg.host)
    p("import", image_tar, "busybox")
    dest = f"{reg.host}/anonymous/busybox:latest"
    start = tokens.count()
    line = _one_error(p("push", "busybox", dest, check=False))
    assert "authentication required" in line or "access denied" in line, line
    asked = tokens.since(start)
    assert asked and all(r["user"] is None for r in asked), asked
    assert _remote_digest(dest, "--tls-verify=false", f"--creds={USER}:{PASSWORD}") is None


def test_token_wrong_password(client, token_registry):
    reg, tokens = token_registry
    p = client()
    _insecure(p, reg.host)
    start = tokens.count()
    _one_error(p("login", "-u", USER, "-p", "wrong", reg.host, check=False),
               f'logging into "{reg.host}": invalid username/password')
    assert not p.auth_json.exists()
    _one_error(p("pull", "--creds", f"{USER}:wrong", f"{reg.host}/tests/multi:latest", check=False),
               "authentication required (credentials rejected)")
    assert [r["status"] for r in tokens.since(start)] == [401, 401]
    assert p("images", "-q").stdout == ""


def test_token_login_then_push_and_pull_back(client, token_registry, image_tar):
    reg, tokens = token_registry
    p = client()
    _insecure(p, reg.host)
    assert "Login Succeeded" in p("login", "-u", USER, "-p", PASSWORD, reg.host).stdout
    assert stat.S_IMODE(p.auth_json.stat().st_mode) == 0o600
    assert json.loads(p.auth_json.read_text())["auths"][reg.host]["auth"] \
        == base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    p("import", image_tar, "busybox")
    dest = f"{reg.host}/pushed/busybox:v1"
    start = tokens.count()
    p("push", "--digestfile", p.home / "digest", "busybox", dest)
    asked = tokens.since(start)
    assert asked and all(r["user"] == USER for r in asked), asked
    assert any("push" in a["actions"] for r in asked for a in r["access"]), asked
    assert len(asked) <= 2, asked
    assert _remote_digest(dest, "--tls-verify=false", f"--creds={USER}:{PASSWORD}") \
        == (p.home / "digest").read_text().strip()

    # Anyone may pull it back (the token server grants pull to anonymous callers).
    q = client()
    _insecure(q, reg.host)
    q("pull", dest)
    assert q("run", "--rm", "--network", "none", dest, "echo", "round-trip").stdout == "round-trip\n"


def test_token_push_between_repositories_of_one_registry(client, token_registry):
    # The pulled image's blobs are already in tests/multi: pushing it to another
    # repository of the same registry may mount them from there.
    reg, tokens = token_registry
    p = client()
    _insecure(p, reg.host)
    p("login", "-u", USER, "-p", PASSWORD, reg.host)
    p("pull", f"{reg.host}/tests/multi:latest")
    dest = f"{reg.host}/copies/multi:latest"
    p("push", "--digestfile", p.home / "digest", f"{reg.host}/tests/multi:latest", dest)
    assert _remote_digest(dest, "--tls-verify=false", f"--creds={USER}:{PASSWORD}") \
        == (p.home / "digest").read_text().strip()
