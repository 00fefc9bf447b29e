"""The one runtime-spec builder: a container's record + its image + this host -> the OCI
runtime spec dict that rootless/ runs.

Every spec and process spec of a command comes from its SpecBuilder (`builder(rt)`, one
per Runtime, which is one per command): a foreground or detached start (`container`), a
build step's RUN (`build_step`), `exec` (`exec_process`) and a healthcheck
(`health_process`). The builder takes the id mappings from the Runtime, which reads
/etc/subuid and /etc/subgid once per command for the store's user namespaces, create's
checks and the specs alike, and resolves and compiles each seccomp filter (profile and
capabilities) once per command, its program cached under the runroot across commands.
The /etc files (hostname, hosts, resolv.conf, keep-id's passwd and group) are data:
etcfiles.py's `etc_files` returns them, the caller writes them (`write_etc`) and hands
their paths in.

Counted (rootless): `run` read the mappings three times (twice in create, once for the
spec), now once; a build of four RUN steps read them eight times and resolved the seccomp
profile four times, now once each. Reading the mappings costs some 50 us and resolving the
profile 100 us, so `run --rm --network none busybox true` takes the same time as before
(medians of 20 runs, 86-97 ms either way on two loaded cores); compiling the default
profile (some 20 ms) stays once per runroot.
"""

from __future__ import annotations

import os

from rootless import capabilities, rootfs

from ..errors import InvalidState
from ..state import ContainerRecord
from . import kernelopts
from .context import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional, Sequence

    from rootless.userns import IdMappings

    from ..network.start import NetStart


def own_netns(network: str) -> bool:
    return network != "host"


def builder(rt: Runtime) -> "SpecBuilder":
    """The command's spec builder (made on first use, kept by the command's Runtime)."""
    with _MAKING:   # build stages run side by side (--jobs): one builder for all
        if rt.specs is None:
            rt.specs = SpecBuilder(rt)
        return rt.specs  # type: ignore[no-any-return]


def _lock() -> Any:
    import _thread   # built in: the run path keeps threading out

    return _thread.allocate_lock()


_MAKING = _lock()


class SpecBuilder:
    """The specs and process specs of one command (its Runtime's)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._filters: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
        self._lock = _lock()

    @property
    def mappings(self) -> Optional[IdMappings]:
        """The user namespace's id mappings; None as root (the container gets none)."""
        return self.rt.userns_mappings

    def seccomp(self, cfg: Any, caps: Sequence[str], privileged: bool = False) -> Optional[dict[str, Any]]:
        """The seccomp filter (OCI form, with its compiled program's path in `bpf`) for a
        process with these capabilities: podman's default profile unless unconfined,
        privileged, or another profile was given. Resolved and compiled once per command."""
        if privileged or cfg.privileged or cfg.seccomp == "unconfined":
            return None
        key = (cfg.seccomp, tuple(caps))
        with self._lock:
            filt = self._filters.get(key)
            if filt is None:
                filt = resolved_seccomp(self.rt.cfg.runroot, cfg.seccomp or None, list(caps))
                self._filters[key] = filt
        return dict(filt)

    # -- a container, a build step ---------------------------------------------------------

    def rootfs(self, rec: ContainerRecord) -> dict[str, Any]:
        """The root file system to mount for rec: its image's layers under its own (seen
        through fuse-overlayfs with id mapping when its ids are not the default mapping's)."""
        from storage import images as img

        rt = self.rt
        if rec.config.rootfs and rec.config.rootfs_overlay:   # --rootfs PATH:O: writes kept aside
            cdir = rt.store.container_dir(rec.id)
            desc = {"type": "overlay", "lower": [rec.config.rootfs], "upper": os.path.join(cdir, "diff"),
                    "work": os.path.join(cdir, "work"), "target": os.path.join(cdir, "merged"),
                    "userxattr": rt.cfg.rootless}
            return idmapped_rootfs(rt, rec.id, desc, rec.config.idmap) if rec.config.idmap else desc
        if rec.config.rootfs:   # --rootfs: the directory itself, written in place
            desc = {"type": "bind", "source": rec.config.rootfs,
                    "target": os.path.join(rt.store.container_dir(rec.id), "merged")}
            return idmapped_rootfs(rt, rec.id, desc, rec.config.idmap) if rec.config.idmap else desc
        image = img.by_id(rt.db.conn, rec.image_id)
        if image is None:
            raise InvalidState(f"the image of container {rec.name} ({rec.image_id[:12]}) is gone")
        desc = rt.store.rootfs_mount(rec.id, image)
        if rec.config.remove and desc.get("type") == "overlay":
            desc["volatile"] = True   # removed at its exit: nothing to sync (rootless/mounts.py)
        if rec.config.idmap:
            desc = idmapped_rootfs(rt, rec.id, desc, rec.config.idmap)
        return desc

    def container(self, rec: ContainerRecord, rootfs_desc: dict[str, Any], etc: dict[str, str],
                  console: Optional[tuple[int, int]] = None, net: Optional["NetStart"] = None) -> dict[str, Any]:
        """The spec that starts rec: rootfs_desc from rootfs(), etc: destination -> the file
        written (write_etc), console: the terminal's (rows, columns), net: the start's network
        side, which points the spec at namespaces to join."""
        refused = next((m for m in rec.config.mounts if m.get("refused")), None)
        if refused is not None:
            from ..errors import VolumeMountFailed

            raise VolumeMountFailed(f"mounting volume {refused.get('volume')} for container {rec.id}: "
                                    f"{refused['refused']}")
        nested = nested_mappings(rec.config.idmap) if rec.config.idmap else None
        spec = self._spec(rec, rootfs_desc, etc, console, nested)
        if net is not None:
            net.adjust_spec(spec)
        cfg = rec.config
        if any(m.startswith(("container:", "ns:")) for m in (cfg.pid_mode, cfg.ipc_mode, cfg.uts_mode,
                                                               cfg.cgroupns_mode)):
            self._join(rec, spec)
        return spec

    def _join(self, rec: ContainerRecord, spec: dict[str, Any]) -> None:
        """Point the spec at the namespaces of other containers (--pid, --ipc, --uts, --cgroupns
        container:NAME or ns:PATH), in the user namespace that owns them, and give it the
        /dev/shm of the container whose IPC namespace it shares."""
        from . import kernelopts

        paths, userns, ipc_pid = kernelopts.namespace_joins(self.rt, rec)
        namespaces = spec["linux"]["namespaces"]
        for kind, path in list(paths.items()):
            if kernelopts.same_namespace(path, f"/proc/self/ns/{kind}"):
                # the other container shares the host's (podpy's own): so does this one, without
                # a setns(2) that a rootless process may not make into the host's namespaces
                del paths[kind]
                namespaces[:] = [ns for ns in namespaces if ns["type"] != kind]
                if kind == "pid":
                    proc = next(m for m in spec["mounts"] if m["destination"] == "/proc")
                    proc.update(type="bind", source="/proc", options=["rbind", "nosuid", "noexec", "nodev"])
        for ns in namespaces:
            if ns["type"] in paths:
                ns["path"] = paths[ns["type"]]
        if userns is not None:
            if rec.config.idmap:
                if not _same_idmap(self.rt, rec):
                    raise InvalidState("joining the namespaces of another container cannot be combined with "
                                       "--userns keep-id|auto or --uidmap")
                # a member of a pod with id maps: it joins the infra container's nested user
                # namespace, not one of its own (rootless.stage1 joins its parent first)
                spec["linux"]["nestedUserns"] = userns
            user = next(ns for ns in namespaces if ns["type"] == "user")
            if user.get("path") and not kernelopts.same_namespace(user["path"], userns):
                raise InvalidState(f"the namespaces {rec.name} joins belong to different user namespaces")
            user["path"] = userns
        if ipc_pid is not None:
            spec["mounts"].insert(_after(spec["mounts"], "/dev/mqueue"), {
                "destination": "/dev/shm", "type": "bind", "source": "/dev/shm", "options": ["rbind"],
                "namespace": f"/proc/{ipc_pid}/ns/mnt"})
        elif paths.get("ipc") and rec.config.ipc_mode.startswith("ns:"):
            spec["mounts"].insert(_after(spec["mounts"], "/dev/mqueue"), _shm(rec.config.shm_size))

    def build_step(self, rec: ContainerRecord, rootfs_desc: dict[str, Any], etc: dict[str, str]) -> dict[str, Any]:
        """The spec of a build step's RUN: rec is the step's working container (no row, no
        image of its own: rootfs_desc is the working container's); build's --userns-uid-map
        & co nest its user namespace as --uidmap nests a container's."""
        nested = nested_mappings(rec.config.idmap) if rec.config.idmap else None
        return self._spec(rec, rootfs_desc, etc, None, nested)

    # -- a process in a running container --------------------------------------------------

    def exec_process(self, rec: ContainerRecord, argv: list[str], *, env: Sequence[str] = (),
                     user: Optional[tuple[int, int, list[int], Optional[str]]] = None,
                     workdir: Optional[str] = None, tty: bool = False, interactive: bool = False,
                     privileged: bool = False, preserve_fds: Any = 0,
                     console: Optional[tuple[int, int]] = None) -> dict[str, Any]:
        """The process of an `exec` in rec, as `run` would run it there. env: the variables
        given (over the container's), user: (uid, gid, groups, home) of --user as the
        container's files resolve it (None: the container's user)."""
        from ..options import merge_env

        cfg = rec.config
        uid, gid, groups, home = user if user is not None else (cfg.uid, cfg.gid, list(cfg.groups), None)
        base_env = cfg.env
        if cfg.secrets:   # type=env secrets, as the container's own process has them (podman's exec too)
            from .secrets import spec_parts

            base_env = merge_env(base_env, spec_parts(self.rt.store.container_dir(rec.id), cfg.secrets)[0])
        full_env = merge_env(base_env, list(env))
        if home and not any(e.startswith("HOME=") for e in env):
            full_env = [e for e in full_env if not e.startswith("HOME=")] + [f"HOME={home}"]
        caps = capabilities.resolve(capabilities.DEFAULT, cfg.cap_add, cfg.cap_drop, privileged or cfg.privileged)
        process = _process(tty, interactive, uid, gid, groups, list(argv), full_env, workdir or cfg.workdir or "/",
                           caps, cfg.no_new_privileges, int(preserve_fds or 0), console)
        _process_settings(process, cfg)
        seccomp = self.seccomp(cfg, caps, privileged)
        if seccomp:
            process["seccomp"] = seccomp
        return process

    def health_process(self, rec: ContainerRecord, test: list[str]) -> dict[str, Any]:
        """The process of one healthcheck: the test (CMD-SHELL through /bin/sh -c) as exec runs it."""
        argv = ["/bin/sh", "-c", test[1]] if test[0] == "CMD-SHELL" else list(test[1:])
        return self.exec_process(rec, argv)

    # -- the spec itself --------------------------------------------------------------------

    def _spec(self, rec: ContainerRecord, rootfs_desc: dict[str, Any], etc: dict[str, str],
              console: Optional[tuple[int, int]], nested: Optional[IdMappings]) -> dict[str, Any]:
        cfg = rec.config
        mappings = self.mappings
        caps = capabilities.resolve(capabilities.DEFAULT, cfg.cap_add, cfg.cap_drop, cfg.privileged)
        args = (["/run/podman-init", "--"] if cfg.init_path else []) + cfg.entrypoint + cfg.command
        env = cfg.env
        notify = None
        if cfg.notify_socket:
            from .runfiles import notify_mount

            notify = notify_mount(cfg)
        if notify is not None:
            env = [e for e in env if not e.startswith("NOTIFY_SOCKET=")] + [f"NOTIFY_SOCKET={notify['destination']}"]
        secret_mounts: list[dict[str, Any]] = []
        if cfg.secrets:
            from ..options import merge_env
            from .secrets import spec_parts

            secret_env, secret_mounts = spec_parts(self.rt.store.container_dir(rec.id), cfg.secrets)
            env = merge_env(env, secret_env)
        process = _process(cfg.tty, cfg.interactive, cfg.uid, cfg.gid, cfg.groups, args, env, cfg.workdir or "/",
                           caps, cfg.no_new_privileges, cfg.preserve_fds, console)
        if cfg.ulimits and not cfg.ulimit_host:
            process["rlimits"] = kernelopts.rlimits(cfg)
        _process_settings(process, cfg)
        if cfg.oom_score_adj is not None:
            process["oomScoreAdj"] = cfg.oom_score_adj
        namespaces = kernelopts.spec_namespaces(cfg, own_netns(cfg.network))
        linux: dict[str, Any] = {"namespaces": namespaces}
        if cfg.personality:
            linux["personality"] = {"domain": cfg.personality}
        if cfg.sysctls:
            linux["sysctl"] = dict(cfg.sysctls)
        tty_gid_mapped = True
        if mappings is not None:
            namespaces.insert(0, {"type": "user"})
            linux.update(mappings.to_spec())
            tty_gid_mapped = rootfs.tty_gid_mapped(mappings.gids)
        if nested is not None:
            # --userns=keep-id|auto, --uidmap: the container's namespace nests in the default one
            # (the maps count in its ids); see rootless.child.
            linux["nestedIdMappings"] = nested.to_spec()
            tty_gid_mapped = rootfs.tty_gid_mapped(nested.gids)
        if not cfg.privileged:
            unmask = set(cfg.unmask)
            linux["maskedPaths"] = [p for p in rootfs.DEFAULT_MASKED if "ALL" not in unmask and p not in unmask]
            linux["maskedPaths"] += [p for p in cfg.mask if p not in linux["maskedPaths"]]
            linux["readonlyPaths"] = [p for p in rootfs.DEFAULT_READONLY if "ALL" not in unmask and p not in unmask]
        seccomp = self.seccomp(cfg, caps)
        if seccomp is not None:
            linux["seccomp"] = seccomp
        ipc = kernelopts.ipc_kind(cfg)
        mounts = rootfs.default_mounts(tty_gid_mapped, own_netns(cfg.network), cfg.pid_mode != "host", ipc,
                                       kernelopts.DEFAULT_SHM if cfg.shm_size is None else str(cfg.shm_size))
        if nested is not None:
            _owned_by_container_root(mounts, nested)
        user_dests = {m["destination"] for m in cfg.mounts}
        # tmpfs on /run & co before the files bound into them (/run/.containerenv) and the user's
        if cfg.read_only_tmpfs:
            for dest in ("/run", "/tmp", "/var/tmp"):
                if dest not in user_dests:
                    mounts.append({"destination": dest, "type": "tmpfs", "source": "tmpfs",
                                   "options": ["rw", "nosuid", "nodev", "mode=1777"]})
        if cfg.systemd:
            from .procopts import systemd_mounts

            mounts.extend(systemd_mounts(user_dests | ({"/run", "/tmp"} if cfg.read_only_tmpfs else set())))
            if "/sys/fs/cgroup" not in user_dests:
                mounts.append(_cgroup_mount(cfg))
        # with a nested user namespace (keep-id, auto, --uidmap) the files, written by the user,
        # are given to the container's root first, as podman's are
        etc_owner = [f"podpy.chown={_outer_root(nested)}"] if nested is not None and _outer_root(nested) else []
        for dest, path in etc.items():
            if dest not in user_dests:
                mounts.append({"destination": dest, "type": "bind", "source": path,
                               "options": ["bind", "rprivate", *etc_owner]})
        for chroot in cfg.chrootdirs:
            # --chrootdirs: a chroot inside sees the container's hosts and resolv.conf too, as podman's
            for dest in ("/etc/hosts", "/etc/resolv.conf"):
                if dest in etc and dest not in user_dests:
                    mounts.append({"destination": chroot.rstrip("/") + dest, "type": "bind", "source": etc[dest],
                                   "options": ["bind", "rprivate"]})
        mounts.extend(cfg.mounts)
        mounts.extend(secret_mounts)
        mounts.extend(kernelopts.device_mounts(cfg))
        if notify is not None:
            mounts.append(notify)
        if cfg.init_path:
            mounts.append({"destination": "/run/podman-init", "type": "bind", "source": cfg.init_path,
                           "options": ["bind", "ro", "nodev", "rprivate"]})
        spec = {
            "ociVersion": "1.0.2",
            "process": process,
            "root": {"path": rootfs_desc["target"], "readonly": cfg.read_only},
            "rootfsMount": rootfs_desc,
            "hostname": cfg.hostname or rec.id[:12],
            "mounts": mounts,
            "linux": linux,
            "annotations": dict(cfg.annotations),
        }
        if not cfg.create_workdir:
            spec["workdirMustExist"] = True   # --workdir's: not made (rootless.child)
        return spec


def _after(mounts: list[dict[str, Any]], destination: str) -> int:
    """The index just after the mount at destination (the end when there is none)."""
    return next((i + 1 for i, m in enumerate(mounts) if m["destination"] == destination), len(mounts))


def _shm(size: Optional[int]) -> dict[str, Any]:
    from . import kernelopts

    return {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
            "options": ["nosuid", "noexec", "nodev", "mode=1777",
                        f"size={kernelopts.DEFAULT_SHM if size is None else size}"]}


def _process_settings(process: dict[str, Any], cfg: Any) -> None:
    """--umask (0022 unless given, as podman's) and --group-add keep-groups, for the container's
    process and every exec."""
    process["user"]["umask"] = int(cfg.umask or "0022", 8)
    if cfg.keep_groups:
        process["user"]["keepOriginalGroups"] = True


def _cgroup_mount(cfg: Any) -> dict[str, Any]:
    """/sys/fs/cgroup of a systemd container: cgroup2 of its own cgroup namespace, else the
    host's tree bound (a rootless process may mount cgroup2 only in a namespace it owns)."""
    if cfg.cgroupns_mode == "private":
        return {"destination": "/sys/fs/cgroup", "type": "cgroup2", "source": "cgroup2",
                "options": ["rw", "nosuid", "noexec", "nodev"]}
    return {"destination": "/sys/fs/cgroup", "type": "bind", "source": "/sys/fs/cgroup",
            "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}


def _process(terminal: bool, stdin: bool, uid: int, gid: int, groups: list[int], args: list[str],
             env: list[str], cwd: str, caps: list[str], no_new_privileges: bool, preserve_fds: int,
             console: Optional[tuple[int, int]]) -> dict[str, Any]:
    process: dict[str, Any] = {
        "terminal": terminal,
        "stdin": stdin,
        "user": {"uid": uid, "gid": gid, "additionalGids": groups},
        "args": args,
        "env": env,
        "cwd": cwd,
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "noNewPrivileges": no_new_privileges,
        "preserveFds": preserve_fds,
    }
    if console:
        process["consoleSize"] = {"height": console[0], "width": console[1]}
    return process


# -- the /etc files ----------------------------------------------------------------------


# -- seccomp and id mappings -------------------------------------------------------------


def resolved_seccomp(runroot: str, profile: Optional[str], caps: list[str]) -> dict[str, Any]:
    """The filter (OCI form, its compiled program's path in `bpf`) of a profile file (None: the
    default one) for a process with these capabilities on this kernel. Reading, resolving
    and keying podman's profile costs some 0.6 ms of every start; the result is kept under
    runroot beside the program, named by the profile file's identity (device, inode, size,
    modification time), the kernel's release, the machine and the capabilities, and read
    from there while all of those stay the same."""
    from storage import fastjson as json

    from rootless import SECCOMP_PROFILE

    path = profile or SECCOMP_PROFILE
    memo = None
    try:
        st = os.stat(path)
    except OSError:
        pass   # read_profile says what is wrong with it
    else:
        uname = os.uname()
        ident = "\0".join((_LAYOUT.decode(), os.path.abspath(path), str(st.st_dev), str(st.st_ino),
                           str(st.st_size), str(st.st_mtime_ns), uname.release, uname.machine, ",".join(caps)))
        memo = os.path.join(runroot, "seccomp", f"{_digest(ident.encode())}.filter")
        try:
            with open(memo, "rb") as f:
                filt = json.loads(f.read())
            if isinstance(filt, dict) and isinstance(filt.get("bpf"), str) and os.path.exists(filt["bpf"]):
                return filt
        except (OSError, ValueError):
            pass
    from rootless import seccomp as sec

    filt = sec.resolve(sec.read_profile(profile, json.loads), caps)
    filt["bpf"] = compiled_seccomp(runroot, filt)
    if memo is not None:
        tmp = f"{memo}.tmp-{os.getpid()}"
        try:
            with open(tmp, "w") as f:
                f.write(json.dumps(filt))
            os.replace(tmp, memo)
        except OSError:
            pass   # read again next time
    return filt


# the compiled program's layout: a program (and a kept filter naming one) compiled another way
# is compiled anew
_LAYOUT = b"tree:"


def _digest(data: bytes) -> str:
    try:  # built in: hashlib would load OpenSSL's libcrypto, some 2 ms of every `run`
        from _blake2 import blake2b as digest
    except ImportError:  # pragma: no cover - an interpreter built without it
        from hashlib import blake2b as digest
    return digest(data, digest_size=32).hexdigest()


def compiled_seccomp(runroot: str, seccomp: dict[str, Any]) -> str:
    """The filter's BPF program in a file under runroot, compiled once per distinct filter:
    libseccomp takes some 20 ms to build podman's profile, loading the program well under 1."""
    from storage import fastjson as json

    from rootless import seccomp as sec

    key = _digest(_LAYOUT + json.dumps(seccomp, sort_keys=True).encode())
    directory = os.path.join(runroot, "seccomp")
    path = os.path.join(directory, f"{key}.bpf")
    if not os.path.exists(path):
        program = sec.compile_bpf(seccomp)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(program)
        os.replace(tmp, path)
    return path


def _outer(maps: tuple[Any, ...], cid: int) -> Optional[int]:
    """The id of the default user namespace that a nested namespace's cid maps to."""
    return next((m.host_id + cid - m.container_id for m in maps
                 if m.container_id <= cid < m.container_id + m.size), None)


def _outer_root(nested: IdMappings) -> str:
    """"UID:GID" of the nested namespace's root in the default one ("" when it is not mapped)."""
    uid, gid = _outer(nested.uids, 0), _outer(nested.gids, 0)
    return f"{uid}:{gid}" if uid is not None and gid is not None else ""


def _owned_by_container_root(mounts: list[dict[str, Any]], nested: IdMappings) -> None:
    """The kernel file systems are mounted before the init enters its nested user namespace:
    their ids count in the outer one, so name the outer ids of the container's root (and of
    its tty group) for them to show as root (and tty) inside."""
    uid, gid, tty = _outer(nested.uids, 0), _outer(nested.gids, 0), _outer(nested.gids, 5)
    for m in mounts:
        if m["type"] == "tmpfs" and uid is not None and gid is not None:
            m["options"] = [*m["options"], f"uid={uid}", f"gid={gid}"]
        elif m["type"] == "devpts":
            m["options"] = [o for o in m["options"] if not o.startswith("gid=")]
            if tty is not None:
                m["options"].append(f"gid={tty}")


def nested_mappings(idmap: dict[str, list[list[int]]]) -> Any:
    """A container's --userns/--uidmap ranges, in the ids of the default user namespace."""
    from rootless.userns import IdMap, IdMappings

    return IdMappings(tuple(IdMap(*r) for r in idmap["uids"]), tuple(IdMap(*r) for r in idmap["gids"]))


def idmapped_rootfs(rt: Runtime, cid: str, desc: dict[str, Any], idmap: dict[str, list[list[int]]],
                    cdir: Optional[str] = None) -> dict[str, Any]:
    """The root file system seen through fuse-overlayfs with id mapping: image layers keep the
    default mapping's ids, which a container with other mappings must see unchanged (kernel
    overlayfs cannot shift ids in a user namespace). cdir: where the copying driver's extra
    directories go (the container's directory; a build step's working directory)."""
    from rootless.userns import fuse_idmapping

    program = _fuse_overlayfs()
    if program is None:
        raise InvalidState("--userns=keep-id|auto and --uidmap/--gidmap need fuse-overlayfs (to show the "
                           "image's files with their own ids) and /dev/fuse: install fuse-overlayfs")
    desc = dict(desc)
    if desc["type"] == "bind":   # the copying driver: the container's tree is the upper layer
        cdir = cdir or rt.store.container_dir(cid)
        for sub in ("idmap-lower", "idmap-work"):
            os.makedirs(os.path.join(cdir, sub), mode=0o700, exist_ok=True)
        desc = {"lower": [os.path.join(cdir, "idmap-lower")], "upper": desc["source"],
                "work": os.path.join(cdir, "idmap-work"), "target": desc["target"]}
    desc.pop("userxattr", None)
    desc.update(type="fuse-overlayfs", program=program, uidmapping=fuse_idmapping(idmap["uids"]),
                gidmapping=fuse_idmapping(idmap["gids"]))
    return desc


def _fuse_overlayfs() -> Optional[str]:
    for d in os.get_exec_path() + ["/usr/bin", "/usr/local/bin"]:
        path = os.path.join(d, "fuse-overlayfs")
        if os.access(path, os.X_OK):
            return path if os.access("/dev/fuse", os.R_OK | os.W_OK) else None
    return None


def _same_idmap(rt: Any, rec: ContainerRecord) -> bool:
    """Whether rec is a member of a pod whose infra container has rec's id maps (the pod's)."""
    if not rec.config.pod:
        return False
    infra = next((r for r in rt.state.all() if r.config.pod == rec.config.pod and r.config.pod_infra), None)
    return infra is not None and infra.id != rec.id and infra.config.idmap == rec.config.idmap
