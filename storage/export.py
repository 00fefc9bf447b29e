"""A layer directory back into an OCI layer tar: what push (and later save, commit) sends.

The tar is deterministic: entries in sorted order, PAX headers, numeric owners
only, so exporting the same directory twice gives the same bytes and the same
diff id. Overlay whiteouts (char 0/0 devices) become `.wh.NAME` entries and an
opaque directory gets `.wh..wh..opq`, as the OCI image spec describes. Runs in
the user namespace, where every file of the layer can be read.

A driver that keeps each layer as a full tree (vfs) exports the difference to
the parent layer's tree instead: entries added or changed (type, mode, owner,
device, link target; for non-directories also size and modification time, as
containers/storage's naive differ compares them), and a whiteout for each
entry the parent has and the layer has not.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
import zlib
from typing import Any, BinaryIO, Optional

from .errors import LayerError
from .fsutil import is_opaque

_KEEP_XATTR = ("security.capability",)


class _HashingSink(io.RawIOBase):
    """Counts and hashes the uncompressed tar, passing it on to the compressor."""

    def __init__(self, compressor: Any, out: BinaryIO) -> None:
        self.diff = hashlib.sha256()
        self.compressor = compressor
        self.out = out

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        b = bytes(data)
        self.diff.update(b)
        chunk = self.compressor.compress(b)
        if chunk:
            self.out.write(chunk)
        return len(b)


class _DigestFile:
    """The compressed output: written to a file, hashed and counted on the way."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.f.write(data)


def _compressor(compression: str) -> Any:
    if compression == "gzip":
        # wbits 31: a gzip member with mtime 0, so the bytes are reproducible.
        return zlib.compressobj(6, zlib.DEFLATED, 31)
    if compression == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=3).compressobj()
    if compression == "none":
        class _Identity:
            def compress(self, b: bytes) -> bytes:
                return b

            def flush(self) -> bytes:
                return b""
        return _Identity()
    raise LayerError(f"unknown compression {compression!r}: use gzip, zstd or none")


def export_to_file(layer_dir: str, path: str, compression: str = "gzip",
                   parent_dir: Optional[str] = None, tar_split: Optional[str] = None,
                   diff_id: Optional[str] = None) -> tuple[str, str, int]:
    """Write the layer as a compressed tar to path; returns (diff id, compressed digest, size).
    With parent_dir (full-tree layers), only the difference to that tree is written. With a
    tar-split record of the layer's original tar (and its diff id), that very tar is written
    again when it can be; otherwise the layer's tar is made anew."""
    if tar_split is not None and diff_id is not None and os.path.exists(tar_split):
        from .tarsplit import replay

        done = _compressed(path, compression, lambda sink: replay(tar_split, layer_dir, sink.write))
        if done is not None and done[0] == diff_id:
            return done

    def make(sink: _HashingSink) -> str:
        with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tf:  # type: ignore[arg-type]
            write_tar(layer_dir, tf, parent_dir)
        return ""

    made = _compressed(path, compression, make)
    assert made is not None
    return made


def _compressed(path: str, compression: str, produce: Any) -> Optional[tuple[str, str, int]]:
    """Run produce(sink) to write a tar into a compressed file at path; (diff id, compressed
    digest, size), or None when produce returns None (gave up)."""
    with open(path, "wb") as f:
        out = _DigestFile(f)  # type: ignore[arg-type]
        comp = _compressor(compression)
        sink = _HashingSink(comp, out)  # type: ignore[arg-type]
        if produce(sink) is None:
            return None
        tail = comp.flush()
        if tail:
            out.write(tail)
        f.flush()
        os.fsync(f.fileno())
    return "sha256:" + sink.diff.hexdigest(), "sha256:" + out.sha.hexdigest(), out.size


class _Counter(io.RawIOBase):
    """Hashes the tar stream and drops it."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.sha.update(data)
        return len(data)


def layer_digest(layer_dir: str, parent_dir: Optional[str] = None) -> tuple[str, int]:
    """(diff id, bytes of file content) of the tar export_to_file would write for the layer,
    without writing it: a layer made in place (a build step) gets the id its push will have."""
    sink = _Counter()
    size = 0
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tf:  # type: ignore[arg-type]
        add = tf.addfile

        def counting(info: tarfile.TarInfo, data: Optional[BinaryIO] = None) -> None:
            nonlocal size
            if info.isreg():
                size += info.size
            add(info, data)

        tf.addfile = counting  # type: ignore[method-assign]
        write_tar(layer_dir, tf, parent_dir)
    return "sha256:" + sink.sha.hexdigest(), size


def write_tar(root: str, tf: tarfile.TarFile, parent: Optional[str] = None) -> None:
    """Every entry below root, sorted, with overlay whiteouts translated; with parent, only
    what differs from the tree at parent (see the module's docstring)."""
    links: dict[tuple[int, int], str] = {}

    def walk(rel: str, compare: bool) -> None:
        full = os.path.join(root, rel) if rel else root
        with os.scandir(full) as it:
            names = sorted(e.name for e in it)
        before: dict[str, os.stat_result] = {}
        if compare:
            assert parent is not None
            pfull = os.path.join(parent, rel) if rel else parent
            with os.scandir(pfull) as it:
                before = {e.name: e.stat(follow_symlinks=False) for e in it}
            present = set(names)
            dir_st = os.lstat(full)
            for gone in sorted(n for n in before if n not in present):
                _add(tf, _info(f"{rel + '/' if rel else ''}.wh.{gone}", dir_st, tarfile.REGTYPE, size=0))
        for name in names:
            entry_rel = f"{rel}/{name}" if rel else name
            path = os.path.join(full, name)
            st = os.lstat(path)
            old = before.get(name)
            if old is not None and not _differs(st, old, path, os.path.join(parent or "", entry_rel)):
                if stat.S_ISDIR(st.st_mode):
                    walk(entry_rel, True)
                continue
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                _add(tf, _info(f"{rel + '/' if rel else ''}.wh.{name}", st, tarfile.REGTYPE, size=0))
                continue
            if stat.S_ISDIR(st.st_mode):
                _add(tf, _info(entry_rel, st, tarfile.DIRTYPE), xattrs=_xattrs(path))
                if is_opaque(path):
                    _add(tf, _info(f"{entry_rel}/.wh..wh..opq", st, tarfile.REGTYPE, size=0))
                walk(entry_rel, old is not None and stat.S_ISDIR(old.st_mode))
            elif stat.S_ISLNK(st.st_mode):
                info = _info(entry_rel, st, tarfile.SYMTYPE)
                info.linkname = os.readlink(path)
                _add(tf, info)
            elif stat.S_ISREG(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in links:
                    info = _info(entry_rel, st, tarfile.LNKTYPE)
                    info.linkname = links[key]
                    _add(tf, info)
                    continue
                links[key] = entry_rel
                info = _info(entry_rel, st, tarfile.REGTYPE, size=st.st_size)
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                with os.fdopen(fd, "rb") as data:
                    _add(tf, info, data, _xattrs(path))
            elif stat.S_ISFIFO(st.st_mode):
                _add(tf, _info(entry_rel, st, tarfile.FIFOTYPE))
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                kind = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
                info = _info(entry_rel, st, kind)
                info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
                _add(tf, info)
            # sockets are not part of images

    walk("", parent is not None)


def _differs(st: os.stat_result, old: os.stat_result, path: str, old_path: str) -> bool:
    """Whether an entry changed between the parent tree and this one (for a directory: itself,
    not its content)."""
    if (st.st_mode, st.st_uid, st.st_gid, st.st_rdev) != (old.st_mode, old.st_uid, old.st_gid, old.st_rdev):
        return True
    if stat.S_ISDIR(st.st_mode):
        return _xattrs(path) != _xattrs(old_path)
    if st.st_size != old.st_size or st.st_mtime_ns != old.st_mtime_ns:
        return True
    if stat.S_ISLNK(st.st_mode):
        return os.readlink(path) != os.readlink(old_path)
    return _xattrs(path) != _xattrs(old_path)


def _info(name: str, st: os.stat_result, kind: bytes, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.uname = info.gname = ""
    info.mtime = int(st.st_mtime)
    info.size = size
    return info


def _add(tf: tarfile.TarFile, info: tarfile.TarInfo, data: Optional[BinaryIO] = None,
         xattrs: Optional[dict[str, str]] = None) -> None:
    if xattrs:
        info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in sorted(xattrs.items())}
    tf.addfile(info, data)


def _xattrs(path: str) -> dict[str, str]:
    """xattrs an image may carry: capabilities and user.* (never overlay's own)."""
    out: dict[str, str] = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return out
    for name in names:
        if name in _KEEP_XATTR or (name.startswith("user.") and not name.startswith(("user.overlay.",
                                                                                      "user.fuseoverlayfs."))):
            try:
                # tarfile writes surrogate-escaped text back as the original bytes (hdrcharset=BINARY).
                out[name] = os.getxattr(path, name, follow_symlinks=False).decode("utf-8", "surrogateescape")
            except OSError:
                continue
    return out
