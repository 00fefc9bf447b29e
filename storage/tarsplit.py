"""Tar-split: keep what a layer's tar holds besides its files' contents, so that the very
same tar (and so the same diff id, and the same image id) can be written again from the
layer's directory when the image is pushed.

While a layer is applied, `Recorder` sees the uncompressed tar stream go by and writes
down, in order, every byte that is not file data (headers, pax and GNU long-name records,
padding, the end-of-archive blocks and anything after them) and, for each file's data,
only its path and size. `replay` writes the tar back from that record and the files of the
layer's directory; the caller checks the result's digest against the layer's diff id (a
file the layer wrote twice, or any other surprise, makes it differ, and then the layer is
exported the ordinary way).

The record is a zlib stream of items: b"R" + u32 length + bytes, or b"F" + u64 size +
u16 length + path. A tar the recorder cannot follow (GNU sparse files, a broken header)
gets no record.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from typing import Any, BinaryIO, Optional

from .inroot import Root, clean_path
from .errors import UnsafeEntryError

BLOCK = 512
_FILE_TYPES = (b"0", b"\0", b"7")
_MAX_META = 1 << 20      # a pax or long-name record larger than this is not followed


class _Unfollowable(Exception):
    pass


class Recorder:
    """Fed the tar stream chunk by chunk (feed), writes the record to path (finish)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.out: Optional[BinaryIO] = open(path, "wb")
        self.z = zlib.compressobj(1)
        self.raw = bytearray()          # bytes to keep, not yet written as an item
        self.header = bytearray()       # a header block being gathered
        self.skip = 0                   # bytes of file data still to pass over
        self.keep = 0                   # bytes of a kept payload (pax, long name) still to come
        self.meta = bytearray()         # that payload, to read the next entry's name and size
        self.meta_type = b""
        self.pad = 0                    # padding after the current payload
        self.next_name: Optional[bytes] = None
        self.next_size: Optional[int] = None
        self.global_name: Optional[bytes] = None
        self.ended = False              # the end-of-archive blocks were seen: the rest is raw
        self.failed = False

    # -- writing items ---------------------------------------------------------------------

    def _emit(self, item: bytes) -> None:
        assert self.out is not None
        data = self.z.compress(item)
        if data:
            self.out.write(data)

    def _flush_raw(self) -> None:
        if self.raw:
            self._emit(b"R" + struct.pack(">I", len(self.raw)) + bytes(self.raw))
            self.raw.clear()

    # -- the stream --------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self.failed or not data:
            return
        try:
            self._feed(memoryview(data))
        except (_Unfollowable, ValueError, struct.error):
            self._fail()

    def _feed(self, data: memoryview) -> None:
        i, n = 0, len(data)
        while i < n:
            if self.ended:
                self.raw += data[i:]
                return
            if self.skip:
                take = min(self.skip, n - i)
                self.skip -= take
                i += take
                continue
            if self.keep:
                take = min(self.keep, n - i)
                chunk = data[i:i + take]
                self.raw += chunk
                if self.meta_type:
                    self.meta += chunk
                self.keep -= take
                i += take
                if not self.keep and self.meta_type:
                    self._read_meta()
                continue
            if self.pad:
                take = min(self.pad, n - i)
                self.raw += data[i:i + take]
                self.pad -= take
                i += take
                continue
            take = min(BLOCK - len(self.header), n - i)
            self.header += data[i:i + take]
            i += take
            if len(self.header) == BLOCK:
                self._header(bytes(self.header))
                self.header.clear()
            if len(self.raw) > 4 * _MAX_META:
                self._flush_raw()

    def _header(self, block: bytes) -> None:
        self.raw += block
        if block == bytes(BLOCK):
            self.ended = True     # the rest (the second zero block, padding) is kept as it is
            return
        kind = block[156:157]
        size = _number(block[124:136])
        if kind in (b"x", b"g", b"L", b"K"):
            if size > _MAX_META:
                raise _Unfollowable
            self.keep, self.meta_type, self.meta = size, kind, bytearray()
            self.pad = -size % BLOCK
            if not size:
                self._read_meta()
            return
        if kind == b"S":
            raise _Unfollowable   # GNU sparse: its data is not the file's bytes in order
        if self.next_size is not None:
            size = self.next_size
        name = self.next_name or self.global_name
        if name is None:
            name = _field(block[0:100])
            if block[257:262] == b"ustar" and block[345:500].strip(b"\0"):
                name = _field(block[345:500]) + b"/" + name
        self.next_name = self.next_size = None
        if kind in _FILE_TYPES and size:
            self._flush_raw()
            self._emit(b"F" + struct.pack(">QH", size, len(name)) + name)
            self.skip = size
        else:
            self.keep, self.meta_type = size, b""
        self.pad = -size % BLOCK

    def _read_meta(self) -> None:
        kind, data = self.meta_type, bytes(self.meta)
        self.meta_type, self.meta = b"", bytearray()
        if kind == b"L":
            self.next_name = data.split(b"\0", 1)[0]
        elif kind in (b"x", b"g"):
            records = _pax(data)
            if kind == b"g":
                if b"path" in records:
                    self.global_name = records[b"path"]
                return
            if b"path" in records:
                self.next_name = records[b"path"]
            if b"size" in records:
                self.next_size = int(records[b"size"])

    def _fail(self) -> None:
        self.failed = True
        if self.out is not None:
            self.out.close()
            self.out = None
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def finish(self) -> bool:
        """Write out the record; False (and no file) when the tar could not be followed."""
        if self.failed or self.out is None:
            return False
        if self.header or self.skip or self.keep:
            self._fail()   # the stream ended inside an entry
            return False
        self._flush_raw()
        self.out.write(self.z.flush())
        self.out.close()
        self.out = None
        return True

    def abandon(self) -> None:
        if not self.failed:
            self._fail()


def _number(field: bytes) -> int:
    """A tar numeric field: octal text, or base-256 when the first byte has its high bit."""
    if field[:1] and field[0] & 0x80:
        value = int.from_bytes(field[1:], "big")
        return value - (1 << (8 * (len(field) - 1))) if field[0] & 0x40 else value
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _field(raw: bytes) -> bytes:
    return raw.split(b"\0", 1)[0]


def _pax(data: bytes) -> dict[bytes, bytes]:
    out: dict[bytes, bytes] = {}
    i = 0
    while i < len(data):
        space = data.index(b" ", i)
        length = int(data[i:space])
        if length <= 0:
            raise _Unfollowable
        record = data[space + 1:i + length]
        key, _, value = record.partition(b"=")
        out[key] = value[:-1] if value.endswith(b"\n") else value
        i += length
    return out


# -- writing it back -------------------------------------------------------------------------


def _items(path: str) -> Any:
    """The record's items: ("R", bytes) and ("F", path, size)."""
    d = zlib.decompressobj()
    buf = bytearray()
    with open(path, "rb") as f:
        eof = False
        while True:
            while not eof and len(buf) < 1 << 16:
                chunk = f.read(1 << 16)
                if not chunk:
                    buf += d.flush()
                    eof = True
                    break
                buf += d.decompress(chunk)
            if not buf:
                return
            kind = buf[:1]
            if kind == b"R":
                (length,) = struct.unpack(">I", buf[1:5])
                while len(buf) < 5 + length and not eof:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        buf += d.flush()
                        eof = True
                    else:
                        buf += d.decompress(chunk)
                yield ("R", bytes(buf[5:5 + length]))
                del buf[:5 + length]
            elif kind == b"F":
                size, length = struct.unpack(">QH", buf[1:11])
                yield ("F", bytes(buf[11:11 + length]), size)
                del buf[:11 + length]
            else:
                raise ValueError("not a tar-split record")


def replay(record: str, layer_dir: str, write: Any) -> Optional[str]:
    """Write the layer's original tar through write(bytes); its "sha256:" digest, or None when
    a file is missing or has another size (the tar cannot be the same)."""
    with Root(layer_dir) as root:
        return _replay(record, root, write)


def _replay(record: str, root: Root, write: Any) -> Optional[str]:
    sha = hashlib.sha256()
    for item in _items(record):
        if item[0] == "R":
            sha.update(item[1])
            write(item[1])
            continue
        _, name, size = item
        try:
            # Where the layer writer put the entry, resolved the same way: inside the layer
            # (its symbolic links, even absolute ones, never lead out of it).
            text = name.decode("utf-8", "surrogateescape")
            comps = clean_path(text, text)
            if not comps:
                return None
            parent = root.lookup(comps[:-1])
            if parent is None:
                return None
            try:
                fd = os.open(comps[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent[0])
            finally:
                os.close(parent[0])
        except (OSError, UnsafeEntryError):
            return None
        try:
            if os.fstat(fd).st_size != size:
                return None
            left = size
            while left:
                chunk = os.read(fd, min(left, 1 << 20))
                if not chunk:
                    return None
                sha.update(chunk)
                write(chunk)
                left -= len(chunk)
        finally:
            os.close(fd)
    return "sha256:" + sha.hexdigest()
