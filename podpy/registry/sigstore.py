"""Sigstore signatures made and checked with a key pair, as containers/image 5.23 (podman 4.3.1) does.

Keys: the private key is cosign's encrypted file, a PEM block "ENCRYPTED SIGSTORE PRIVATE KEY"
(or the older "ENCRYPTED COSIGN PRIVATE KEY") holding JSON: the scrypt parameters and salt that
turn the passphrase into a 32-byte key, and a NaCl secretbox (secretbox.py) sealing the PKCS #8
DER of an ECDSA P-256 key. The public key is a PEM "PUBLIC KEY" (PKIX).

Signatures: the payload is the simple signing JSON (containers-signature(5)) with the type
"cosign container image signature"; the signature is ECDSA over its SHA-256, DER, in base64.
A registry keeps them as an "attachment": an OCI manifest tagged `sha256-<hex>.sig` beside the
image, one layer per signature whose blob is the payload, with the signature in the layer's
annotation `dev.cosignproject.cosign/signature`. New signatures are appended to those there.

The `cryptography` package does the elliptic curve work; it is imported only here and only by
the commands that sign or check these signatures.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import Any, Optional

from ..errors import InvalidArgument, PodpyError
from .policy import SignatureRejected, Verified

PAYLOAD_TYPE = "cosign container image signature"
MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
PRIVATE_KEY_TYPES = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")
# scrypt's cost as cosign and containers/image write it (N=32768, r=8, p=1)
SCRYPT_N, SCRYPT_R, SCRYPT_P = 32768, 8, 1
PAYLOAD_LIMIT = 4 << 20


class SigstoreError(PodpyError):
    """A key could not be read or a signature not made."""


def _crypto() -> Any:
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        raise SigstoreError("sigstore signatures need the Python package cryptography, which this podpy "
                            "cannot load: install podpy with pip (cryptography included) to use them") from None
    return serialization


@dataclass(frozen=True)
class Signature:
    """One sigstore signature as an attachment layer carries it."""

    payload: bytes
    signature: str          # base64 of the DER ECDSA signature
    annotations: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"format": "sigstore", "payload": base64.b64encode(self.payload).decode(),
                "annotations": dict(self.annotations)}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> "Signature":
        annotations = {str(k): str(v) for k, v in (doc.get("annotations") or {}).items()}
        return cls(base64.b64decode(doc["payload"]), annotations.get(SIGNATURE_ANNOTATION, ""), annotations)


# ------------------------------------------------------------------ keys --


def _pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    """The PEM blocks of data: (type, decoded body)."""
    out = []
    text = data.decode("ascii", errors="replace")
    pos = 0
    while True:
        start = text.find("-----BEGIN ", pos)
        if start < 0:
            return out
        head_end = text.find("-----", start + 11)
        if head_end < 0:
            return out
        kind = text[start + 11:head_end]
        end = text.find(f"-----END {kind}-----", head_end)
        if end < 0:
            return out
        body = "".join(line.strip() for line in text[head_end + 5:end].splitlines()
                       if line.strip() and ":" not in line)
        try:
            out.append((kind, base64.b64decode(body)))
        except ValueError:
            pass
        pos = end + 1


def read_passphrase_file(path: str) -> str:
    """The first line of path, without its newline (containers/image's ReadPassphraseFile)."""
    try:
        with open(path, "rb") as f:
            line = f.readline()
    except OSError as exc:
        raise InvalidArgument(f"open {path}: {(exc.strerror or str(exc)).lower()}") from exc
    text = line.decode(errors="replace").removesuffix("\n")
    if not text:
        raise InvalidArgument(f"empty passphrase read from {path}")
    return text


def decrypt_key_file(data: bytes, passphrase: str) -> bytes:
    """The PKCS #8 DER inside an encrypted sigstore private key file's contents."""
    from . import secretbox

    blocks = _pem_blocks(data)
    if not blocks:
        raise SigstoreError("invalid pem block")
    kind, body = blocks[0]
    if kind not in PRIVATE_KEY_TYPES:
        raise SigstoreError(f"unsupported pem type: {kind}")
    try:
        doc = json.loads(body)
        kdf, cipher = doc["kdf"], doc["cipher"]
        if kdf.get("name") != "scrypt":
            raise SigstoreError(f"decrypt: encrypted: unsupported key derivation function {kdf.get('name')!r}")
        if cipher.get("name") != "nacl/secretbox":
            raise SigstoreError(f"decrypt: encrypted: unsupported cipher {cipher.get('name')!r}")
        params = kdf["params"]
        n, r, p = int(params["N"]), int(params["r"]), int(params["p"])
        salt = base64.b64decode(kdf["salt"])
        nonce = base64.b64decode(cipher["nonce"])
        box = base64.b64decode(doc["ciphertext"])
    except SigstoreError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SigstoreError(f"decrypt: {type(exc).__name__}: the key file is not an encrypted sigstore key") from None
    if n < 2 or n & (n - 1) or n > 1 << 20 or not 0 < r <= 32 or not 0 < p <= 16:
        raise SigstoreError("decrypt: encrypted: invalid scrypt parameters")
    key = hashlib.scrypt(passphrase.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=256 * n * r + (1 << 20))
    try:
        return secretbox.open_box(box, nonce, key)
    except (secretbox.SecretBoxError, ValueError):
        raise SigstoreError("decrypt: encrypted: decryption failed") from None


def load_private_key(path: str, passphrase: str) -> Any:
    """The ECDSA private key of an encrypted sigstore key file (podman's words on failure)."""
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 20)
    except OSError as exc:
        raise InvalidArgument(f"reading private key from {path}: open {path}: "
                              f"{(exc.strerror or str(exc)).lower()}") from exc
    try:
        der = decrypt_key_file(data, passphrase)
    except SigstoreError as exc:
        raise InvalidArgument(f"initializing private key: {exc}") from None
    serialization = _crypto()
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_der_private_key(der, password=None)
    except ValueError as exc:
        raise InvalidArgument(f"initializing private key: x509: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise InvalidArgument("initializing private key: podpy signs with ECDSA keys only "
                              f"(this is a {type(key).__name__.removeprefix('_')})")
    return key


def encrypt_key(private_key: Any, passphrase: str, n: int = SCRYPT_N) -> bytes:
    """private_key as an ENCRYPTED SIGSTORE PRIVATE KEY file (what cosign generate-key-pair writes)."""
    from . import secretbox

    serialization = _crypto()
    der = private_key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    salt, nonce = os.urandom(32), os.urandom(secretbox.NONCE_SIZE)
    key = hashlib.scrypt(passphrase.encode(), salt=salt, n=n, r=SCRYPT_R, p=SCRYPT_P, dklen=32,
                         maxmem=256 * n * SCRYPT_R + (1 << 20))
    doc = {"kdf": {"name": "scrypt", "params": {"N": n, "r": SCRYPT_R, "p": SCRYPT_P},
                   "salt": base64.b64encode(salt).decode()},
           "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
           "ciphertext": base64.b64encode(secretbox.seal(der, nonce, key)).decode()}
    body = base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return ("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n" + "\n".join(lines)
            + "\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n").encode()


def generate_key_pair(passphrase: str) -> tuple[bytes, bytes]:
    """A new P-256 key pair: (encrypted private key file, public key PEM)."""
    serialization = _crypto()
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return encrypt_key(key, passphrase), public


def load_public_keys(data: bytes) -> list[Any]:
    """The public keys of PEM data (one or more "PUBLIC KEY" blocks)."""
    serialization = _crypto()
    keys = []
    for kind, body in _pem_blocks(data):
        if kind != "PUBLIC KEY":
            continue
        try:
            keys.append(serialization.load_der_public_key(body))
        except ValueError as exc:
            raise SignatureRejected(f"parsing public key: {exc}") from None
    if not keys:
        raise SignatureRejected("parsing public key: no PUBLIC KEY found in PEM data")
    return keys


# ----------------------------------------------------------- signatures --


def make_payload(docker_reference: str, manifest_digest: str, creator: str) -> bytes:
    doc = {"critical": {"identity": {"docker-reference": docker_reference},
                        "image": {"docker-manifest-digest": manifest_digest},
                        "type": PAYLOAD_TYPE},
           "optional": {"creator": creator, "timestamp": int(time.time())}}
    return json.dumps(doc, separators=(",", ":")).encode()


def sign(private_key: Any, payload: bytes) -> Signature:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    der = private_key.sign(payload, ec.ECDSA(hashes.SHA256()))
    b64 = base64.b64encode(der).decode()
    return Signature(payload, b64, {SIGNATURE_ANNOTATION: b64})


def verify(sig: Signature, public_keys: list[Any]) -> Verified:
    """The claims of sig when one of public_keys made it (SignatureRejected otherwise)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    if not sig.signature:
        raise SignatureRejected(f"missing {SIGNATURE_ANNOTATION} annotation")
    try:
        der = base64.b64decode(sig.signature, validate=True)
    except ValueError as exc:
        raise SignatureRejected(f"parsing signature: {exc}") from None
    for key in public_keys:
        if not isinstance(key, ec.EllipticCurvePublicKey):
            continue
        try:
            key.verify(der, sig.payload, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            continue
        return parse_payload(sig.payload)
    raise SignatureRejected("cryptographic signature verification failed: invalid signature")


def verify_for(sig: Signature, req: Any) -> Verified:
    """policy's verifier for a sigstoreSigned requirement (its keyPath or keyData)."""
    if req.key_data is not None:
        data = req.key_data
    else:
        path = req.key_paths[0]
        try:
            with open(path, "rb") as f:
                data = f.read(1 << 20)
        except OSError as exc:
            raise SignatureRejected(f"open {path}: {(exc.strerror or str(exc)).lower()}") from None
    return verify(sig, load_public_keys(data))


def parse_payload(payload: bytes) -> Verified:
    """The claims of a sigstore payload, checked for shape as containers/image does."""
    from .signatures import parse_payload as parse_simple_signing

    return parse_simple_signing(payload, PAYLOAD_TYPE, exact=False)


# ----------------------------------------------------------- attachments --


def attachment_tag(manifest_digest: str) -> str:
    """The tag a manifest's signatures are kept under: sha256-<hex>.sig."""
    algorithm, _, value = manifest_digest.partition(":")
    if algorithm != "sha256" or len(value) != 64:
        raise SigstoreError(f"unsupported manifest digest {manifest_digest} for a sigstore attachment")
    return f"{algorithm}-{value}.sig"


def attachment_signatures(manifest: dict[str, Any], blob: Any) -> list[Signature]:
    """The signatures an attachment manifest lists; blob(descriptor) -> its payload bytes.
    Layers of other media types are skipped, as containers/image skips them."""
    out = []
    for layer in manifest.get("layers") or []:
        if not isinstance(layer, dict) or layer.get("mediaType") != MEDIA_TYPE:
            continue
        annotations = {str(k): str(v) for k, v in (layer.get("annotations") or {}).items()}
        out.append(Signature(blob(layer), annotations.get(SIGNATURE_ANNOTATION, ""), annotations))
    return out


def extend_attachment(manifest: Optional[dict[str, Any]], config: Optional[dict[str, Any]],
                      new: list[Signature]) -> tuple[dict[str, Any], dict[str, Any], list[Signature]]:
    """The attachment manifest (its config descriptor still to fill in) and config with new's
    signatures appended after those present (one already there is not added again): (manifest,
    config, the signatures whose payload blobs must be uploaded)."""
    if manifest is None:
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {}, "layers": []}
        config = {"architecture": "", "os": "", "config": {}, "rootfs": {"type": "layers", "diff_ids": []}}
    manifest = dict(manifest)
    layers = list(manifest.get("layers") or [])
    config = dict(config or {"rootfs": {"type": "layers", "diff_ids": []}})
    rootfs = dict(config.get("rootfs") or {"type": "layers"})
    diff_ids = list(rootfs.get("diff_ids") or [])
    added = []
    for sig in new:
        digest = "sha256:" + hashlib.sha256(sig.payload).hexdigest()
        if any(layer.get("mediaType") == MEDIA_TYPE and layer.get("digest") == digest
               and layer.get("size") == len(sig.payload) and (layer.get("annotations") or {}) == sig.annotations
               for layer in layers):
            continue
        layers.append({"mediaType": MEDIA_TYPE, "digest": digest, "size": len(sig.payload),
                       "annotations": dict(sig.annotations)})
        diff_ids.append(digest)
        added.append(sig)
    rootfs["diff_ids"] = diff_ids
    config["rootfs"] = rootfs
    manifest["layers"] = layers
    return manifest, config, added
