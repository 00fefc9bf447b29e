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
    store). No shutil: this runs on the `run --rm` path, where every import counts.

    The tree is walked by directory fds (unlinkat, openat), never by its full paths: a
    layer's paths may be near PATH_MAX below it, and a container may have made deeper ones
    still. An error names the path shortened to one line."""
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


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_OPEN_DIRS = 64   # directory fds held at most while walking down; those above are opened again by ".."


class _Level:
    """A directory being emptied: its fd (None while closed for depth), its entries still to go,
    its name in its parent and its identity (to check a parent opened again by "..")."""

    __slots__ = ("fd", "todo", "name", "ident")

    def __init__(self, fd: int, name: str) -> None:
        st = os.fstat(fd)
        if st.st_mode & 0o700 != 0o700:   # its entries are read, walked into and removed
            os.fchmod(fd, 0o700)
        self.fd: Optional[int] = fd
        self.name, self.ident = name, (st.st_dev, st.st_ino)
        try:
            self.todo = [(e.name, e.is_dir(follow_symlinks=False)) for e in os.scandir(fd)]
        except FileNotFoundError:   # removed meanwhile
            self.todo = []


def _open_dir(name: str, parent: int) -> Optional[int]:
    """A subdirectory's fd (its mode opened when it forbids reading); None when it is no
    directory any more or gone."""
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except PermissionError:
        os.chmod(name, 0o700, dir_fd=parent)   # a directory a moment ago (O_NOFOLLOW said so, not ELOOP)
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        import errno

        if exc.errno == errno.ELOOP:   # a symlink now: unlinked as one
            return None
        raise


def _empty(path: str) -> None:
    """Remove everything below the directory path, depth first, without recursion (a tree may
    be thousands of levels deep) and with at most _OPEN_DIRS directory fds open."""
    try:
        top = os.open(path, _DIR_FLAGS)
    except PermissionError:
        os.chmod(path, 0o700)
        top = os.open(path, _DIR_FLAGS)
    except FileNotFoundError:
        return
    stack = [_Level(top, "")]
    try:
        while stack:
            level = stack[-1]
            assert level.fd is not None
            if level.todo:
                name, is_dir = level.todo.pop()
                child = _open_dir(name, level.fd) if is_dir else None
                if child is None:
                    try:
                        os.unlink(name, dir_fd=level.fd)
                    except IsADirectoryError:   # a directory after all (no d_type): walked next time
                        level.todo.append((name, True))
                    except FileNotFoundError:
                        pass
                    continue
                stack.append(_Level(child, name))
                if len(stack) > _OPEN_DIRS:
                    far = stack[-_OPEN_DIRS - 1]
                    if far.fd is not None:
                        os.close(far.fd)
                        far.fd = None
                continue
            # level is empty: back to its parent, which removes it.
            stack.pop()
            try:
                if not stack:
                    break
                parent = stack[-1]
                if parent.fd is None:
                    fd = os.open("..", _DIR_FLAGS, dir_fd=level.fd)
                    st = os.fstat(fd)
                    if (st.st_dev, st.st_ino) != parent.ident:   # moved meanwhile: stop rather than guess
                        os.close(fd)
                        raise OSError(16, "directory moved while being removed", _shown(path, stack))
                    parent.fd = fd
            finally:
                os.close(level.fd)
            try:
                os.rmdir(level.name, dir_fd=parent.fd)
            except FileNotFoundError:
                pass
    except OSError as exc:
        for level in stack:
            if level.fd is not None:
                os.close(level.fd)
        if exc.filename is None or not isinstance(exc.filename, str) or not exc.filename.startswith(path):
            raise OSError(exc.errno, exc.strerror, _shown(path, stack, exc.filename)) from None
        raise


def _shown(path: str, stack: list[_Level], name: Any = None) -> str:
    """Where the walk was, for a one-line error: control characters escaped, shortened."""
    from .inroot import show

    parts = [level.name for level in stack[1:]] + ([str(name)] if name else [])
    return show(os.path.join(path, *parts)) if parts else show(path)


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

