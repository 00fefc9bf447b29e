"""`system df`, `system prune` and `system reset`: what the user's store holds, and clearing it."""

from __future__ import annotations

import os
import time

from ..state import CONFIGURED, RUNNING
from .context import Runtime
from .reconcile import reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


def _tree_size(paths: list[str]) -> list[int]:
    """Bytes under each path (in the user namespace, where every file can be read)."""
    out = []
    for top in paths:
        total = 0
        for dirpath, dirs, files in os.walk(top):
            for name in files + dirs:
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue
                total += st.st_blocks * 512
        out.append(total)
    return out


def disk_usage(rt: Runtime) -> dict[str, Any]:
    """podman's `system df` figures: images, containers (their writable layers), volumes."""
    reconcile(rt)
    images = rt.store.images()
    recs = [r for r in rt.state.all() if r.state != CONFIGURED]
    used_images = {r.image_id for r in recs}
    running = [r for r in recs if r.state in (RUNNING, "paused")]
    sizes = rt.store.in_userns(_tree_size, [rt.store.container_dir(r.id) for r in recs]) if recs else []
    image_size = sum(i.size for i in images)
    reclaim_images = sum(i.size for i in images if i.id not in used_images)
    per_container = dict(zip((r.id for r in recs), sizes))
    return {
        "Images": {"Total": len(images), "Active": len(used_images & {i.id for i in images}),
                   "Size": image_size, "Reclaimable": reclaim_images},
        "Containers": {"Total": len(recs), "Active": len(running), "Size": sum(sizes),
                       "Reclaimable": sum(per_container[r.id] for r in recs if r not in running)},
        "Volumes": _volume_usage(rt, recs),
        "ImageList": [{"Id": i.id, "Names": list(i.names), "Size": i.size,
                       "Containers": sum(1 for r in recs if r.image_id == i.id)} for i in images],
        "ContainerList": [{"Id": r.id, "Name": r.name, "Image": r.image_name, "Size": per_container[r.id],
                           "Status": r.state} for r in recs],
    }


def _volume_usage(rt: Runtime, recs: list[Any]) -> dict[str, int]:
    from . import volumes

    vols = volumes.all_volumes(rt)
    used = {m.get("volume") for r in recs for m in r.config.mounts}
    sizes = rt.store.in_userns(_tree_size, [v["Mountpoint"] for v in vols]) if vols else []
    return {"Total": len(vols), "Active": sum(1 for v in vols if v["Name"] in used), "Size": sum(sizes),
            "Reclaimable": sum(s for v, s in zip(vols, sizes) if v["Name"] not in used)}


def prune(rt: Runtime, all_images: bool) -> dict[str, list[str]]:
    """Containers that are not running, then dangling images (every unused one with all_images)."""
    from .removal import remove_container as remove
    from .imagestore import prune as prune_images

    reconcile(rt)
    removed: list[str] = []
    for rec in rt.state.all():
        if rec.state not in (RUNNING, "paused", CONFIGURED):
            remove(rt, rec, force=False)
            removed.append(rec.id)
    return {"containers": removed, "images": prune_images(rt, all_images)}


def reset(rt: Runtime, warn: Callable[[str], None]) -> None:
    """Everything of the user's goes: containers (killed), images, layers, the database, the
    runtime directory; files owned by subordinate ids are removed in the user namespace."""
    from storage.fsutil import remove_tree

    from .removal import remove_container as remove

    reconcile(rt)
    for rec in rt.state.all():
        try:
            remove(rt, rec, force=True)
        except Exception as exc:  # noqa: BLE001 - removed with the store below all the same
            warn(f"removing container {rec.name}: {exc}")
    root, runroot = rt.cfg.root, rt.cfg.runroot
    rt.db.close()
    for attempt in range(5):
        if not os.path.lexists(root):
            break
        try:
            rt.store.in_userns(_remove_all, root)
        except OSError:
            if attempt == 4:
                raise
            time.sleep(0.2)   # a clean-up the monitor ran was still writing there
    if os.path.lexists(runroot):
        try:
            rt.store.in_userns(_remove_all, runroot, ("monitor.sock", "monitor.lock"))
        except Exception:  # noqa: BLE001 - a tmpfs that goes at the next boot
            remove_tree(runroot)


def _remove_all(path: str, keep: tuple[str, ...] = ()) -> None:
    from storage.fsutil import remove_tree

    if keep:
        for name in os.listdir(path):
            if name not in keep:
                remove_tree(os.path.join(path, name))
    else:
        remove_tree(path)
