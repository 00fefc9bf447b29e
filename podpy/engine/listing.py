"""The container reads: `ps` (which rows, filtered), `inspect` (a container's document, or an
image's when no container has the name), `port` and `exists`."""

from __future__ import annotations

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


def ps(rt: Runtime, opts: PsOptions) -> list[PsEntry]:
    """Containers newest first: running (and paused) ones unless all, latest, last or a filter
    asks for more; a container with a healthcheck carries its health state."""
    from .reports import ps_json

    reconcile(rt)
    recs = [r for r in rt.state.all() if r.state != CONFIGURED]
    if not opts.all and not opts.latest and opts.last < 0 and not opts.filters:
        recs = [r for r in recs if r.state in (RUNNING, "paused")]
    recs = _filter(recs, opts.filters)
    if opts.latest:
        recs = recs[:1]
    elif opts.last >= 0:
        recs = recs[:opts.last]
    entries = []
    for rec in recs:
        data, health = ps_json(rec), None
        if rec.state == RUNNING and stop_waiting(rt.container_run_dir(rec.id)):
            data["State"], data["Status"] = "stopping", "Stopping"   # podman's words while a stop waits
        if rec.config.healthcheck and rec.state == RUNNING:
            from .healthstate import read

            health = (read(rt, rec) or {}).get("Status", "starting")
            data["Status"] = f"{data['Status']} ({health})"
            data["Health"] = health
        entries.append(PsEntry(rec, data, health))
    return entries


# podman's keys of `ps --filter` (which start, stop, restart, pause, unpause and rm take too),
# and those podpy has
PODMAN_PS_FILTERS = {"id", "name", "label", "label!", "exited", "status", "ancestor", "before", "since",
                     "volume", "health", "network", "pod", "until", "restart-policy"}
FILTERS = {"id", "name", "status", "label", "ancestor"}


def check_filters(verb: str, filters: list[str]) -> None:
    """A verb's --filter values, as podman checks them: KEY=VALUE with a ps key; a key podman
    has and podpy has not yet is refused saying which it has."""
    for f in filters:
        key, sep, _ = f.partition("=")
        if not sep:
            raise InvalidArgument(f'invalid filter "{f}"')
        if key in PODMAN_PS_FILTERS and key not in FILTERS:
            raise InvalidArgument(f"{verb} --filter {key} is not available yet: use " + ", ".join(sorted(FILTERS)))
        if key not in FILTERS:
            raise InvalidArgument(f"{key} is an invalid filter")


def latest(rt: Runtime) -> ContainerRecord:
    """--latest: the container created last (podman's words when there is none)."""
    for rec in rt.state.all():
        if rec.state != CONFIGURED:
            return rec
    raise NoSuchContainer("no such container")


def _filter(recs: list[ContainerRecord], filters: list[str]) -> list[ContainerRecord]:
    from .reports import _ps_state

    for f in filters:
        key, sep, value = f.partition("=")
        if not sep:
            raise InvalidArgument(f"invalid filter {f!r}: expected KEY=VALUE")
        if key == "name":
            recs = [r for r in recs if value in r.name]
        elif key == "id":
            recs = [r for r in recs if r.id.startswith(value)]
        elif key == "status":
            recs = [r for r in recs if _ps_state(r) == value]
        elif key == "label":
            k, _, v = value.partition("=")
            recs = [r for r in recs if k in r.config.labels and (not v or r.config.labels[k] == v)]
        elif key == "ancestor":
            recs = [r for r in recs if value in (r.image_name, r.image_id) or r.image_id.startswith(value)]
        else:
            raise InvalidArgument(f"invalid filter {key!r}: use name, id, status, label or ancestor")
    return recs


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
        except NoSuchImage:
            reports.append(Report(name, error=NoSuchImage(f"no such object: \"{name}\"")))
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
    if rec.config.log_driver == "k8s-file":   # podman shows no path for the other drivers
        data["HostConfig"]["LogConfig"]["Path"] = log_path(rt, rec)
    if rec.config.healthcheck:
        from .healthstate import read

        data["State"]["Health"] = read(rt, rec)
        hc = rec.config.healthcheck
        data["Config"]["Healthcheck"] = {
            "Test": hc["test"], "Interval": int(hc["interval"] * 1e9), "Timeout": int(hc["timeout"] * 1e9),
            "StartPeriod": int(hc["start_period"] * 1e9), "Retries": hc["retries"]}
        data["Config"]["HealthcheckOnFailureAction"] = hc["on_failure"]
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
