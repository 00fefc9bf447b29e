"""Reading a file of an image without mounting it: the layers are looked up
top-down as overlayfs would (whiteouts hide, opaque directories stop the
search, symlinks resolve inside the image)."""

from __future__ import annotations

import os
import stat

from .fsutil import is_opaque as _is_opaque

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def _find(layers: list[str], rel: list[str]) -> Optional[tuple[str, os.stat_result]]:
    """The topmost host path of rel (no symlink following), or None if absent."""
    for top in reversed(layers):
        path = os.path.join(top, *rel)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            # An opaque parent in this layer hides everything below it.
            if any(_is_opaque(os.path.join(top, *rel[:i])) for i in range(1, len(rel))):
                return None
            continue
        except PermissionError:
            continue
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            return None  # a whiteout
        return path, st
    return None


def resolve(layers: list[str], path: str) -> Optional[str]:
    """The host path holding `path` of the image's merged view, or None."""
    todo = [p for p in path.split("/") if p not in ("", ".")]
    done: list[str] = []
    hops = 0
    while todo:
        part = todo.pop(0)
        if part == "..":
            if done:
                done.pop()
            continue
        found = _find(layers, done + [part])
        if found is None:
            return None
        host, st = found
        if stat.S_ISLNK(st.st_mode):
            hops += 1
            if hops > 40:
                return None
            target = os.readlink(host)
            if target.startswith("/"):
                done = []
            todo = [p for p in target.split("/") if p not in ("", ".")] + todo
            continue
        done.append(part)
    found = _find(layers, done) if done else None
    return found[0] if found else None


def read_file(layers: list[str], path: str, limit: int = 1 << 20) -> Optional[bytes]:
    """Up to `limit` bytes of a regular file of the image, or None when it has none."""
    host = resolve(layers, path)
    if host is None:
        return None
    try:
        fd = os.open(host, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, limit)
    finally:
        os.close(fd)
