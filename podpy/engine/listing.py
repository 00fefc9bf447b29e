"""The container reads: `ps` (which rows, filtered), `inspect` (a container's document, or an
image's when no container has the name), `port` and `exists`."""

from __future__ import annotations

from storage.fsutil import tree_sizes

from ..errors import InvalidArgument, NoSuchContainer, NoSuchImage
from ..state import CONFIGURED, RUNNING
from .container import stop_waiting
from .context import Runtime
from .entities import PortReport, PsEntry, Report
from .reconcile import reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from ..state import ContainerRecord
    from .entities import PsOptions

INSPECT_KINDS = ("all", "container", "image")


SORT_KEYS = ("command", "created", "id", "image", "names", "runningfor", "size", "status")


def ps(rt: Runtime, opts: PsOptions) -> list[PsEntry]:
    """Containers as podman lists them: the running ones, unless all, a status filter or
    last/latest (the newest N, or 1) ask for more; filtered; then in the order of `sort`
    (oldest first by default). A container with a healthcheck carries its health state; with
    size, its writable layer's and its whole file system's sizes; with namespaces, the inodes
    of its namespaces."""
    from ..network.options import ports_json
    from . import psfilter
    from .reports import ps_json

    if opts.sort not in SORT_KEYS:
        raise InvalidArgument(f'invalid argument "{opts.sort}" for "--sort" flag: "{opts.sort}" is not a valid '
                              f'value.  Choose from: "{", ".join(SORT_KEYS)}"')
    if opts.latest and opts.last >= 0:
        raise InvalidArgument("last and latest are mutually exclusive")
    if opts.size and opts.namespaces:
        raise InvalidArgument("size and namespace options conflict")
    reconcile(rt)
    match = psfilter.matcher(rt, psfilter.group(opts.filters))
    last = 1 if opts.latest else opts.last
    every = rt.state.all()
    recs = [r for r in every if r.state != CONFIGURED]   # newest first
    if not opts.all and last <= 0 and not any(f.startswith("status=") for f in opts.filters):
        recs = [r for r in recs if r.state == RUNNING]
    recs = [r for r in recs if match(r)]
    if last > 0:
        recs = recs[:last]
    recs.reverse()
    sizes = _sizes(rt, recs) if opts.size else {}
    pod_names: dict[str, str] = {}
    if any(r.config.pod for r in recs):
        from .podstore import PodStore

        pod_names = {p.id: p.name for p in PodStore(rt.db).all()}
    entries = []
    for rec in recs:
        data, health = ps_json(rec), None
        if rec.config.network.startswith("container:"):
            data["Ports"] = ports_json(_published(rec, every))
        data["PodName"] = pod_names.get(rec.config.pod, "")
        if rec.state == RUNNING and stop_waiting(rt.container_run_dir(rec.id)):
            data["State"], data["Status"] = "stopping", "Stopping"   # podman's words while a stop waits
        if rec.config.healthcheck and rec.state == RUNNING:
            from .healthstate import read

            health = (read(rt, rec) or {}).get("Status", "starting")
            data["Status"] = f"{data['Status']} ({health})"
            data["Health"] = health
        if opts.size:
            data["Size"] = sizes[rec.id]
        if opts.namespaces:
            data["Namespaces"] = _namespaces(rec.pid if rec.state in (RUNNING, "paused") else None)
        entries.append(PsEntry(rec, data, health))
    return _sorted(entries, opts.sort)


def _published(rec: ContainerRecord, every: list[ContainerRecord]) -> list[dict[str, Any]]:
    """The ports published for rec: with `--network container:X` (a pod's members: its infra
    container), X's, followed to the container that has a network of its own, as podman's ps
    shows them."""
    by_id = {r.id: r for r in every}
    seen: set[str] = set()
    while rec.config.network.startswith("container:") and rec.id not in seen:
        seen.add(rec.id)
        joined = by_id.get(rec.config.network.partition(":")[2])
        if joined is None:
            return []
        rec = joined
    return list(rec.config.ports)


def _sorted(entries: list[PsEntry], key: str) -> list[PsEntry]:
    """podman's orders: text keys ascending, sizes by the writable layer, times oldest first,
    status by the state's name (exited before running); ties keep the order of creation."""
    if key == "created":
        return entries
    if key == "command":
        return sorted(entries, key=lambda e: " ".join(e.data["Command"] or []))
    if key == "id":
        return sorted(entries, key=lambda e: e.record.id)
    if key == "image":
        return sorted(entries, key=lambda e: e.record.image_name)
    if key == "names":
        return sorted(entries, key=lambda e: e.record.name)
    if key == "runningfor":
        return sorted(entries, key=lambda e: e.record.started_at or 0)
    if key == "status":
        return sorted(entries, key=lambda e: e.data["State"])
    return sorted(entries, key=lambda e: (e.data["Size"] or {}).get("rwSize", 0))


def latest(rt: Runtime) -> ContainerRecord:
    """--latest: the container created last (podman's words when there is none)."""
    for rec in rt.state.all():
        if rec.state != CONFIGURED:
            return rec
    raise NoSuchContainer("no such container")


# podman's names of a container's namespaces, in its order, and their /proc/PID/ns files
NAMESPACES = (("Mnt", "mnt"), ("Cgroup", "cgroup"), ("Ipc", "ipc"), ("Net", "net"), ("Pidns", "pid"),
              ("Uts", "uts"), ("User", "user"))


def _namespaces(pid: Optional[int]) -> dict[str, str]:
    """A running container's namespaces as podman's `ps --ns` shows them (their inode numbers);
    none for one that does not run."""
    import os

    if not pid:
        return {}
    found = {}
    for name, file in NAMESPACES:
        try:
            link = os.readlink(f"/proc/{pid}/ns/{file}")   # e.g. "mnt:[4026532386]"
        except OSError:
            continue
        found[name] = link.partition("[")[2].rstrip("]")
    return found


def _sizes(rt: Runtime, recs: list[ContainerRecord]) -> dict[str, dict[str, int]]:
    """`ps --size`: each container's writable layer (rwSize: the bytes of its files) and its
    whole file system (rootFsSize: its image's layers and that), measured in the user
    namespace, where every file can be read."""
    from storage import images as img

    images = {rec.image_id: img.by_id(rt.db.conn, rec.image_id) for rec in recs}
    uppers = []
    for rec in recs:
        image = images[rec.image_id]
        desc = rt.store.rootfs_mount(rec.id, image) if image is not None else {}
        uppers.append(desc.get("upper") or rt.store.container_dir(rec.id))
    rw = rt.store.in_userns(tree_sizes, uppers, True) if recs else []
    layer_sizes = rt.store.layer_sizes()
    out = {}
    for rec, rw_size in zip(recs, rw):
        image = images[rec.image_id]
        base = sum(layer_sizes.get(lid, 0) for lid in image.layers) if image is not None else 0
        out[rec.id] = {"rootFsSize": base + rw_size, "rwSize": rw_size}
    return out


def inspect(rt: Runtime, names: list[str], kind: str, size: bool = False) -> list[Report]:
    """One report per name: a container's inspect document (with size, its SizeRw and
    SizeRootFs), or (kind all or image) an image's.
    A name that is neither gets its error in its report; any other error (an ambiguous id
    prefix) ends the whole verb, as in podman."""
    if kind not in INSPECT_KINDS:
        raise InvalidArgument(f"invalid --type {kind!r}: use container, image or all")
    if kind != "image":
        reconcile(rt)
    reports = []
    for name in names:
        if kind in ("all", "container"):
            try:
                reports.append(Report(name, container_document(rt, rt.state.lookup(name), size)))
                continue
            except NoSuchContainer as exc:
                if kind == "container":
                    reports.append(Report(name, error=exc))
                    continue
        from .imagestore import image_document, lookup

        try:
            reports.append(Report(name, image_document(rt, lookup(rt, name))))
        except NoSuchImage:   # podman's words: of an image asked for as one, of a name found nowhere
            text = f"{name}: image not known" if kind == "image" else f"no such object: \"{name}\""
            reports.append(Report(name, error=NoSuchImage(text)))
    return reports


def container_document(rt: Runtime, rec: ContainerRecord, size: bool = False) -> dict[str, Any]:
    """`inspect` of one container: its configuration and state, log path and health; with
    size, how much it changed (SizeRw) and its image's size (SizeRootFs), after GraphDriver
    as podman places them."""
    from storage import images as img

    from .reports import container_inspect
    from .start import log_path

    image = img.by_id(rt.db.conn, rec.image_id)
    data = container_inspect(rec, rt.store.container_dir(rec.id) + "/merged", rt.store.driver.name,
                             rt.container_run_dir(rec.id), image)
    if rec.state == RUNNING and stop_waiting(rt.container_run_dir(rec.id)):
        data["State"]["Status"], data["State"]["Running"] = "stopping", False   # as podman's, while a stop waits
    if rec.config.log_driver in ("k8s-file", "json-file"):   # podman shows no path for the other drivers
        data["HostConfig"]["LogConfig"]["Path"] = log_path(rt, rec)
    if rec.config.healthcheck:
        from .healthstate import read

        data["State"]["Health"] = read(rt, rec)
        hc = rec.config.healthcheck
        data["Config"]["Healthcheck"] = {
            "Test": hc["test"], "Interval": int(hc["interval"] * 1e9), "Timeout": int(hc["timeout"] * 1e9),
            "StartPeriod": int(hc["start_period"] * 1e9), "Retries": hc["retries"]}
        data["Config"]["HealthcheckOnFailureAction"] = hc["on_failure"]
    else:   # podman's empty results, so that `{{.State.Health.Status}}` is "" (the Docker API leaves it out)
        data["State"]["Health"] = {"Status": "", "FailingStreak": 0, "Log": None}
    data["LogPath"] = log_path(rt, rec)
    if size:
        from .commit import sizes

        rw, root = sizes(rt, rec)
        keys = list(data)
        at = keys.index("GraphDriver") + 1 if "GraphDriver" in keys else len(keys)
        data = {**{k: data[k] for k in keys[:at]}, "SizeRw": rw, "SizeRootFs": root,
                **{k: data[k] for k in keys[at:]}}
    return data


def port(rt: Runtime, name: Optional[str], private: Optional[str], all_: bool,
         latest: bool) -> list[PortReport]:
    """The published ports of one container (none unless it runs), of every running one
    (all_) or of the newest running one (latest); with private ("80", "80/udp"), only the
    mappings of that container port, and for one named container an error when it has none."""
    reconcile(rt)
    if all_ or latest:
        recs = [r for r in rt.state.all() if r.state == RUNNING]
        return [PortReport(r.id, _ports(r, private)) for r in (recs[:1] if latest else recs)]
    if name is None:
        raise InvalidArgument("`podpy port` requires a container name or id, --all or --latest")
    rec = rt.state.lookup(name)
    if rec.state != RUNNING:
        return []   # as podman: a container that does not run publishes nothing
    ports = _ports(rec, private)
    if private is not None and not ports:
        raise InvalidArgument(f"failed to find published port \"{private}\"")
    return [PortReport(rec.id, ports)]


def _ports(rec: ContainerRecord, private: Optional[str]) -> list[dict[str, Any]]:
    from ..network.options import port_lines

    ports = list(rec.config.ports)
    if private is None:
        return ports
    port_lines(ports, private)   # checks PORT[/PROTOCOL]
    num, _, proto = private.partition("/")
    return [p for p in ports if p["container_port"] == int(num) and p["protocol"] == (proto or "tcp")]


def exists(rt: Runtime, name: str) -> bool:
    try:
        rt.state.lookup(name)
        return True
    except NoSuchContainer:
        return False
