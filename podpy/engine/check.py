"""`system check`: the database against the store's files, and with --repair the database
rebuilt from them.

The database is an index of the store; the files beside the data are the truth (see
storage/sidecar.py and records.py). The check (its reading is checkscan.py) reads both
without trusting either: the database table by table (a damaged page costs the rows of its
table only), the files one by one. What each object is comes from its files; what a row
alone knows (an object whose file is missing) is taken from a database that can still be
read, and its file written back. A container's run state (running under its monitor, pid,
cgroup) comes from its row, else from the `run.json` its detached start left in the runtime
directory.

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

from .checkscan import View, check_access, database_problem, scan, unreferenced_layers
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


def _check(rt: Runtime, opts: SystemCheckOptions) -> tuple[SystemCheckReport, OldDatabase, View]:
    root = rt.cfg.root
    report = SystemCheckReport()
    old = OldDatabase()
    if not os.path.lexists(root):
        return report, old, View()
    check_access(root, opts.repair)
    old = read_old(os.path.join(root, "podpy.db"), opts.quick)
    report.database = database_problem(root, old)
    view = scan(rt, old, report, opts.max_age)
    unreferenced_layers(view, report, opts.max_age)
    report.unknown.sort()
    return report, old, view


def _repair(rt: Runtime, opts: SystemCheckOptions, report: SystemCheckReport, old: OldDatabase,
            view: View) -> None:
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
    for name in view.stale_tar_splits:
        sidecar.remove(os.path.join(root, "tar-split", name))
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


def _drop_layer(root: str, view: View, lid: str, trees: list[str], report: SystemCheckReport) -> None:
    view.layers.pop(lid, None)
    hexid = lid.split(":", 1)[-1]
    trees.append(os.path.join(root, "layers", hexid))
    sidecar.remove(os.path.join(root, "tar-split", hexid))
    sidecar.remove(sidecar.layer_path(root, lid))
    report.removed_layers.append(lid)


def _write_missing_files(rt: Runtime, view: View) -> None:
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


def _rebuild(rt: Runtime, old: OldDatabase, view: View) -> Optional[str]:
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


def _rebuild_networks_and_secrets(db: Any, view: View) -> None:
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
                for key in ("ip", "ip6"):
                    if isinstance(ep, dict) and ep.get("id") and ep.get(key):
                        c.execute("INSERT OR IGNORE INTO network_addresses (network, ip, container, created) "
                                  "VALUES (?, ?, ?, ?)", (ep["id"], ep[key], cid, float(r.get("created") or 0)))


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
