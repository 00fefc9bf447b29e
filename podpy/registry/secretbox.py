"""NaCl's secretbox (XSalsa20-Poly1305) in pure Python: what seals a sigstore private key file.

Why not PyNaCl: it would be a second compiled dependency in the zipapp (beside `cryptography`)
for one use, opening a few hundred bytes of key once per signing command. Here that costs
well under a millisecond; the code follows the NaCl definitions (Salsa20/20, HSalsa20 for the
extended nonce, Poly1305 keyed by the stream's first 32 bytes) and is checked against
libsodium's output in the unit tests. The sealed form is NaCl's: 16-byte tag, then ciphertext.
"""

from __future__ import annotations

import hmac
import struct

KEY_SIZE = 32
NONCE_SIZE = 24
TAG_SIZE = 16
_SIGMA = struct.unpack("<4I", b"expand 32-byte k")
_MASK = 0xFFFFFFFF


class SecretBoxError(Exception):
    """The box was not sealed with this key and nonce (or was changed since)."""


def _rounds(x: list[int]) -> list[int]:
    def rotl(v: int, n: int) -> int:
        return ((v << n) | (v >> (32 - n))) & _MASK

    x = list(x)
    for _ in range(10):   # 20 rounds: a column round and a row round each time
        for a, b, c, d in ((0, 4, 8, 12), (5, 9, 13, 1), (10, 14, 2, 6), (15, 3, 7, 11),
                           (0, 1, 2, 3), (5, 6, 7, 4), (10, 11, 8, 9), (15, 12, 13, 14)):
            x[b] ^= rotl((x[a] + x[d]) & _MASK, 7)
            x[c] ^= rotl((x[b] + x[a]) & _MASK, 9)
            x[d] ^= rotl((x[c] + x[b]) & _MASK, 13)
            x[a] ^= rotl((x[d] + x[c]) & _MASK, 18)
    return x


def _state(key: bytes, nonce16: bytes) -> list[int]:
    k = struct.unpack("<8I", key)
    n = struct.unpack("<4I", nonce16)
    return [_SIGMA[0], k[0], k[1], k[2], k[3], _SIGMA[1], n[0], n[1], n[2], n[3],
            _SIGMA[2], k[4], k[5], k[6], k[7], _SIGMA[3]]


def hsalsa20(key: bytes, nonce16: bytes) -> bytes:
    """The subkey XSalsa20 derives from a key and the first 16 bytes of its nonce."""
    x = _rounds(_state(key, nonce16))
    return struct.pack("<8I", *(x[i] for i in (0, 5, 10, 15, 6, 7, 8, 9)))


def salsa20_stream(key: bytes, nonce8: bytes, length: int) -> bytes:
    """length bytes of the Salsa20/20 key stream for key and an 8-byte nonce, from block 0."""
    out = bytearray()
    counter = 0
    while len(out) < length:
        start = _state(key, nonce8 + struct.pack("<Q", counter))
        mixed = _rounds(start)
        out += struct.pack("<16I", *((a + b) & _MASK for a, b in zip(mixed, start)))
        counter += 1
    return bytes(out[:length])


def poly1305(key: bytes, message: bytes) -> bytes:
    """The Poly1305 tag of message under a one-time 32-byte key."""
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    s = int.from_bytes(key[16:32], "little")
    p = (1 << 130) - 5
    acc = 0
    for i in range(0, len(message), 16):
        block = message[i:i + 16] + b"\x01"
        acc = (acc + int.from_bytes(block, "little")) * r % p
    return ((acc + s) & ((1 << 128) - 1)).to_bytes(16, "little")


def _xor(data: bytes, stream: bytes) -> bytes:
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(len(data), "little")


def _check(key: bytes, nonce: bytes) -> None:
    if len(key) != KEY_SIZE:
        raise ValueError(f"secretbox key must be {KEY_SIZE} bytes, not {len(key)}")
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"secretbox nonce must be {NONCE_SIZE} bytes, not {len(nonce)}")


def seal(message: bytes, nonce: bytes, key: bytes) -> bytes:
    """message encrypted and authenticated: tag || ciphertext, as NaCl's crypto_secretbox."""
    _check(key, nonce)
    stream = salsa20_stream(hsalsa20(key, nonce[:16]), nonce[16:], 32 + len(message))
    ciphertext = _xor(message, stream[32:])
    return poly1305(stream[:32], ciphertext) + ciphertext


def open_box(box: bytes, nonce: bytes, key: bytes) -> bytes:
    """The message seal() sealed; SecretBoxError when the tag does not match."""
    _check(key, nonce)
    if len(box) < TAG_SIZE:
        raise SecretBoxError("box too short")
    tag, ciphertext = box[:TAG_SIZE], box[TAG_SIZE:]
    stream = salsa20_stream(hsalsa20(key, nonce[:16]), nonce[16:], 32 + len(ciphertext))
    if not hmac.compare_digest(poly1305(stream[:32], ciphertext), tag):
        raise SecretBoxError("decryption failed")
    return _xor(ciphertext, stream[32:])
