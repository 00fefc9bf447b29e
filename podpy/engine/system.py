"""The system engine: `info`, `version`, `system df`, `system prune`, `system reset`, `events`,
`auto-update` and `unshare`: how podpy is set up, what the user's store holds, clearing it, its event log,
and a command in the user's user namespace."""

from __future__ import annotations

import os
import time

from storage.fsutil import tree_sizes

from ..errors import InvalidArgument
from ..state import CONFIGURED, RUNNING
from .context import Runtime
from .reconcile import reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterator, Optional

    from storage.images import Image

    from .autoupdate import AutoUpdateOptions, Outcome
    from .entities import EventsOptions, Finding, PruneFilters, SystemCheckOptions, SystemCheckReport, SystemPruneReport


def disk_usage(rt: Runtime) -> dict[str, Any]:
    """podman's `system df` figures: images, containers (their writable layers), volumes."""
    reconcile(rt)
    images = rt.store.images()
    recs = [r for r in rt.state.all() if r.state != CONFIGURED]
    used_images = {r.image_id for r in recs}
    running = [r for r in recs if r.state in (RUNNING, "paused")]
    sizes = rt.store.in_userns(tree_sizes, [rt.store.container_dir(r.id) for r in recs]) if recs else []
    # A layer that several images share is counted once, and is reclaimable only when no image
    # that a container uses has it.
    layer_sizes = rt.store.layer_sizes()
    all_layers = {lid for i in images for lid in i.layers}
    kept_layers = {lid for i in images if i.id in used_images for lid in i.layers}
    users = {lid: sum(1 for i in images if lid in i.layers) for lid in all_layers}
    image_size = sum(layer_sizes.get(lid, 0) for lid in all_layers)
    reclaim_images = sum(layer_sizes.get(lid, 0) for lid in all_layers - kept_layers)
    per_container = dict(zip((r.id for r in recs), sizes))

    def shared(image: Any) -> int:
        return sum(layer_sizes.get(lid, 0) for lid in set(image.layers) if users[lid] > 1)

    volume_usage = _volume_usage(rt, recs)

    return {
        "Images": {"Total": len(images), "Active": len(used_images & {i.id for i in images}),
                   "Size": image_size, "Reclaimable": reclaim_images},
        "Containers": {"Total": len(recs), "Active": len(running), "Size": sum(sizes),
                       "Reclaimable": sum(per_container[r.id] for r in recs if r not in running)},
        "Volumes": volume_usage,
        "VolumeList": volume_usage.pop("List"),
        "ImageList": [{"Id": i.id, "Names": list(i.names), "Size": i.size, "SharedSize": shared(i),
                       "UniqueSize": i.size - shared(i),
                       "Containers": sum(1 for r in recs if r.image_id == i.id), "Created": i.created}
                      for i in images],
        "ContainerList": [{"Id": r.id, "Name": r.name, "Image": r.image_name, "Size": per_container[r.id],
                           "Status": r.state, "Created": r.created,
                           "Command": list(r.config.entrypoint) + list(r.config.command),
                           "LocalVolumes": sum(1 for m in r.config.mounts if m.get("volume"))} for r in recs],
    }


def _volume_usage(rt: Runtime, recs: list[Any]) -> dict[str, int]:
    from . import volumestore as volumes

    vols = volumes.all_volumes(rt)
    used = {m.get("volume") for r in recs for m in r.config.mounts}
    sizes = rt.store.in_userns(tree_sizes, [v["Mountpoint"] for v in vols]) if vols else []
    links = {v["Name"]: sum(1 for r in recs for m in r.config.mounts if m.get("volume") == v["Name"]) for v in vols}
    return {"Total": len(vols), "Active": sum(1 for v in vols if v["Name"] in used), "Size": sum(sizes),
            "Reclaimable": sum(s for v, s in zip(vols, sizes) if v["Name"] not in used),
            "List": [{"Name": v["Name"], "Links": links[v["Name"]], "Size": s} for v, s in zip(vols, sizes)]}


def prune(rt: Runtime, all_images: bool, volumes: bool = False,
          filters: Optional[PruneFilters] = None) -> SystemPruneReport:
    """Containers that are not running, then the networks no container is on, then dangling
    images (every unused one with all_images), then with volumes the volumes no container uses (a failure there is the report's); with
    filters, only what they match (labels and creation times: the containers', the images'
    configurations', the volumes')."""
    from ..errors import translate
    from ..formats import parse_rfc3339
    from .entities import SystemPruneReport
    from .imagestore import prune as prune_images
    from .removal import prune_matching as prune_containers

    def image_matches(image: Image) -> bool:
        cfg = image.config
        return filters is None or filters.matches((cfg.get("config") or {}).get("Labels"),
                                                  parse_rfc3339(str(cfg.get("created") or "")))

    pruned = prune_containers(rt, lambda r: filters is None or filters.matches(r.config.labels, r.created))
    failed = next((r.error for r in pruned if r.error is not None), None)
    if failed is not None:
        raise failed
    removed = [r.id for r in pruned]
    # as podman's: the networks no container is on next (the default one stays), then the images
    from .networks import prune as prune_networks

    networks = prune_networks(rt, filters)
    sizes = {i.id: i.size for i in rt.store.images()}
    images = prune_images(rt, all_images, also=image_matches if filters else None)
    report = SystemPruneReport(removed, images, networks=networks, reclaimed=sum(sizes.get(i, 0) for i in images))
    if volumes:
        from .volumes import prune as prune_volumes

        try:
            report.volumes = prune_volumes(rt, match=None if filters is None else (
                lambda v: filters.matches(v["Labels"], parse_rfc3339(v["CreatedAt"]))))
        except Exception as exc:  # noqa: BLE001 - the containers and images above are gone all the same
            report.volumes, report.volumes_error = [], translate(exc)
    return report


def _remove_volumes_elsewhere(rt: Runtime) -> None:
    """The volumes' directories under a --volumepath outside the store (the store's own go
    with it)."""
    path = rt.volume_path
    if path == os.path.join(rt.cfg.root, "volumes"):
        return
    from .volumestore import all_volumes, delete

    for vol in all_volumes(rt):
        delete(rt, str(vol["Name"]))


def reset(rt: Runtime, warn: Callable[[str], None]) -> None:
    """Everything of the user's goes: containers (killed), images, layers, the database, the
    runtime directory; files owned by subordinate ids are removed in the user namespace. A
    damaged database does not stop it: the containers its files say run are killed instead."""
    from storage.db import damaged
    from storage.errors import DatabaseDamaged
    from storage.fsutil import remove_tree

    from ..errors import DatabaseUnreadable, translate
    from .context import in_userns_for
    from .removal import remove_container as remove

    try:
        reconcile(rt)
        for rec in rt.state.all():
            try:
                remove(rt, rec, force=True)
            except Exception as exc:  # noqa: BLE001 - removed with the store below all the same
                warn(f"removing container {rec.name}: {exc}")
        from .mounts import release_all

        release_all(rt)   # mounted images: their mount points are in the store
        _remove_volumes_elsewhere(rt)
    except Exception as exc:  # noqa: BLE001 - only a damaged database is passed over
        if not (damaged(exc) or isinstance(exc, (DatabaseDamaged, DatabaseUnreadable))):
            raise
        warn(f"{translate(exc)}; removing the store all the same")
        _kill_recorded(rt)
    root, runroot = rt.cfg.root, rt.cfg.runroot
    if "db" in rt.__dict__:
        rt.db.close()
    in_userns = in_userns_for(rt.cfg.rootless, lambda: rt.userns_mappings)
    for attempt in range(5):
        if not os.path.lexists(root):
            break
        try:
            in_userns(_remove_all, root)
        except OSError:
            if attempt == 4:
                raise
            time.sleep(0.2)   # a clean-up the monitor ran was still writing there
    if os.path.lexists(runroot):
        try:
            in_userns(_remove_all, runroot, ("monitor.sock", "monitor.lock"))
        except Exception:  # noqa: BLE001 - a tmpfs that goes at the next boot
            remove_tree(runroot)


def _kill_recorded(rt: Runtime) -> None:
    """Without a database: every process of the cgroups that detached containers' run files
    name (records.py) is killed."""
    from .records import read_run

    top = os.path.join(rt.cfg.runroot, "containers")
    try:
        ids = os.listdir(top)
    except OSError:
        return
    for cid in ids:
        run = read_run(os.path.join(top, cid))
        if run and run.get("cgroup"):
            from rootless import cgroups

            try:
                cgroups.kill_all(run["cgroup"])
            except Exception:  # noqa: BLE001 - gone already
                pass


def _remove_all(path: str, keep: tuple[str, ...] = ()) -> None:
    from storage.fsutil import remove_tree

    if keep:
        for name in os.listdir(path):
            if name not in keep:
                remove_tree(os.path.join(path, name))
    else:
        remove_tree(path)


def unshare(rt: Runtime, argv: list[str], rootless_netns: bool = False) -> int:
    """Run argv in the user's user namespace (with a mount namespace of its own) and the
    store's paths in PODPY_GRAPHROOT and PODPY_RUNROOT; its exit code. ^C goes to it. With
    rootless_netns, in the user and network namespaces of the rootless network namespace's
    holder (started if none runs, and kept while argv runs), where the user networks'
    bridges are."""
    import signal

    from rootless import syscalls
    from rootless.inuserns import run_in_userns

    from ..errors import ExecFailed

    env = dict(os.environ, PODPY_GRAPHROOT=rt.cfg.root, PODPY_RUNROOT=rt.cfg.runroot,
               _PODPY_USERNS_CONFIGURED="done")

    def do_exec() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        from rootless.execpath import lookpath

        os.execve(lookpath(argv[0], env.get("PATH")), argv, env)

    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    chan = None
    try:
        if rootless_netns:
            from rootless.network.holder_client import connect
            from rootless.inuserns import run_in_namespaces_of

            chan, hello = connect(rt.cfg.runroot, rt.cfg.rootless)
            return run_in_namespaces_of(int(hello["pid"]), ["net"], do_exec, expect_exec=True)
        return run_in_userns(do_exec, mappings=rt.userns_mappings, extra_flags=syscalls.CLONE_NEWNS,
                             expect_exec=True)
    except FileNotFoundError:
        raise ExecFailed(f"executable file `{argv[0]}` not found in $PATH: No such file or directory", 127)
    except PermissionError:
        raise ExecFailed(f"`{argv[0]}`: permission denied", 126)
    finally:
        if chan is not None:
            chan.close()
        signal.signal(signal.SIGINT, old)


class SystemEngine:
    """The verbs on podpy as a whole over one store (a Runtime: configuration, database, store)."""

    def __init__(self, rt: Runtime, warn: Callable[[str], None]) -> None:
        self.rt = rt
        self.warn = warn   # one line for the user, not an error

    @staticmethod
    def version() -> dict[str, Any]:
        """`version`: which podpy this is (it needs no store)."""
        from .info import version

        return version()

    def info(self) -> dict[str, Any]:
        """`info`: host, registries, store and version, as podman's document."""
        from .info import info

        return info(self.rt)

    def doctor(self, probe: bool = True) -> list[Finding]:
        """`system doctor`: every check of the host's set-up, in order (see doctor.py)."""
        from .doctor import diagnose

        return diagnose(self.rt, probe)

    def df(self) -> dict[str, Any]:
        """`system df`: Images, Containers and Volumes (Total, Active, Size, Reclaimable in
        bytes), and ImageList and ContainerList, one entry each."""
        return disk_usage(self.rt)

    def prune(self, all_images: bool = False, volumes: bool = False,
              filters: Optional[list[str]] = None) -> SystemPruneReport:
        """`system prune`: containers that do not run, dangling images (every unused one with
        all_images) and with volumes the unused volumes; filters (until, label, label!) pick
        among them."""
        from .entities import PruneFilters

        parsed = PruneFilters.parse(list(filters), "{key} is an invalid filter") if filters else None
        return prune(self.rt, all_images, volumes, parsed)

    def reset(self) -> None:
        """`system reset`: every container, image, layer and volume, the database and the
        runtime directory."""
        reset(self.rt, self.warn)

    def check(self, opts: SystemCheckOptions) -> SystemCheckReport:
        """`system check`: the database against the store's files; with opts.repair the
        database rebuilt from the files (the old one kept aside) and damaged images (and with
        opts.force their containers) removed; what was found and done. Opens neither the
        database nor the store the usual way: both may be damaged."""
        from .check import check

        return check(self.rt, opts)

    def events(self, opts: EventsOptions) -> Iterator[dict[str, Any]]:
        """`events`: the event log's entries in order (podman's shape), filtered; with
        opts.stream, new ones as they come. The filters are checked before the first one."""
        from .. import events as event_log
        from .events_read import events, parse_filters, report

        if event_log.backend() == "none":
            raise InvalidArgument('cannot read events with the "none" backend')
        wanted = parse_filters(list(opts.filters))
        return (report(e) for e in events(self.rt, opts.since, opts.until, wanted, opts.stream))

    def auto_update(self, opts: AutoUpdateOptions, report: Callable[[str], None]) -> Outcome:
        """`auto-update`: the running containers whose label asks for it, on a newer image
        through their systemd unit (see autoupdate.py); a report per container and the errors.
        report: pull's progress lines."""
        from .autoupdate import auto_update

        return auto_update(self.rt, opts, report)

    def unshare(self, argv: list[str], rootless_netns: bool = False) -> int:
        """`unshare`: argv ($SHELL without one) in the user's user namespace (with
        rootless_netns, the rootless network namespace's); its exit code."""
        return unshare(self.rt, list(argv) or [os.environ.get("SHELL") or "/bin/sh"], rootless_netns)
