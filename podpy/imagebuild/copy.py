"""COPY and ADD inside the working container: run in the user namespace with its root file
system mounted, so owners are the container's ids and the kernel's overlay keeps the diff.

The rules are Docker's: a directory source's contents (not the directory) are copied; a
file goes to DEST, or into DEST when DEST ends with `/` or is a directory; several
sources need a DEST ending with `/`; missing directories of DEST are made. Files from the
context belong to root (or --chown) with their modes and modification times; files from
another stage or image (--from) keep their owners unless --chown. The destination is
resolved inside the container's root by storage.inroot (its symlinks cannot lead out), and
the files are written below the physical directories it returns. Files with several
names inside one directory source stay one file with those names (hard links).
"""

from __future__ import annotations

import os
import posixpath
import stat
from dataclasses import dataclass, field
from typing import Optional

from storage.fsutil import copy_file
from storage.inroot import make_dirs, resolve

from ..errors import InvalidArgument
from .context import Top, walk_tree
from .ignore import Matcher


@dataclass
class CopyJob:
    keyword: str                      # COPY or ADD, for messages
    tops: list[Top]                   # sources found on the host side
    dest: str                         # absolute, in the container
    dest_dir: bool                    # DEST ends with / (or is . or ..)
    uid: Optional[int] = None         # --chown (None: root, or the source's owner for --from)
    gid: Optional[int] = None
    chmod: Optional[int] = None
    matcher: Optional[Matcher] = None   # the context's ignore patterns
    exclude: Optional[Matcher] = None   # --exclude
    view_target: Optional[str] = None   # where the --from image is mounted
    view_sources: list[str] = field(default_factory=list)


def copy_into(root: str, job: CopyJob) -> None:
    """Runs in the working container's user and mount namespace, root mounted at `root`."""
    tops = list(job.tops)
    if job.view_target is not None:
        for pattern in job.view_sources:
            found = _view_tops(job.view_target, pattern)
            if not found:
                raise InvalidArgument(f"{job.keyword} --from: {pattern}: no such file or directory")
            tops += found
    if len(tops) > 1 and not job.dest_dir:
        raise InvalidArgument(f"when using {job.keyword} with more than one source file, the destination "
                              "must be a directory and end with a /")
    writer = _Writer(root, job)
    dest_host = writer.existing(job.dest)
    if job.dest_dir or any(t.is_dir or t.extract for t in tops) or (dest_host and os.path.isdir(dest_host)):
        ddir = writer.mkdirs(job.dest)
        for t in tops:
            if t.extract:
                writer.extract(t.path, ddir)
            elif t.is_dir:
                writer.tree(t, ddir)
            else:
                writer.file(t, t.path, os.stat(t.path), ddir, t.name)
    else:
        t = tops[0]
        parent = writer.mkdirs(posixpath.dirname(job.dest))
        writer.file(t, t.path, os.stat(t.path), parent, posixpath.basename(job.dest))
    writer.finish()


def _view_tops(view: str, pattern: str) -> list[Top]:
    """The sources a --from pattern names inside the mounted image."""
    import fnmatch

    rel = posixpath.normpath("/" + pattern).lstrip("/")
    names = [""]
    for part in [p for p in rel.split("/") if p]:
        nxt = []
        for base in names:
            if any(c in part for c in "*?["):
                try:
                    entries = sorted(os.listdir(resolve(view, base)))
                except OSError:
                    continue
                nxt += [f"{base}/{n}" if base else n for n in entries if fnmatch.fnmatchcase(n, part)]
            else:
                nxt.append(f"{base}/{part}" if base else part)
        names = nxt
    tops = []
    for name in names:
        try:
            host = resolve(view, name)
            st = os.stat(host)
        except OSError:
            continue
        tops.append(Top(host, posixpath.basename(name) or ".", stat.S_ISDIR(st.st_mode), keep_owner=True))
    return tops


class _Writer:
    def __init__(self, root: str, job: CopyJob) -> None:
        self.root = root
        self.job = job
        self.dir_times: list[tuple[str, int]] = []
        # while a directory source is copied, (device, inode) -> the copy of its files with
        # several names: those stay one file, as buildah's copier keeps hard links within a
        # source (separate sources, even of one glob, are separate files)
        self.links: Optional[dict[tuple[int, int], str]] = None

    def _owner(self, top: Top, st: os.stat_result) -> tuple[int, int]:
        job = self.job
        if job.uid is not None:
            return job.uid, job.gid if job.gid is not None else job.uid
        if top.keep_owner:
            return st.st_uid, st.st_gid
        return 0, 0

    def existing(self, path: str) -> Optional[str]:
        try:
            host = resolve(self.root, path)
        except OSError as exc:
            raise self._unusable(path, exc) from None
        return host if os.path.lexists(host) else None

    def mkdirs(self, path: str) -> str:
        """The host path of directory `path` in the root, made (with its parents) when missing."""
        uid, gid = (self.job.uid, self.job.gid) if self.job.uid is not None else (0, 0)

        def made(parent: int, name: bytes, _path: tuple[bytes, ...]) -> None:
            # mkdir's mode went through the umask; new parents are 0755 exactly.
            os.chmod(name, 0o755, dir_fd=parent)
            os.chown(name, uid, gid if gid is not None else uid, dir_fd=parent, follow_symlinks=False)

        try:
            return make_dirs(self.root, path, made)
        except OSError as exc:
            raise self._unusable(path, exc) from None

    def _unusable(self, path: str, exc: OSError) -> InvalidArgument:
        if isinstance(exc, NotADirectoryError) and exc.filename:
            return InvalidArgument(f"{self.job.keyword}: cannot copy into {path}: /{exc.filename} is not a directory")
        return InvalidArgument(f"{self.job.keyword}: cannot copy into {path}: {exc.strerror or exc}")

    def _clear(self, host: str, want_dir: bool) -> bool:
        """Make room for an entry; True when a directory is already there (and one is wanted)."""
        try:
            st = os.lstat(host)
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            if want_dir:
                return True
            try:
                os.rmdir(host)
            except OSError:
                raise InvalidArgument(f"{self.job.keyword}: cannot replace the directory "
                                      f"{os.path.relpath(host, self.root)} with a file") from None
            return False
        os.unlink(host)
        return False

    def _meta(self, host: str, top: Top, st: os.stat_result, is_link: bool = False) -> None:
        uid, gid = self._owner(top, st)
        os.lchown(host, uid, gid)
        if not is_link:
            mode = self.job.chmod if self.job.chmod is not None else (top.mode if top.mode is not None
                                                                        else stat.S_IMODE(st.st_mode))
            os.chmod(host, mode)
        mtime = top.mtime if top.mtime is not None and not stat.S_ISDIR(st.st_mode) else None
        ns = int(mtime * 1e9) if mtime is not None else st.st_mtime_ns
        if stat.S_ISDIR(st.st_mode):
            self.dir_times.append((host, ns))
        else:
            os.utime(host, ns=(ns, ns), follow_symlinks=False)

    def file(self, top: Top, src: str, st: os.stat_result, ddir: str, name: str) -> None:
        host = os.path.join(ddir, name)
        if stat.S_ISLNK(st.st_mode):
            self._clear(host, False)
            os.symlink(os.readlink(src), host)
            self._meta(host, top, st, is_link=True)
            return
        if stat.S_ISFIFO(st.st_mode):
            self._clear(host, False)
            os.mkfifo(host, 0o600)
        elif stat.S_ISREG(st.st_mode):
            self._clear(host, False)
            links = self.links if st.st_nlink > 1 else None
            first = links.get((st.st_dev, st.st_ino)) if links is not None else None
            if first is not None:
                os.link(first, host)   # its owner, mode and times are the first name's
                return
            copy_file(src, host)
            if links is not None:
                links[(st.st_dev, st.st_ino)] = host
        else:
            return    # sockets and devices are not copied
        self._meta(host, top, st)

    def tree(self, top: Top, ddir: str) -> None:
        self.links = {}
        try:
            self._tree(top, {"": ddir})
        finally:
            self.links = None

    def _tree(self, top: Top, made: dict[str, str]) -> None:
        job = self.job
        matcher = job.matcher if top.ctx_rel is not None else None
        for rel, src, st in walk_tree(top.path, top.ctx_rel, matcher):
            if job.exclude and job.exclude.excluded(rel):
                continue
            parent = made.get(posixpath.dirname(rel))
            if parent is None:
                continue    # below a directory that was left out
            name = posixpath.basename(rel)
            if stat.S_ISDIR(st.st_mode):
                host = os.path.join(parent, name)
                if os.path.islink(host) and os.path.isdir(self.existing(os.path.relpath(host, self.root)) or ""):
                    # a symlink to a directory (/lib -> usr/lib): followed, inside the root
                    made[rel] = self.mkdirs(os.path.relpath(host, self.root))
                    continue
                if not self._clear(host, True):
                    os.mkdir(host, 0o700)
                self._meta(host, top, st)
                made[rel] = host
            else:
                self.file(top, src, st, parent, name)

    def extract(self, archive: str, ddir: str) -> None:
        from storage.archive import ApplyOptions, apply_layer
        from storage.errors import StorageError

        try:
            with open(archive, "rb", buffering=0) as stream:
                apply_layer(stream, ddir, ApplyOptions(whiteout_format="vfs", chown="full"))
        except StorageError as exc:
            raise InvalidArgument(f"ADD: unpacking {os.path.basename(archive)}: {exc}") from exc

    def finish(self) -> None:
        for host, ns in reversed(self.dir_times):
            os.utime(host, ns=(ns, ns), follow_symlinks=False)


ARCHIVE_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


def is_archive(path: str) -> bool:
    """Whether ADD unpacks this local file: a tar, plain or gzip/bzip2/xz/zstd compressed."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    if any(head.startswith(m) for m in ARCHIVE_MAGIC):
        return True
    return len(head) == 512 and head[257:262] == b"ustar"
