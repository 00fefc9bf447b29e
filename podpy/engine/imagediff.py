"""`image diff`: what an image's top layer changed against the layers below it, or what one image
has that another has not.

Both sides are read as merged views (each a path -> what the file is), walked in the user
namespace where every layer file can be read: the overlay drivers' layers are stacked as
overlayfs stacks them (a 0/0 character device hides a path, an opaque directory everything
below it in lower layers), the copying driver's top layer is the whole tree already. A path
only in the image is A, only in the base D (a deleted directory once, not its content), in both
but different C; the directories that hold an addition or a deletion are C too.
"""

from __future__ import annotations

import os
import stat

from ..errors import InvalidArgument
from .context import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

    from storage.images import Image

Entry = tuple  # (type and mode, uid, gid, size, mtime, link target or rdev)


def _entry(path: str, st: os.stat_result) -> Entry:
    extra: object = os.readlink(path) if stat.S_ISLNK(st.st_mode) else st.st_rdev
    size = 0 if stat.S_ISDIR(st.st_mode) else st.st_size
    return (st.st_mode, st.st_uid, st.st_gid, size, int(st.st_mtime), extra)


def merged_view(layers: list[str]) -> dict[str, Entry]:
    """path ("/etc/passwd") -> entry of the view the layers (bottom first) stack into. Runs in
    the user namespace."""
    from storage.fsutil import is_opaque

    view: dict[str, Entry] = {}
    for top in layers:
        for parent, dirs, files in os.walk(top):
            rel = os.path.relpath(parent, top)
            base = "/" if rel == "." else "/" + rel
            if rel != "." and is_opaque(parent):
                for p in [p for p in view if p.startswith(base + "/")]:
                    del view[p]
            for name in dirs + files:
                host = os.path.join(parent, name)
                path = os.path.join(base, name)
                try:
                    st = os.lstat(host)
                except OSError:
                    continue
                hidden = name.startswith(".wh.") or (stat.S_ISCHR(st.st_mode) and st.st_rdev == 0)
                if hidden:
                    gone = os.path.join(base, name[4:]) if name.startswith(".wh.") else path
                    if name != ".wh..wh..opq":
                        for p in [p for p in view if p == gone or p.startswith(gone + "/")]:
                            del view[p]
                    continue
                if path in view and stat.S_ISDIR(view[path][0]) and not stat.S_ISDIR(st.st_mode):
                    for p in [p for p in view if p.startswith(path + "/")]:
                        del view[p]
                view[path] = _entry(host, st)
    return view


# The paths a container's start makes (mount points, its runtime files): podman leaves them
# out of every diff, of containers and of images, whatever happened to them.
INIT_PATHS = frozenset(("/dev", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/proc", "/run",
                        "/run/notify", "/run/.containerenv", "/run/secrets", "/run/podman-init", "/sys",
                        "/etc/mtab"))


def changes(new: dict[str, Entry], base: dict[str, Entry]) -> list[tuple[str, str]]:
    """(kind, path) sorted by path: A added, C changed, D deleted, as `diff` prints them
    (without INIT_PATHS)."""
    out: dict[str, str] = {}
    for path, entry in new.items():
        if path not in base:
            out[path] = "A"
        elif base[path] != entry:
            out[path] = "C"
    for path in base:
        if path not in new and (os.path.dirname(path) == "/" or os.path.dirname(path) in new):
            out[path] = "D"   # the topmost path deleted: its content went with it
    for path, kind in list(out.items()):
        parent = os.path.dirname(path)
        while parent not in ("/", "") and out.get(parent) is None:
            if parent in base:
                out[parent] = "C"
            parent = os.path.dirname(parent)
    return sorted(((kind, p) for p, kind in out.items() if p not in INIT_PATHS), key=lambda x: x[1])


def _views(rt: Runtime, image: Image, other: Optional[Image]) -> tuple[list[str], list[str]]:
    """The layer stacks of the two sides: the image's and the other image's, or its parent
    layers'. The copying driver's layers are whole trees: the top one is the view."""
    dirs = rt.store.layer_dirs(image)
    base = rt.store.layer_dirs(other) if other is not None else dirs[:-1]
    if rt.store.driver.full_tree_layers:
        return dirs[-1:], base[-1:]
    return dirs, base


def image_diff(rt: Runtime, image: Image, other: Optional[Image] = None) -> list[tuple[str, str]]:
    """`image diff IMAGE [OTHER]`: the image's changes against OTHER, or against its top layer's
    parent."""
    if not image.layers:
        raise InvalidArgument(f"image {image.id[:12]} has no layers")
    new_dirs, base_dirs = _views(rt, image, other)
    new, base = rt.store.in_userns(_both, new_dirs, base_dirs)
    return changes(new, base)


def _both(new_dirs: list[str], base_dirs: list[str]) -> tuple[dict[str, Entry], dict[str, Entry]]:
    return merged_view(new_dirs), merged_view(base_dirs)
