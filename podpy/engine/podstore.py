"""Pods' rows in the user's database, and a pod's status from its containers' states.

A pod is a name, the options it was made with and, when it has one, its infra container: a
pause process (catatonit) whose network, IPC and UTS namespaces (and PID and cgroup ones when
asked) the pod's other containers join. Membership is each container's (its config's `pod`);
the pod's row does not list them, so a container made or removed never rewrites the pod's.
"""

from __future__ import annotations

from storage import fastjson as json
from storage.db import sqlite3

from ..errors import Ambiguous, NameInUse, NoSuchPod
from ..record import REQUIRED, Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from storage.db import Database

    from ..state import ContainerRecord
    from .runoptions import CreateOptions

SCHEMA = (
    """
    CREATE TABLE pods (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created REAL NOT NULL,
        config TEXT NOT NULL,
        infra_id TEXT
    )
    """,
)

SHAREABLE = ("cgroup", "ipc", "net", "pid", "uts")
DEFAULT_SHARE = ("net", "uts", "ipc")   # in the order podman's inspect lists them


class PodConfig(Record):
    """What `pod create` decided."""

    FIELDS = {
        "labels": dict, "share": list, "infra": True, "infra_image": "", "infra_command": list,
        "infra_name": "", "hostname": "", "exit_policy": "continue", "create_command": list,
        "cgroup_parent": "", "share_parent": True, "ports": list, "networks": list, "dns": dict,
        "add_hosts": list, "userns": "", "volumes": list, "no_hosts": False, "shm_size": "", "devices": list,
        "volumes_from": list, "uidmap": list, "gidmap": list, "subuidname": "", "subgidname": "",
        "security_opts": list, "sysctls": list, "cgroup_dir": "", "limits": dict, "resources": dict,
        "cgroup_opts": dict, "namespace": "",
    }
    __slots__ = tuple(FIELDS)
    labels: dict[str, str]
    share: list[str]
    infra: bool
    infra_image: str
    infra_command: list[str]
    infra_name: str
    hostname: str
    exit_policy: str
    create_command: list[str]
    cgroup_parent: str
    share_parent: bool
    ports: list[str]        # -p as given (the infra container holds them)
    networks: list[str]     # --network as given
    dns: dict[str, list[str]]
    add_hosts: list[str]
    userns: str
    volumes: list[str]
    no_hosts: bool          # the pod's containers get no /etc/hosts
    shm_size: str           # their /dev/shm's size
    devices: list[str]      # host devices every container of the pod gets
    volumes_from: list[str]  # the infra container's --volumes-from (its members take the infra's)
    uidmap: list[str]       # the infra container's id maps, in whose user namespace its members run
    gidmap: list[str]
    subuidname: str
    subgidname: str
    security_opts: list[str]  # the infra container's alone, as podman keeps them
    sysctls: list[str]        # the infra container's, in the namespaces its members share
    cgroup_dir: str           # where the pod's cgroup is made ("" none: no cgroup could be made there)
    limits: dict[str, str]    # its cgroup files (podcgroup.py), written when a container of it starts
    resources: dict[str, Any]  # the limits as `pod inspect` shows them
    cgroup_opts: dict[str, Any]  # the cgroup flags as given (for `pod clone`)
    namespace: str            # --namespace: the libpod namespace it belongs to

    @classmethod
    def from_json(cls, text: str) -> "PodConfig":
        data = json.loads(text)
        return cls(**{k: v for k, v in data.items() if k in cls.FIELDS})

    def to_json(self) -> str:
        return json.dumps(self.as_dict())


class PodRecord(Record):
    FIELDS = {"id": REQUIRED, "name": REQUIRED, "created": REQUIRED, "config": REQUIRED, "infra_id": None}
    __slots__ = tuple(FIELDS)
    id: str
    name: str
    created: float
    config: PodConfig
    infra_id: Optional[str]


def _record(row: sqlite3.Row) -> PodRecord:
    return PodRecord(id=row["id"], name=row["name"], created=row["created"],
                     config=PodConfig.from_json(row["config"]), infra_id=row["infra_id"])


class PodStore:
    """The pods table."""

    def __init__(self, db: Database, namespace: str = "") -> None:
        self.db = db
        db.migrate("pods", SCHEMA)
        self.namespace = namespace   # --namespace: other namespaces' pods are not listed nor found

    def insert(self, rec: PodRecord) -> None:
        taken = self.db.conn.execute("SELECT id FROM containers WHERE name=?", (rec.name,)).fetchone()
        if taken is not None:
            raise NameInUse(f"adding pod to state: name \"{rec.name}\" is in use: container already exists")
        try:
            with self.db.write() as c:
                c.execute("INSERT INTO pods (id, name, created, config, infra_id) VALUES (?, ?, ?, ?, ?)",
                          (rec.id, rec.name, rec.created, rec.config.to_json(), rec.infra_id))
        except sqlite3.IntegrityError as exc:
            raise NameInUse(f"adding pod to state: name \"{rec.name}\" is in use: pod already exists") from exc

    def set_infra(self, pod_id: str, infra_id: Optional[str]) -> None:
        with self.db.write() as c:
            c.execute("UPDATE pods SET infra_id=? WHERE id=?", (infra_id, pod_id))

    def get(self, pod_id: str) -> Optional[PodRecord]:
        row = self.db.conn.execute("SELECT * FROM pods WHERE id=?", (pod_id,)).fetchone()
        return _record(row) if row else None

    def lookup(self, name_or_id: str) -> PodRecord:
        """By exact name, full id, or unique id prefix."""
        c = self.db.conn
        row = c.execute("SELECT * FROM pods WHERE name=? OR id=?", (name_or_id, name_or_id)).fetchone()
        if row:
            return self._in_namespace(_record(row))
        if name_or_id and all(ch in "0123456789abcdef" for ch in name_or_id):
            rows = c.execute("SELECT * FROM pods WHERE id LIKE ?", (name_or_id + "%",)).fetchall()
            if len(rows) == 1:
                return self._in_namespace(_record(rows[0]))
            if len(rows) > 1:
                raise Ambiguous(f"more than one result for pod ID {name_or_id}")
        raise NoSuchPod(f"no pod with name or ID {name_or_id} found: no such pod")

    def _in_namespace(self, rec: PodRecord) -> PodRecord:
        if self.namespace and rec.config.namespace != self.namespace:
            from ..errors import PodpyError

            raise PodpyError(f"cannot retrieve pod {rec.id} as it is part of namespace \"{rec.config.namespace}\" "
                             f"and we are in namespace \"{self.namespace}\": target is in a different namespace")
        return rec

    def all(self) -> list[PodRecord]:
        """Every pod, newest first (of this command's --namespace only, when given)."""
        rows = self.db.conn.execute("SELECT * FROM pods ORDER BY created DESC").fetchall()
        return [r for r in map(_record, rows) if not self.namespace or r.config.namespace == self.namespace]

    def delete(self, pod_id: str) -> None:
        with self.db.write() as c:
            c.execute("DELETE FROM pods WHERE id=?", (pod_id,))


def members(all_containers: list[ContainerRecord], pod_id: str) -> list[ContainerRecord]:
    """The containers of a pod (its infra container included), oldest first."""
    return sorted((r for r in all_containers if r.config.pod == pod_id), key=lambda r: r.created)


def status(states: list[str]) -> str:
    """A pod's status from its containers' states, by podman's rules: Running when all run,
    Degraded when some do, Exited when all have stopped, Stopped when some have and none
    runs, Paused when all are paused, Created when all are created (or there are none)."""
    total = len(states)
    if not total:
        return "Created"
    running = sum(s == "running" for s in states)
    stopped = sum(s in ("exited", "stopped") for s in states)
    paused = sum(s == "paused" for s in states)
    created = sum(s in ("created", "configured") for s in states)
    if 0 < running < total:
        return "Degraded"
    if running == total:
        return "Running"
    if stopped == total:
        return "Exited"
    if stopped:
        return "Stopped"
    if paused == total:
        return "Paused"
    if created == total:
        return "Created"
    return "Error"


def parse_share(value: Optional[str], infra: bool) -> list[str]:
    """--share: the kinds of namespace the pod's containers share ("none": none; a leading
    "+" adds to the default set)."""
    from ..errors import InvalidArgument

    if value is None:
        return list(DEFAULT_SHARE) if infra else []
    if value.strip() in ("", "none"):
        return []
    base: list[str] = []
    if value.startswith("+"):
        base, value = list(DEFAULT_SHARE), value[1:]
    kinds = [k.strip() for k in value.split(",") if k.strip()]
    for k in kinds:
        if k not in SHAREABLE:
            raise InvalidArgument(f"invalid kernel namespace to share: {k}. Options are: cgroup, ipc, net, pid, "
                                  "uts or none")
    out = base + [k for k in kinds if k not in base]
    if out and not infra:
        raise InvalidArgument("You cannot share kernel namespaces on the pod level without an infra container")
    return out


def load_store(rt: Any) -> PodStore:
    return PodStore(rt.db, rt.cfg.namespace or "")


def join(rt: Any, o: CreateOptions) -> tuple[CreateOptions, PodRecord]:
    """The options of a container made in pod o.pod (or the pod whose id o.pod_id_file holds):
    the namespaces the pod shares joined from its infra container, and the options that would
    set them refused, as podman refuses them. (`--pod new:NAME` is made by the caller first.)"""
    from ..errors import InvalidArgument
    from .runoptions import CreateOptions

    if o.userns is not None:   # podman refuses the two flags together, before the pod is looked up
        raise InvalidArgument("--userns and --pod cannot be set together")
    value = o.pod or ""
    if o.pod_id_file:
        try:
            with open(o.pod_id_file) as f:
                value = f.read().strip()
        except OSError as exc:
            raise InvalidArgument(f"reading pod ID file {o.pod_id_file}: {exc.strerror}") from None
    pod = PodStore(rt.db, rt.cfg.namespace or "").lookup(value)
    o = CreateOptions(**o.as_dict())
    share = set(pod.config.share)
    infra = pod.infra_id
    if infra is None and pod.config.infra:
        raise InvalidArgument(f"pod {pod.name} has no infra container (its creation was interrupted): "
                              f"remove it with `podpy pod rm {pod.name}`")
    if infra is not None:
        # the pod's user namespace (its id maps, --userns) is its infra container's, which
        # every container of it joins: podman's words for one of its own
        if o.uidmap or o.gidmap or o.subuidname or o.subgidname:
            raise InvalidArgument("cannot specify a new uid/gid map when entering a pod with an infra container: "
                                  "invalid argument")
        cfg = pod.config
        o.userns, o.uidmap, o.gidmap = cfg.userns or None, list(cfg.uidmap), list(cfg.gidmap)
        o.subuidname, o.subgidname = cfg.subuidname or None, cfg.subgidname or None
    if infra is None or not share:
        return o, pod
    joined = f"container:{infra}"
    if "net" in share:
        own_net = [n for n in o.network if n != "none"]
        if o.publish or o.expose or own_net:
            raise InvalidArgument("invalid config provided: published or exposed ports must be defined when the "
                                  "pod is created: network cannot be configured when it is shared with a pod")
        if not o.network:
            rec = rt.state.get(infra)
            if rec is not None and rec.config.network == "host":
                # a pod on the host's network: its members are on it too, as podman's are (a
                # rootless process may not join the host's network namespace the infra one holds)
                o.network = ["host"]
            else:
                if o.add_hosts:
                    raise InvalidArgument("invalid config provided: extra host entries must be specified on the "
                                          "pod: network cannot be configured when it is shared with a pod")
                o.network = [joined]
                # the member's /etc/hosts and /etc/resolv.conf are the infra container's (with a line
                # for the member): its own --dns, --dns-search and --dns-option are left out, as podman does
                o.dns, o.dns_search, o.dns_options = [], [], []
    if "uts" in share:
        if o.hostname:
            raise InvalidArgument("invalid config provided: cannot set hostname when joining the pod UTS namespace: "
                                  "invalid configuration")
        if o.uts is None:
            o.uts = joined
    if "ipc" in share and o.ipc is None:
        o.ipc = joined
    if "pid" in share and o.pid is None:
        o.pid = joined
    if "cgroup" in share and o.cgroupns is None:
        o.cgroupns = joined
    cfg = pod.config
    if cfg.volumes or cfg.volumes_from:
        o.volumes_from = [*o.volumes_from, infra]
    # what podman's members take over from the infra container: devices, /dev/shm's size, no /etc/hosts
    o.devices = [*cfg.devices, *o.devices]
    if cfg.shm_size and o.shm_size is None:
        o.shm_size = cfg.shm_size
    if cfg.no_hosts and not o.add_hosts:
        o.no_hosts = True
    return o, pod

