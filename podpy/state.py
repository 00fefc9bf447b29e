"""The engine's tables in the user's database: containers.

A row's `owner_pid`/`owner_start` name the process that is driving it right
now (creating it, or running it in the foreground). If that process is gone
(killed with SIGKILL, say), the next command finds the row with a dead owner
and finishes the job: a half-created container is removed, a running one is
marked exited with an unknown code (and removed if it was started with --rm).
"""

from __future__ import annotations

import os

from storage import fastjson as json
from storage.db import Database
from storage.db import sqlite3

from .errors import Ambiguous, NameInUse, NoSuchContainer, NoSuchImage
from .record import REQUIRED, Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

SCHEMA = (
    """
    CREATE TABLE containers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        image_id TEXT NOT NULL,
        image_name TEXT NOT NULL,
        created REAL NOT NULL,
        state TEXT NOT NULL,
        config TEXT NOT NULL,
        pid INTEGER,
        exit_code INTEGER,
        started_at REAL,
        finished_at REAL,
        owner_pid INTEGER,
        owner_start TEXT
    );
    CREATE INDEX containers_by_image ON containers(image_id);
    """,
    # detached: supervised by the monitor (which then owns the row); restarts: by the restart
    # policy; stopping: `stop`/`kill`/`rm -f` ended it, so the policy does not bring it back.
    """
    ALTER TABLE containers ADD COLUMN detached INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE containers ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE containers ADD COLUMN stopping INTEGER NOT NULL DEFAULT 0
    """,
    # cgroup: the container's cgroup directory while it runs (in a delegated subtree)
    "ALTER TABLE containers ADD COLUMN cgroup TEXT",
    # no table change: each container is described by containers/<id>/container.json from here
    # (engine/records.py), written for the containers of an older store by Runtime.state
    "SELECT 1",
)
RECORDS_SINCE = 4

# The states, as podman names them.
CONFIGURED = "configured"   # row made, storage being created
CREATED = "created"
RUNNING = "running"
PAUSED = "paused"
EXITED = "exited"
STOPPED = "stopped"
REMOVING = "removing"
INITIALIZED = "initialized"   # `init`: set up, its process waiting under the monitor to exec


class ContainerConfig(Record):
    """What `create` decided; everything `start` needs to build the runtime spec."""

    FIELDS = {
        "command": REQUIRED, "entrypoint": REQUIRED, "env": REQUIRED, "user": "", "uid": 0, "gid": 0,
        "groups": list, "workdir": "/", "create_workdir": True, "hostname": "", "tty": False, "interactive": False, "remove": False,
        "network": "slirp4netns", "network_options": dict, "mounts": list, "labels": dict, "read_only": False,
        "cap_add": list, "cap_drop": list, "privileged": False, "stop_signal": "SIGTERM", "annotations": dict,
        "create_command": list, "restart": "no", "stop_timeout": 10, "log_driver": "k8s-file", "log_opts": dict,
        "limits": dict, "cgroup_parent": "", "init_path": "", "read_only_tmpfs": False, "healthcheck": dict,
        "seccomp": "", "no_new_privileges": False, "mask": list, "unmask": list, "preserve_fds": 0,
        "ports": list, "exposed": list, "networks": dict, "dns": dict, "add_hosts": list,
        "userns": "", "idmap": dict, "etc_entries": dict,
        "ulimits": list, "ulimit_host": False, "sysctls": dict, "shm_size": None, "devices": list,
        "pid_mode": "", "ipc_mode": "", "uts_mode": "", "cgroupns_mode": "", "cgroups_mode": "enabled",
        "timezone": "", "timeout": 0, "cidfile": "", "pidfile": "", "conmon_pidfile": "",
        "sdnotify": "container", "notify_socket": "", "secrets": list,
        "group_add": list, "keep_groups": False, "umask": "", "oom_score_adj": None, "personality": "",
        "chrootdirs": list, "requires": list, "no_hosts": False, "seccomp_policy": "default", "systemd": False,
        "rootfs": "", "rootfs_overlay": False, "resources": dict, "cgroup_conf": dict, "pod": "", "pod_infra": False,
        "namespace": "", "init_ctr": "", "user_error": "",
    }
    __slots__ = tuple(FIELDS)
    command: list[str]
    entrypoint: list[str]
    env: list[str]
    user: str
    uid: int
    gid: int
    groups: list[int]
    workdir: str
    create_workdir: bool    # a missing workdir is made (the image's); --workdir's must exist, as in podman
    hostname: str
    tty: bool
    interactive: bool
    remove: bool
    network: str
    network_options: dict[str, Any]
    mounts: list[dict[str, Any]]
    labels: dict[str, str]
    read_only: bool
    cap_add: list[str]
    cap_drop: list[str]
    privileged: bool
    stop_signal: str
    annotations: dict[str, str]
    create_command: list[str]
    restart: str            # no, always, unless-stopped, on-failure[:N]
    stop_timeout: int
    log_driver: str         # k8s-file or none
    log_opts: dict[str, str]
    limits: dict[str, str]  # --memory & co: option name -> the value for its cgroup file
    cgroup_parent: str
    init_path: str          # --init: the host's init binary, mounted at /run/podman-init
    read_only_tmpfs: bool   # --read-only with tmpfs on /run, /tmp, /var/tmp
    healthcheck: dict[str, Any]   # test, interval, timeout, start_period (seconds), retries, on_failure
    seccomp: str            # "" (the default profile), "unconfined" or a profile file
    no_new_privileges: bool
    mask: list[str]         # --security-opt mask=: more paths masked
    unmask: list[str]       # --security-opt unmask=: paths (or ALL) not masked
    preserve_fds: int
    ports: list[dict[str, Any]]      # -p/-P: host_ip, host_port, container_port, protocol (one per port)
    exposed: list[list[Any]]         # EXPOSE and --expose: [port, protocol]
    networks: dict[str, dict[str, Any]]   # user networks (network "bridge"): name -> ip, mac, aliases
    dns: dict[str, list[str]]        # --dns, --dns-search, --dns-option: servers, search, options
    add_hosts: list[list[str]]       # --add-host: [name, ip]
    userns: str             # --userns as given ("" for the default)
    idmap: dict[str, list[list[int]]]   # "uids"/"gids": [container, intermediate, size]; {} = default
    etc_entries: dict[str, str]         # /etc/passwd, /etc/group with keep-id's (and --hostuser's) entries
    ulimits: list[list[Any]]            # --ulimit and podman's defaults: [RLIMIT_NAME, soft, hard] (-1 unlimited)
    ulimit_host: bool                   # --ulimit host: no limits set, podpy's own kept
    sysctls: dict[str, str]             # --sysctl
    shm_size: Optional[int]             # --shm-size in bytes; None: 65536k
    devices: list[list[str]]            # --device: [host node, path inside, permissions]
    pid_mode: str                       # --pid: private, host, container:ID, ns:PATH ("" private)
    ipc_mode: str                       # --ipc: shareable, private, none, host, container:ID, ns:PATH
    uts_mode: str                       # --uts: as --pid
    cgroupns_mode: str                  # --cgroupns: private, host, container:ID, ns:PATH ("" host)
    cgroups_mode: str                   # --cgroups: enabled, disabled, no-conmon, split
    timezone: str                       # --tz: "", local or a zone
    timeout: int                        # --timeout: seconds before the container is killed (0 never)
    cidfile: str
    pidfile: str                        # --pidfile: the container's pid, written at each start
    conmon_pidfile: str                 # --conmon-pidfile: its supervisor's
    sdnotify: str                       # container, conmon or ignore
    notify_socket: str                  # $NOTIFY_SOCKET when created (--sdnotify container passes it in)
    secrets: list[dict[str, Any]]       # --secret: name, id, type (mount|env), target, uid, gid, mode
    group_add: list[str]                # --group-add as given (its gids are in groups)
    keep_groups: bool                   # --group-add keep-groups: the caller's groups kept
    umask: str                          # --umask ("": 0022)
    oom_score_adj: Optional[int]        # --oom-score-adj
    personality: str                    # --personality: LINUX or LINUX32 ("" none)
    chrootdirs: list[str]               # --chrootdirs (recorded)
    requires: list[str]                 # --requires: ids of the containers started first
    no_hosts: bool                      # --no-hosts: no /etc/hosts written
    seccomp_policy: str                 # --seccomp-policy: default or image
    systemd: bool                       # systemd mode (--systemd, or an init as the command)
    rootfs: str                         # --rootfs: the directory that is the root file system ("" an image)
    rootfs_overlay: bool                # --rootfs PATH:O: the directory under an overlay of the container's
    resources: dict[str, Any]           # the cgroup options as inspect's HostConfig shows them
    cgroup_conf: dict[str, str]         # --cgroup-conf: cgroup file -> value
    pod: str                            # the id of its pod ("" none)
    pod_infra: bool                     # the infra container of its pod
    namespace: str                      # --namespace: the libpod namespace it belongs to
    init_ctr: str                       # --init-ctr: always or once, an init container of its pod ("" not one)
    user_error: str                     # why its --user could not be looked up: its start fails with it

    @classmethod
    def from_json(cls, text: str) -> "ContainerConfig":
        data = json.loads(text)
        return cls(**{k: v for k, v in data.items() if k in cls.FIELDS})

    def to_json(self) -> str:
        return json.dumps(self.as_dict())


class ContainerRecord(Record):
    """A row of the containers table."""

    FIELDS = {
        "id": REQUIRED, "name": REQUIRED, "image_id": REQUIRED, "image_name": REQUIRED, "created": REQUIRED,
        "state": REQUIRED, "config": REQUIRED, "pid": None, "exit_code": None, "started_at": None,
        "finished_at": None, "owner_pid": None, "owner_start": None, "detached": False, "restarts": 0,
        "stopping": False, "cgroup": None,
    }
    __slots__ = tuple(FIELDS)
    id: str
    name: str
    image_id: str
    image_name: str
    created: float
    state: str
    config: ContainerConfig
    pid: Optional[int]
    exit_code: Optional[int]
    started_at: Optional[float]
    finished_at: Optional[float]
    owner_pid: Optional[int]
    owner_start: Optional[str]
    detached: bool
    restarts: int
    stopping: bool
    cgroup: Optional[str]

    @property
    def short_id(self) -> str:
        return self.id[:12]


def _record(row: sqlite3.Row) -> ContainerRecord:
    return ContainerRecord(
        id=row["id"], name=row["name"], image_id=row["image_id"], image_name=row["image_name"],
        created=row["created"], state=row["state"], config=ContainerConfig.from_json(row["config"]),
        pid=row["pid"], exit_code=row["exit_code"], started_at=row["started_at"],
        finished_at=row["finished_at"], owner_pid=row["owner_pid"], owner_start=row["owner_start"],
        detached=bool(row["detached"]), restarts=row["restarts"], stopping=bool(row["stopping"]),
        cgroup=row["cgroup"],
    )


def process_start_time(pid: int) -> Optional[str]:
    """The kernel's start time of pid (field 22 of /proc/pid/stat), to tell a reused pid
    apart; None when there is no such process or it is a zombie (it has exited)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return fields[19].decode()


def alive(pid: Optional[int], start: Optional[str]) -> bool:
    if not pid:
        return False
    now = process_start_time(pid)
    return now is not None and (start is None or now == start)


class State:
    """Container rows over the shared database."""

    def __init__(self, db: Database, namespace: str = "") -> None:
        self.db = db
        db.migrate("containers", SCHEMA)
        self.me = os.getpid()
        self.my_start = process_start_time(self.me)
        # --namespace: the containers of other namespaces are not listed (all()) and cannot be
        # looked up (lookup()), as in podman's libpod namespaces; get() still sees every row
        self.namespace = namespace

    def insert(self, rec: ContainerRecord) -> None:
        try:
            with self.db.write() as c:
                # The image is in use from this row on (rmi checks in its own transaction); one
                # removed since it was looked up is gone for this container too.
                if rec.image_id and c.execute("SELECT 1 FROM images WHERE id=?", (rec.image_id,)).fetchone() is None:
                    raise NoSuchImage(f"{rec.image_name or rec.image_id}: image not known: it was removed while "
                                      "the container was being created")
                c.execute(
                    "INSERT INTO containers (id, name, image_id, image_name, created, state, config,"
                    " owner_pid, owner_start) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (rec.id, rec.name, rec.image_id, rec.image_name, rec.created, rec.state,
                     rec.config.to_json(), self.me, self.my_start))
            rec.owner_pid, rec.owner_start = self.me, self.my_start
        except sqlite3.IntegrityError as exc:
            other = self.db.conn.execute("SELECT id FROM containers WHERE name=?", (rec.name,)).fetchone()
            if other is None:
                raise
            raise NameInUse(   # podman's words, where its storage refuses the name
                f"creating container storage: the container name \"{rec.name}\" is already in use by {other[0]}. "
                "You have to remove that container to be able to reuse that name: that name is already in use") from exc

    def get(self, cid: str) -> Optional[ContainerRecord]:
        row = self.db.conn.execute("SELECT * FROM containers WHERE id=?", (cid,)).fetchone()
        return _record(row) if row else None

    def lookup(self, name_or_id: str) -> ContainerRecord:
        """By exact name, full id, or unique id prefix (in this command's --namespace, if any)."""
        c = self.db.conn
        row = c.execute("SELECT * FROM containers WHERE name=? OR id=?", (name_or_id, name_or_id)).fetchone()
        if row:
            return self._in_namespace(_record(row))
        if name_or_id and all(ch in "0123456789abcdef" for ch in name_or_id):
            rows = c.execute("SELECT * FROM containers WHERE id LIKE ?", (name_or_id + "%",)).fetchall()
            if len(rows) == 1:
                return self._in_namespace(_record(rows[0]))
            if len(rows) > 1:
                raise Ambiguous(f"{name_or_id}: more than one container matches this id prefix")
        raise NoSuchContainer(f"no container with name or ID \"{name_or_id}\" found: no such container")

    def _in_namespace(self, rec: ContainerRecord) -> ContainerRecord:
        if self.namespace and rec.config.namespace != self.namespace:
            from .errors import PodpyError

            raise PodpyError(f"cannot retrieve container {rec.id} as it is part of namespace \"{rec.config.namespace}\" "
                           f"and we are in namespace \"{self.namespace}\": target is in a different namespace")
        return rec

    def all(self) -> list[ContainerRecord]:
        """Every container, newest first (of this command's --namespace only, when given)."""
        rows = self.db.conn.execute("SELECT * FROM containers ORDER BY created DESC").fetchall()
        recs = [_record(r) for r in rows]
        if self.namespace:
            recs = [r for r in recs if r.config.namespace == self.namespace]
        return recs

    def update(self, cid: str, **fields: Any) -> bool:
        if not fields:
            return False
        cols = ", ".join(f"{k}=?" for k in fields)
        with self.db.write() as c:
            return c.execute(f"UPDATE containers SET {cols} WHERE id=?", (*fields.values(), cid)).rowcount > 0

    def claim(self, cid: str, allowed: tuple[str, ...], new_state: str, unless_stopping: bool = False,
              then: Optional[Callable[[], None]] = None, **fields: Any) -> ContainerRecord:
        """Atomically move a container from one of `allowed` states to new_state, owned by us,
        with `fields` set in the same transaction (with unless_stopping, not one that podpy was
        told to stop: a restart policy's start); then: called before the transaction commits
        (no other command's transaction comes between the two)."""
        from .errors import InvalidState

        with self.db.write() as c:
            row = c.execute("SELECT * FROM containers WHERE id=?", (cid,)).fetchone()
            if row is None:
                raise NoSuchContainer(f"no container with ID \"{cid}\" found: no such container")
            rec = _record(row)
            if rec.state not in allowed or (unless_stopping and rec.stopping):
                raise InvalidState(f"container {rec.name} is {rec.state}: container state improper")
            fields.update(state=new_state, owner_pid=self.me, owner_start=self.my_start)
            cols = ", ".join(f"{k}=?" for k in fields)
            c.execute(f"UPDATE containers SET {cols} WHERE id=?", (*fields.values(), cid))
            if then is not None:
                then()
        for k, v in fields.items():
            setattr(rec, k, v)
        return rec

    def delete(self, cid: str) -> None:
        with self.db.write() as c:
            c.execute("DELETE FROM containers WHERE id=?", (cid,))

    def rename(self, cid: str, name: str) -> None:
        try:
            with self.db.write() as c:
                c.execute("UPDATE containers SET name=? WHERE id=?", (name, cid))
        except sqlite3.IntegrityError as exc:
            other = self.db.conn.execute("SELECT id FROM containers WHERE name=?", (name,)).fetchone()
            raise NameInUse(
                f"the container name \"{name}\" is already in use by {other[0] if other else 'another container'}."
                " You have to remove that container to be able to reuse that name: that name is already in use"
            ) from exc

    def running_detached_ids(self) -> list[str]:
        """The ids of the detached containers that run (or are paused or initialized): only
        their ids, which every command checks for an exit file, without reading their rows."""
        rows = self.db.conn.execute("SELECT id FROM containers WHERE state IN (?, ?, ?) AND detached=1",
                                    (RUNNING, PAUSED, INITIALIZED))
        return [r[0] for r in rows.fetchall()]

    def orphans(self) -> list[ContainerRecord]:
        """Rows whose owning process has died, each adopted by this process (see adopt)."""
        rows = self.db.conn.execute("SELECT id, owner_pid, owner_start FROM containers"
                                    " WHERE owner_pid IS NOT NULL").fetchall()
        adopted = (self.adopt(r["id"]) for r in rows if not alive(r["owner_pid"], r["owner_start"]))
        return [rec for rec in adopted if rec is not None]

    def adopt(self, cid: str) -> Optional[ContainerRecord]:
        """Take over a row whose owner has died; None when it has a living owner (or is gone).

        The row is read again and its owner checked while this command holds the write lock:
        an owner only ever changes under that lock, so what we see cannot change before we
        make it ours. A decision taken from an earlier read would be wrong whenever the row
        changed hands in between: a `run -d` hands its row to the monitor and exits, and its
        dead pid would then pass for a dead monitor."""
        with self.db.write() as c:
            row = c.execute("SELECT * FROM containers WHERE id=?", (cid,)).fetchone()
            if row is None or row["owner_pid"] is None or alive(row["owner_pid"], row["owner_start"]):
                return None
            c.execute("UPDATE containers SET owner_pid=?, owner_start=? WHERE id=?", (self.me, self.my_start, cid))
        rec = _record(row)
        rec.owner_pid, rec.owner_start = self.me, self.my_start
        return rec

    def image_in_use(self, image_id: str) -> list[str]:
        return [r[0] for r in self.db.conn.execute("SELECT name FROM containers WHERE image_id=?", (image_id,))]
