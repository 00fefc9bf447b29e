"""Create the entries of one layer tar stream under a root, one entry at a time."""

from __future__ import annotations

import errno
import os
import stat
import tarfile
from dataclasses import dataclass
from typing import IO, Literal, NamedTuple

from storage.inroot import PATH_MAX, DirCache, Phys, Root, clean_path, clear_slot, show, to_bytes, unsafe
from storage._meta import Ownership, final_mode, set_times, set_xattrs, tar_times, tar_xattrs
from storage.compression import CHUNK
from storage.errors import LayerError

WHITEOUT_PREFIX = b".wh."
WHITEOUT_META_PREFIX = b".wh..wh."
WHITEOUT_OPAQUE = b".wh..wh..opq"

_ZEROS = bytes(CHUNK)
_CREATE_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_DEV_MAX = 2**32 - 1


@dataclass(frozen=True)
class ApplyOptions:
    """How a layer is written to disk."""

    # overlay: whiteouts become 0/0 char devices and opaque dirs get an xattr;
    # vfs: whiteouts delete the lower path in place (dest holds the parent's copy).
    whiteout_format: Literal["overlay", "vfs"]
    # "trusted.overlay.opaque" for the kernel's overlayfs when rootful.
    opaque_xattr: str = "user.overlay.opaque"
    # full: lchown to the tar's ids, failure is an error; ignore_errors: try and
    # keep the current owner on failure; none: never chown.
    chown: Literal["full", "ignore_errors", "none"] = "full"
    # Only real root outside a user namespace can make device nodes; everyone
    # else skips them, as rootless podman does.
    create_devices: bool = False


class _DirMeta(NamedTuple):
    """Directory metadata applied only after all entries, so children cannot disturb it."""

    dev: int
    ino: int
    mode: int
    times: tuple[int, int]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _copy(src: IO[bytes], fd: int) -> int:
    """Stream a member's data into fd, CHUNK at a time; returns the byte count."""
    total = 0
    hole = False
    while chunk := src.read(CHUNK):
        # Whole chunks of zeros become holes: sparse images stay sparse on
        # disk and nothing is written that reads back the same anyway.
        if len(chunk) == CHUNK and chunk == _ZEROS:
            os.lseek(fd, CHUNK, os.SEEK_CUR)
            hole = True
        else:
            _write_all(fd, chunk)
            hole = False
        total += len(chunk)
    if hole:
        os.ftruncate(fd, total)  # a trailing hole must still count in the size
    return total


def _copy_sparse(tar: tarfile.TarFile, member: tarfile.TarInfo, fd: int) -> int:
    """Write a sparse member's data where its map puts it and leave the rest a hole: time and
    space follow the data the tar holds, not the size it claims (tarfile's reader would make
    every hole's zeros). Returns the bytes written."""
    stream = tar.fileobj
    assert stream is not None and member.sparse is not None
    stream.seek(member.offset_data)
    total = 0
    for offset, size in member.sparse:
        if offset < 0 or size < 0 or offset + size > member.size:
            raise tarfile.ReadError("sparse map out of the file's size")
        os.lseek(fd, offset, os.SEEK_SET)
        while size:
            chunk = stream.read(min(size, CHUNK))
            if not chunk:
                raise tarfile.ReadError("unexpected end of data")
            _write_all(fd, chunk)
            size -= len(chunk)
            total += len(chunk)
    os.ftruncate(fd, member.size)
    return total


class LayerWriter:
    """Applies tar members under a Root with the OCI whiteout rules; close() at the end."""

    def __init__(self, root: Root, options: ApplyOptions) -> None:
        self.root = root
        self.walker = DirCache(root)
        self.options = options
        self.vfs = options.whiteout_format == "vfs"
        self.owner = Ownership(options.chown)
        self.size = 0
        # Physical paths ("a/b") this layer created, to tell its own entries
        # from the lower layer's when a directory turns opaque (vfs only).
        self.written: set[bytes] = set()
        self.dirs: dict[Phys, _DirMeta] = {}
        st = os.stat(root.fd)
        self.root_owner = (st.st_uid, st.st_gid)
        self._entry = ""

    # -- entry dispatch ----------------------------------------------------

    def add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        """Create one member (or apply its whiteout)."""
        entry = self._entry = member.name
        if member.type == tarfile.GNUTYPE_SPARSE:
            # An old GNU sparse file, refused as podman refuses it: tarfile would read its holes
            # as zeros, so a header claiming terabytes would keep the load busy for hours.
            raise unsafe(entry, "unhandled tar header type 83")
        comps = clean_path(entry, entry)
        if not comps:
            if not member.isdir():
                raise unsafe(entry, "names the layer root but is not a directory")
            self._root_entry(member)
            return
        base = comps[-1]
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout(entry, comps)
            return
        if member.ischr() and member.devmajor == 0 and member.devminor == 0:
            return  # a whiteout forged as a device node: only .wh. names may whiteout
        if (member.ischr() or member.isblk()) and not self.options.create_devices:
            return  # as rootless podman: device nodes cannot be made, and are not needed
        link: list[bytes] = []
        if member.islnk():
            link = clean_path(member.linkname, entry)
            if not link:
                raise unsafe(entry, "hardlink to the layer root")
        elif member.issym():
            self._check_symlink_target(entry, member.linkname)
        elif not (member.isreg() or member.isdir() or member.isfifo() or member.isdev()):
            return  # e.g. GNU volume labels: nothing to create
        parent, phys = self.walker.walk(comps[:-1], create=True, on_mkdir=self._made_dir)
        path = (*phys, base)
        try:
            if member.isreg():
                self._file(tar, member, parent, base)
            elif member.isdir():
                self._dir(member, parent, base, path)
            elif member.issym():
                self._symlink(member, parent, base)
            elif member.islnk():
                self._hardlink(member, parent, base, link)
            else:
                self._node(member, parent, base)
        finally:
            os.close(parent)
        if self.vfs:
            self.written.add(b"/".join(path))

    @staticmethod
    def _check_symlink_target(entry: str, target: str) -> None:
        if not target:
            raise unsafe(entry, "symlink with an empty target")
        if "\x00" in target:
            raise unsafe(entry, "symlink target contains a NUL byte")
        if len(to_bytes(target)) >= PATH_MAX:
            raise unsafe(entry, f"symlink target is longer than {PATH_MAX - 1} bytes")

    def close(self) -> None:
        """Release the directories the walk cache holds."""
        self.walker.invalidate()

    def _clear(self, parent: int, name: bytes, *, keep_dir: bool) -> os.stat_result | None:
        """clear_slot that keeps the walk cache true."""
        return clear_slot(parent, name, keep_dir=keep_dir, before_remove=self._before_remove)

    def _before_remove(self, st: os.stat_result) -> None:
        # Only a directory or a symlink can be on a remembered walk's way; a
        # file or device never is, so removing one leaves the cache true.
        if stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode):
            self.walker.invalidate()

    def _made_dir(self, parent: int, name: bytes, path: Phys) -> None:
        # Implicit parents: mode 0755 exactly (mkdir's mode went through the
        # umask) and the owner of the layer root, as other runtimes do.
        os.chmod(name, 0o755, dir_fd=parent)
        if self.options.chown != "none":
            self.owner.apply(self._entry, *self.root_owner, dir_fd=parent, name=name)
        # A stale record for an earlier directory at this path must not be
        # applied to this new one.
        self.dirs.pop(path, None)
        if self.vfs:
            self.written.add(b"/".join(path))

    # -- entry kinds ---------------------------------------------------------

    def _root_entry(self, member: tarfile.TarInfo) -> None:
        fd = self.root.fd
        applied = self.owner.apply(member.name, member.uid, member.gid, fd=fd)
        set_xattrs(tar_xattrs(member), fd=fd)
        st = os.stat(fd)
        self.root_owner = (st.st_uid, st.st_gid)
        self.dirs[()] = _DirMeta(st.st_dev, st.st_ino, final_mode(member.mode, applied), tar_times(member))

    def _file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, parent: int, name: bytes) -> None:
        self._clear(parent, name, keep_dir=False)
        # O_EXCL|O_NOFOLLOW: the slot was just cleared, so anything found there
        # now is an error, and never a symlink to follow.
        fd = os.open(name, _CREATE_FILE, 0o600, dir_fd=parent)
        try:
            if member.sparse is not None:   # a pax sparse file: its data only, at its offsets
                self.size += _copy_sparse(tar, member, fd)
            elif (src := tar.extractfile(member)) is not None:
                with src:
                    self.size += _copy(src, fd)
            # chown before chmod (chown clears setuid) and before xattrs (it
            # also drops security.capability).
            applied = self.owner.apply(member.name, member.uid, member.gid, fd=fd)
            os.fchmod(fd, final_mode(member.mode, applied))
            set_xattrs(tar_xattrs(member), fd=fd)
            set_times(tar_times(member), fd=fd)
        finally:
            os.close(fd)

    def _dir(self, member: tarfile.TarInfo, parent: int, name: bytes, path: Phys) -> None:
        if self._clear(parent, name, keep_dir=True) is None:
            # Private until the end: the real mode is applied after children.
            os.mkdir(name, 0o700, dir_fd=parent)
        applied = self.owner.apply(member.name, member.uid, member.gid, dir_fd=parent, name=name)
        set_xattrs(tar_xattrs(member), dir_fd=parent, name=name)
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        self.dirs[path] = _DirMeta(st.st_dev, st.st_ino, final_mode(member.mode, applied), tar_times(member))

    def _symlink(self, member: tarfile.TarInfo, parent: int, name: bytes) -> None:
        self._clear(parent, name, keep_dir=False)
        # A name that did not exist was on no remembered walk's way, so a new
        # symlink cannot change where one leads; forgetting them all anyway
        # costs a few walks and leaves no doubt.
        self.walker.invalidate()
        # The target text is stored verbatim; it is only ever resolved in-root.
        os.symlink(to_bytes(member.linkname), name, dir_fd=parent)
        self.owner.apply(member.name, member.uid, member.gid, dir_fd=parent, name=name)
        set_xattrs(tar_xattrs(member), dir_fd=parent, name=name)
        set_times(tar_times(member), dir_fd=parent, name=name)

    def _hardlink(self, member: tarfile.TarInfo, parent: int, name: bytes, link: list[bytes]) -> None:
        entry = member.name
        missing = unsafe(entry, f'hardlink target "{show(member.linkname)}" does not exist in the layer')
        found = self.walker.lookup(link[:-1])
        if found is None:
            raise missing
        tparent, _ = found
        try:
            try:
                target = os.stat(link[-1], dir_fd=tparent, follow_symlinks=False)
            except FileNotFoundError:
                raise missing from None
            if stat.S_ISDIR(target.st_mode):
                raise unsafe(entry, f'hardlink target "{show(member.linkname)}" is a directory')
            try:
                here = os.stat(name, dir_fd=parent, follow_symlinks=False)
                if (here.st_dev, here.st_ino) == (target.st_dev, target.st_ino):
                    return  # already that very file
            except FileNotFoundError:
                pass
            self._clear(parent, name, keep_dir=False)
            # follow_symlinks=False: a link to a symlink links the symlink itself.
            os.link(link[-1], name, src_dir_fd=tparent, dst_dir_fd=parent, follow_symlinks=False)
        finally:
            os.close(tparent)

    def _node(self, member: tarfile.TarInfo, parent: int, name: bytes) -> None:
        self._clear(parent, name, keep_dir=False)
        if member.isfifo():
            os.mkfifo(name, 0o600, dir_fd=parent)
        else:
            if not (0 <= member.devmajor <= _DEV_MAX and 0 <= member.devminor <= _DEV_MAX):
                raise unsafe(member.name, "device number out of range")
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(name, kind | 0o600, os.makedev(member.devmajor, member.devminor), dir_fd=parent)
        applied = self.owner.apply(member.name, member.uid, member.gid, dir_fd=parent, name=name)
        # Just created by us as a node, so following the name cannot reach a symlink.
        os.chmod(name, final_mode(member.mode, applied), dir_fd=parent)
        set_xattrs(tar_xattrs(member), dir_fd=parent, name=name)
        set_times(tar_times(member), dir_fd=parent, name=name)

    # -- whiteouts -----------------------------------------------------------

    def _whiteout(self, entry: str, comps: list[bytes]) -> None:
        # Rare, and they remove or hide what walks may have gone through:
        # forget every remembered walk first.
        self.walker.invalidate()
        base, where = comps[-1], comps[:-1]
        if base == WHITEOUT_OPAQUE:
            self._opaque(entry, where)
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return  # other AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): nothing to apply
        victim = base[len(WHITEOUT_PREFIX) :]
        if victim in (b"", b".", b".."):
            raise unsafe(entry, "whiteout does not name a file")
        if self.vfs:
            found = self.walker.lookup(where)
            if found is None:
                return  # nothing below to hide
            fd, _ = found
            try:
                self._clear(fd, victim, keep_dir=False)
            finally:
                os.close(fd)
            return
        fd, _ = self.walker.walk(where, create=True, on_mkdir=self._made_dir)
        try:
            self._clear(fd, victim, keep_dir=False)
            try:
                os.mknod(victim, stat.S_IFCHR, os.makedev(0, 0), dir_fd=fd)
            except PermissionError as e:
                raise LayerError(
                    f'layer entry "{show(entry)}": cannot create the overlay whiteout device '
                    f"(mknod of a 0/0 character device: {e.strerror}); run inside a user namespace "
                    "or as root, or use the vfs driver"
                ) from e
        finally:
            os.close(fd)

    def _opaque(self, entry: str, where: list[bytes]) -> None:
        fd, phys = self.walker.walk(where, create=True, on_mkdir=self._made_dir)
        try:
            if self.vfs:
                self._prune(phys)
                return
            dfd = os.open(".", _READ_DIR, dir_fd=fd)
            try:
                os.setxattr(dfd, self.options.opaque_xattr, b"y")
            except OSError as e:
                raise LayerError(
                    f'layer entry "{show(entry)}": cannot mark the directory opaque '
                    f"with xattr {self.options.opaque_xattr}: {e.strerror}"
                ) from e
            finally:
                os.close(dfd)
        finally:
            os.close(fd)

    def _prune(self, top: Phys) -> None:
        """Delete everything under top that this layer did not write (vfs opaque dir)."""
        todo = [top]
        while todo:
            path = todo.pop()
            found = self.walker.lookup(path)
            if found is None:
                continue
            fd, _ = found
            try:
                dfd = os.open(".", _READ_DIR, dir_fd=fd)
                try:
                    with os.scandir(dfd) as it:
                        listing = [(os.fsencode(e.name), e.is_dir(follow_symlinks=False)) for e in it]
                finally:
                    os.close(dfd)
                for name, is_dir in listing:
                    child = (*path, name)
                    if b"/".join(child) not in self.written:
                        self._clear(fd, name, keep_dir=False)
                    elif is_dir:
                        # Ours, but it may have been an existing lower directory
                        # whose old children must go too.
                        todo.append(child)
            finally:
                os.close(fd)

    # -- the end ---------------------------------------------------------------

    def finish(self) -> None:
        """Apply directory modes and times, deepest first, after every child exists."""
        for path, meta in sorted(self.dirs.items(), key=lambda item: len(item[0]), reverse=True):
            if not path:
                os.chmod(self.root.fd, meta.mode)
                os.utime(self.root.fd, ns=meta.times)
                continue
            found = self.walker.lookup(path[:-1])
            if found is None:
                continue  # removed or replaced later in the layer
            fd, _ = found
            try:
                try:
                    st = os.stat(path[-1], dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if not stat.S_ISDIR(st.st_mode) or (st.st_dev, st.st_ino) != (meta.dev, meta.ino):
                    continue  # a different object now lives at this path
                os.chmod(path[-1], meta.mode, dir_fd=fd)
                os.utime(path[-1], ns=meta.times, dir_fd=fd, follow_symlinks=False)
            finally:
                os.close(fd)


def os_error(entry: str, e: OSError) -> Exception:
    """One line for a filesystem error while applying entry; a full disk (ENOSPC, EDQUOT) is
    left as it is, for the caller to say what it was writing."""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return e
    if e.errno == errno.ELOOP:
        return unsafe(entry, "too many levels of symbolic links")
    where = ""
    if e.filename is not None:
        where = f" ({show(os.fsdecode(e.filename))})"
    return LayerError(f'layer entry "{show(entry)}": {e.strerror or e}{where}')
