"""The copying driver: every layer and every container is a full tree.

The last resort where no overlay can be mounted (an old kernel, a home on a
file system overlay refuses, no /dev/fuse). Copies keep owners, modes, times,
xattrs, hard links and special files; they run in the user namespace so the
container's ids can be set.
"""

from __future__ import annotations

import os
import stat

from storage.fsutil import copy_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class VfsDriver:
    name = "vfs"
    full_tree_layers = True   # a layer's tar is its difference to the parent's tree

    def whiteout_format(self) -> str:
        return "vfs"

    def opaque_xattr(self) -> str:
        return ""

    def needs_userns_to_prepare(self) -> bool:
        return True

    def prepare_layer(self, layer_dir: str, parent_dir: str | None) -> None:
        if parent_dir:
            copy_tree(parent_dir, layer_dir)
        else:
            os.makedirs(layer_dir, mode=0o755, exist_ok=True)

    def prepare_container(self, cdir: str, layer_dirs: list[str]) -> None:
        rootfs = os.path.join(cdir, "rootfs")
        if layer_dirs:
            copy_tree(layer_dirs[-1], rootfs)
        else:
            os.makedirs(rootfs, mode=0o755, exist_ok=True)
        os.makedirs(os.path.join(cdir, "merged"), mode=0o755, exist_ok=True)

    def rootfs_mount(self, cdir: str, layer_dirs: list[str]) -> dict[str, Any]:
        return {"type": "bind", "source": os.path.join(cdir, "rootfs"),
                "target": os.path.join(cdir, "merged")}


def copy_tree(src: str, dst: str) -> None:
    """Copy src to dst (which must not exist) keeping everything a layer carries."""
    links: dict[tuple[int, int], str] = {}
    dirs: list[tuple[str, os.stat_result]] = []

    def meta(path: str, st: os.stat_result, is_link: bool) -> None:
        try:
            os.lchown(path, st.st_uid, st.st_gid)
        except OSError:
            pass
        if not is_link:
            os.chmod(path, stat.S_IMODE(st.st_mode))
        _copy_xattrs(src_path_of[path], path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)

    src_path_of: dict[str, str] = {}

    def walk(s: str, d: str) -> None:
        st = os.lstat(s)
        os.mkdir(d, 0o700)
        src_path_of[d] = s
        dirs.append((d, st))
        with os.scandir(s) as it:
            entries = list(it)
        for e in entries:
            sp, dp = e.path, os.path.join(d, e.name)
            est = e.stat(follow_symlinks=False)
            if stat.S_ISDIR(est.st_mode):
                walk(sp, dp)
                continue
            key = (est.st_dev, est.st_ino)
            if est.st_nlink > 1 and key in links:
                os.link(links[key], dp)
                continue
            src_path_of[dp] = sp
            if stat.S_ISLNK(est.st_mode):
                os.symlink(os.readlink(sp), dp)
            elif stat.S_ISREG(est.st_mode):
                copy_file(sp, dp)
            elif stat.S_ISFIFO(est.st_mode):
                os.mkfifo(dp, 0o600)
            else:
                try:
                    os.mknod(dp, est.st_mode, est.st_rdev)
                except PermissionError:
                    continue  # device nodes cannot be made in a user namespace
            if est.st_nlink > 1:
                links[key] = dp
            meta(dp, est, stat.S_ISLNK(est.st_mode))

    walk(src, dst)
    for d, st in reversed(dirs):
        meta(d, st, False)


def _copy_xattrs(src: str, dst: str) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        try:
            os.setxattr(dst, name, os.getxattr(src, name, follow_symlinks=False), follow_symlinks=False)
        except OSError:
            pass
