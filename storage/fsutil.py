"""File-system helpers shared by the store and the drivers."""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Optional


def copy_file(src: str, dst: str) -> None:
    """Copy a regular file's data to dst, which must not exist (made 0600: the caller sets the
    metadata); by reflink or in the kernel where the file system can. Neither path is followed
    if it is a symbolic link."""
    fin = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        fout = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            size = os.fstat(fin).st_size
            done = 0
            while done < size:
                try:
                    n = os.copy_file_range(fin, fout, size - done)
                except OSError:
                    n = os.sendfile(fout, fin, None, size - done)
                if n == 0:
                    break
                done += n
        finally:
            os.close(fout)
    finally:
        os.close(fin)


def remove_tree(path: str) -> None:
    """rm -rf without following symlinks, that also empties directories whose
    mode forbids it (overlay's work/work is mode 000). What another remover takes
    meanwhile is not an error, as for rm -rf (a `run --rm`'s stage 1 may still be
    removing its container's directory under tmp/ when `system reset` removes the
    store). No shutil: this runs on the `run --rm` path, where every import counts."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    try:
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(path)
            return
        _empty(path)
        os.rmdir(path)
    except FileNotFoundError:
        pass


def _empty(path: str) -> None:
    try:
        entries = list(os.scandir(path))
    except PermissionError:
        os.chmod(path, 0o700)
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    for e in entries:
        try:
            if e.is_dir(follow_symlinks=False):
                _empty(e.path)
                try:
                    os.rmdir(e.path)
                except PermissionError:
                    os.chmod(path, 0o700)
                    os.rmdir(e.path)
            else:
                try:
                    os.unlink(e.path)
                except PermissionError:
                    os.chmod(path, 0o700)
                    os.unlink(e.path)
        except FileNotFoundError:
            pass


OPAQUE_XATTRS = ("user.overlay.opaque", "trusted.overlay.opaque")


def is_opaque(path: str) -> bool:
    """Whether an overlay layer marks this directory opaque (rootless or rootful xattr)."""
    for name in OPAQUE_XATTRS:
        try:
            if os.getxattr(path, name, follow_symlinks=False) == b"y":
                return True
        except OSError:
            continue
    return False


def atomic_tmp(path: str) -> str:
    """The temporary file atomic_file writes for path (in this process)."""
    return f"{path}.tmp-{os.getpid()}"


class atomic_file:
    """For a with block that writes the file it gets: written beside path, fsynced, then
    renamed over it, so that readers see the old file or the whole new one, never half of
    it. On any error the temporary file is removed. (A class: importing contextlib would
    cost some 0.7 ms of every command.)"""

    __slots__ = ("path", "mode", "tmp", "file")

    def __init__(self, path: str, mode: int = 0o644) -> None:
        self.path, self.mode = path, mode

    def __enter__(self) -> BinaryIO:
        self.tmp = atomic_tmp(self.path)
        fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, self.mode)
        try:
            self.file = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            self._discard()
            raise
        return self.file

    def __exit__(self, kind: Optional[type], exc: Optional[BaseException], tb: Any) -> None:
        try:
            if kind is None:
                self.file.flush()
                os.fsync(self.file.fileno())
            self.file.close()
            if kind is None:
                os.replace(self.tmp, self.path)
                return
        except BaseException:
            self._discard()
            raise
        self._discard()

    def _discard(self) -> None:
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass


def tree_sizes(paths: list[str], apparent: bool = False) -> list[int]:
    """The bytes under each path: the blocks its entries take on disk, or with apparent the
    sizes of its regular files and symlinks (what podman's container sizes count)."""
    sizes = []
    for top in paths:
        total = 0
        for dirpath, dirs, files in os.walk(top):
            for name in files + dirs:
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue
                if not apparent:
                    total += st.st_blocks * 512
                elif stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                    total += st.st_size
        sizes.append(total)
    return sizes

