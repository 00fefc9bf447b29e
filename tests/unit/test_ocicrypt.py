"""storage/ocicrypt.py: keys, JWE unwrapping and stream decryption of encrypted layers, against
layers that skopeo (ocicrypt's own code) encrypted, and JWEs put together here by hand."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from storage import ocicrypt
from storage.errors import DecryptionError
from storage.transports.manifest import parse_manifest

crypto = pytest.importorskip("cryptography", reason="the cryptography package is not installed")

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1700000000
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _blob(layout: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _layout(layout: Path, tars: list[bytes]) -> None:
    layout.mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    layers = [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **_blob(layout, gzip.compress(t, mtime=0))}
              for t in tars]
    config = {"architecture": "amd64", "os": "linux",
              "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(t).hexdigest() for t in tars]}}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           **_blob(layout, json.dumps(config).encode())}, "layers": layers}
    desc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", **_blob(layout, json.dumps(manifest).encode()),
            "annotations": {"org.opencontainers.image.ref.name": "latest"}}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [desc]}))


def _pem(key, password: bytes | None = None) -> bytes:
    enc = (serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)


def _public_pem(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


TARS = [_tar({"etc/hello": b"hello\n"}), _tar({"big": os.urandom(300_000)})]


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory):
    """An image of two layers that skopeo encrypted for an RSA and an EC key: (its layout, the
    layers' descriptors, the key files)."""
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is needed to encrypt the fixture (installed by packaging/setup.sh test)")
    d = tmp_path_factory.mktemp("ocicrypt")
    rsa_key = rsa.generate_private_key(65537, 2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    files = {"rsa": d / "rsa.pem", "ec": d / "ec.pem", "rsa_pub": d / "rsa.pub", "ec_pub": d / "ec.pub"}
    files["rsa"].write_bytes(_pem(rsa_key))
    files["ec"].write_bytes(_pem(ec_key))
    files["rsa_pub"].write_bytes(_public_pem(rsa_key))
    files["ec_pub"].write_bytes(_public_pem(ec_key))
    _layout(d / "plain", TARS)
    proc = subprocess.run(["skopeo", "copy", "--quiet", "--encryption-key", f"jwe:{files['rsa_pub']}",
                           "--encryption-key", f"jwe:{files['ec_pub']}", f"oci:{d / 'plain'}:latest",
                           f"oci:{d / 'enc'}:latest"], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, XDG_DATA_HOME=str(d / "cache")))
    if proc.returncode != 0:
        pytest.fail(f"skopeo could not encrypt the fixture: {proc.stderr.strip()}")
    index = json.loads((d / "enc" / "index.json").read_text())
    raw = (d / "enc" / "blobs" / "sha256" / index["manifests"][0]["digest"].split(":")[1]).read_bytes()
    return d / "enc", json.loads(raw), raw, files, rsa_key, ec_key


def _blob_of(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()


def _decrypt(blob: bytes, key: ocicrypt.LayerKey, chunk: int = 4096) -> bytes:
    reader = ocicrypt.DecryptingReader(io.BytesIO(blob), key)
    out = bytearray()
    while True:
        data = reader.read(chunk)
        if not data:
            return bytes(out)
        out += data


def test_skopeo_layers_parse_as_encrypted_oci_layers(encrypted):
    layout, manifest, raw, *_ = encrypted
    parsed = parse_manifest(raw, manifest["mediaType"])
    assert [ly.media_type for ly in parsed.layers] == ["application/vnd.oci.image.layer.v1.tar+gzip+encrypted"] * 2
    assert all(ocicrypt.JWE_ANNOTATION in (ly.annotations or {}) for ly in parsed.layers)


@pytest.mark.parametrize("which", ["rsa", "ec"])
def test_each_recipient_key_unwraps_and_decrypts_every_layer(encrypted, which):
    layout, manifest, _raw, files, *_ = encrypted
    keys = ocicrypt.load_keys([str(files[which])])
    for desc, tar in zip(manifest["layers"], TARS):
        lk = ocicrypt.unwrap(desc["digest"], desc["annotations"], keys)
        plain = _decrypt(_blob_of(layout, desc["digest"]), lk)
        assert "sha256:" + hashlib.sha256(plain).hexdigest() == lk.digest
        assert gzip.decompress(plain) == tar


def test_der_jwk_and_passphrase_keys_are_read(encrypted, tmp_path):
    layout, manifest, _raw, files, rsa_key, ec_key = encrypted
    der = tmp_path / "rsa.der"
    der.write_bytes(rsa_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                                          serialization.NoEncryption()))
    locked = tmp_path / "locked.pem"
    locked.write_bytes(_pem(rsa_key, b"s3cret"))
    pw_file = tmp_path / "pw"
    pw_file.write_text("s3cret\n")
    n = ec_key.private_numbers()

    def b64(i: int, size: int) -> str:
        return base64.urlsafe_b64encode(i.to_bytes(size, "big")).rstrip(b"=").decode()

    jwk = tmp_path / "ec.jwk"
    jwk.write_text(json.dumps({"kty": "EC", "crv": "P-256", "x": b64(n.public_numbers.x, 32),
                               "y": b64(n.public_numbers.y, 32), "d": b64(n.private_value, 32)}))
    desc = manifest["layers"][0]
    for spec in (str(der), f"{locked}:s3cret", f"{locked}:pass=s3cret", f"{locked}:file={pw_file}", str(jwk)):
        lk = ocicrypt.unwrap(desc["digest"], desc["annotations"], ocicrypt.load_keys([spec]))
        assert gzip.decompress(_decrypt(_blob_of(layout, desc["digest"]), lk)) == TARS[0], spec


def test_no_key_and_a_wrong_key_fail_in_podmans_words(encrypted, tmp_path):
    _layout_dir, manifest, *_ = encrypted
    desc = manifest["layers"][0]
    with pytest.raises(DecryptionError, match=f"^decrypting layer {desc['digest']}: missing private key needed"):
        ocicrypt.unwrap(desc["digest"], desc["annotations"], [])
    other = tmp_path / "other.pem"
    other.write_bytes(_pem(rsa.generate_private_key(65537, 2048)))
    other_ec = tmp_path / "other-ec.pem"
    other_ec.write_bytes(_pem(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(DecryptionError, match="no suitable key unwrapper found or none of the private keys"):
        ocicrypt.unwrap(desc["digest"], desc["annotations"], ocicrypt.load_keys([str(other), str(other_ec)]))


def test_a_changed_byte_fails_the_hmac_at_the_end(encrypted):
    layout, manifest, _raw, files, *_ = encrypted
    desc = manifest["layers"][1]
    lk = ocicrypt.unwrap(desc["digest"], desc["annotations"], ocicrypt.load_keys([str(files["rsa"])]))
    blob = bytearray(_blob_of(layout, desc["digest"]))
    blob[len(blob) // 2] ^= 1
    with pytest.raises(DecryptionError, match="HMAC does not match"):
        _decrypt(bytes(blob), lk)
    with pytest.raises(DecryptionError, match="HMAC does not match"):   # a blob cut short, too
        _decrypt(_blob_of(layout, desc["digest"])[:-10], lk)


def test_key_files_that_cannot_be_used_are_refused_in_one_line(tmp_path, encrypted):
    files = encrypted[3]
    locked = tmp_path / "locked.pem"
    locked.write_bytes(_pem(ec.generate_private_key(ec.SECP256R1()), b"pw"))
    cases = {
        str(tmp_path / "missing.pem"): "Unable to read file: open .*missing.pem: no such file or directory",
        str(locked): "missing password for encrypted private key",
        f"{locked}:nope": "wrong password: could not decrypt private key",
        str(files["rsa_pub"]): "is not an RSA or EC private key",
    }
    gpg = tmp_path / "key.asc"
    gpg.write_text("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxx\n-----END PGP PRIVATE KEY BLOCK-----\n")
    cases[str(gpg)] = r"is a GPG private key \(pgp\); podpy decrypts layers with JWE keys only"
    cases["provider:foo:bar"] = "key providers are not available"
    for spec, message in cases.items():
        with pytest.raises(DecryptionError, match=message) as info:
            ocicrypt.load_keys([spec])
        assert "\n" not in str(info.value)


def test_a_hand_made_general_jwe_with_two_recipients(tmp_path):
    """A JWE in the general serialization, made here from the RFC 7516 steps (not ocicrypt's
    code): the second recipient's RSA-OAEP-256 key opens it."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    symkey, nonce = os.urandom(32), os.urandom(16)
    blob = gzip.compress(_tar({"a": b"a"}), mtime=0)
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    enc = Cipher(algorithms.AES(symkey), modes.CTR(nonce)).encryptor()
    encrypted = enc.update(blob) + enc.finalize()
    import hmac as hmac_

    mac = hmac_.new(symkey, encrypted, hashlib.sha256).digest()
    private = json.dumps({"symkey": base64.b64encode(symkey).decode(),
                          "digest": "sha256:" + hashlib.sha256(blob).hexdigest(),
                          "cipheroptions": {"nonce": base64.b64encode(nonce).decode()}}).encode()
    cek, iv = os.urandom(32), os.urandom(12)
    protected = base64.urlsafe_b64encode(b'{"enc":"A256GCM"}').rstrip(b"=")
    sealed = AESGCM(cek).encrypt(iv, private, protected)
    keys = [rsa.generate_private_key(65537, 2048) for _ in range(2)]
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)

    def u(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    jwe = {"protected": protected.decode(), "iv": u(iv), "ciphertext": u(sealed[:-16]), "tag": u(sealed[-16:]),
           "recipients": [{"header": {"alg": "RSA-OAEP-256"}, "encrypted_key": u(k.public_key().encrypt(cek, oaep))}
                          for k in keys]}
    notes = {ocicrypt.JWE_ANNOTATION: base64.b64encode(json.dumps(jwe).encode()).decode(),
             ocicrypt.PUBOPTS_ANNOTATION: base64.b64encode(json.dumps(
                 {"cipher": ocicrypt.CIPHER, "hmac": base64.b64encode(mac).decode(), "cipheroptions": {}}).encode()
             ).decode()}
    path = tmp_path / "second.pem"
    path.write_bytes(_pem(keys[1]))
    lk = ocicrypt.unwrap("sha256:" + "0" * 64, notes, ocicrypt.load_keys([str(path)]))
    assert _decrypt(encrypted, lk, chunk=7) == blob
    desc = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip+encrypted", "digest": "sha256:" + "0" * 64,
            "size": len(encrypted), "annotations": dict(notes, keep="me")}
    assert ocicrypt.plain_descriptor(desc, lk) == {
        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": lk.digest, "size": len(encrypted),
        "annotations": {"keep": "me"}}
