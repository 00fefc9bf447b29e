"""A working container: an image's layers plus a writable layer, in a staging directory under
the store's tmp/, and the step that turns what was written there into a layer.

The writable layer is already in the store's layer format: the kernel overlay's upper
directory (diffs, char 0/0 whiteouts, the opaque xattr), or for vfs the full tree. So a
step's layer is not exported to a tar and unpacked again, as `commit` does: its tar is
only hashed (the diff id its push will have) and the directory is renamed into
layers/. fuse-overlayfs may write whiteouts its own way, so with it the changes take
commit's road (export, then apply). A killed build leaves a staging directory whose lock
nobody holds, removed by the next command; the layer row is written only after the
rename, in one transaction.
"""

from __future__ import annotations

import os
import stat
import threading
from typing import Any, Callable, Optional

from rootless import syscalls as S
from rootless.mounts import mount_rootfs

from ..engine.context import Runtime


# Helpers and containers are forked, not spawned: a child gets a copy of every descriptor
# open at that moment, and a pipe whose end another thread's child holds never reaches EOF.
# With stages built side by side (--jobs), forks (and the descriptors each keeps open until
# its child reports back) therefore take turns.
FORK_LOCK = threading.Lock()


def serialized(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        with FORK_LOCK:
            return fn(*args, **kwargs)

    call.__wrapped__ = fn  # type: ignore[attr-defined]
    return call


def _prepare(driver: Any, cdir: str, dirs: list[str]) -> None:
    driver.prepare_container(cdir, dirs)


class Working:
    """The writable state of one build step (or, with --layers=false, of a whole stage)."""

    def __init__(self, rt: Runtime, layers: list[str], cdir: str, mtime: Optional[int] = None) -> None:
        self.rt = rt
        self.mtime = mtime    # --timestamp: every file the layer holds gets this mtime
        self.layers = list(layers)
        self.cdir = cdir
        store = rt.store
        self.driver = store.driver
        self.layer_dirs = [store.layer_dir(lid) for lid in self.layers]
        if self.driver.needs_userns_to_prepare():
            store.in_userns(_prepare, self.driver, cdir, self.layer_dirs)
        else:
            self.driver.prepare_container(cdir, self.layer_dirs)
        self.touched = False   # something was written (a RUN ran, files were copied)

    def rootfs(self) -> dict[str, Any]:
        """The runtime's rootfs description (mounted at cdir/merged); FROM scratch stacks the
        writable layer on an empty directory."""
        dirs = self.layer_dirs
        if not dirs and not self.driver.full_tree_layers:
            empty = os.path.join(self.cdir, "empty")
            os.makedirs(empty, exist_ok=True)
            dirs = [empty]
        return self.driver.rootfs_mount(self.cdir, dirs)

    @property
    def changes(self) -> str:
        return os.path.join(self.cdir, "rootfs" if self.driver.full_tree_layers else "diff")

    def in_root(self, fn: Callable[..., Any], *args: Any, views: Optional[list[dict[str, Any]]] = None) -> Any:
        """fn(root, *args) in the user namespace with the container's root file system mounted
        at `root` (and each of `views` mounted read-only at its target first)."""
        self.touched = True
        return in_mount_ns(self.rt, _mounted, self.rootfs(), views or [], fn, args)

    def commit(self, created: list[str]) -> tuple[str, str, int]:
        """The changes as a layer on top of the working container's layers: (layer id, diff id,
        size). `created`: paths the runtime made as mount points (removed first)."""
        store = self.rt.store
        parent = self.layers[-1] if self.layers else None
        if self.driver.name == "fuse-overlayfs":
            return self._commit_by_tar(created, parent)
        parent_dir = self.layer_dirs[-1] if self.driver.full_tree_layers and self.layer_dirs else None
        lower = [] if self.driver.full_tree_layers else self.layer_dirs
        diff_id, size = store.in_userns(_finish, self.changes, parent_dir, created, lower, self.mtime)
        layer_id = store.adopt_layer(self.changes, parent, diff_id, size)
        return layer_id, diff_id, size

    def _commit_by_tar(self, created: list[str], parent: Optional[str]) -> tuple[str, str, int]:
        from ..engine.imagestore import apply_options

        store = self.rt.store
        tar = os.path.join(self.cdir, "changes.tar")
        store.in_userns(_export, self.changes, tar, created, self.layer_dirs, self.mtime)
        layer_id, result = store.apply_layer(tar, parent, apply_options(self.rt))
        return layer_id, result.diff_id, result.size


def in_mount_ns(rt: Runtime, fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args) in a child in the user namespace (as root, rootful) with a mount namespace of its own."""
    from rootless.inuserns import run_in_userns

    with FORK_LOCK:
        return run_in_userns(_guarded, fn, args, mappings=rt.userns_mappings, extra_flags=S.CLONE_NEWNS)


def _guarded(fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
    """In the helper: its errors as podpy's own, which travel back pickled whatever they were."""
    from storage.errors import no_space

    from ..errors import EngineError, InvalidArgument, NoSuchImage, translate

    try:
        return fn(*args)
    except Exception as exc:  # noqa: BLE001
        err = translate(no_space(exc, "writing the step's files") or exc)
        cls = type(err) if type(err) in (InvalidArgument, NoSuchImage) else EngineError
        raise cls(str(err)) from None


def _mounted(desc: dict[str, Any], views: list[dict[str, Any]], fn: Callable[..., Any],
             args: tuple[Any, ...]) -> Any:
    """In the user namespace, in a mount namespace of our own: mount, call, unmount."""
    sc = S.default()
    sc.mount(None, "/", None, S.MS_REC | S.MS_PRIVATE)
    helpers = []
    for view in views:
        helpers.append(mount_view(sc, view))
    pid = mount_rootfs(sc, desc)
    try:
        return fn(desc["target"], *args)
    finally:
        sc.umount2(desc["target"], S.MNT_DETACH)
        for p in [pid, *helpers]:
            if p:
                try:
                    os.waitpid(p, 0)
                except ChildProcessError:
                    pass


def mount_view(sc: Any, view: dict[str, Any]) -> Optional[int]:
    """A read-only view of an image's layers: one layer is bound, several are stacked."""
    if view["type"] == "bind" or len(view.get("lower", [])) <= 1:
        source = view.get("source") or (view["lower"][0] if view.get("lower") else None)
        if source is None:
            return None    # an image without layers: an empty directory
        sc.mount(source, view["target"], None, S.MS_BIND | S.MS_REC)
        return None
    return mount_rootfs(sc, view)


def image_view(rt: Runtime, layers: list[str], target: str) -> dict[str, Any]:
    """The mount description of an image's file system, read-only, at target."""
    store = rt.store
    dirs = [store.layer_dir(lid) for lid in layers]
    if store.driver.full_tree_layers or not dirs:   # no layers: nothing to mount, an empty tree
        return {"type": "bind", "source": dirs[-1] if dirs else None, "target": target}
    desc = store.driver.rootfs_mount(os.path.dirname(target), dirs)
    desc.pop("upper", None)
    desc.pop("work", None)
    desc["target"] = target
    return desc


def _drop_created(root: str, created: list[str], lower: list[str]) -> None:
    """Remove the mount points the runtime made (left empty), then the directories that were
    only copied up to hold them (empty and as they are below)."""
    parents: set[str] = set()
    for rel in sorted(created, key=lambda p: p.count("/"), reverse=True):
        path = os.path.join(root, rel)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISDIR(st.st_mode):
            try:
                os.rmdir(path)
            except OSError:
                continue    # the step put something there
        elif stat.S_ISREG(st.st_mode) and st.st_size == 0:
            os.unlink(path)
        parent = os.path.dirname(rel)
        while parent:
            parents.add(parent)
            parent = os.path.dirname(parent)
    if not lower:
        return
    from storage.fsutil import is_opaque

    for rel in sorted(parents, key=lambda p: p.count("/"), reverse=True):
        if rel in created:
            continue
        path = os.path.join(root, rel)
        try:
            st = os.lstat(path)
            if not stat.S_ISDIR(st.st_mode) or os.listdir(path) or is_opaque(path):
                continue
        except OSError:
            continue
        below = _lower_stat(lower, rel)
        if below is not None and (below.st_mode, below.st_uid, below.st_gid) == (st.st_mode, st.st_uid, st.st_gid):
            os.rmdir(path)


def _lower_stat(lower: list[str], rel: str) -> Optional[os.stat_result]:
    for top in reversed(lower):
        try:
            return os.lstat(os.path.join(top, rel))
        except OSError:
            continue
    return None


def _finish(changes: str, parent_dir: Optional[str], created: list[str], lower: list[str],
            mtime: Optional[int] = None) -> tuple[str, int]:
    from storage.export import layer_digest

    _drop_created(changes, created, lower)
    if mtime is not None:
        set_mtimes(changes, mtime)
    return layer_digest(changes, parent_dir)


def _export(changes: str, tar: str, created: list[str], lower: list[str], mtime: Optional[int] = None) -> None:
    from storage.export import export_to_file

    _drop_created(changes, created, lower)
    if mtime is not None:
        set_mtimes(changes, mtime)
    export_to_file(changes, tar, "none")


def set_mtimes(root: str, mtime: int) -> None:
    """--timestamp: every entry below root (links themselves, not what they point at) gets
    mtime, deepest first so that a directory's own time is not changed again by its entries."""
    for top, dirs, files in os.walk(root, topdown=False):
        for name in files + dirs:
            os.utime(os.path.join(top, name), (mtime, mtime), follow_symlinks=False)
    os.utime(root, (mtime, mtime), follow_symlinks=False)


def squash_layers(rt: Runtime, layers: list[str], mtime: Optional[int]) -> tuple[str, str]:
    """--squash-all: the file system of these layers copied into one new layer (layer id, diff id)."""
    store = rt.store
    with store.temporary("build") as stage:
        target = os.path.join(stage.path, "view")
        os.mkdir(target)
        tree = os.path.join(stage.path, "tree")
        diff_id, size = in_mount_ns(rt, _squash, image_view(rt, layers, target), tree, mtime)
        layer_id = store.adopt_layer(tree, None, diff_id, size)
    return layer_id, diff_id


def _squash(view: dict[str, Any], tree: str, mtime: Optional[int]) -> tuple[str, int]:
    from storage.drivers.vfs import copy_tree
    from storage.export import layer_digest

    sc = S.default()
    sc.mount(None, "/", None, S.MS_REC | S.MS_PRIVATE)
    mount_view(sc, view)
    copy_tree(view["target"], tree)
    if mtime is not None:
        set_mtimes(tree, mtime)
    return layer_digest(tree, None)
