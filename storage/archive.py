"""Apply an image layer (a possibly compressed tar stream) to a directory, safely."""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from typing import BinaryIO, Self

from storage.inroot import Root, show
from storage._writer import ApplyOptions, LayerWriter, os_error
from storage.compression import CHUNK, DigestReader, detect, open_decompressed
from storage.errors import LayerError, UnsafeEntryError

__all__ = [
    "ApplyOptions",
    "ApplyResult",
    "LayerError",
    "UnsafeEntryError",
    "apply_layer",
    "detect",
    "open_decompressed",
]


@dataclass(frozen=True)
class ApplyResult:
    """What applying a layer found out about it."""

    diff_id: str  # sha256 of the uncompressed tar stream, read to its very end
    compressed_digest: str  # sha256 of the bytes as read (== diff_id when uncompressed)
    size: int  # bytes of regular file content written
    compression: str  # "gzip" | "zstd" | "bzip2" | "xz" | "none"


# tarfile's stream reader keeps what it read ahead in one bytes object and
# slices the rest off after every read, so each 512-byte header costs a copy of
# the whole read-ahead: 64 KiB instead of CHUNK cut the time to read the
# entries of a 6,700-entry, 120 MB layer from 1.29 s to 0.80 s (the stream
# below it is buffered CHUNK-wise anyway).
_TAR_BUFSIZE = 1 << 16


def _header_error(name: str) -> type[BaseException]:
    # Not in the typing stubs, but part of tarfile since Python 3.2.
    cls: type[BaseException] = getattr(tarfile, name)
    return cls


# The two ways a tar stream may legitimately end: a zero block, or a clean end
# of data between members (Go's archive/tar, which built most images, accepts
# both).  tarfile also ends quietly on a garbage or truncated header, which
# would apply half a layer; _StrictTarInfo turns those into errors.
_CLEAN_END = (_header_error("EOFHeaderError"), _header_error("EmptyHeaderError"))


class _StrictTarInfo(tarfile.TarInfo):
    """TarInfo whose header parsing refuses a corrupt header after the first member."""

    @classmethod
    def fromtarfile(cls, tar: tarfile.TarFile) -> Self:
        try:
            return super().fromtarfile(tar)
        except _CLEAN_END:
            raise
        except tarfile.HeaderError as e:
            raise tarfile.ReadError(f"invalid tar header: {e}") from None


def _members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    # TarFile.members is documented only through getmembers(), which would
    # read the whole stream; the attribute itself is the list next() appends to.
    members: list[tarfile.TarInfo] = getattr(tar, "members")
    return members


def _next(tar: tarfile.TarFile) -> tarfile.TarInfo | None:
    try:
        return tar.next()
    except tarfile.TarError as e:
        raise LayerError(f"layer is not a valid tar stream: {e}") from e


def _extract(tar_source: BinaryIO, writer: LayerWriter) -> None:
    try:
        tar = tarfile.open(
            fileobj=tar_source,
            mode="r|",
            bufsize=_TAR_BUFSIZE,
            encoding="utf-8",
            errors="surrogateescape",
            tarinfo=_StrictTarInfo,
        )
    except tarfile.TarError as e:
        raise LayerError(f"layer is not a valid tar stream: {e}") from e
    try:
        while (member := _next(tar)) is not None:
            # tarfile remembers every member; forget them so memory stays
            # flat however many entries the layer has.
            _members(tar).clear()
            try:
                writer.add(tar, member)
            except LayerError:
                raise
            except tarfile.TarError as e:
                raise LayerError(f'layer entry "{show(member.name)}": corrupt tar data: {e}') from e
            except OSError as e:
                raise os_error(member.name, e) from e
        try:
            writer.finish()
        except OSError as e:
            raise LayerError(f"setting directory metadata: {e}") from e
    finally:
        tar.close()


def apply_layer(stream: BinaryIO, dest: str, options: ApplyOptions, split_path: str | None = None
                ) -> ApplyResult:
    """Extract the layer read from stream into the existing directory dest.

    Every entry is created by hand under dest as if dest were "/" (see the
    module inroot); nothing is ever written outside dest.  Raises LayerError
    (UnsafeEntryError for entries that cannot be placed safely); on error dest
    is left half-written for the caller to discard. With split_path, the tar's
    tar-split record is written there (see the module tarsplit), if it can be followed.
    """
    # A registry blob reader already hashes what it hands out (to check the
    # blob's digest at its end); hashing the same bytes again costs as much.
    fresh = isinstance(stream, DigestReader) and stream.count == 0
    raw = stream if fresh else DigestReader(stream)
    seen: list[bytes] = []
    if split_path is not None:
        raw.observe = seen.append   # what the sniffing reads, in case it is the tar itself
    decompressed, compression = open_decompressed(io.BufferedReader(raw, CHUNK))
    # Uncompressed: both digests are of the same bytes, so hash them once.
    tar_bytes = DigestReader(decompressed) if compression != "none" else None
    tar_source: BinaryIO = io.BufferedReader(tar_bytes, CHUNK) if tar_bytes is not None else decompressed
    recorder = None
    if split_path is not None:
        from .tarsplit import Recorder

        recorder = Recorder(split_path)
        if tar_bytes is not None:
            raw.observe = None
            tar_bytes.observe = recorder.feed
        else:
            for chunk in seen:
                recorder.feed(chunk)
            raw.observe = recorder.feed
        seen.clear()

    try:
        with Root(dest) as root:
            writer = LayerWriter(root, options)
            try:
                _extract(tar_source, writer)
            finally:
                writer.close()

        # Read to the very end: the zero blocks after the last member, and any
        # padding, are part of what the digests cover.
        if tar_bytes is not None:
            tar_bytes.drain()
        raw.drain()
        if recorder is not None:
            recorder.finish()
    except BaseException:
        if recorder is not None:
            recorder.abandon()
        raise
    diff_id = tar_bytes.digest() if tar_bytes is not None else raw.digest()
    return ApplyResult(
        diff_id=diff_id,
        compressed_digest=raw.digest(),
        size=writer.size,
        compression=compression,
    )
