"""The FUSE operations of a mount (mfusepy's high-level API over libfuse 3): read-only.

Lookups, attributes and listings come from the view (tree.MergedTree for an image,
upper.UpperView for a container) with no system call for the image's layers. A read never
copies data through Python: `read_buf` hands libfuse the open layer file and an offset, and
libfuse preads it into the reply itself, so the file system costs one Python call per
request, whatever its size.

Owners are what the serving process sees, and it runs in the user's user namespace: the ids
inside the container. (A container with ids of its own, --uidmap or --userns=keep-id|auto,
sees its files through fuse-overlayfs with the ids they are stored with, which are these.)
Permissions are not checked against those ids (no `default_permissions`): only the
user who mounted may use the mount at all (no `allow_other`), and that user owns every one of
these files already, as `podpy unshare` shows; so every file can be read, mode bits
notwithstanding, as root in the container would.

Measured with bench/mount.py on a busy 2-CPU VM (`tar -cf - -C DIR . | cat`, the layers'
files in the page cache): a 4-layer image of ~300 MB in ~1,000 generated files reads at
0.53-0.59 x the speed of its layer directories (0.49 x under a load average of 20); with a Debian minbase under it (6,700 more
small files) 0.37-0.44 x, a file's first read being one round trip to this process (about
60-100 us here) where the layer directory costs a few system calls. Choices measured on the
way: one libfuse thread rather than its worker pool (half the server's CPU time, faster
reads); no open/release requests for an image's files (FUSE_CAP_NO_OPEN_SUPPORT) and
attributes with every listing (readdirplus, never "auto"), which took away one to two
round trips per file; splicing made no difference; prefetching whole files from a second
thread made reads slower. The kernel reads ahead at most 128 KB a request, which a FUSE
server cannot raise.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat

from .tree import visible_xattr

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

# fuse_common.h: capability bits, buffer flags
READDIRPLUS_AUTO = 1 << 14
CAP_NO_OPEN = 1 << 17
CAP_CACHE_SYMLINKS = 1 << 23
BUF_IS_FD = 1 << 1
BUF_FD_SEEK = 1 << 2

# How long the kernel may keep an answer: an image never changes while mounted; a
# container's writable layer does, so its answers are kept a second.
IMAGE_TIMEOUT = 86400.0
LIVE_TIMEOUT = 1.0
OPEN_FILES = 64


class _Buf(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("flags", ctypes.c_int), ("mem", ctypes.c_void_p),
                ("fd", ctypes.c_int), ("pos", ctypes.c_int64)]


class _BufVec(ctypes.Structure):
    # struct fuse_bufvec ends with `struct fuse_buf buf[1]`, in place (mfusepy declares a pointer)
    _fields_ = [("count", ctypes.c_size_t), ("idx", ctypes.c_size_t), ("off", ctypes.c_size_t),
                ("buf", _Buf * 1)]


_libc = ctypes.CDLL(None, use_errno=True)
_malloc = _libc.malloc
_malloc.restype = ctypes.c_void_p
_malloc.argtypes = [ctypes.c_size_t]
_BUFVEC_SIZE = ctypes.sizeof(_BufVec)


def fuse_error(code: int) -> OSError:
    return OSError(code, os.strerror(code))


class MountFS:
    """The operations mfusepy calls; view: a MergedTree or an UpperView (live: whose
    answers change while mounted); on_ready: called once libfuse has met the kernel."""

    use_ns = True   # times in nanoseconds

    def __init__(self, view: Any, live: bool, on_ready: Optional[Callable[[], None]] = None) -> None:
        self.view = view
        self.live = live
        self.on_ready = on_ready
        self.statfs_path = getattr(view, "upper", None) or view.lookup("/").host   # the store's
        self.fds: dict[str, int] = {}

    # -- set-up ----------------------------------------------------------------------------

    def init_with_config(self, conn: Any, config: Any) -> None:
        if config is not None:
            timeout = LIVE_TIMEOUT if self.live else IMAGE_TIMEOUT
            config.use_ino = 1
            config.entry_timeout = timeout
            config.attr_timeout = timeout
            config.negative_timeout = 0.0 if self.live else timeout
            # An image's pages stay cached across opens; a container's are dropped when the
            # file's size or time changed (auto_cache).
            config.kernel_cache = 0 if self.live else 1
            config.auto_cache = 1 if self.live else 0
        if conn is not None:
            # No splicing: libfuse then preads the layer file into its buffer and writes the
            # reply, which measured as fast (bench/mount.py), with fewer system calls.
            if not self.live:
                conn.want |= conn.capable & (CAP_CACHE_SYMLINKS | CAP_NO_OPEN)
                # Every listing with its entries' attributes, not only the first part of a
                # large directory's (the kernel's "auto" mode): no lookup per name after it.
                conn.want &= ~READDIRPLUS_AUTO
        if self.on_ready is not None:
            self.on_ready()
            self.on_ready = None

    def destroy(self, path: str) -> None:
        pass

    # -- names and attributes -------------------------------------------------------------

    def _entry(self, path: str) -> Any:
        entry = self.view.lookup(path)
        if entry is None:
            raise fuse_error(errno.ENOENT)
        return entry

    def getattr(self, path: str, fh: Optional[int] = None) -> dict[str, int]:
        return self._attrs(self._entry(path))

    def _attrs(self, e: Any) -> dict[str, int]:
        st = e.st
        if self.live and e.is_dir:
            nlink = 2 + sum(1 for kind, _ in self.view.listdir(e).values() if kind == stat.S_IFDIR)
        else:
            nlink = e.nlink
        return {"st_mode": st.st_mode, "st_ino": st.st_ino, "st_nlink": nlink, "st_uid": st.st_uid, "st_gid": st.st_gid,
                "st_size": st.st_size, "st_rdev": st.st_rdev, "st_blocks": st.st_blocks,
                "st_blksize": st.st_blksize, "st_atime": st.st_atime_ns, "st_mtime": st.st_mtime_ns,
                "st_ctime": st.st_ctime_ns}

    def readlink(self, path: str) -> str:
        e = self._entry(path)
        if not stat.S_ISLNK(e.st.st_mode):
            raise fuse_error(errno.EINVAL)
        return self.view.readlink(e)

    def opendir(self, path: str) -> int:
        if not self._entry(path).is_dir:
            raise fuse_error(errno.ENOTDIR)
        return 0

    def readdir(self, path: str, fh: int) -> list[Any]:
        e = self._entry(path)
        if not e.is_dir:
            raise fuse_error(errno.ENOTDIR)
        out: list[Any] = [".", ".."]
        # The inode numbers too: libfuse would send 0 for them (use_ino), and readdir(3) skips
        # an entry whose inode is 0.
        out.extend((name, {"st_mode": kind, "st_ino": ino}, 0) for name, (kind, ino) in self.view.listdir(e).items())
        return out

    def readdir_plus(self, path: str) -> list[tuple[str, dict[str, int], bool]]:
        """(name, attributes, whole): for an image, every entry's whole attributes, which the
        kernel keeps as if it had looked each name up (one request for a directory instead of
        one per name); for a container only their type, looked up when asked."""
        e = self._entry(path)
        if not e.is_dir:
            raise fuse_error(errno.ENOTDIR)
        dot = {"st_mode": stat.S_IFDIR, "st_ino": e.st.st_ino}
        out = [(".", dot, False), ("..", dot, False)]
        if self.live:
            out.extend((name, {"st_mode": kind, "st_ino": ino}, False)
                       for name, (kind, ino) in self.view.listdir(e).items())
        else:
            assert e.children is not None
            out.extend((name, self._attrs(child), True) for name, child in e.children.items())
        return out

    def releasedir(self, path: str, fh: int) -> int:
        return 0

    def statfs(self, path: str) -> dict[str, int]:
        sv = os.statvfs(self.statfs_path)
        return {key: getattr(sv, key) for key in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail",
                                                   "f_files", "f_ffree", "f_favail", "f_namemax")}

    # -- extended attributes -----------------------------------------------------------------

    def listxattr(self, path: str) -> list[str]:
        try:
            names = self.view.listxattr(self._entry(path))
        except OSError as exc:
            if exc.errno in (errno.ENOTSUP, errno.EPERM):
                return []
            raise
        return [n for n in names if visible_xattr(n)]

    def getxattr(self, path: str, name: str, position: int = 0) -> bytes:
        e = self._entry(path)
        if not visible_xattr(name):
            raise fuse_error(errno.ENODATA)
        return self.view.getxattr(e, name)

    # -- data ------------------------------------------------------------------------------

    def open(self, path: str, flags: int) -> int:
        if not self.live:
            # An image's files are opened here, when first read, and kept open (_fd): the
            # kernel, told that opens need no request, then asks nothing on open and close.
            raise fuse_error(errno.ENOSYS)
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_APPEND):
            raise fuse_error(errno.EROFS)
        return self._open(path)

    def _open(self, path: str) -> int:
        e = self._entry(path)
        if not stat.S_ISREG(e.st.st_mode):
            # Devices and fifos are never opened here (the kernel does it for them).
            raise fuse_error(errno.EISDIR if e.is_dir else errno.EACCES)
        return self.view.open(e)

    def _fd(self, path: str, fh: int) -> int:
        """The descriptor a read uses: the open file's (a container's), or for an image the
        one kept for path (the last OPEN_FILES files read stay open)."""
        if self.live:
            return fh
        fds = self.fds
        fd = fds.pop(path, -1)
        if fd < 0:
            fd = self._open(path)
            if len(fds) >= OPEN_FILES:
                os.close(fds.pop(next(iter(fds))))
        fds[path] = fd   # the most recent last: dicts keep their order
        return fd

    def read_buf(self, path: str, bufpp: Any, size: int, offset: int, fh: int) -> int:
        """Where the data is (the layer file, at offset) rather than the data: libfuse reads it
        into the reply itself. libfuse frees what is allocated here with free()."""
        fd = self._fd(path, fh)
        addr = _malloc(_BUFVEC_SIZE)
        if not addr:
            raise fuse_error(errno.ENOMEM)
        vec = _BufVec.from_address(addr)
        vec.count, vec.idx, vec.off = 1, 0, 0
        buf = vec.buf[0]
        buf.size, buf.flags, buf.mem, buf.fd, buf.pos = size, BUF_IS_FD | BUF_FD_SEEK, None, fd, offset
        ctypes.cast(bufpp, ctypes.POINTER(ctypes.c_void_p))[0] = addr
        return 0

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        return os.pread(self._fd(path, fh), size, offset)

    def release(self, path: str, fh: int) -> int:
        if self.live:
            os.close(fh)
        return 0
