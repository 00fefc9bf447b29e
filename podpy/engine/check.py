"""`system check`: the database against the store's files, and with --repair the database
rebuilt from them.

The database is an index of the store; the files beside the data are the truth (see
storage/sidecar.py and records.py). The check reads both without trusting either: the
database table by table (a damaged page costs the rows of its table only), the files one by
one. What each object is comes from its files; what a row alone knows (an object whose file
is missing) is taken from a database that can still be read, and its file written back. A
container's run state (running under its monitor, pid, cgroup) comes from its row, else from
the `run.json` its detached start left in the runtime directory.

User networks and secrets are read the same way (their files, else their rows), and the
addresses containers hold on networks come from the containers' configurations.

--repair then builds a new database beside the old one, from that merged view, with the
rows of the tables no file describes (the `podpy mount` counters, the build cache) that can
still be read, and puts it in place: the old one is renamed aside with the time in its name
(never deleted). Images whose layers are gone are removed (not while a container uses them, unless
--force, which removes those containers too, as podman's check does), and so are layers no
image uses that are older than --max. Nothing in the store that no file describes is ever
removed: it is listed.
"""

from __future__ import annotations

import json
import os
import time

from storage import sidecar
from storage.recovery import OldDatabase, read_old, replace

from ..errors import EngineError
from .entities import SystemCheckOptions, SystemCheckReport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from .context import Runtime


def _salvageable() -> dict[str, tuple[Any, tuple[str, ...]]]:
    """component -> (its migrations, its tables), for the tables no file describes."""
    from ..imagebuild.cache import SCHEMA as BUILD
    from .mounttable import SCHEMA as MOUNTS

    return {"mounts": (MOUNTS, ("mounts",)), "build": (BUILD, ("build_cache", "build_sources"))}


class _View:
    """The store as its files and the readable rows say it is."""

    def __init__(self) -> None:
        self.layers: dict[str, dict[str, Any]] = {}
        self.images: dict[str, dict[str, Any]] = {}
        self.volumes: dict[str, dict[str, Any]] = {}
        self.containers: dict[str, dict[str, Any]] = {}
        self.networks: dict[str, dict[str, Any]] = {}    # name -> row
        self.secrets: dict[str, dict[str, Any]] = {}     # id -> row
        self.stale_layer_records: list[str] = []    # records of layers whose directory is gone
        self.unfinished_images: list[str] = []      # image directories with a config and no record
        self.missing_files: set[str] = set()        # objects known from a row only: file to write


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def _rows(old: OldDatabase, table: str, key: str) -> dict[str, dict[str, Any]]:
    return {str(r[key]): r for r in old.tables.get(table, [])}


def _problem(report: SystemCheckReport, kind: str, ident: str, text: str) -> None:
    getattr(report, kind).setdefault(ident, []).append(text)


def _scan(rt: Runtime, old: OldDatabase, report: SystemCheckReport) -> _View:
    root = rt.cfg.root
    view = _View()
    _scan_layers(root, old, report, view)
    _scan_images(root, old, report, view)
    _scan_volumes(root, old, report, view)
    _scan_containers(rt, old, report, view)
    _scan_networks_and_secrets(root, old, report, view)
    return view


def _scan_networks_and_secrets(root: str, old: OldDatabase, report: SystemCheckReport, view: _View) -> None:
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


def _scan_layers(root: str, old: OldDatabase, report: SystemCheckReport, view: _View) -> None:
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
            _problem(report, "layers", rec["id"], "its directory is missing")
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
            _problem(report, "layers", lid, "no file describes it (the database does)")
        else:
            report.unknown.append(os.path.join(top, d))
    for lid in rows:
        if lid not in view.layers and lid not in view.stale_layer_records:
            _problem(report, "layers", lid, "its directory is missing")


def _scan_images(root: str, old: OldDatabase, report: SystemCheckReport, view: _View) -> None:
    rows = _rows(old, "images", "id")
    names: dict[str, list[str]] = {}
    for r in old.tables.get("image_names", []):
        names.setdefault(str(r["image_id"]), []).append(str(r["name"]))
        if str(r["image_id"]) not in rows and "images" in old.tables:
            _problem(report, "images", str(r["name"]), f"the name points to image {str(r['image_id'])[:12]}, "
                     "which is not in the database")
    top = os.path.join(root, "images")
    for d in _listdir(top):
        rec = sidecar.read_image(root, d)
        if rec is not None and rec.get("id") == d:
            view.images[d] = rec
            if d in rows and "image_names" in old.tables and sorted(names.get(d, [])) != sorted(rec["names"]):
                _problem(report, "images", d, f"its names in the database ({', '.join(sorted(names.get(d, [])))}) "
                         f"are not those of its files ({', '.join(rec['names'])})")
        elif d in rows:
            view.images[d] = _image_from_row(rows[d], names.get(d, []))
            view.missing_files.add("image:" + d)
            _problem(report, "images", d, "its files are missing or unreadable (the database describes it)")
        elif _unfinished(root, d):
            view.unfinished_images.append(d)
            _problem(report, "images", d, "its making did not finish (a config and no record)")
        else:
            report.unknown.append(os.path.join(top, d))
    for iid, r in rows.items():
        if iid not in view.images:
            view.images[iid] = _image_from_row(r, names.get(iid, []))
            view.missing_files.add("image:" + iid)
            _problem(report, "images", iid, "no file describes it (the database does)")
    for iid, rec in view.images.items():
        for lid in rec["layers"]:
            if lid not in view.layers:
                _problem(report, "images", iid, f"its layer {lid} is missing")


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


def _scan_volumes(root: str, old: OldDatabase, report: SystemCheckReport, view: _View) -> None:
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
            _problem(report, "volumes", name, "no file describes it (the database does)")
        elif os.path.isdir(os.path.join(top, name, "_data")):
            # A volume's directory whose description is lost: its data is kept as a volume of
            # that name, without labels (nothing else can be known of it).
            view.volumes[name] = {"name": name, "created": os.stat(os.path.join(top, name)).st_mtime,
                                  "labels": {}, "options": {}, "anonymous": False}
            view.missing_files.add("volume:" + name)
            _problem(report, "volumes", name, "nothing describes it: kept without labels")
        else:
            report.unknown.append(os.path.join(top, name))
    for name in rows:
        if name not in view.volumes:
            _problem(report, "volumes", name, "its directory is missing")


def _scan_containers(rt: Runtime, old: OldDatabase, report: SystemCheckReport, view: _View) -> None:
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
                _problem(report, "containers", cid, "no file describes it (the database does)")
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
            _problem(report, "containers", cid, "its directory is missing")
    damaged_images = {iid for iid in report.images if iid in view.images}
    for cid, r in view.containers.items():
        if r["image_id"] not in view.images:
            _problem(report, "containers", cid, f"its image {str(r['image_id'])[:12]} is missing")
        elif r["image_id"] in damaged_images and any(lid not in view.layers
                                                     for lid in view.images[r["image_id"]]["layers"]):
            _problem(report, "containers", cid, f"its image {str(r['image_id'])[:12]} has lost layers")


def _transient(row: dict[str, Any]) -> bool:
    """A container that has no file of its own: one run with --rm (gone when it ends), or one
    whose create is under way (its file comes when its storage is made)."""
    if row.get("state") == "configured":
        return True
    try:
        return bool(json.loads(row["config"]).get("remove"))
    except (TypeError, ValueError):
        return False


def _unreferenced_layers(view: _View, report: SystemCheckReport, max_age: float) -> list[str]:
    used = {lid for rec in view.images.values() for lid in rec["layers"]}
    now = time.time()
    old = []
    for lid, rec in view.layers.items():
        if lid not in used and now - float(rec.get("created") or 0) > max_age:
            _problem(report, "layers", lid, "no image uses it, and it is older than the --max age")
            old.append(lid)
    return old


def _database_problem(root: str, old: OldDatabase) -> Optional[str]:
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


def _check_access(root: str, repair: bool) -> None:
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


def check(rt: Runtime, opts: SystemCheckOptions) -> SystemCheckReport:
    """Check the store; with opts.repair, repair it and check again (an error when damage is
    left, as podman's)."""
    report, old, view = _check(rt, opts)
    if not opts.repair:
        return report
    if report.errors:
        _repair(rt, opts, report, old, view)
    again = _check(rt, SystemCheckOptions(quick=opts.quick, max_age=opts.max_age))[0]
    report.repaired = True
    report.left = again.errors
    return report


def _check(rt: Runtime, opts: SystemCheckOptions) -> tuple[SystemCheckReport, OldDatabase, _View]:
    root = rt.cfg.root
    report = SystemCheckReport()
    old = OldDatabase()
    if not os.path.lexists(root):
        return report, old, _View()
    _check_access(root, opts.repair)
    old = read_old(os.path.join(root, "podpy.db"), opts.quick)
    report.database = _database_problem(root, old)
    view = _scan(rt, old, report)
    _unreferenced_layers(view, report, opts.max_age)
    report.unknown.sort()
    return report, old, view


def _repair(rt: Runtime, opts: SystemCheckOptions, report: SystemCheckReport, old: OldDatabase,
            view: _View) -> None:
    """Remove what is damaged beyond use, write the files only rows had, rebuild the database."""
    from .context import in_userns_for

    root = rt.cfg.root
    in_userns = in_userns_for(rt.cfg.rootless, lambda: rt.userns_mappings)
    doomed_trees: list[str] = []
    # Images that lost layers go (with the layers only they had), unless a container uses
    # them; with --force those containers go first.
    users: dict[str, list[str]] = {}
    for cid, r in view.containers.items():
        users.setdefault(str(r["image_id"]), []).append(cid)
    broken = {iid for iid, rec in view.images.items() if any(lid not in view.layers for lid in rec["layers"])}
    for cid, r in list(view.containers.items()):
        lost_image = r["image_id"] not in view.images or r["image_id"] in broken
        lost_dir = not os.path.isdir(os.path.join(root, "containers", cid))
        if (lost_image or lost_dir) and opts.force:
            doomed_trees.append(os.path.join(root, "containers", cid))
            del view.containers[cid]
            report.removed_containers.append(cid)
    in_use = {str(r["image_id"]) for r in view.containers.values()}
    for iid in sorted(broken - in_use):
        rec = view.images.pop(iid)
        sidecar.remove_image(root, iid)
        report.removed_images.append(iid)
        still = {lid for other in view.images.values() for lid in other["layers"]}
        for lid in rec["layers"]:
            if lid in view.layers and lid not in still:
                _drop_layer(root, view, lid, doomed_trees, report)
    still = {lid for other in view.images.values() for lid in other["layers"]}
    for lid in list(view.layers):
        if lid not in still and time.time() - float(view.layers[lid].get("created") or 0) > opts.max_age:
            _drop_layer(root, view, lid, doomed_trees, report)
    for lid in view.stale_layer_records:
        sidecar.remove(sidecar.layer_path(root, lid))
    for iid in view.unfinished_images:
        sidecar.remove_image(root, iid)
        report.removed_images.append(iid)
    if doomed_trees:
        in_userns(_remove_trees, [p for p in doomed_trees if os.path.lexists(p)])
    _write_missing_files(rt, view)
    moved = _rebuild(rt, old, view)
    report.moved_aside = moved
    report.restored = {"images": len(view.images), "layers": len(view.layers), "volumes": len(view.volumes),
                       "containers": len(view.containers)}


def _remove_trees(paths: list[str]) -> None:
    """In the user namespace: the trees of what a repair removes (files of container ids)."""
    from storage.fsutil import remove_tree

    for path in paths:
        remove_tree(path)


def _drop_layer(root: str, view: _View, lid: str, trees: list[str], report: SystemCheckReport) -> None:
    view.layers.pop(lid, None)
    hexid = lid.split(":", 1)[-1]
    trees.append(os.path.join(root, "layers", hexid))
    sidecar.remove(os.path.join(root, "tar-split", hexid))
    sidecar.remove(sidecar.layer_path(root, lid))
    report.removed_layers.append(lid)


def _write_missing_files(rt: Runtime, view: _View) -> None:
    """Files for the objects only a row described (the database was readable there)."""
    from ..state import ContainerConfig, ContainerRecord
    from .records import write_container, write_volume

    root = rt.cfg.root
    for key in sorted(view.missing_files):
        kind, _, ident = key.partition(":")
        if kind == "layer" and ident in view.layers:
            r = view.layers[ident]
            sidecar.write_json(sidecar.layer_path(root, ident), {
                **r, "tar_split": os.path.exists(os.path.join(root, "tar-split", ident.split(":", 1)[-1]))})
        elif kind == "image" and ident in view.images:
            _write_image(root, view.images[ident])
        elif kind == "volume" and ident in view.volumes:
            v = view.volumes[ident]
            write_volume(root, ident, v["created"], v["labels"], v["options"], v["anonymous"])
        elif kind == "network" and ident in view.networks:
            from .records import write_network

            n = view.networks[ident]
            write_network(root, ident, n["id"], n["created"], n["config"])
        elif kind == "secret" and ident in view.secrets:
            from .records import write_secret

            write_secret(root, view.secrets[ident])
        elif kind == "container" and ident in view.containers:
            r = view.containers[ident]
            rec = ContainerRecord(**{k: r.get(k) for k in ContainerRecord.FIELDS if k != "config"},
                                  config=ContainerConfig.from_json(r["config"]))
            write_container(root, rec)


def _write_image(root: str, rec: dict[str, Any]) -> None:
    sidecar.write_image(root, rec["id"], rec["config"], rec.get("manifest"), {
        "id": rec["id"], "layers": rec["layers"], "names": sorted(rec["names"]), "digest": rec.get("digest"),
        "size": int(rec.get("size") or 0), "created": float(rec.get("created") or 0)})


def _rebuild(rt: Runtime, old: OldDatabase, view: _View) -> Optional[str]:
    """A new database from the view (and the other tables' readable rows), put in place of
    the old one, which is kept aside; returns where."""
    from storage import images as img
    from storage.db import STORAGE_SCHEMA, Database

    from ..state import SCHEMA as CONTAINERS
    from .volumestore import SCHEMA as VOLUMES

    root = rt.cfg.root
    path = os.path.join(root, "podpy.db")
    new = f"{path}.rebuild-{os.getpid()}"
    for suffix in ("", "-wal", "-shm"):
        sidecar.remove(new + suffix)
    db = Database(new)
    try:
        db.migrate("storage", STORAGE_SCHEMA)
        db.migrate("containers", CONTAINERS)
        db.migrate("volumes", VOLUMES)
        _rebuild_networks_and_secrets(db, view)
        with db.write() as c:
            for key, value in _meta(root, old).items():
                c.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
            for r in sorted(view.layers.values(), key=lambda r: float(r.get("created") or 0)):
                c.execute("INSERT INTO layers (id, parent, diff_id, compressed_digest, size, created)"
                          " VALUES (?, ?, ?, ?, ?, ?)", (r["id"], r.get("parent"), r["diff_id"],
                                                         r.get("compressed_digest"), int(r.get("size") or 0),
                                                         float(r.get("created") or 0)))
            taken: dict[str, str] = {}
            for rec in sorted(view.images.values(), key=lambda r: float(r.get("created") or 0)):
                img.insert(c, rec["id"], rec["config"], list(rec["layers"]), int(rec.get("size") or 0),
                           float(rec.get("created") or 0), rec.get("manifest"), rec.get("digest"))
                for n in rec["names"]:
                    img.set_name(c, n, rec["id"])   # two images that claim a name: the newer has it
                    taken[n] = rec["id"]
            for v in view.volumes.values():
                c.execute("INSERT INTO volumes (name, created, labels, options, anonymous) VALUES (?, ?, ?, ?, ?)",
                          (v["name"], float(v["created"]), json.dumps(v["labels"]), json.dumps(v["options"]),
                           int(bool(v["anonymous"]))))
            for r in view.containers.values():
                cols = [k for k in ("id", "name", "image_id", "image_name", "created", "state", "config", "pid",
                                    "exit_code", "started_at", "finished_at", "owner_pid", "owner_start",
                                    "detached", "restarts", "stopping", "cgroup") if k in r]
                c.execute(f"INSERT OR IGNORE INTO containers ({', '.join(cols)}) VALUES "
                          f"({', '.join('?' for _ in cols)})", [r[k] for k in cols])
        for rec in view.images.values():   # a name that moved to a newer image leaves the older one's files
            kept = sorted(n for n in rec["names"] if taken.get(n) == rec["id"])
            if kept != sorted(rec["names"]):
                rec["names"] = kept
                _write_image(root, rec)
        _salvage(db, old)
        db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    for suffix in ("-wal", "-shm"):
        sidecar.remove(new + suffix)
    return replace(path, new)


def _rebuild_networks_and_secrets(db: Any, view: _View) -> None:
    """The networks and secrets tables, and the addresses the containers hold on the networks
    (from their configurations: each endpoint names its network's id and its address)."""
    from ..network.table import SCHEMA as NETWORKS
    from .secrets import SCHEMA as SECRETS

    db.migrate("networks", NETWORKS)
    db.migrate("secrets", SECRETS)
    with db.write() as c:
        for n in view.networks.values():
            c.execute("INSERT OR IGNORE INTO networks (name, id, created, config) VALUES (?, ?, ?, ?)",
                      (n["name"], n["id"], float(n["created"]), n["config"]))
        for r in view.secrets.values():
            c.execute("INSERT OR IGNORE INTO secrets (id, name, driver, created, updated, labels) "
                      "VALUES (?, ?, ?, ?, ?, ?)", (r["id"], r["name"], r.get("driver") or "file",
                                                    float(r["created"]), float(r.get("updated") or r["created"]),
                                                    r.get("labels") or "{}"))
        for cid, r in view.containers.items():
            try:
                endpoints = json.loads(r["config"]).get("networks") or {}
            except (TypeError, ValueError):
                continue
            for ep in endpoints.values():
                if isinstance(ep, dict) and ep.get("id") and ep.get("ip"):
                    c.execute("INSERT OR IGNORE INTO network_addresses (network, ip, container, created) "
                              "VALUES (?, ?, ?, ?)", (ep["id"], ep["ip"], cid, float(r.get("created") or 0)))


def _meta(root: str, old: OldDatabase) -> dict[str, str]:
    meta = {str(r["key"]): str(r["value"]) for r in old.tables.get("meta", [])}
    recorded = sidecar.read_json(sidecar.driver_path(root))
    if recorded and recorded.get("driver"):
        if meta.get("driver") != recorded["driver"]:
            meta.pop("driver_reason", None)
        meta["driver"] = str(recorded["driver"])
    return meta


def _salvage(db: Any, old: OldDatabase) -> None:
    """The other components' tables, with the rows the old database still gave."""
    for component, (schema, tables) in _salvageable().items():
        if not old.versions.get(component):
            continue
        db.migrate(component, schema)
        for table in tables:
            rows = old.tables.get(table)
            if not rows:
                continue
            have = {r[1] for r in db.conn.execute(f'PRAGMA table_info("{table}")')}
            try:
                with db.write() as c:
                    for r in rows:
                        cols = [k for k in r if k in have]
                        c.execute(f'INSERT OR IGNORE INTO "{table}" ({", ".join(cols)}) VALUES '
                                  f'({", ".join("?" for _ in cols)})', [r[k] for k in cols])
            except Exception:  # noqa: BLE001 - rows that do not fit the table now are left out
                continue
