"""What `system check` reads: the store's files and what its database still gives, merged
into one view of the store, and the problems met on the way (see check.py for the verb).

Each kind is read the same way: its files first (storage/sidecar.py, records.py); a row of a
readable database fills in what no file describes, and is marked so that a repair writes the
file; what is on disk and described by nothing is listed, never guessed at.
"""

from __future__ import annotations

import json
import os
import time

from storage import sidecar
from storage.recovery import OldDatabase

from ..errors import EngineError
from .entities import SystemCheckReport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from .context import Runtime


class View:
    """The store as its files and the readable rows say it is."""

    def __init__(self) -> None:
        self.layers: dict[str, dict[str, Any]] = {}
        self.images: dict[str, dict[str, Any]] = {}
        self.volumes: dict[str, dict[str, Any]] = {}
        self.containers: dict[str, dict[str, Any]] = {}
        self.networks: dict[str, dict[str, Any]] = {}    # name -> row
        self.secrets: dict[str, dict[str, Any]] = {}     # id -> row
        self.stale_layer_records: list[str] = []    # records of layers whose directory is gone
        self.stale_tar_splits: list[str] = []       # tar-split records of layers that are not there
        self.unfinished_images: list[str] = []      # image directories with a config and no record
        self.missing_files: set[str] = set()        # objects known from a row only: file to write


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def _rows(old: OldDatabase, table: str, key: str) -> dict[str, dict[str, Any]]:
    return {str(r[key]): r for r in old.tables.get(table, [])}


def problem(report: SystemCheckReport, kind: str, ident: str, text: str) -> None:
    getattr(report, kind).setdefault(ident, []).append(text)


def scan(rt: Runtime, old: OldDatabase, report: SystemCheckReport, max_age: float) -> View:
    root = rt.cfg.root
    view = View()
    _scan_layers(root, old, report, view, max_age)
    _scan_images(root, old, report, view, max_age)
    _scan_volumes(root, old, report, view)
    _scan_containers(rt, old, report, view)
    _scan_networks_and_secrets(root, old, report, view)
    return view


def _scan_networks_and_secrets(root: str, old: OldDatabase, report: SystemCheckReport, view: View) -> None:
    """User networks and secrets: their rows from their files, else from readable rows (whose
    files a repair writes; a row without its file alone is not reported as damage)."""
    from .records import read_networks, read_secrets

    view.networks = read_networks(root)
    rows = _rows(old, "networks", "name")
    for name, r in rows.items():
        if name not in view.networks:
            view.networks[name] = dict(r)
            view.missing_files.add("network:" + name)
    view.secrets = read_secrets(root)
    data_dir = os.path.join(root, "secrets", "filedriver")
    for sid, r in _rows(old, "secrets", "id").items():
        if sid not in view.secrets and os.path.exists(os.path.join(data_dir, sid)):
            view.secrets[sid] = dict(r)
            view.missing_files.add("secret:" + sid)


def _scan_layers(root: str, old: OldDatabase, report: SystemCheckReport, view: View, max_age: float) -> None:
    rows = _rows(old, "layers", "id")
    top = os.path.join(root, "layers")
    entries = _listdir(top)
    dirs = {e for e in entries if os.path.isdir(os.path.join(top, e))}
    for e in entries:
        if not e.endswith(".json"):
            continue
        rec = sidecar.read_json(os.path.join(top, e))
        hexid = e[:-5]
        if rec is None or str(rec.get("id", "")).split(":", 1)[-1] != hexid:
            report.unknown.append(os.path.join(top, e))
            continue
        if hexid not in dirs:
            problem(report, "layers", rec["id"], "its directory is missing")
            view.stale_layer_records.append(rec["id"])
            continue
        view.layers[rec["id"]] = rec
    for d in sorted(dirs):
        lid = "sha256:" + d
        if lid in view.layers:
            continue
        if lid in rows:
            r = rows[lid]
            view.layers[lid] = {"id": lid, "parent": r["parent"], "diff_id": r["diff_id"],
                                "compressed_digest": r["compressed_digest"], "size": r["size"],
                                "created": r["created"]}
            view.missing_files.add("layer:" + lid)
            problem(report, "layers", lid, "no file describes it (the database does)")
        else:
            report.unknown.append(os.path.join(top, d))
    for lid in rows:
        if lid not in view.layers and lid not in view.stale_layer_records:
            problem(report, "layers", lid, "its directory is missing")
    splits = os.path.join(root, "tar-split")
    for name in _listdir(splits):
        lid = "sha256:" + name
        if lid in view.layers or lid in rows or name in dirs:
            continue
        # A layer being installed has its record a moment before its directory: only one
        # older than --max was left by a command killed on the way (or an older podpy's).
        try:
            age = time.time() - os.lstat(os.path.join(splits, name)).st_mtime
        except FileNotFoundError:
            continue
        if age > max_age:
            view.stale_tar_splits.append(name)
            problem(report, "layers", lid, "a tar-split record is left of it, and nothing else")


def _scan_images(root: str, old: OldDatabase, report: SystemCheckReport, view: View, max_age: float) -> None:
    rows = _rows(old, "images", "id")
    names: dict[str, list[str]] = {}
    for r in old.tables.get("image_names", []):
        names.setdefault(str(r["image_id"]), []).append(str(r["name"]))
        if str(r["image_id"]) not in rows and "images" in old.tables:
            problem(report, "images", str(r["name"]), f"the name points to image {str(r['image_id'])[:12]}, "
                     "which is not in the database")
    top = os.path.join(root, "images")
    for d in _listdir(top):
        rec = sidecar.read_image(root, d)
        if rec is not None and rec.get("id") == d:
            view.images[d] = rec
            if d in rows and "image_names" in old.tables and sorted(names.get(d, [])) != sorted(rec["names"]):
                problem(report, "images", d, f"its names in the database ({', '.join(sorted(names.get(d, [])))}) "
                         f"are not those of its files ({', '.join(rec['names'])})")
        elif d in rows:
            view.images[d] = _image_from_row(rows[d], names.get(d, []))
            view.missing_files.add("image:" + d)
            problem(report, "images", d, "its files are missing or unreadable (the database describes it)")
        elif _unfinished(root, d):
            # One being made now has a config and no record for a moment: only one older than
            # --max was left by a killed command.
            age = time.time() - os.stat(os.path.join(top, d, sidecar.IMAGE_CONFIG)).st_mtime
            if age > max_age:
                view.unfinished_images.append(d)
                problem(report, "images", d, "its making did not finish (a config and no record)")
        else:
            report.unknown.append(os.path.join(top, d))
    for iid, r in rows.items():
        if iid not in view.images:
            view.images[iid] = _image_from_row(r, names.get(iid, []))
            view.missing_files.add("image:" + iid)
            problem(report, "images", iid, "no file describes it (the database does)")
    for iid, rec in view.images.items():
        for lid in rec["layers"]:
            if lid not in view.layers:
                problem(report, "images", iid, f"its layer {lid} is missing")
    # A name two images' files claim (a tag killed between its two files): the newer keeps it.
    holder: dict[str, str] = {}
    for rec in sorted(view.images.values(), key=lambda r: float(r.get("created") or 0)):
        for n in rec["names"]:
            if n in holder:
                problem(report, "images", holder[n], f"its name {n} is also given to image {rec['id'][:12]}, "
                        "which keeps it")
            holder[n] = rec["id"]


def _unfinished(root: str, image_id: str) -> bool:
    """An image directory a killed command left: its config alone (whose digest is its name)."""
    import hashlib

    d = sidecar.image_dir(root, image_id)
    config = sidecar.read_text(os.path.join(d, sidecar.IMAGE_CONFIG))
    return (config is not None and not os.path.exists(os.path.join(d, sidecar.IMAGE))
            and hashlib.sha256(config.encode()).hexdigest() == image_id)


def _image_from_row(r: dict[str, Any], names: list[str]) -> dict[str, Any]:
    return {"id": r["id"], "layers": json.loads(r["layers"]), "names": sorted(names), "digest": r["digest"],
            "size": r["size"], "created": r["created"], "config": r["config"], "manifest": r["manifest"]}


def _scan_volumes(root: str, old: OldDatabase, report: SystemCheckReport, view: View) -> None:
    from .records import read_volume

    rows = _rows(old, "volumes", "name")
    top = os.path.join(root, "volumes")
    for name in _listdir(top):
        if not os.path.isdir(os.path.join(top, name)):
            report.unknown.append(os.path.join(top, name))
            continue
        rec = read_volume(root, name)
        if rec is not None:
            view.volumes[name] = rec
        elif name in rows:
            r = rows[name]
            view.volumes[name] = {"name": name, "created": r["created"], "labels": json.loads(r["labels"]),
                                  "options": json.loads(r["options"]), "anonymous": bool(r["anonymous"])}
            view.missing_files.add("volume:" + name)
            problem(report, "volumes", name, "no file describes it (the database does)")
        elif os.path.isdir(os.path.join(top, name, "_data")):
            # A volume's directory whose description is lost: its data is kept as a volume of
            # that name, without labels (nothing else can be known of it).
            view.volumes[name] = {"name": name, "created": os.stat(os.path.join(top, name)).st_mtime,
                                  "labels": {}, "options": {}, "anonymous": False}
            view.missing_files.add("volume:" + name)
            problem(report, "volumes", name, "nothing describes it: kept without labels")
        else:
            report.unknown.append(os.path.join(top, name))
    for name in rows:
        if name not in view.volumes:
            problem(report, "volumes", name, "its directory is missing")


def _scan_containers(rt: Runtime, old: OldDatabase, report: SystemCheckReport, view: View) -> None:
    from .records import read_container, read_run

    root = rt.cfg.root
    rows = _rows(old, "containers", "id")
    top = os.path.join(root, "containers")
    for cid in _listdir(top):
        rec = read_container(root, cid)
        if cid in rows:
            view.containers[cid] = dict(rows[cid])
            if rec is None and not _transient(rows[cid]):
                view.missing_files.add("container:" + cid)
                problem(report, "containers", cid, "no file describes it (the database does)")
        elif rec is not None:
            row = {k: rec.get(k) for k in ("id", "name", "image_id", "image_name", "created", "state",
                                           "exit_code", "started_at", "finished_at")}
            row.update(config=json.dumps(rec["config"]), restarts=int(rec.get("restarts") or 0), pid=None,
                       owner_pid=None, owner_start=None, detached=0, stopping=0, cgroup=None)
            run = read_run(rt.container_run_dir(cid))
            if run is not None:
                # It was handed to its monitor and has not been cleaned up: the monitor owns it
                # again (if the monitor is gone, the next command finishes it as for any row).
                row.update(state="running", pid=run.get("pid"), owner_pid=run.get("monitor"),
                           owner_start=run.get("monitor_start"), cgroup=run.get("cgroup"),
                           started_at=run.get("started_at"), detached=1)
            view.containers[cid] = row
        else:
            report.unknown.append(os.path.join(top, cid))
    for cid, r in rows.items():
        if cid not in view.containers:
            view.containers[cid] = dict(r)
            problem(report, "containers", cid, "its directory is missing")
    damaged_images = {iid for iid in report.images if iid in view.images}
    for cid, r in view.containers.items():
        if r["image_id"] not in view.images:
            problem(report, "containers", cid, f"its image {str(r['image_id'])[:12]} is missing")
        elif r["image_id"] in damaged_images and any(lid not in view.layers
                                                     for lid in view.images[r["image_id"]]["layers"]):
            problem(report, "containers", cid, f"its image {str(r['image_id'])[:12]} has lost layers")


def _transient(row: dict[str, Any]) -> bool:
    """A container that has no file of its own: one run with --rm (gone when it ends), or one
    whose create is under way (its file comes when its storage is made)."""
    if row.get("state") == "configured":
        return True
    try:
        return bool(json.loads(row["config"]).get("remove"))
    except (TypeError, ValueError):
        return False


def unreferenced_layers(view: View, report: SystemCheckReport, max_age: float) -> list[str]:
    used = {lid for rec in view.images.values() for lid in rec["layers"]}
    now = time.time()
    old = []
    for lid, rec in view.layers.items():
        if lid not in used and now - float(rec.get("created") or 0) > max_age:
            problem(report, "layers", lid, "no image uses it, and it is older than the --max age")
            old.append(lid)
    return old


def database_problem(root: str, old: OldDatabase) -> Optional[str]:
    from storage.store import holds_records

    if old.problem:
        return old.problem
    if not holds_records(root):
        return None
    if not old.exists:
        return "it is missing, but the store holds images or volumes"
    if not old.versions.get("storage"):
        return "it is missing or empty, but the store holds images or volumes"
    return None


def check_access(root: str, repair: bool) -> None:
    try:
        st = os.stat(root)
    except PermissionError as exc:
        raise EngineError(f"cannot read the store {root}: {exc.strerror}") from exc
    if st.st_uid != os.geteuid():
        raise EngineError(f"the store {root} belongs to another user (uid {st.st_uid}): "
                          "`system check` checks your own store only")
    if not os.access(root, os.R_OK | os.X_OK):
        raise EngineError(f"cannot read the store {root}: Permission denied")
    if repair and not os.access(root, os.W_OK):
        raise EngineError(f"cannot repair the store {root}: it is not writable")
