"""Encrypted image layers (ocicrypt, as skopeo and podman make them): keys, JWE unwrapping, stream decryption.

An encrypted layer's descriptor has a media type ending in "+encrypted" and two annotations:
`org.opencontainers.image.enc.keys.jwe`, base64 of a JWE (JSON serialization) per comma-separated
entry, whose plaintext is the layer's private options (the AES key, the cipher's nonce and the
digest of the plain blob), and `org.opencontainers.image.enc.pubopts`, base64 of the public options
(the cipher, and the HMAC-SHA256 of the encrypted blob). The one cipher is AES_256_CTR_HMAC_SHA256:
AES-256 in counter mode, the HMAC keyed with the same key and taken over the ciphertext.

Order: `load_keys` reads the --decryption-key files (before anything is fetched); `unwrap` finds
each encrypted layer's private options with them (before any blob is fetched, so a missing or wrong
key stores nothing); `DecryptingReader` decrypts the blob as it streams and, at its end, checks
the HMAC and the plain digest before it hands back the final b"" (so a layer whose checks fail is
never committed). The `cryptography` package is imported only here, and only when a key or an
encrypted layer is met.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from typing import Any, BinaryIO, Optional

from storage.errors import DecryptionError

__all__ = ["DecryptingReader", "DecryptionError", "LayerKey", "PrivateKey", "decrypted_media_type",
           "is_encrypted", "load_keys", "plain_descriptor", "unwrap"]

ENCRYPTED_SUFFIX = "+encrypted"
JWE_ANNOTATION = "org.opencontainers.image.enc.keys.jwe"
PUBOPTS_ANNOTATION = "org.opencontainers.image.enc.pubopts"
_ENC_PREFIX = "org.opencontainers.image.enc."
CIPHER = "AES_256_CTR_HMAC_SHA256"
# The other key wrappers of ocicrypt, which podpy names instead of using.
_OTHER_WRAPPERS = {"org.opencontainers.image.enc.keys.pgp": "pgp",
                   "org.opencontainers.image.enc.keys.pkcs7": "pkcs7",
                   "org.opencontainers.image.enc.keys.pkcs11": "pkcs11"}

MISSING_KEY = "missing private key needed for decryption"
NO_KEY_FITS = "no suitable key unwrapper found or none of the private keys could be used for decryption"


@dataclass(frozen=True)
class PrivateKey:
    """A private key read from a --decryption-key file."""

    path: str
    key: Any    # a cryptography RSA or EC private key


@dataclass(frozen=True)
class LayerKey:
    """What decrypts one layer: the symmetric key and nonce, the expected HMAC and plain digest."""

    symkey: bytes
    nonce: bytes
    hmac: bytes
    digest: str


def is_encrypted(media_type: str) -> bool:
    return media_type.endswith(ENCRYPTED_SUFFIX)


def decrypted_media_type(media_type: str) -> str:
    return media_type[:-len(ENCRYPTED_SUFFIX)] if is_encrypted(media_type) else media_type


def plain_descriptor(desc: dict[str, Any], key: LayerKey) -> dict[str, Any]:
    """A manifest's layer entry once decrypted: the plain media type and digest (counter mode
    keeps the size), without the encryption annotations (as c/image rewrites it)."""
    out = dict(desc, mediaType=decrypted_media_type(str(desc.get("mediaType", ""))), digest=key.digest)
    notes = {k: v for k, v in (desc.get("annotations") or {}).items() if not k.startswith(_ENC_PREFIX)}
    if notes:
        out["annotations"] = notes
    else:
        out.pop("annotations", None)
    return out


# -- keys ----------------------------------------------------------------------------------

def _password(spec: str) -> bytes:
    """ocicrypt's password forms: pass=PW, file=PATH, fd=N, or the password itself."""
    if spec.startswith("pass="):
        return spec[5:].encode()
    if spec.startswith("file="):
        try:
            with open(spec[5:], "rb") as f:
                return f.read().rstrip(b"\r\n")
        except OSError as exc:
            raise DecryptionError(f"invalid decryption keys: reading the password file {spec[5:]}: "
                                  f"{exc.strerror}") from None
    if spec.startswith("fd="):
        try:
            return os.read(int(spec[3:]), 64).rstrip(b"\r\n")
        except (ValueError, OSError):
            raise DecryptionError(f"invalid decryption keys: {spec[3:]} is not a readable file descriptor") from None
    return spec.encode()


def _split(spec: str) -> tuple[str, Optional[bytes]]:
    """KEY[:PASSPHRASE]: a file whose own name has a colon is taken whole."""
    if os.path.exists(spec) or ":" not in spec:
        return spec, None
    path, _, pw = spec.partition(":")
    return path, _password(pw)


def load_keys(specs: list[str]) -> list[PrivateKey]:
    """The private keys of --decryption-key KEY[:PASSPHRASE] values, each checked now: RSA or EC
    keys in PEM (encrypted ones with their passphrase), DER or JWK. GPG keys, certificates
    (pkcs7) and PKCS#11 key files are refused in one line."""
    keys = []
    for spec in specs:
        if spec.startswith("provider:"):
            raise DecryptionError(f"invalid decryption keys: {spec}: ocicrypt key providers are not available")
        path, password = _split(spec)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise DecryptionError(f"unable to obtain decrypt config: invalid decryption keys: Unable to read "
                                  f"file: open {path}: {(exc.strerror or str(exc)).lower()}") from None
        keys.append(PrivateKey(path, _parse_key(path, data, password)))
    return keys


def _parse_key(path: str, data: bytes, password: Optional[bytes]) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    other = _other_kind(data)
    if other:
        raise DecryptionError(f"invalid decryption keys: {path} is {other}; podpy decrypts layers with "
                              "JWE keys only (RSA or EC private keys in PEM, DER or JWK form)")
    key: Any = None
    if b"-----BEGIN" in data:
        encrypted = b"ENCRYPTED" in data.split(b"-----END", 1)[0]
        if encrypted and password is None:
            raise DecryptionError(f"invalid decryption keys: {path}: missing password for encrypted private key "
                                  "(give it as KEY:PASSPHRASE)")
        try:
            key = serialization.load_pem_private_key(data, password if encrypted else None)
        except (ValueError, TypeError):
            if encrypted:
                raise DecryptionError(f"invalid decryption keys: {path}: wrong password: could not decrypt "
                                      "private key") from None
            key = None
    elif data.lstrip().startswith(b"{"):
        key = _jwk_private_key(path, data)
    else:
        try:
            key = serialization.load_der_private_key(data, password)
        except (ValueError, TypeError):
            key = None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise DecryptionError(f"invalid decryption keys: {path} is not an RSA or EC private key "
                              "(PEM, DER or JWK)")
    return key


def _other_kind(data: bytes) -> str:
    """What key file of another of ocicrypt's schemes data is ("" when none)."""
    if b"-----BEGIN PGP PRIVATE KEY BLOCK-----" in data or (data[:1] and data[0] in (0x94, 0x95, 0x96, 0x97, 0xC5)):
        return "a GPG private key (pgp)"
    if b"-----BEGIN CERTIFICATE-----" in data:
        return "an X.509 certificate (pkcs7)"
    if b"pkcs11:" in data and b"-----BEGIN" not in data:
        return "a PKCS#11 key file (pkcs11)"
    return ""


def _b64url(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("not a base64url string")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _jwk_private_key(path: str, data: bytes) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    try:
        jwk = json.loads(data)
        if jwk.get("kty") == "RSA":
            n, e, d, p, q, dp, dq, qi = (int.from_bytes(_b64url(jwk[k]), "big")
                                         for k in ("n", "e", "d", "p", "q", "dp", "dq", "qi"))
            return rsa.RSAPrivateNumbers(p, q, d, dp, dq, qi, rsa.RSAPublicNumbers(e, n)).private_key()
        if jwk.get("kty") == "EC":
            curve = _curve(jwk.get("crv"))
            x, y, d = (int.from_bytes(_b64url(jwk[k]), "big") for k in ("x", "y", "d"))
            return ec.EllipticCurvePrivateNumbers(d, ec.EllipticCurvePublicNumbers(x, y, curve)).private_key()
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    raise DecryptionError(f"invalid decryption keys: {path} is not an RSA or EC private key (PEM, DER or JWK)")


def _curve(name: Any) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    curves = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}
    if name not in curves:
        raise ValueError(f"unsupported curve {name!r}")
    return curves[name]()


# -- unwrapping --------------------------------------------------------------------------

def unwrap(digest: str, annotations: Optional[dict[str, str]], keys: list[PrivateKey]) -> LayerKey:
    """The private options of the encrypted layer digest, unwrapped with one of keys: a
    DecryptionError in podman's words when none is given or none fits."""
    notes = annotations or {}
    label = f"decrypting layer {digest}"
    wrapped = notes.get(JWE_ANNOTATION, "")
    others = sorted(kind for note, kind in _OTHER_WRAPPERS.items() if notes.get(note))
    if not keys:
        raise DecryptionError(f"{label}: {MISSING_KEY}")
    if not wrapped:
        what = f" (the layer's key is wrapped for {', '.join(others)}, which podpy does not have)" if others else ""
        raise DecryptionError(f"{label}: {NO_KEY_FITS}{what}")
    plain = None
    for entry in wrapped.split(","):
        try:
            jwe = json.loads(base64.b64decode(entry, validate=True))
        except ValueError:
            raise DecryptionError(f"{label}: the layer's {JWE_ANNOTATION} annotation is not base64 of JSON") from None
        for key in keys:
            plain = _jwe_decrypt(jwe, key.key)
            if plain is not None:
                break
        if plain is not None:
            break
    if plain is None:
        raise DecryptionError(f"{label}: {NO_KEY_FITS}")
    return _layer_key(label, plain, notes.get(PUBOPTS_ANNOTATION, ""))


def _layer_key(label: str, plain: bytes, pubopts: str) -> LayerKey:
    try:
        priv = json.loads(plain)
        pub = json.loads(base64.b64decode(pubopts, validate=True)) if pubopts else {}
        symkey = base64.b64decode(priv["symkey"])
        nonce = base64.b64decode((priv.get("cipheroptions") or {})["nonce"])
        mac = base64.b64decode(pub.get("hmac") or "")
        digest = str(priv.get("digest") or "")
        cipher = pub.get("cipher") or CIPHER
    except (ValueError, KeyError, TypeError, AttributeError):
        raise DecryptionError(f"{label}: the layer's encryption options are malformed") from None
    if cipher != CIPHER:
        raise DecryptionError(f"{label}: unsupported cipher {cipher!r} (podpy has {CIPHER})")
    if len(symkey) != 32 or len(nonce) != 16 or not mac:
        raise DecryptionError(f"{label}: the layer's encryption options are malformed")
    if not digest.startswith("sha256:"):
        raise DecryptionError(f"{label}: the layer's plain digest {digest!r} is not a sha256 digest")
    return LayerKey(symkey, nonce, mac, digest)


_KW_BITS = {"ECDH-ES+A128KW": 128, "ECDH-ES+A192KW": 192, "ECDH-ES+A256KW": 256}
_GCM_BITS = {"A128GCM": 128, "A192GCM": 192, "A256GCM": 256}


def _jwe_decrypt(jwe: Any, key: Any) -> Optional[bytes]:
    """The plaintext of a JWE in JSON serialization (general or flattened) for one of its
    recipients that key opens; None when it opens none."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.keywrap import InvalidUnwrap

    if not isinstance(jwe, dict):
        return None
    try:
        protected_b64 = str(jwe.get("protected") or "")
        shared = {**(json.loads(_b64url(protected_b64)) if protected_b64 else {}), **(jwe.get("unprotected") or {})}
        recipients = jwe.get("recipients") or [{"header": jwe.get("header") or {},
                                                 "encrypted_key": jwe.get("encrypted_key", "")}]
        iv, ciphertext, tag = (_b64url(jwe[k]) for k in ("iv", "ciphertext", "tag"))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    aad = protected_b64.encode() + (b"." + str(jwe["aad"]).encode() if jwe.get("aad") else b"")
    for recipient in recipients:
        header = {**shared, **(recipient.get("header") or {})}
        enc = header.get("enc")
        if enc not in _GCM_BITS:
            continue
        try:
            cek = _content_key(header, _b64url(recipient.get("encrypted_key") or ""), key, _GCM_BITS[enc])
        except (ValueError, TypeError, KeyError, AttributeError, InvalidTag, InvalidUnwrap):
            cek = None   # not this recipient's key
        if cek is None or len(cek) * 8 != _GCM_BITS[enc]:
            continue
        try:
            plain = AESGCM(cek).decrypt(iv, ciphertext + tag, aad)
        except (InvalidTag, ValueError):
            continue
        if header.get("zip") == "DEF":
            import zlib

            plain = zlib.decompress(plain, -15)
        return plain
    return None


def _content_key(header: dict[str, Any], encrypted_key: bytes, key: Any, enc_bits: int) -> Optional[bytes]:
    """The JWE's content key for one recipient's header, unwrapped with key (None: not this key's kind)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    alg = header.get("alg")
    if isinstance(key, rsa.RSAPrivateKey) and alg in ("RSA-OAEP", "RSA-OAEP-256"):
        h = hashes.SHA1() if alg == "RSA-OAEP" else hashes.SHA256()
        result: bytes = key.decrypt(encrypted_key, padding.OAEP(padding.MGF1(h), h, None))
        return result
    if isinstance(key, ec.EllipticCurvePrivateKey) and (alg in _KW_BITS or alg == "ECDH-ES"):
        from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
        from cryptography.hazmat.primitives.keywrap import aes_key_unwrap

        epk = header["epk"]
        curve = _curve(epk.get("crv"))
        if curve.name != key.curve.name:
            return None
        peer = ec.EllipticCurvePublicNumbers(int.from_bytes(_b64url(epk["x"]), "big"),
                                             int.from_bytes(_b64url(epk["y"]), "big"), curve).public_key()
        shared = key.exchange(ec.ECDH(), peer)
        direct = alg == "ECDH-ES"
        bits = enc_bits if direct else _KW_BITS[alg]
        algorithm_id = (header["enc"] if direct else alg).encode()
        apu = _b64url(header["apu"]) if header.get("apu") else b""
        apv = _b64url(header["apv"]) if header.get("apv") else b""

        def field(b: bytes) -> bytes:
            return len(b).to_bytes(4, "big") + b

        other = field(algorithm_id) + field(apu) + field(apv) + bits.to_bytes(4, "big")
        derived = ConcatKDFHash(hashes.SHA256(), bits // 8, other).derive(shared)
        return derived if direct else aes_key_unwrap(derived, encrypted_key)
    return None


# -- the stream ----------------------------------------------------------------------------

class DecryptingReader:
    """A reader of the plain layer blob from the encrypted one: AES-256-CTR as it streams; at
    the end, the HMAC of the ciphertext and the plain digest are checked before b"" is returned."""

    def __init__(self, source: BinaryIO, key: LayerKey, label: str = "") -> None:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        self._source, self._key, self._label = source, key, label or f"layer {key.digest}"
        self._cipher = Cipher(algorithms.AES(key.symkey), modes.CTR(key.nonce)).decryptor()
        self._mac = hmac.new(key.symkey, digestmod=hashlib.sha256)
        self._plain = hashlib.sha256()
        self._done = False
        self.closed = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._done:
            return b""
        data = self._source.read(size if size and size > 0 else 1 << 20)
        if not data:
            self._finish()
            return b""
        self._mac.update(data)
        plain = self._cipher.update(data)
        self._plain.update(plain)
        return plain

    def readinto(self, buf: Any) -> int:
        data = self.read(len(buf))
        buf[:len(data)] = data
        return len(data)

    def _finish(self) -> None:
        self._cipher.finalize()
        if not hmac.compare_digest(self._mac.digest(), self._key.hmac):
            raise DecryptionError(f"decrypting {self._label}: could not properly decrypt byte stream: "
                                  "the HMAC does not match")
        got = "sha256:" + self._plain.hexdigest()
        if got != self._key.digest:
            raise DecryptionError(f"decrypting {self._label}: the plain layer is {got}, its encryption "
                                  f"options say {self._key.digest}")
        self._done = True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._source.close()

    def __enter__(self) -> DecryptingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
