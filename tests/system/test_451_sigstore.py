"""Sigstore signatures (push --sign-by-sigstore-private-key, sigstoreSigned policies) checked both
ways with podman 4.3.1, and `build --sign-by`: signatures kept with the stored image, carried by
push, verified on pull."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from helpers import VARIANTS, private_podman_env, remove_tree, run_command
from registry import oci_layout, push, serving, tar_of

from podpy.registry import sigstore

ATTACHMENT = "application/vnd.dev.cosign.simplesigning.v1+json"


@pytest.fixture(scope="module")
def registry(tmp_path_factory, image_tar):
    work = tmp_path_factory.mktemp("registry")
    with serving(work) as reg:
        oci_layout(work / "unsigned", [image_tar.read_bytes(), tar_of({"unsigned": b"1\n"})], ["sh"])
        push(work / "unsigned", f"{reg.host}/plain/app:1")
        yield reg


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Two sigstore key pairs (passphrase "pass one" and "pass two") and their passphrase files."""
    root = tmp_path_factory.mktemp("keys")
    out = {}
    for who in ("one", "two"):
        private, public = sigstore.generate_key_pair(f"pass {who}")
        (root / f"{who}.key").write_bytes(private)
        (root / f"{who}.pub").write_bytes(public)
        (root / f"{who}.pass").write_text(f"pass {who}\n")
        out[who] = (root / f"{who}.key", root / f"{who}.pub", root / f"{who}.pass")
    return out


class Site:
    """A HOME whose registries.d keeps sigstore signatures in the registry (and simple signing
    ones in a lookaside directory), and whose policy.json the test sets."""

    def __init__(self, root: Path, attachments: bool = True) -> None:
        self.home = root / "home"
        self.sigs = root / "sigs"
        self.sigs.mkdir(parents=True)
        conf = self.home / ".config" / "containers"
        (conf / "registries.d").mkdir(parents=True)
        (conf / "registries.d" / "default.yaml").write_text(
            f"default-docker:\n  lookaside: file://{self.sigs}\n"
            + ("  use-sigstore-attachments: true\n" if attachments else ""))
        self.policy = conf / "policy.json"
        self.policy.write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
        self.env = {"HOME": str(self.home)}

    def require(self, host: str, req: dict) -> None:
        self.policy.write_text(json.dumps({"default": [{"type": "reject"}], "transports": {"docker": {host: [req]}}}))

    def sigstore(self, host: str, public: Path) -> None:
        self.require(host, {"type": "sigstoreSigned", "keyPath": str(public)})


def _error(res) -> str:
    lines = res.stderr.strip().splitlines()
    return lines[-1] if lines else ""


def _manifest(registry, repo: str, ref: str) -> dict | None:
    req = urllib.request.Request(f"http://{registry.host}/v2/{repo}/manifests/{ref}",
                                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json, "
                                                    "application/vnd.oci.image.index.v1+json, "
                                                    "application/vnd.docker.distribution.manifest.list.v2+json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as reply:
            return json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


@pytest.mark.parametrize("variant", VARIANTS)
def test_push_with_a_sigstore_key_then_pulls_the_policy_decides(new_podpy, registry, keys, image_tar, tmp_path,
                                                                 variant):
    site = Site(tmp_path)
    p = new_podpy(variant=variant)
    p("import", image_tar, "busybox", timeout=300)
    dest = f"{registry.host}/sig-{variant}/app:1"
    res = p("push", "--tls-verify=false", "--sign-by-sigstore-private-key", keys["one"][0],
            "--sign-passphrase-file", keys["one"][2], "busybox", dest, env=site.env)
    assert "Signing manifest using a sigstore signature" in res.stderr
    p("push", "--tls-verify=false", "--digestfile", tmp_path / "d", "busybox", dest)
    digest = (tmp_path / "d").read_text()
    attached = _manifest(registry, f"sig-{variant}/app", f"sha256-{digest.split(':')[1]}.sig")
    assert attached is not None and attached["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    [layer] = attached["layers"]
    assert layer["mediaType"] == ATTACHMENT
    assert "dev.cosignproject.cosign/signature" in layer["annotations"]
    # a second key's signature is appended after the first
    p("push", "--tls-verify=false", "--sign-by-sigstore-private-key", keys["two"][0],
      "--sign-passphrase-file", keys["two"][2], "busybox", dest, env=site.env)
    attached = _manifest(registry, f"sig-{variant}/app", f"sha256-{digest.split(':')[1]}.sig")
    assert len(attached["layers"]) == 2 and attached["layers"][0] == layer

    q = new_podpy(variant=variant)   # an empty store: a refused pull must leave it empty
    for who in ("one", "two"):
        site.sigstore(registry.host, keys[who][1])
        assert len(q("pull", "-q", "--tls-verify=false", dest, env=site.env).stdout.strip()) == 64
        q("rmi", "-a")
    wrong = tmp_path / "wrong.pub"
    wrong.write_bytes(sigstore.generate_key_pair("x")[1])
    site.sigstore(registry.host, wrong)
    res = q("pull", "--tls-verify=false", dest, env=site.env, check=False)
    assert res.returncode == 125
    assert _error(res).startswith("Error: Source image rejected: None of the signatures were accepted, reasons: "
                                  "cryptographic signature verification failed")
    site.sigstore(registry.host, keys["one"][1])
    res = q("pull", "--tls-verify=false", f"{registry.host}/plain/app:1", env=site.env, check=False)
    assert (res.returncode, _error(res)) == (
        125, "Error: Source image rejected: A signature was required, but no signature exists")
    assert q("images", "-q").stdout == ""


def test_bad_keys_and_configuration_fail_before_anything_is_pushed(new_podpy, registry, keys, image_tar, tmp_path):
    site = Site(tmp_path)
    p = new_podpy()
    p("import", image_tar, "busybox", timeout=300)
    dest = f"{registry.host}/never/app:1"
    not_a_key = tmp_path / "not-a-key"
    not_a_key.write_text("hello\n")
    empty = tmp_path / "empty"
    empty.write_text("")
    cases = [
        ([keys["one"][0], "--sign-passphrase-file", keys["two"][2]],
         "Error: initializing private key: decrypt: encrypted: decryption failed"),
        ([not_a_key, "--sign-passphrase-file", keys["one"][2]], "Error: initializing private key: invalid pem block"),
        ([tmp_path / "missing.key", "--sign-passphrase-file", keys["one"][2]],
         f"Error: reading private key from {tmp_path / 'missing.key'}: open {tmp_path / 'missing.key'}: "
         "no such file or directory"),
        ([keys["one"][0], "--sign-passphrase-file", empty], f"Error: empty passphrase read from {empty}"),
        ([keys["one"][0], "--sign-passphrase-file", keys["one"][2], "--sign-by", "someone@example.com"],
         "Error: only one of --sign-by and sign-by-sigstore-private-key can be used with --sign-passphrase-file"),
    ]
    for args, words in cases:
        res = p("push", "--tls-verify=false", "--sign-by-sigstore-private-key", *args, "busybox", dest,
                env=site.env, check=False)
        assert (res.returncode, _error(res)) == (125, words), args
        assert "Copying blob" not in res.stderr
    # a registry whose registries.d entry does not say use-sigstore-attachments
    off = Site(tmp_path / "off", attachments=False)
    res = p("push", "--tls-verify=false", "--sign-by-sigstore-private-key", keys["one"][0],
            "--sign-passphrase-file", keys["one"][2], "busybox", dest, env=off.env, check=False)
    assert (res.returncode, _error(res)) == (
        125, "Error: writing signatures: writing sigstore attachments is disabled by configuration")
    assert _manifest(registry, "never/app", "1") is None


# ------------------------------------------------- with containers/image --
# Debian's podman 4.3.1 and skopeo 1.9 are built with sigstore signing and checking disabled
# (they answer "Debian-local change: sigstore disabled"), but their containers/image still reads
# and writes sigstore attachments: skopeo copies them between a registry and a dir: layout.
# So the interop checks are: containers/image reads podpy's attachment, openssl (another ECDSA
# implementation) verifies podpy's signature in it; containers/image writes an attachment of a
# signature openssl made, and podpy verifies it; and podman, where it can check sigstore
# signatures at all, accepts podpy's.

SIGSTORE_BLOB = b"\x00sigstore-json\n"


def _skopeo(site, *args, check=True):
    return run_command(["skopeo", *map(str, args)], env=dict(os.environ, **site.env), check=check, timeout=180,
                       variant="skopeo")


def _openssl(*args, input=None) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *map(str, args)], input=input, capture_output=True, check=False)


@pytest.fixture(scope="module")
def plain_key(tmp_path_factory):
    """A key pair whose private key openssl reads (PKCS #8 PEM, no passphrase)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to sign and verify independently of podpy")
    root = tmp_path_factory.mktemp("plain")
    assert _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                    root / "key.pem").returncode == 0
    assert _openssl("pkey", "-in", root / "key.pem", "-pubout", "-out", root / "key.pub").returncode == 0
    return root / "key.pem", root / "key.pub"


def test_containers_image_reads_podpy_attachments_and_podpy_reads_its(new_podpy, registry, keys, plain_key,
                                                                       image_tar, tmp_path):
    site = Site(tmp_path)
    p = new_podpy()
    p("import", image_tar, "busybox", timeout=300)
    p("push", "--tls-verify=false", "--sign-by-sigstore-private-key", keys["one"][0], "--sign-passphrase-file",
      keys["one"][2], "busybox", f"{registry.host}/both/app:1", env=site.env)

    # containers/image finds podpy's signature in the registry...
    pulled = tmp_path / "pulled"
    _skopeo(site, "copy", "--src-tls-verify=false", f"docker://{registry.host}/both/app:1", f"dir:{pulled}")
    blob = (pulled / "signature-1").read_bytes()
    assert blob.startswith(SIGSTORE_BLOB)
    doc = json.loads(blob[len(SIGSTORE_BLOB):])
    assert doc["mimeType"] == ATTACHMENT
    payload = base64.b64decode(doc["payload"])
    critical = json.loads(payload)["critical"]
    assert critical["identity"] == {"docker-reference": f"{registry.host}/both/app:1"}
    assert critical["type"] == "cosign container image signature"
    import hashlib

    assert critical["image"]["docker-manifest-digest"] == \
        "sha256:" + hashlib.sha256((pulled / "manifest.json").read_bytes()).hexdigest()
    # ... and openssl verifies it with the public key
    (tmp_path / "payload").write_bytes(payload)
    (tmp_path / "sig").write_bytes(base64.b64decode(doc["annotations"]["dev.cosignproject.cosign/signature"]))
    res = _openssl("dgst", "-sha256", "-verify", keys["one"][1], "-signature", tmp_path / "sig", tmp_path / "payload")
    assert res.returncode == 0 and b"Verified OK" in res.stdout
    res = _openssl("dgst", "-sha256", "-verify", keys["two"][1], "-signature", tmp_path / "sig", tmp_path / "payload")
    assert res.returncode != 0

    # a signature openssl makes, attached by containers/image, is what podpy checks
    name = f"{registry.host}/skopeo/app:1"
    mine = json.dumps({"critical": {"identity": {"docker-reference": name},
                                    "image": {"docker-manifest-digest": critical["image"]["docker-manifest-digest"]},
                                    "type": "cosign container image signature"},
                       "optional": None}).encode()
    signed = _openssl("dgst", "-sha256", "-sign", plain_key[0], input=mine)
    assert signed.returncode == 0, signed.stderr
    (pulled / "signature-1").write_bytes(SIGSTORE_BLOB + json.dumps({
        "mimeType": ATTACHMENT, "payload": base64.b64encode(mine).decode(),
        "annotations": {"dev.cosignproject.cosign/signature": base64.b64encode(signed.stdout).decode()}}).encode())
    _skopeo(site, "copy", "--dest-tls-verify=false", f"dir:{pulled}", f"docker://{name}")
    q = new_podpy()
    site.sigstore(registry.host, plain_key[1])
    assert len(q("pull", "-q", "--tls-verify=false", name, env=site.env).stdout.strip()) == 64
    q("rmi", "-a")
    site.sigstore(registry.host, keys["one"][1])
    res = q("pull", "--tls-verify=false", name, env=site.env, check=False)
    assert res.returncode == 125 and "cryptographic signature verification failed" in _error(res)
    assert q("images", "-q").stdout == ""


@pytest.fixture(scope="module")
def podman_env(tmp_path_factory):
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed: nothing to compare with")
    home = tmp_path_factory.mktemp("podman")
    env = private_podman_env(home)
    yield env
    run_command(["podman", "unshare", "rm", "-rf", str(home / "storage")], env=env, check=False)
    remove_tree(home)


def test_podman_accepts_podpy_sigstore_signatures(new_podpy, registry, keys, image_tar, tmp_path, podman_env):
    site = Site(tmp_path)
    p = new_podpy()
    p("import", image_tar, "busybox", timeout=300)
    name = f"{registry.host}/forpodman/app:1"
    p("push", "--tls-verify=false", "--sign-by-sigstore-private-key", keys["one"][0], "--sign-passphrase-file",
      keys["one"][2], "busybox", name, env=site.env)
    site.sigstore(registry.host, keys["one"][1])
    res = run_command(["podman", "pull", "--tls-verify=false", name], env=dict(podman_env, **site.env), check=False,
                      timeout=180, variant="podman")
    if "Debian-local change: sigstore disabled" in res.stderr:
        pytest.skip("this podman is built with sigstore disabled (Debian's): it checks no sigstore signature, so "
                    "test_containers_image_reads_podpy_attachments_and_podpy_reads_its checks the format instead")
    assert res.returncode == 0, res.stderr
    wrong = tmp_path / "wrong.pub"
    wrong.write_bytes(sigstore.generate_key_pair("x")[1])
    site.sigstore(registry.host, wrong)
    res = run_command(["podman", "pull", "--tls-verify=false", name], env=dict(podman_env, **site.env), check=False,
                      timeout=180, variant="podman")
    assert res.returncode != 0


# ------------------------------------------------------------ build --sign-by --


@pytest.fixture(scope="module")
def gpg(tmp_path_factory):
    if shutil.which("gpg") is None or shutil.which("gpgv") is None:
        pytest.skip("gpg and gpgv are needed (gnupg; packaging/setup.sh installs it)")
    root = tmp_path_factory.mktemp("gpg")
    home = root / "gnupg"
    home.mkdir(mode=0o700)
    env = dict(os.environ, GNUPGHOME=str(home))
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "builder@example.com", "ed25519",
                    "sign", "never"], env=env, check=True, capture_output=True)
    (root / "builder.gpg").write_bytes(subprocess.run(["gpg", "--batch", "--export", "builder@example.com"],
                                                      env=env, check=True, capture_output=True).stdout)
    yield home, root / "builder.gpg"
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True)


@pytest.mark.parametrize("variant", VARIANTS)
def test_build_sign_by_keeps_the_signature_and_push_carries_it(new_podpy, registry, gpg, image_tar, tmp_path,
                                                               variant):
    site = Site(tmp_path)
    env = dict(site.env, GNUPGHOME=str(gpg[0]))
    p = new_podpy(variant=variant)
    p("import", image_tar, "busybox", timeout=300)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Containerfile").write_text("FROM busybox\nRUN echo built > /built\n")
    name = f"{registry.host}/built-{variant}/app:1"
    res = p("build", "-t", name, "--sign-by", "builder@example.com", ctx, env=env, timeout=300)
    assert "Signing manifest using simple signing" in res.stdout + res.stderr
    pushed = tmp_path / "pushed"
    res = p("push", "--tls-verify=false", "--digestfile", pushed, name, env=env)
    assert "Storing signatures" in res.stderr
    digest = pushed.read_text()
    [sig] = site.sigs.glob(f"built-{variant}/app@sha256=*/signature-*")
    assert sig.name == "signature-1"
    # the signature names the very manifest the registry has, whose layers went uncompressed
    payload = json.loads(subprocess.run(["gpg", "--batch", "--decrypt", str(sig)], env=dict(os.environ, **env),
                                        capture_output=True, check=True).stdout)
    assert payload["critical"]["image"]["docker-manifest-digest"] == digest
    assert payload["critical"]["identity"]["docker-reference"] == name
    assert _manifest(registry, f"built-{variant}/app", "1")["layers"][0]["mediaType"] == \
        "application/vnd.oci.image.layer.v1.tar"
    # pushing again gives the same manifest, and the signature stays the only one
    p("push", "--tls-verify=false", "--digestfile", pushed, name, env=env)
    assert pushed.read_text() == digest
    assert [s.name for s in site.sigs.glob(f"built-{variant}/app@*/signature-*")] == ["signature-1"]

    q = new_podpy(variant=variant)
    site.require(registry.host, {"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(gpg[1])})
    assert len(q("pull", "-q", "--tls-verify=false", name, env=env).stdout.strip()) == 64
    assert q("run", "--rm", name, "cat", "/built").stdout == "built\n"

    # --remove-signatures: pushed as any image, without them (the lookaside has none of that manifest)
    other = f"{registry.host}/unsigned-{variant}/app:1"
    p("push", "--tls-verify=false", "--remove-signatures", "--digestfile", pushed, name, other, env=env)
    assert pushed.read_text() != digest
    res = q("pull", "--tls-verify=false", other, env=env, check=False)
    assert (res.returncode, _error(res)) == (
        125, "Error: Source image rejected: A signature was required, but no signature exists")
    # a push that would change the signed manifest is refused before it sends anything
    res = p("push", "--tls-verify=false", "--format", "v2s2", name, f"{registry.host}/v2s2-{variant}/app:1",
            env=env, check=False)
    assert res.returncode == 125 and "Would invalidate signatures" in _error(res)
    assert _manifest(registry, f"v2s2-{variant}/app", "1") is None

    # the signatures are kept beside the image's record, and go with it
    [kept] = p.data_home.glob("**/images/*/signatures")
    p("rmi", "-f", name)
    assert not kept.exists()


def test_build_sign_by_needs_a_name_and_a_key(new_podpy, gpg, image_tar, tmp_path):
    p = new_podpy()
    p("import", image_tar, "busybox", timeout=300)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Containerfile").write_text("FROM busybox\nRUN true\n")
    env = {"GNUPGHOME": str(gpg[0])}
    res = p("build", "--sign-by", "builder@example.com", ctx, env=env, check=False)
    assert (res.returncode, _error(res)) == (125, "Error: --sign-by: the image needs a name to be signed as (-t NAME)")
    res = p("build", "-t", "x", "--sign-by", "nobody@example.com", ctx, env=env, check=False)
    assert (res.returncode, _error(res)) == (125, 'Error: key "nobody@example.com" not found')
    assert p("images", "-q", "--filter", "dangling=false").stdout.strip() == p("images", "-q", "busybox").stdout.strip()


def test_podman_accepts_what_build_sign_by_signed(new_podpy, registry, gpg, image_tar, tmp_path, podman_env):
    site = Site(tmp_path)
    env = dict(site.env, GNUPGHOME=str(gpg[0]))
    p = new_podpy()
    p("import", image_tar, "busybox", timeout=300)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Containerfile").write_text("FROM busybox\nRUN echo podman > /who\n")
    name = f"{registry.host}/built-for-podman/app:1"
    p("build", "-t", name, "--sign-by", "builder@example.com", ctx, env=env, timeout=300)
    p("push", "--tls-verify=false", name, env=env)
    site.require(registry.host, {"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(gpg[1])})
    res = run_command(["podman", "pull", "--tls-verify=false", name], env=dict(podman_env, **site.env), check=False,
                      timeout=180, variant="podman")
    assert res.returncode == 0, res.stderr
    site.require(registry.host, {"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(gpg[1]),
                                 "signedIdentity": {"type": "exactRepository", "dockerRepository": "other.io/x"}})
    res = run_command(["podman", "pull", "--tls-verify=false", name], env=dict(podman_env, **site.env), check=False,
                      timeout=180, variant="podman")
    assert res.returncode != 0 and "Source image rejected: Signature for identity" in res.stderr


def test_sign_passphrase_file_unlocks_a_gpg_key(new_podpy, registry, image_tar, tmp_path):
    if shutil.which("gpg") is None or shutil.which("gpgv") is None:
        pytest.skip("gpg and gpgv are needed (gnupg; packaging/setup.sh installs it)")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    gpg_env = dict(os.environ, GNUPGHOME=str(home))
    subprocess.run(["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "gpg secret",
                    "--quick-gen-key", "locked@example.com", "ed25519", "sign", "never"], env=gpg_env, check=True,
                   capture_output=True)
    public = tmp_path / "locked.gpg"
    public.write_bytes(subprocess.run(["gpg", "--batch", "--export", "locked@example.com"], env=gpg_env, check=True,
                                      capture_output=True).stdout)
    site = Site(tmp_path / "site")
    env = dict(site.env, GNUPGHOME=str(home))
    p = new_podpy()
    p("import", image_tar, "busybox", timeout=300)
    name = f"{registry.host}/locked/app:1"
    wrong, right = tmp_path / "wrong", tmp_path / "right"
    wrong.write_text("not it\n")
    right.write_text("gpg secret\n")
    try:
        res = p("push", "--tls-verify=false", "--sign-by", "locked@example.com", "--sign-passphrase-file", wrong,
                "busybox", name, env=env, check=False)
        assert res.returncode == 125 and _error(res).startswith("Error: signing with locked@example.com: ")
        assert "Copying blob" not in res.stderr and _manifest(registry, "locked/app", "1") is None
        p("push", "--tls-verify=false", "--sign-by", "locked@example.com", "--sign-passphrase-file", right,
          "busybox", name, env=env)
        site.require(registry.host, {"type": "signedBy", "keyType": "GPGKeys", "keyPath": str(public)})
        q = new_podpy()
        assert len(q("pull", "-q", "--tls-verify=false", name, env=env).stdout.strip()) == 64
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], capture_output=True)


def test_the_passphrase_is_asked_on_a_terminal(new_podpy, registry, keys, image_tar, tmp_path):
    import pexpect

    site = Site(tmp_path)
    p = new_podpy()
    p("import", image_tar, "busybox", timeout=300)
    name = f"{registry.host}/asked/app:1"
    cmd = p.command("push", "--tls-verify=false", "--sign-by-sigstore-private-key", keys["one"][0], "busybox", name)
    child = pexpect.spawn(cmd[0], cmd[1:], env=p.environ(site.env), encoding="utf-8", timeout=120)
    child.expect("Key Passphrase: ")
    child.sendline("pass one")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    site.sigstore(registry.host, keys["one"][1])
    assert len(new_podpy()("pull", "-q", "--tls-verify=false", name, env=site.env).stdout.strip()) == 64


def test_manifest_push_signs_the_list_and_its_images(new_podpy, registry, keys, image_tar, tmp_path):
    site = Site(tmp_path)
    p = new_podpy()
    p("import", image_tar, "busybox", timeout=300)
    p("manifest", "create", "mylist")
    p("manifest", "add", "mylist", "busybox")
    name = f"{registry.host}/siglist/app:1"
    res = p("manifest", "push", "--tls-verify=false", "--sign-by-sigstore-private-key", keys["one"][0],
            "--sign-passphrase-file", keys["one"][2], "--digestfile", tmp_path / "d", "mylist", name, env=site.env)
    assert "Signing manifest using a sigstore signature" in res.stderr
    index = _manifest(registry, "siglist/app", (tmp_path / "d").read_text())
    for digest in [(tmp_path / "d").read_text(), index["manifests"][0]["digest"]]:
        attached = _manifest(registry, "siglist/app", f"sha256-{digest.split(':')[1]}.sig")
        assert [layer["mediaType"] for layer in attached["layers"]] == [ATTACHMENT], digest
    site.sigstore(registry.host, keys["one"][1])
    assert len(new_podpy()("pull", "-q", "--tls-verify=false", name, env=site.env).stdout.strip()) == 64
