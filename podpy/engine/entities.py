"""What the engines take and give back: typed options in, typed reports out.

Every front end (the CLI, the HTTP API, `kube play`) fills these and reads these; none of
them knows a command line. A verb over several objects returns one `Report` per object,
each with its own error, so `rm a b c` (or `volume rm`, `network rm`, `rmi`) can partly fail
and say which. The classes are Records, not dataclasses: containers.py imports this module
on the path of `podpy run`, where importing dataclasses costs more than the whole parse.
"""

from __future__ import annotations

from ..errors import InvalidArgument, PodpyError, translate
from ..record import REQUIRED, Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from storage.images import Image

    from ..state import ContainerRecord


class Report:
    """One object of a multi-object verb: its name as given, what the verb returned for it
    (an exit code for `wait`, an inspect document for `inspect`) and, when it failed, why."""

    __slots__ = ("name", "value", "error")

    def __init__(self, name: str, value: object = None, error: Optional[PodpyError] = None) -> None:
        self.name, self.value, self.error = name, value, error

    def __repr__(self) -> str:
        return f"Report({self.name!r}, {self.value!r}, {self.error!r})"


def each(names: list[str], verb: Callable[[str], object]) -> list[Report]:
    """verb(name) for every name, one report each: an error stops only its own name."""
    reports = []
    for name in names:
        try:
            reports.append(Report(name, verb(name)))
        except PodpyError as exc:
            reports.append(Report(name, error=exc))
        except Exception as exc:  # noqa: BLE001 - one report each, not one traceback for all
            reports.append(Report(name, error=translate(exc)))
    return reports


def failed(reports: list[Report]) -> Optional[PodpyError]:
    """The first error of a list of reports (None when all went well)."""
    return next((r.error for r in reports if r.error is not None), None)


# -- containers ------------------------------------------------------------------------------

class PsOptions(Record):
    """`ps`: which containers (running ones unless all; the latest, the last N), filters as
    KEY=VALUE (podman's keys, psfilter.py), the order (a SORT_KEYS word of listing.py), and
    whether to measure their sizes and read their namespaces."""

    FIELDS = {"all": False, "latest": False, "last": -1, "filters": list, "sort": "created", "size": False,
              "namespaces": False}
    __slots__ = tuple(FIELDS)
    all: bool
    latest: bool
    last: int
    filters: list[str]
    sort: str
    size: bool
    namespaces: bool


class PsEntry(Record):
    """One container of `ps`: its row and podman's list entry for it (the `--format json`
    shape, with the health state of a container that has a healthcheck)."""

    FIELDS = {"record": REQUIRED, "data": REQUIRED, "health": None}
    __slots__ = tuple(FIELDS)
    record: ContainerRecord
    data: dict[str, Any]
    health: Optional[str]


class PortReport(Record):
    """`port`: a running container and its published ports (host_ip, host_port,
    container_port, protocol), only those of the container port asked for when one was."""

    FIELDS = {"id": REQUIRED, "ports": list}
    __slots__ = tuple(FIELDS)
    id: str
    ports: list[dict[str, Any]]


class LogsOptions(Record):
    """`logs`: follow until the container stops, the last `tail` lines (-1: all), and a time
    window (seconds since the epoch)."""

    FIELDS = {"follow": False, "tail": -1, "since": None, "until": None}
    __slots__ = tuple(FIELDS)
    follow: bool
    tail: int
    since: Optional[float]
    until: Optional[float]


class CommitOptions(Record):
    """`commit`: the container, the new image's name (none: unnamed), Containerfile
    instructions to apply, the history comment and author, and whether to pause it meanwhile;
    include_volumes: every volume and bind mount's destination becomes a VOLUME of the image (by
    default only its anonymous volumes'); squash: the image is one layer, the whole file system."""

    FIELDS = {"container": REQUIRED, "image": None, "changes": list, "message": "", "author": "",
              "pause": False, "include_volumes": False, "squash": False}
    __slots__ = tuple(FIELDS)
    container: str
    image: Optional[str]
    changes: list[str]
    message: str
    author: str
    pause: bool
    include_volumes: bool
    squash: bool


class ContainerPruneOptions(Record):
    """`container prune`: only containers created before `until`, and with every label of
    `labels` ((key, "=", value), or (key, "", "") for the key alone)."""

    FIELDS = {"until": None, "labels": list}
    __slots__ = tuple(FIELDS)
    until: Optional[float]
    labels: list[tuple[str, str, str]]

    @classmethod
    def from_filters(cls, filters: list[str]) -> "ContainerPruneOptions":
        """until=TIME and label=KEY[=VALUE], as `--filter` gives them."""
        from ..formats import parse_time

        until, labels = None, []
        for f in filters:
            key, _, value = f.partition("=")
            if key == "until" and value:
                until = parse_time(value, "--filter until")
            elif key == "label" and value:
                labels.append(value.partition("="))
            else:
                raise InvalidArgument(f"invalid filter {f!r}: use until=TIME or label=KEY[=VALUE]")
        return cls(until=until, labels=labels)


class PruneFilters(Record):
    """A prune's --filter as podman's network and system prune take them: until=TIME (made
    before it), label=KEY[=VALUE] (has it) and label!=KEY[=VALUE] (has it not), all of them."""

    FIELDS = {"until": None, "labels": list, "not_labels": list}
    __slots__ = tuple(FIELDS)
    until: Optional[float]
    labels: list[tuple[str, str, str]]
    not_labels: list[tuple[str, str, str]]

    @classmethod
    def parse(cls, filters: list[str], bad_key: str = 'invalid filter "{key}"',
              no_value: str = 'invalid filter "{filter}"',
              keys: tuple[str, ...] = ("until", "label", "label!")) -> "PruneFilters":
        """The filters given, of keys; bad_key and no_value are the messages for another key
        and for a filter without "=" (podman's words differ between verbs)."""
        from ..formats import parse_time

        out = cls()
        for f in filters:
            key, sep, value = f.partition("=")
            if not sep:
                raise InvalidArgument(no_value.format(filter=f))
            if key not in keys:
                raise InvalidArgument(bad_key.format(key=key))
            if key == "until":
                out.until = parse_time(value, "--filter until")
            elif key in ("label", "label!"):
                (out.labels if key == "label" else out.not_labels).append(value.partition("="))
            else:
                raise InvalidArgument(bad_key.format(key=key))
        return out

    def matches(self, labels: Optional[dict[str, str]], created: Optional[float]) -> bool:
        def has(k: str, sep: str, v: str) -> bool:
            return k in have and (not sep or have[k] == v)

        have = labels or {}
        if self.until is not None and (created is None or created >= self.until):
            return False
        return all(has(*lab) for lab in self.labels) and not any(has(*lab) for lab in self.not_labels)


class PruneReport(Record):
    """One container (or other object) a prune tried to remove: removed, or why not."""

    FIELDS = {"id": REQUIRED, "name": REQUIRED, "error": None}
    __slots__ = tuple(FIELDS)
    id: str
    name: str
    error: Optional[PodpyError]


# -- images ----------------------------------------------------------------------------------

class ImportOptions(Record):
    """`import`: a rootfs tarball (a file, "-" for stdin, or an http(s) URL) as an image named
    `reference` (none: unnamed), with Containerfile instructions and a history comment; arch,
    os and variant are what its configuration says it is for (this host's by default)."""

    FIELDS = {"source": REQUIRED, "reference": None, "changes": list, "message": "", "arch": None, "os": None,
              "variant": None}
    __slots__ = tuple(FIELDS)
    source: str
    reference: Optional[str]
    changes: list[str]
    message: str
    arch: Optional[str]
    os: Optional[str]
    variant: Optional[str]


class SaveOptions(Record):
    """`save`: images to output (None or "-": stdout, tar formats only) as format
    (docker-archive, oci-archive, oci-dir, docker-dir). Without multi_image the names after
    the first are more tags of the first image (docker-archive), as podman takes them;
    compress gzips docker-dir's layers, uncompressed keeps the OCI formats' layers plain."""

    FIELDS = {"names": list, "output": None, "format": "docker-archive", "compress": False,
              "uncompressed": False, "multi_image": False}
    __slots__ = tuple(FIELDS)
    names: list[str]
    output: Optional[str]
    format: str
    compress: bool
    uncompressed: bool
    multi_image: bool


class LoadReport(Record):
    """One image of `load`: the image and the names it was loaded under (as podman prints them:
    none for an unnamed one, which is told by its id)."""

    FIELDS = {"image": REQUIRED, "names": list}
    __slots__ = tuple(FIELDS)
    image: Image
    names: list[str]


class ImageSummary(Record):
    """One image of `images`: the image, how many containers use it, when it was made
    (seconds) and podman's list entry for it (the `--format json` shape)."""

    FIELDS = {"image": REQUIRED, "containers": 0, "created": 0.0, "data": dict}
    __slots__ = tuple(FIELDS)
    image: Image
    containers: int
    created: float
    data: dict[str, Any]


class ImageRemoveReport(Record):
    """One name of `rmi`: the names it untagged, the image it deleted (with the unnamed build
    steps it was made from, `also`), or why not."""

    FIELDS = {"name": REQUIRED, "untagged": list, "deleted": None, "error": None, "also": list}
    __slots__ = tuple(FIELDS)
    name: str
    untagged: list[str]
    deleted: Optional[str]
    error: Optional[PodpyError]
    also: list[str]


# -- mounts ----------------------------------------------------------------------------------

class MountReport(Record):
    """One mounted image or container, as `mount` and `image mount` list them: its id, its
    names (a container's name; an image's names), an image's digest, where it is mounted and
    how many mounts it counts."""

    FIELDS = {"id": REQUIRED, "names": list, "digest": "", "path": REQUIRED, "count": 1}
    __slots__ = tuple(FIELDS)
    id: str
    names: list[str]
    digest: str
    path: str
    count: int


# -- volumes and networks --------------------------------------------------------------------

class VolumeCreateOptions(Record):
    """`volume create`: a name (none: a random one), the driver (local), labels, driver
    options, whether an existing one of that name is fine, the bridge's name and the
    network's own name servers."""

    FIELDS = {"name": None, "driver": "local", "labels": dict, "options": dict, "ignore": False}
    __slots__ = tuple(FIELDS)
    name: Optional[str]
    driver: str
    labels: dict[str, str]
    options: dict[str, str]
    ignore: bool


class NetworkCreateOptions(Record):
    """`network create`: a name (none: podmanN), the driver (bridge), subnets with their
    gateways and address ranges (one value or a list each, paired in order), IPv6 (a /64 of
    its own unless a subnet is IPv6), no way out (internal), labels, no DNS responder, driver
    options, whether an existing one of that name is fine, the bridge's name and the
    network's own name servers."""

    FIELDS = {"name": None, "driver": "bridge", "subnet": None, "gateway": None, "ip_range": None,
              "internal": False, "labels": dict, "disable_dns": False, "options": list, "ignore": False,
              "ipv6": False, "ipam_driver": None, "interface_name": None, "dns": list}
    __slots__ = tuple(FIELDS)
    name: Optional[str]
    driver: str
    subnet: Optional[str | list[str]]
    gateway: Optional[str | list[str]]
    ip_range: Optional[str | list[str]]
    internal: bool
    labels: dict[str, str]
    disable_dns: bool
    options: list[str]
    ignore: bool
    ipv6: bool
    ipam_driver: Optional[str]
    interface_name: Optional[str]   # the bridge's name (podpyN when None)
    dns: list[str]                  # name servers for its containers (the host's when none)


class NetworkSummary(Record):
    """One network of `network ls`: its record (the `--format json` shape) and how many
    containers are on it."""

    FIELDS = {"network": REQUIRED, "containers": 0}
    __slots__ = tuple(FIELDS)
    network: dict[str, Any]
    containers: int


# -- system ----------------------------------------------------------------------------------

class SystemPruneReport(Record):
    """`system prune`: the containers, networks and images removed, and the volumes when they
    were asked for (None when not); volumes_error when pruning the volumes failed; reclaimed:
    the bytes the removed images held."""

    FIELDS = {"containers": list, "images": list, "volumes": None, "volumes_error": None, "networks": list,
              "reclaimed": 0}
    __slots__ = tuple(FIELDS)
    containers: list[str]
    images: list[str]
    volumes: Optional[list[str]]
    volumes_error: Optional[PodpyError]
    networks: list[str]
    reclaimed: int


class EventsOptions(Record):
    """`events`: a time window (seconds since the epoch), filters as KEY=VALUE (type, event,
    container, image, volume) and whether to keep waiting for new events."""

    FIELDS = {"since": None, "until": None, "filters": list, "stream": True}
    __slots__ = tuple(FIELDS)
    since: Optional[float]
    until: Optional[float]
    filters: list[str]
    stream: bool


class Finding(Record):
    """One check of `system doctor`: its name, "ok", "warn" or "fail", what it means for the
    user's containers, and the fix as a command to run ("" when none is needed), with
    admin True when that command needs the administrator."""

    FIELDS = {"check": REQUIRED, "status": REQUIRED, "message": REQUIRED, "fix": "", "admin": False}
    __slots__ = tuple(FIELDS)
    check: str
    status: str
    message: str
    fix: str
    admin: bool


class SystemCheckOptions(Record):
    """`system check`: repair (rebuild the database from the store's files, drop damaged
    images no container uses), force (with repair: also the containers of damaged images),
    quick (skip SQLite's full integrity check of the database) and max_age (seconds: layers no
    image uses older than this are treated as damaged; podman's default is a day)."""

    FIELDS = {"repair": False, "force": False, "quick": False, "max_age": 86400.0}
    __slots__ = tuple(FIELDS)
    repair: bool
    force: bool
    quick: bool
    max_age: float


class SystemCheckReport(Record):
    """What `system check` found, per object: id -> the problems with it, and, after a repair,
    what was done. `database`: the database's own problem (None when it reads well);
    `unknown`: paths in the store that no file describes (never removed, only listed);
    `restored`: after a repair, how many of each kind the new database holds; `moved_aside`:
    where the repair put the old database; `left`: whether the check after the repair still
    found damage."""

    FIELDS = {"database": None, "layers": dict, "images": dict, "containers": dict, "volumes": dict,
              "unknown": list, "removed_layers": list, "removed_images": list, "removed_containers": list,
              "restored": dict, "moved_aside": None, "repaired": False, "left": False}
    __slots__ = tuple(FIELDS)
    database: Optional[str]
    layers: dict[str, list[str]]
    images: dict[str, list[str]]
    containers: dict[str, list[str]]
    volumes: dict[str, list[str]]
    unknown: list[str]
    removed_layers: list[str]
    removed_images: list[str]
    removed_containers: list[str]
    restored: dict[str, int]
    moved_aside: Optional[str]
    repaired: bool
    left: bool

    @property
    def errors(self) -> bool:
        return bool(self.database or self.layers or self.images or self.containers or self.volumes)
