"""Encrypted images (ocicrypt): busybox encrypted by skopeo for a JWE key, in the local registry;
build --decryption-key of FROM it, pull --decryption-key, the one-line errors without a key and
with a wrong one, and the same rootfs as podman 4.3.1's build with the same key."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile

import pytest

from helpers import VARIANTS
from registry import oci_layout, serving

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed to make the keys")


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """RSA keys as `openssl genrsa` makes them (one with a passphrase) and an EC key."""
    d = tmp_path_factory.mktemp("keys")
    _openssl("genrsa", "-out", str(d / "priv.pem"), "2048")
    _openssl("rsa", "-in", str(d / "priv.pem"), "-pubout", "-out", str(d / "pub.pem"))
    _openssl("genrsa", "-out", str(d / "wrong.pem"), "2048")
    _openssl("genrsa", "-aes256", "-passout", "pass:sekrit", "-out", str(d / "locked.pem"), "2048")
    _openssl("rsa", "-in", str(d / "locked.pem"), "-passin", "pass:sekrit", "-pubout", "-out", str(d / "locked.pub"))
    _openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(d / "ec.pem"))
    _openssl("ec", "-in", str(d / "ec.pem"), "-pubout", "-out", str(d / "ec.pub"))
    for f in d.iterdir():
        f.chmod(0o644)
    return d


def _skopeo(*args: str) -> None:
    with tempfile.TemporaryDirectory(prefix="podpy-skopeo-cache-") as cache:
        proc = subprocess.run(["skopeo", "copy", "--quiet", *args], capture_output=True, text=True, timeout=120,
                              env=dict(os.environ, XDG_DATA_HOME=cache))
    if proc.returncode != 0:
        raise RuntimeError(f"skopeo copy {' '.join(args)} failed: {proc.stderr.strip()}")


@pytest.fixture(scope="module")
def registry(tmp_path_factory, image_tar, keys):
    """busybox plus a second layer, encrypted by skopeo for pub.pem, locked.pub and ec.pub."""
    work = tmp_path_factory.mktemp("registry")
    with serving(work) as reg:
        from registry import tar_of

        oci_layout(work / "plain", [image_tar.read_bytes(), tar_of({"etc/secret": b"the plain text\n"})], ["sh"])
        _skopeo("--dest-tls-verify=false", "--encryption-key", f"jwe:{keys / 'pub.pem'}",
                "--encryption-key", f"jwe:{keys / 'locked.pub'}", "--encryption-key", f"jwe:{keys / 'ec.pub'}",
                f"oci:{work / 'plain'}:latest", f"docker://{reg.host}/enc/busybox:1")
        yield reg


def _context(tmp_path, registry, run: str = "RUN cat /etc/secret > /copied"):
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Containerfile").write_text(f"FROM {registry.host}/enc/busybox:1\n{run}\n")
    return ctx


def _last(res) -> str:
    lines = res.stderr.strip().splitlines()
    return lines[-1] if lines else ""


def _images(p) -> list[str]:
    return p("images", "-q", "--no-trunc").stdout.split()


def test_the_registry_holds_encrypted_layers(registry):
    import urllib.request

    req = urllib.request.Request(f"http://{registry.host}/v2/enc/busybox/manifests/1",
                                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        manifest = json.loads(r.read())
    assert {ly["mediaType"] for ly in manifest["layers"]} == {"application/vnd.oci.image.layer.v1.tar+gzip+encrypted"}


@pytest.mark.parametrize("variant", VARIANTS)
def test_build_with_the_key_decrypts_from_and_runs(new_podpy, registry, keys, tmp_path, variant):
    p = new_podpy(variant=variant)
    ctx = _context(tmp_path, registry)
    p("build", "--tls-verify=false", "--decryption-key", keys / "priv.pem", "-t", "dec", ctx, timeout=300)
    out = p("run", "--rm", "--network", "none", "dec", "cat", "/copied")
    assert out.stdout == "the plain text\n"
    # the base image is kept decrypted: it runs without the key
    base = f"{registry.host}/enc/busybox:1"
    assert p("run", "--rm", "--network", "none", base, "cat", "/etc/secret").stdout == "the plain text\n"


def test_build_without_a_key_or_with_a_wrong_one_fails_in_one_line_storing_nothing(new_podpy, registry, keys,
                                                                                 tmp_path):
    p = new_podpy()
    ctx = _context(tmp_path, registry)
    res = p("build", "--tls-verify=false", "-t", "dec", ctx, check=False, timeout=300)
    assert res.returncode == 125
    assert _last(res).startswith("Error: FROM ") and _last(res).endswith(
        ": missing private key needed for decryption"), res.stderr
    assert "decrypting layer sha256:" in _last(res)
    res = p("build", "--tls-verify=false", "--decryption-key", keys / "wrong.pem", "-t", "dec", ctx, check=False,
            timeout=300)
    assert res.returncode == 125
    assert _last(res).endswith(": no suitable key unwrapper found or none of the private keys could be used "
                               "for decryption"), res.stderr
    assert _images(p) == []
    res = p("build", "--decryption-key", tmp_path / "nope.pem", ctx, check=False)
    assert res.returncode == 125 and "STEP" not in res.stdout
    assert _last(res) == (f"Error: unable to obtain decrypt config: invalid decryption keys: Unable to read file: "
                          f"open {tmp_path / 'nope.pem'}: no such file or directory")


def test_pull_decryption_key_with_passphrase_and_ec_keys(new_podpy, registry, keys):
    name = f"{registry.host}/enc/busybox:1"
    p = new_podpy()
    res = p("pull", "--tls-verify=false", "--decryption-key", keys / "locked.pem", name, check=False)
    assert res.returncode == 125
    assert _last(res) == (f"Error: invalid decryption keys: {keys / 'locked.pem'}: missing password for encrypted "
                          "private key (give it as KEY:PASSPHRASE)")
    res = p("pull", "--tls-verify=false", "--decryption-key", f"{keys / 'locked.pem'}:bad", name, check=False)
    assert res.returncode == 125 and "wrong password" in _last(res)
    assert _images(p) == []
    image_id = p("pull", "-q", "--tls-verify=false", "--decryption-key", f"{keys / 'locked.pem'}:sekrit",
                 name).stdout.strip()
    q = new_podpy()
    res = q("pull", "--tls-verify=false", "--decryption-key", keys / "wrong.pem", "--decryption-key",
            keys / "ec.pem", name)
    assert res.stdout.strip() == image_id
    assert q("run", "--rm", "--network", "none", name, "cat", "/etc/secret").stdout == "the plain text\n"


def test_same_layers_and_rootfs_as_podman(new_podpy, registry, keys, tmp_path, podman):
    ctx = _context(tmp_path, registry, run="RUN echo built > /built")
    name = f"{registry.host}/enc/busybox:1"
    theirs = podman("build", "--tls-verify=false", "--decryption-key", keys / "priv.pem", "-t", "dec", ctx,
                    check=False, timeout=300)
    if theirs.returncode != 0:
        pytest.skip(f"podman cannot build here: {theirs.stderr.strip().splitlines()[-1:]}")
    p = new_podpy()
    p("build", "--tls-verify=false", "--decryption-key", keys / "priv.pem", "-t", "dec", ctx, timeout=300)
    fmt = "{{.ID}} {{.Digest}} {{json .RootFS.Layers}}"
    assert p("image", "inspect", "--format", fmt, name).stdout == podman("image", "inspect", "--format", fmt,
                                                                          name).stdout
    # the decrypted base's file system as stored: a created container of each, exported
    assert _exported(p, name, tmp_path / "mine.tar") == _exported(podman, name, tmp_path / "ref.tar")
    assert p("run", "--rm", "--network", "none", "dec", "cat", "/built").stdout == "built\n"


def _exported(tool, image: str, out) -> list[tuple[str, int, int]]:
    """(name, size, mode) of every entry of a new container's export (of a file only it writes)."""
    import tarfile

    cid = tool("create", image, "true").stdout.strip()
    tool("export", "-o", out, cid)
    tool("rm", cid)
    with tarfile.open(out) as tf:
        return sorted((m.name.lstrip("./"), m.size, m.mode & 0o7777) for m in tf.getmembers() if m.name.lstrip("./") != "")


def test_an_encrypted_oci_layout_is_decrypted_too(new_podpy, keys, tmp_path, image_tar):
    from registry import tar_of

    oci_layout(tmp_path / "plain", [image_tar.read_bytes(), tar_of({"etc/secret": b"in a layout\n"})], ["sh"])
    _skopeo("--encryption-key", f"jwe:{keys / 'ec.pub'}", f"oci:{tmp_path / 'plain'}:latest",
            f"oci:{tmp_path / 'enc'}:latest")
    p = new_podpy()
    res = p("pull", f"oci:{tmp_path / 'enc'}:latest", check=False)
    assert res.returncode == 125 and _last(res).endswith(": missing private key needed for decryption")
    assert _images(p) == []
    p("pull", "--decryption-key", keys / "ec.pem", f"oci:{tmp_path / 'enc'}:latest")
    name = f"localhost{tmp_path / 'enc'}:latest"
    assert p("run", "--rm", "--network", "none", name, "cat", "/etc/secret").stdout == "in a layout\n"
