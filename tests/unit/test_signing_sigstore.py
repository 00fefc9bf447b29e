"""Sigstore signing (podpy/registry/secretbox.py, sigstore.py): NaCl's secretbox against libsodium's
output, the encrypted key file, the payload, the signature, the attachment manifest, and the
policy's verdicts on sigstore signatures."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from podpy.errors import InvalidArgument
from podpy.registry import policy as pol
from podpy.registry import secretbox, sigstore
from podpy.registry.policy import ImageRejected, SignatureRejected

# crypto_secretbox of libsodium 1.0.18 (through PyNaCl) for these inputs
VECTORS = [
    (bytes(32), bytes(24), b"", "5c8636d9998d194d605ac3ba3cff1512"),
    (b"\xfe" * 32, b"\xff" * 24, b"x" * 16, "665c63f2d7860d79f01920c7b3b0eb476eaf257d299ebaada0b661c4300f476f"),
    (bytes(range(32)), bytes(range(100, 124)), b"podpy secretbox vector: " + bytes(range(200)),
     "3bbb8819dc5c2b47c9b6068c2a1e7df972d6fdb94396bd8cd38f46e055ebdb3848cf5bd38bd4713ba60d40970e8ecf8fa066fe1343"
     "3a95ebe50705711406cb72d989b4030e9b274023c07127ff97b8436ba26646e41166a589be2dc174f6dba46caeb73c9bc2453dd2"
     "dacb643ca3a381b280a330a3947488532a2dd8e809c36f2076cc118b761e5620ed6cc08074b05bd66967735ba373663d52594ba9"
     "bc96221b528c64515a0c632b8825f1e2bd4f7709f6a1a3515c5de8027171b5cd2d7470643b6c86657cb985e5da8e20e0fcb8e718"
     "c428e66303827bd4cb4696fa89ec5ac188cecd6ce04baf199957eaa54e3257"),
]


@pytest.mark.parametrize("key, nonce, message, box", VECTORS)
def test_secretbox_matches_libsodium(key: bytes, nonce: bytes, message: bytes, box: str) -> None:
    assert secretbox.seal(message, nonce, key).hex() == box
    assert secretbox.open_box(bytes.fromhex(box), nonce, key) == message


def test_secretbox_refuses_a_changed_box_or_another_key() -> None:
    key, nonce, message, box = VECTORS[2]
    raw = bytearray(bytes.fromhex(box))
    raw[40] ^= 1
    with pytest.raises(secretbox.SecretBoxError):
        secretbox.open_box(bytes(raw), nonce, key)
    with pytest.raises(secretbox.SecretBoxError):
        secretbox.open_box(bytes.fromhex(box), nonce, bytes(32))


# A key file as cosign and containers/image write it, made with a cheap scrypt cost for speed.
@pytest.fixture(scope="module")
def pair():
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives import serialization

    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return sigstore.encrypt_key(key, "secret", n=1024), public


def test_key_file_shape(pair) -> None:
    text = pair[0].decode()
    assert text.startswith("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    assert text.endswith("-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    body = json.loads(base64.b64decode("".join(text.splitlines()[1:-1])))
    assert body["kdf"]["name"] == "scrypt" and body["kdf"]["params"] == {"N": 1024, "r": 8, "p": 1}
    assert len(base64.b64decode(body["kdf"]["salt"])) == 32
    assert body["cipher"]["name"] == "nacl/secretbox" and len(base64.b64decode(body["cipher"]["nonce"])) == 24
    # the default cost is cosign's
    assert (sigstore.SCRYPT_N, sigstore.SCRYPT_R, sigstore.SCRYPT_P) == (32768, 8, 1)


def test_the_older_cosign_block_name_is_read_too(pair, tmp_path) -> None:
    path = tmp_path / "cosign.key"
    path.write_bytes(pair[0].replace(b"SIGSTORE", b"COSIGN"))
    sigstore.load_private_key(str(path), "secret")


@pytest.mark.parametrize("content, passphrase, words", [
    (None, "secret", "initializing private key: decrypt: encrypted: decryption failed"),
    (b"not a key\n", "secret", "initializing private key: invalid pem block"),
    (b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "secret",
     "initializing private key: unsupported pem type: PUBLIC KEY"),
])
def test_bad_keys_and_passphrases_fail_in_one_line(pair, tmp_path, content, passphrase, words) -> None:
    path = tmp_path / "k"
    path.write_bytes(content if content is not None else pair[0])
    with pytest.raises(InvalidArgument) as exc:
        sigstore.load_private_key(str(path), "wrong" if content is None else passphrase)
    assert str(exc.value) == words


def test_a_missing_key_file(tmp_path) -> None:
    with pytest.raises(InvalidArgument) as exc:
        sigstore.load_private_key(str(tmp_path / "none"), "x")
    assert str(exc.value) == (f"reading private key from {tmp_path / 'none'}: open {tmp_path / 'none'}: "
                              "no such file or directory")


def test_passphrase_file_is_its_first_line(tmp_path) -> None:
    f = tmp_path / "pass"
    f.write_bytes(b"pass word\nsecond\n")
    assert sigstore.read_passphrase_file(str(f)) == "pass word"
    f.write_bytes(b"\n")
    with pytest.raises(InvalidArgument, match="^empty passphrase read from "):
        sigstore.read_passphrase_file(str(f))


def test_payload_shape() -> None:
    doc = json.loads(sigstore.make_payload("r.io/a:1", "sha256:" + "a" * 64, "podpy 1"))
    assert doc["critical"] == {"identity": {"docker-reference": "r.io/a:1"},
                               "image": {"docker-manifest-digest": "sha256:" + "a" * 64},
                               "type": "cosign container image signature"}
    assert doc["optional"]["creator"] == "podpy 1" and isinstance(doc["optional"]["timestamp"], int)


def test_sign_and_verify(pair, tmp_path) -> None:
    path = tmp_path / "k"
    path.write_bytes(pair[0])
    key = sigstore.load_private_key(str(path), "secret")
    sig = sigstore.sign(key, sigstore.make_payload("r.io/a:1", "sha256:" + "b" * 64, "podpy"))
    assert sig.annotations == {sigstore.SIGNATURE_ANNOTATION: sig.signature}
    claims = sigstore.verify(sig, sigstore.load_public_keys(pair[1]))
    assert (claims.docker_reference, claims.manifest_digest) == ("r.io/a:1", "sha256:" + "b" * 64)
    # another key, or a payload changed after signing, is refused
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(SignatureRejected, match="^cryptographic signature verification failed"):
        sigstore.verify(sig, sigstore.load_public_keys(other))
    changed = sigstore.Signature(sig.payload.replace(b"r.io", b"x.io"), sig.signature, sig.annotations)
    with pytest.raises(SignatureRejected, match="^cryptographic signature verification failed"):
        sigstore.verify(changed, sigstore.load_public_keys(pair[1]))
    with pytest.raises(SignatureRejected, match="^missing dev.cosignproject.cosign/signature annotation"):
        sigstore.verify(sigstore.Signature(sig.payload, "", {}), sigstore.load_public_keys(pair[1]))


def test_attachment_manifest_appends_and_skips_what_is_there() -> None:
    one = sigstore.Signature(b'{"p":1}', "c2ln", {sigstore.SIGNATURE_ANNOTATION: "c2ln"})
    two = sigstore.Signature(b'{"p":2}', "c2lnMg==", {sigstore.SIGNATURE_ANNOTATION: "c2lnMg=="})
    manifest, config, added = sigstore.extend_attachment(None, None, [one])
    digest1 = "sha256:" + hashlib.sha256(b'{"p":1}').hexdigest()
    assert manifest == {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {},
                        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                                    "digest": digest1, "size": 7,
                                    "annotations": {"dev.cosignproject.cosign/signature": "c2ln"}}]}
    assert config["rootfs"] == {"type": "layers", "diff_ids": [digest1]}
    assert added == [one]
    manifest, config, added = sigstore.extend_attachment(manifest, config, [one, two])
    assert added == [two]
    assert [layer["size"] for layer in manifest["layers"]] == [7, 7]
    assert len(config["rootfs"]["diff_ids"]) == 2
    # read back: other media types are skipped
    manifest["layers"].append({"mediaType": "application/octet-stream", "digest": "sha256:" + "0" * 64, "size": 1})
    blobs = {digest1: b'{"p":1}', "sha256:" + hashlib.sha256(b'{"p":2}').hexdigest(): b'{"p":2}'}
    read = sigstore.attachment_signatures(manifest, lambda desc: blobs[desc["digest"]])
    assert read == [one, two]
    assert sigstore.attachment_tag("sha256:" + "c" * 64) == "sha256-" + "c" * 64 + ".sig"


def test_the_policy_checks_sigstore_signatures(pair, tmp_path) -> None:
    keyfile, pubfile = tmp_path / "k", tmp_path / "k.pub"
    keyfile.write_bytes(pair[0])
    pubfile.write_bytes(pair[1])
    key = sigstore.load_private_key(str(keyfile), "secret")
    manifest = b'{"schemaVersion":2}'
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    good = sigstore.sign(key, sigstore.make_payload("r.io/a:1", digest, "podpy"))
    wrong_digest = sigstore.sign(key, sigstore.make_payload("r.io/a:1", "sha256:" + "d" * 64, "podpy"))
    wrong_name = sigstore.sign(key, sigstore.make_payload("r.io/b:1", digest, "podpy"))
    by_data = {"type": "sigstoreSigned", "keyData": base64.b64encode(pair[1]).decode()}
    by_path = {"type": "sigstoreSigned", "keyPath": str(pubfile)}
    target = pol.normalized("r.io/a:1")

    def check(req, sigs):
        policy = pol.parse(json.dumps({"default": [req]}).encode())
        pol.check(policy, target, manifest, lambda: [], lambda s, r: pytest.fail("no GPG check"),
                  (lambda: sigs, sigstore.verify_for))

    check(by_data, [wrong_digest, good])
    check(by_path, [good])
    with pytest.raises(ImageRejected) as exc:
        check(by_path, [wrong_digest])
    assert str(exc.value) == f"Source image rejected: Signature for digest sha256:{'d' * 64} does not match"
    with pytest.raises(ImageRejected) as exc:
        check(by_path, [wrong_name])
    assert str(exc.value) == "Source image rejected: Signature for identity r.io/b:1 is not accepted"
    with pytest.raises(ImageRejected, match="^Source image rejected: A signature was required, but no signature"):
        check(by_path, [])
    with pytest.raises(ImageRejected, match="^Source image rejected: open /nonexistent.pub: no such file"):
        check({"type": "sigstoreSigned", "keyPath": "/nonexistent.pub"}, [good])
