"""A real local registry (Debian's docker-registry) and images pushed to it with skopeo."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import ssl
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalRegistry:
    """docker-registry on 127.0.0.1, storage in a temporary directory.

    Plain HTTP by default; with tls=(certificate, key) it serves HTTPS.  auth is
    the registry's `auth:` section as a mapping, e.g.
    {"htpasswd": {"realm": "test", "path": "/path/htpasswd"}} or
    {"token": {"realm": ..., "service": ..., "issuer": ..., "rootcertbundle": ...}}.
    The registry's own log goes to registry.log in workdir.
    """

    def __init__(self, workdir: Path, tls: tuple[Path, Path] | None = None,
                 auth: dict[str, dict[str, str]] | None = None) -> None:
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.scheme = "https" if tls else "http"
        self.log = workdir / "registry.log"
        text = ("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                f"    rootdirectory: {workdir / 'data'}\n  delete:\n    enabled: true\n"
                f"http:\n  addr: {self.host}\n")
        if tls:
            text += f"  tls:\n    certificate: {tls[0]}\n    key: {tls[1]}\n"
        if auth:
            text += "auth:\n"
            for kind, settings in auth.items():
                text += f"  {kind}:\n" + "".join(f"    {k}: {json.dumps(str(v))}\n" for k, v in settings.items())
        config = workdir / "config.yml"
        config.write_text(text)
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        context = None
        if tls:  # only to see that it is up: the tests check the certificate themselves
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.scheme}://{self.host}/v2/", timeout=1, context=context):
                    return
            except urllib.error.HTTPError:
                return  # it answers (401 when it wants credentials)
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("docker-registry did not start: " + self.log.read_text(errors="replace")[-2000:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)


@contextlib.contextmanager
def serving(workdir: Path, **options) -> Iterator[LocalRegistry]:
    """A LocalRegistry in workdir (options: LocalRegistry's tls and auth) for the with block;
    the test is skipped, with the reason, where docker-registry or skopeo is missing."""
    import pytest

    if shutil.which("docker-registry") is None or shutil.which("skopeo") is None:
        pytest.skip("docker-registry and skopeo are needed (installed by packaging/setup.sh test)")
    reg = LocalRegistry(workdir, **options)
    try:
        yield reg
    finally:
        reg.stop()


def _blob(layout: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def tar_of(files: dict[str, bytes], whiteouts: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in list(files.items()) + [(w, b"") for w in whiteouts]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 1700000000
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def compress(tar: bytes, compression: str) -> bytes:
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=3).compress(tar)
    return gzip.compress(tar, compresslevel=6, mtime=0)


def oci_layout(layout: Path, layers: list[bytes], cmd: list[str], arch: str = "amd64",
               compression: str = "gzip", history: bool = False) -> None:
    """An OCI image layout with gzip or zstd layers (given as uncompressed tars); with history,
    the config records one history entry per layer (podman's builds want them)."""
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    descs, diff_ids = [], []
    for tar in layers:
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        descs.append({"mediaType": f"application/vnd.oci.image.layer.v1.tar+{compression}",
                      **_blob(layout, compress(tar, compression))})
    config = {"architecture": arch, "os": "linux", "config": {"Cmd": cmd},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    if history:
        config["created"] = "2023-01-01T00:00:00Z"
        config["history"] = [{"created": "2023-01-01T00:00:00Z", "created_by": f"layer {i}"}
                             for i in range(len(layers))]
    cdesc = {"mediaType": "application/vnd.oci.image.config.v1+json",
             **_blob(layout, json.dumps(config).encode())}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": cdesc, "layers": descs}
    mdesc = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             **_blob(layout, json.dumps(manifest).encode()),
             "annotations": {"org.opencontainers.image.ref.name": "latest"}}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [mdesc]}))


def push_index(registry: str, repo: str, tag: str, entries: list[tuple[str, str]]) -> str:
    """An OCI index of the images already at repo:ARCH for each (tag, arch) of entries, put at
    repo:tag; its digest."""
    import urllib.request

    manifests = []
    for source, arch in entries:
        req = urllib.request.Request(f"http://{registry}/v2/{repo}/manifests/{source}",
                                     headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        manifests.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "digest": "sha256:" + hashlib.sha256(body).hexdigest(), "size": len(body),
                          "platform": {"architecture": arch, "os": "linux"}})
    data = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                       "manifests": manifests}).encode()
    req = urllib.request.Request(f"http://{registry}/v2/{repo}/manifests/{tag}", data=data, method="PUT",
                                 headers={"Content-Type": "application/vnd.oci.image.index.v1+json"})
    with urllib.request.urlopen(req, timeout=10):
        return "sha256:" + hashlib.sha256(data).hexdigest()


def push(layout: Path, dest: str, cert_dir: Path | None = None, creds: str | None = None) -> None:
    """skopeo copy oci:LAYOUT:latest docker://DEST: plain HTTP, or HTTPS trusting the CA in cert_dir."""
    if shutil.which("skopeo") is None:
        raise RuntimeError("skopeo is not installed")
    tls = [f"--dest-cert-dir={cert_dir}"] if cert_dir else ["--dest-tls-verify=false"]
    auth = [f"--dest-creds={creds}"] if creds else []
    # skopeo remembers which compressed blobs hold which content (its blob info
    # cache, under XDG_DATA_HOME) and, when the registry already has the same
    # content compressed otherwise, links that blob instead of uploading ours:
    # a zstd layout pushed after its gzip twin would arrive with gzip layers.
    # An empty cache for every push sends exactly the layout's blobs.
    with tempfile.TemporaryDirectory(prefix="podpy-skopeo-cache-") as cache:
        proc = subprocess.run(["skopeo", "copy", "--quiet", *tls, *auth, f"oci:{layout}:latest", f"docker://{dest}"],
                              capture_output=True, text=True, timeout=120,
                              env=dict(os.environ, XDG_DATA_HOME=cache))
    if proc.returncode != 0:
        raise RuntimeError(f"skopeo copy to {dest} failed (exit {proc.returncode}): {proc.stderr.strip()}")
