"""Tests for storage.compression and the digests/streaming of storage.archive.apply_layer."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import struct
import tarfile
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import zstandard

from storage.archive import ApplyOptions, apply_layer
from storage.compression import DigestReader, detect, open_decompressed
from storage.errors import LayerError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

MiB = 1 << 20


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.uid, ti.gid = os.getuid(), os.getgid()
            tar.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def member_end(tar_bytes: bytes) -> int:
    """Offset just past the first member's (padded) data."""
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        first = tar.next()
        assert first is not None
        return first.offset_data + -(-first.size // 512) * 512


FILES = {"a": b"alpha" * 1000, "dir/b": os.urandom(70_000), "c": b""}
TAR = make_tar(FILES)


def skippable(payload: bytes) -> bytes:
    return struct.pack("<II", 0x184D2A5B, len(payload)) + payload


def zstd_frames(data: bytes, *, parts: int = 3) -> bytes:
    """Several frames with skippable frames around them, like zstd:chunked."""
    cctx = zstandard.ZstdCompressor(write_checksum=True)
    step = len(data) // parts + 1
    out = [skippable(b"lead")]
    for i in range(0, len(data), step):
        out.append(cctx.compress(data[i : i + step]))
        out.append(skippable(b"manifest-ish"))
    return b"".join(out)


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "none": lambda d: d,
    "gzip": gzip.compress,
    "zstd": lambda d: zstandard.ZstdCompressor().compress(d),
    "bzip2": bz2.compress,
    "xz": lzma.compress,
}


class Trickle(io.RawIOBase):
    """A pipe-like stream handing out at most n bytes per read."""

    def __init__(self, data: bytes, n: int = 1) -> None:
        self._data = memoryview(data)
        self._n = n

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        take = min(len(view), self._n, len(self._data))
        view[:take] = self._data[:take]
        self._data = self._data[take:]
        return take


def apply(dest: Path, data: bytes | io.RawIOBase) -> tuple[str, str, int, str]:
    dest.mkdir(parents=True, exist_ok=True)
    stream = io.BytesIO(data) if isinstance(data, bytes) else io.BufferedReader(data)
    r = apply_layer(stream, str(dest), ApplyOptions(whiteout_format="overlay"))
    return r.diff_id, r.compressed_digest, r.size, r.compression


def check_tree(dest: Path) -> None:
    for name, data in FILES.items():
        assert (dest / name).read_bytes() == data


# -- detection -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "name"),
    [
        (b"\x1f\x8b\x08\x00\x00\x00", "gzip"),
        (b"\x28\xb5\x2f\xfd\x00\x00", "zstd"),
        (b"\x50\x2a\x4d\x18\x00\x00", "zstd"),
        (b"\x5f\x2a\x4d\x18\x00\x00", "zstd"),
        (b"BZh91AY", "bzip2"),
        (b"BZh0xx", "none"),
        (b"\xfd7zXZ\x00", "xz"),
        (b"\xfd7zXZ", "none"),
        (b"./\x00\x00\x00\x00", "none"),
        (b"", "none"),
    ],
)
def test_detect(head: bytes, name: str) -> None:
    assert detect(head) == name


@pytest.mark.parametrize("name", sorted(COMPRESSORS))
def test_open_decompressed_peeks_without_losing_bytes(name: str) -> None:
    reader, found = open_decompressed(io.BufferedReader(Trickle(COMPRESSORS[name](TAR), 1)))
    assert found == name
    assert reader.read() == TAR


# -- digests per compression ------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(COMPRESSORS))
def test_apply_each_compression(tmp_path: Path, name: str) -> None:
    blob = COMPRESSORS[name](TAR)
    diff_id, digest, size, compression = apply(tmp_path / "r", Trickle(blob, 777))
    assert compression == name
    assert diff_id == sha(TAR)
    assert digest == sha(blob)
    assert size == sum(len(d) for d in FILES.values())
    check_tree(tmp_path / "r")


@pytest.mark.parametrize("name", ["none", "gzip", "zstd"])
def test_digest_of_a_hashing_source_is_reused_only_when_it_read_nothing_yet(tmp_path: Path, name: str) -> None:
    blob = COMPRESSORS[name](TAR)
    fresh = DigestReader(io.BytesIO(blob))
    (tmp_path / "first").mkdir()
    r = apply_layer(fresh, str(tmp_path / "first"), ApplyOptions(whiteout_format="overlay"))
    assert (r.diff_id, r.compressed_digest) == (sha(TAR), sha(blob))
    assert fresh.digest() == sha(blob)  # the source's own hash saw every byte once
    # A source that already handed out bytes hashes more than the layer: not reused.
    used = DigestReader(io.BytesIO(b"junk" + blob))
    assert used.read(4) == b"junk"
    (tmp_path / "again").mkdir()
    r = apply_layer(used, str(tmp_path / "again"), ApplyOptions(whiteout_format="overlay"))
    assert (r.diff_id, r.compressed_digest) == (sha(TAR), sha(blob))


def test_diff_id_covers_trailing_zero_blocks(tmp_path: Path) -> None:
    padded = TAR + bytes(512 * 37)
    for name in ("none", "gzip"):
        blob = COMPRESSORS[name](padded)
        diff_id, digest, _, _ = apply(tmp_path / name, blob)
        assert diff_id == sha(padded)
        assert digest == sha(blob)


def test_tar_without_end_blocks_is_accepted(tmp_path: Path) -> None:
    # Go's archive/tar accepts a clean end of data between members; so do we.
    one = make_tar({"x": b"12"})
    cut = member_end(one)
    assert one[cut:].count(0) == len(one) - cut
    diff_id, _, _, _ = apply(tmp_path / "r", one[:cut])
    assert diff_id == sha(one[:cut])
    assert (tmp_path / "r" / "x").read_bytes() == b"12"


def test_multi_member_gzip_with_padding(tmp_path: Path) -> None:
    third = len(TAR) // 3
    blob = gzip.compress(TAR[:third]) + b"\x00" * 8 + gzip.compress(TAR[third : 2 * third]) + gzip.compress(TAR[2 * third :])
    blob += b"\x00" * 16
    diff_id, digest, _, compression = apply(tmp_path / "r", blob)
    assert (compression, diff_id, digest) == ("gzip", sha(TAR), sha(blob))
    check_tree(tmp_path / "r")


def test_multi_frame_zstd_with_skippable_frames(tmp_path: Path) -> None:
    blob = zstd_frames(TAR)
    diff_id, digest, _, compression = apply(tmp_path / "r", blob)
    assert (compression, diff_id, digest) == ("zstd", sha(TAR), sha(blob))
    check_tree(tmp_path / "r")


def test_multi_stream_bzip2_and_xz(tmp_path: Path) -> None:
    half = len(TAR) // 2
    for name, fn in (("bzip2", bz2.compress), ("xz", lzma.compress)):
        blob = fn(TAR[:half]) + fn(TAR[half:])
        diff_id, digest, _, compression = apply(tmp_path / name, blob)
        assert (compression, diff_id, digest) == (name, sha(TAR), sha(blob))


# -- broken streams ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["gzip", "zstd", "bzip2", "xz"])
@pytest.mark.parametrize("cut", [1, 9, 200])
def test_truncated_compressed_stream(tmp_path: Path, name: str, cut: int) -> None:
    blob = COMPRESSORS[name](TAR)
    with pytest.raises(LayerError, match="truncated|corrupt|tar"):
        apply(tmp_path / "r", blob[:-cut])


def test_truncated_zstd_chunked_stream(tmp_path: Path) -> None:
    blob = zstd_frames(TAR)
    for cut in (3, 21, 30, 500):  # 20 would drop exactly the last skippable frame
        with pytest.raises(LayerError):
            apply(tmp_path / f"r{cut}", blob[:-cut])


@pytest.mark.parametrize("name", ["gzip", "zstd", "bzip2", "xz"])
def test_corrupt_compressed_stream(tmp_path: Path, name: str) -> None:
    # zstd frames only carry a checksum when asked (images' usually do).
    compress = COMPRESSORS[name] if name != "zstd" else zstandard.ZstdCompressor(write_checksum=True).compress
    blob = bytearray(compress(TAR))
    blob[len(blob) // 2] ^= 0xFF
    blob[len(blob) // 2 + 1] ^= 0x55
    with pytest.raises(LayerError):
        apply(tmp_path / "r", bytes(blob))


@pytest.mark.parametrize("name", ["gzip", "zstd", "bzip2"])
def test_trailing_garbage_after_compressed_data(tmp_path: Path, name: str) -> None:
    with pytest.raises(LayerError, match="corrupt"):
        apply(tmp_path / "r", COMPRESSORS[name](TAR) + b"garbage!")


def test_truncated_tar_inside_member(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="unexpected end|truncated|corrupt"):
        apply(tmp_path / "r", TAR[: 512 * 5 + 100])


def test_garbage_header_after_first_member(tmp_path: Path) -> None:
    one = make_tar({"x": b"12"})
    bad = one[: member_end(one)] + b"\xff" * 512 + bytes(1024)
    with pytest.raises(LayerError, match="invalid tar header"):
        apply(tmp_path / "r", bad)


@pytest.mark.parametrize("blob", [b"", b"hello, not a tar at all" * 40, gzip.compress(b"")])
def test_not_a_tar(tmp_path: Path, blob: bytes) -> None:
    with pytest.raises(LayerError):
        apply(tmp_path / "r", blob)


def test_gzip_bomb_is_decompressed_with_bounded_output() -> None:
    # 64 MiB of zeros compress to ~64 KiB; reading must hand it out in small pieces.
    blob = gzip.compress(bytes(64 * MiB), compresslevel=9)
    reader, _ = open_decompressed(io.BytesIO(blob))
    tracemalloc.start()
    try:
        total = 0
        while chunk := reader.read(MiB):
            total += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == 64 * MiB
    assert peak < 8 * MiB, peak


# -- a large layer with flat memory -------------------------------------------------------


class Generated(io.RawIOBase):
    """A read-only stream over the bytes a generator yields, built on demand."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._current = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        while not self._current:
            nxt = next(self._chunks, None)
            if nxt is None:
                return 0
            self._current = memoryview(nxt)
        take = min(len(view), len(self._current))
        view[:take] = self._current[:take]
        self._current = self._current[take:]
        return take


def big_layer(size: int, tar_hash: hashlib._Hash, zstd: bool) -> Iterator[bytes]:
    """A one-file tar of `size` bytes: alternating data and all-zero MiB chunks."""
    zeros = bytes(MiB)
    pattern = (b"podpy" * (MiB // 5 + 1))[:MiB]

    def tar_stream() -> Iterator[bytes]:
        ti = tarfile.TarInfo("big/file")
        ti.size = size
        ti.uid, ti.gid = os.getuid(), os.getgid()
        yield ti.tobuf(tarfile.PAX_FORMAT)
        for i in range(size // MiB):
            yield pattern if i % 2 else zeros
        yield bytes(-size % 512 + 1024)

    if not zstd:
        for piece in tar_stream():
            tar_hash.update(piece)
            yield piece
        return
    cobj = zstandard.ZstdCompressor(level=1).compressobj()
    for piece in tar_stream():
        tar_hash.update(piece)
        if out := cobj.compress(piece):
            yield out
    yield cobj.flush()


@pytest.mark.parametrize("zstd", [False, True], ids=["plain", "zstd"])
def test_large_file_streams_in_constant_memory(tmp_path: Path, zstd: bool) -> None:
    size = 200 * MiB
    tar_hash = hashlib.sha256()
    dest = tmp_path / "r"
    dest.mkdir()
    source = io.BufferedReader(Generated(big_layer(size, tar_hash, zstd)), MiB)
    tracemalloc.start()
    try:
        result = apply_layer(source, str(dest), ApplyOptions(whiteout_format="overlay"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"tracemalloc peak applying a {size // MiB} MiB layer: {peak / MiB:.1f} MiB")
    assert peak < 24 * MiB, peak
    assert result.size == size
    assert result.diff_id == "sha256:" + tar_hash.hexdigest()
    assert result.compression == ("zstd" if zstd else "none")
    pattern_tail = (b"podpy" * (MiB // 5 + 1))[MiB - 5 : MiB]
    path = dest / "big" / "file"
    assert path.stat().st_size == size
    with open(path, "rb") as f:
        assert f.read(5) == bytes(5)
        f.seek(MiB + 5)
        assert f.read(5) == b"podpy"
        f.seek(size - 5)
        assert f.read(5) == pattern_tail
