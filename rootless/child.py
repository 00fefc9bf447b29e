"""What runs inside: the namespace holder (stage 1) and the container's init.

Stage 1 is forked by the host side. It unshares the user namespace, waits for
its id maps, takes a mount namespace of its own and mounts the rootfs there
(so a fuse-overlayfs server stays outside the container's PID namespace),
unshares the PID, UTS, IPC and network namespaces and forks the init (straight
into the container's cgroup where it can: cgroupfork.py), then waits for it and exits with its status, after running the caller's `after_exit`
(still inside the user namespace, so it can remove files owned by container ids).
A detached stage 1 (the monitor's containers) exits once the init is forked: the
init is then reaped by the monitor, a child subreaper.

The init is PID 1 of the new PID namespace. It reads "go", which the host side
sends as soon as it has started stage 1 (and "joined" when it has moved an init that was
not born in its cgroup; with "net" in go, it waits again for "net",
the network made, and with "hold" it says "held" and waits for "start" before it
secures itself and execs), copies the mount
namespace so pivot_root does not move stage 1, mounts the container's file
systems, pivots, masks paths, sets the terminal, user and capabilities, and
execs. Each step that fails is sent back as a typed error.

Both take the syscalls object they use (`sc`, by default `syscalls.default()`): a unit test
hands in a recorder and checks the calls in their order.
"""

from __future__ import annotations

import _signal
import errno
import os

from . import capabilities as caps
from . import rootfs as R
from . import seccomp as _seccomp
from . import syscalls as S
from ._ffi.numbers import TIOCSCTTY  # noqa: F401 - termios loaded now: the init sets its terminal after pivot_root
from .cgroupfork import fork_init
from .errors import EXIT_SETUP_FAILED, ExecError, SetupError
from .execpath import lookpath, passwd_home
from .mounts import ensure_target, mount_rootfs, resolve_in_root
from .sync import Channel

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn, Optional, Sequence


_NS_FLAGS = {
    "pid": S.CLONE_NEWPID, "uts": S.CLONE_NEWUTS, "ipc": S.CLONE_NEWIPC,
    "network": S.CLONE_NEWNET, "mount": S.CLONE_NEWNS, "cgroup": S.CLONE_NEWCGROUP,
    "user": S.CLONE_NEWUSER,
}
_RESET_SIGNALS = (_signal.SIGINT, _signal.SIGPIPE, _signal.SIGXFSZ, _signal.SIGTERM, _signal.SIGHUP,
                  _signal.SIGQUIT, _signal.SIGCHLD, _signal.SIGWINCH, _signal.SIGUSR1, _signal.SIGUSR2)


def namespaces(spec: dict[str, Any]) -> dict[str, Optional[str]]:
    """The spec's namespaces: type -> path to join, or None to create a new one."""
    return {ns["type"]: ns.get("path") for ns in spec.get("linux", {}).get("namespaces", [])}


def stage1(spec: dict[str, Any], chan: Channel, host_side_fds: list[int],
           after_exit: Optional[tuple[str, str, tuple[Any, ...]]] = None, detach: bool = False,
           sc: Optional[S.Syscalls] = None, cgroup: Optional[str] = None) -> NoReturn:
    """The namespace holder (cgroup: the container's cgroup directory, for fork_init). Never
    returns."""
    code = EXIT_SETUP_FAILED
    try:
        for fd in host_side_fds:
            os.close(fd)
        code = run_stage1(spec, chan, after_exit, detach, sc or S.default(), cgroup=cgroup)
    except BaseException as exc:  # noqa: BLE001 - reported to the host side
        chan.report(exc)
    os._exit(code)


def detach_from_caller(sc: S.Syscalls) -> None:
    """Stage 1's first steps: killed with its parent, out of the caller's terminal process
    group (podpy forwards signals itself), deaf to the terminal's signals."""
    sc.set_pdeathsig(_signal.SIGKILL)
    os.setsid()
    for sig in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT):
        _signal.signal(sig, _signal.SIG_IGN)


def run_stage1(spec: dict[str, Any], chan: Channel, after_exit: Optional[tuple[str, str, tuple[Any, ...]]],
               detach: bool, sc: S.Syscalls, in_userns: bool = False, cgroup: Optional[str] = None,
               prepared: Optional[dict[str, Any]] = None, made: frozenset[str] = frozenset(),
               rooted: bool = False, ready: Optional[dict[str, Any]] = None) -> int:
    """Stage 1's work; its exit status. in_userns: the user namespace is unshared and mapped;
    cgroup: the container's cgroup directory, where the init is forked if it can be;
    prepared: the root file system mounted already (prepare_root); made: the new namespaces
    that stage 1 is in already (make_namespaces: the spec asks for them new); rooted: root's
    ids and a mount namespace of our own taken already (enter_own_root); ready: mounts made
    ahead for the init to move into place (mount_ahead)."""
    if not in_userns:  # a stage 1 started ahead did these (ahead.py)
        detach_from_caller(sc)
    ns = namespaces(spec)
    if rooted:
        pass   # enter_own_root took our ids
    elif in_userns:
        sc.setresgid(0, 0, 0)
        sc.setresuid(0, 0, 0)
    elif "user" in ns:
        if ns["user"] and ns["user"] == spec.get("linux", {}).get("nestedUserns"):
            # A nested user namespace to join (a pod's, with id maps): first the one it is
            # nested in, which owns the namespaces to join; the nested one in init().
            _join_parent(sc, str(ns["user"]))
        elif ns["user"]:
            # An existing user namespace (one that owns the network namespace to join): it
            # has its maps already. Joining needs a single-threaded caller, which a fork is.
            _join(sc, str(ns["user"]), S.CLONE_NEWUSER)
        else:
            sc.unshare(S.CLONE_NEWUSER)
            chan.send("userns")
            chan.expect("mapped")
        sc.setresgid(0, 0, 0)
        sc.setresuid(0, 0, 0)
    root_desc = spec.get("rootfsMount")
    if prepared is None:
        if not rooted:
            _own_mount_namespace(sc)
        fuse_pid = mount_rootfs(sc, root_desc, tied=not detach) if root_desc else None
    elif root_desc == prepared:
        fuse_pid = None
    else:   # a spec for another root than the one mounted ahead: that one goes
        sc.umount2(prepared["target"], S.MNT_DETACH)
        fuse_pid = mount_rootfs(sc, root_desc, tied=not detach) if root_desc else None
    flags = 0
    for kind in ("pid", "uts", "ipc", "network"):
        if kind in ns and ns[kind] is None and kind not in made:
            flags |= _NS_FLAGS[kind]
    # Namespaces of another container (--pid container:NAME, --network ns:PATH...), joined in
    # the user namespace that owns them (joined above); a PID namespace takes effect for the
    # init forked below, as a new one would.
    for kind in ("network", "ipc", "uts", "cgroup", "pid"):
        if ns.get(kind):
            _join(sc, str(ns[kind]), _NS_FLAGS[kind])
    # A new PID namespace comes with the init's clone when it is born in its cgroup: one the
    # kernel kills at birth (fork_init) must not leave a dead namespace for the fork after it.
    new_pid = flags & S.CLONE_NEWPID if cgroup else 0
    sc.unshare(flags & ~new_pid)
    pid, in_cgroup = fork_init(sc, cgroup, new_pid)
    if pid == 0:
        init(spec, chan, detach, sc, wait_cgroup=bool(cgroup) and not in_cgroup, made=made, ready=ready)
    if detach:
        chan.send("pid", pid=pid, fuse_pid=fuse_pid, in_cgroup=in_cgroup)
        chan.close()
        # The init lives on without us: it is reparented to the caller's subreaper (the
        # monitor), which reaps it; its mount namespace keeps the root file system mounted.
        return 0
    # The host side learns the init's status from this pipe as soon as the root file system
    # is released, and that we are done (after_exit) at its end: it need not wait for this
    # process to exit (the kernel's tear-down of its namespaces and memory).
    done_r, done_w = os.pipe2(os.O_CLOEXEC)
    chan.send("pid", fds=[done_r], pid=pid, fuse_pid=fuse_pid, in_cgroup=in_cgroup)
    os.close(done_r)
    chan.close()
    if after_exit is not None:
        _import_quietly(after_exit[0])   # now, while the init sets the container up: not after it
    status = _wait(pid)
    if root_desc:
        try:
            sc.umount2(root_desc["target"], S.MNT_DETACH)
        except OSError:
            pass
    if fuse_pid:
        os.kill(fuse_pid, _signal.SIGTERM)
        _wait(fuse_pid)
    try:
        os.write(done_w, b"%d\n" % status)
    except OSError:
        pass   # the host side is gone
    _after_exit(sc, done_w, after_exit)
    return status


def make_namespaces(sc: S.Syscalls, kinds: Sequence[str]) -> frozenset[str]:
    """A stage 1 started ahead, its user namespace mapped: the new UTS, IPC and network
    namespaces that its container will have (of kinds), made before its spec comes, the
    network one with `lo` up and ping allowed to group 0 (as the init does otherwise); the
    ones made."""
    made = frozenset(kind for kind in kinds if kind in ("uts", "ipc", "network"))
    flags = 0
    for kind in made:
        flags |= _NS_FLAGS[kind]
    if flags:
        sc.unshare(flags)
    if "network" in made:
        sc.interface_up("lo")
        _ping_group(sc, {})
    return made


def _own_mount_namespace(sc: S.Syscalls) -> None:
    """A mount namespace of our own for the rootfs; nothing propagates back to the host."""
    sc.unshare(S.CLONE_NEWNS)
    sc.mount(None, "/", None, S.MS_REC | S.MS_PRIVATE)


def enter_own_root(sc: S.Syscalls) -> None:
    """A stage 1 started ahead, its user namespace mapped: take root's ids there and a mount
    namespace of our own, before the spec comes (run_stage1's rooted)."""
    sc.setresgid(0, 0, 0)
    sc.setresuid(0, 0, 0)
    _own_mount_namespace(sc)


def prepare_root(sc: S.Syscalls, rootfs: dict[str, Any]) -> None:
    """A stage 1 started ahead, rooted (enter_own_root): mount the container's root file
    system (an overlay or a bind: no server process) before the spec comes (run_stage1's
    prepared)."""
    mount_rootfs(sc, rootfs)


def make_mount_points(root: str, points: Sequence[str]) -> None:
    """A stage 1 started ahead, its root file system mounted at root (prepare_root): make these
    file mount points in it before the spec comes (ahead.Ahead.mount_points). One that cannot
    be made is left to the init, which makes what is missing as it mounts."""
    for point in points:
        try:
            ensure_target(resolve_in_root(root, point), False)
        except (OSError, SetupError):
            pass


def mount_ahead(sc: S.Syscalls, plan: Optional[dict[str, Any]], made: frozenset[str]) -> Optional[dict[str, Any]]:
    """A stage 1 started ahead, rooted, in the new namespaces it made: the kernel file systems
    a container usually has below /dev and at /sys (plan["groups"]: lists of OCI mounts, each
    under the first's destination), mounted before the spec comes on a tmpfs of our mount
    namespace at plan["scratch"] (a directory of the runtime's, made if missing). mqueue and
    sysfs show the IPC and network namespaces of whoever mounts them: a group with those is
    made only when they are the container's own (made). The init binds a group into place when
    the spec's mounts from its place on are the group's (rootfs.mount_all); the rest goes with
    the old root at pivot_root. What was made, as `ready` for run_stage1 (None: nothing)."""
    from .mounts import mount_one

    if not plan:
        return None
    needs = {"mqueue": "ipc", "sysfs": "network"}
    groups = [g for g in plan.get("groups", []) if all(needs[m["type"]] in made for m in g if m.get("type") in needs)]
    if not groups:
        return None
    scratch = plan["scratch"]
    try:
        os.makedirs(scratch, 0o700, exist_ok=True)
        sc.mount("tmpfs", scratch, "tmpfs", S.MS_NOSUID | S.MS_NODEV | S.MS_NOEXEC, "mode=700,size=64k")
    except OSError:
        return None
    built = []
    for group in groups:
        try:
            for m in group:
                mount_one(sc, scratch, m)
                if m["destination"] == "/dev" and m.get("type") == "tmpfs":
                    R.populate_dev(sc, scratch)
        except Exception:  # noqa: BLE001 - the init mounts this group and the ones after it itself
            break
        built.append(group)
    return {"scratch": scratch, "groups": built} if built else None


def _after_exit(sc: S.Syscalls, done_w: int, after_exit: Optional[tuple[str, str, tuple[Any, ...]]],
                devnull: bool = True) -> None:
    """Stage 1's last steps, the container over and its root file system released: the caller's
    after_exit, then done_w closed (the host side waits for that). What after_exit returns to
    be done later (the removal of a directory it moved aside: storage.staging.discard) is done
    after that, and may outlive the host side: its end must not kill us (PDEATHSIG), nor our
    holding its output keep a reader of that output waiting (devnull: 0, 1 and 2 let go)."""
    rest = None
    if after_exit is not None:
        try:
            module, name, args = after_exit
            rest = getattr(__import__(module, fromlist=[name]), name)(*args)
        except Exception:  # noqa: BLE001 - the next command cleans up what is left
            pass
    if callable(rest):
        try:
            sc.set_pdeathsig(0)
            if devnull:
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                os.close(null)
        except OSError:
            rest = None
    os.close(done_w)   # done: before the exit, whose tear-down nobody waits for
    if callable(rest):
        try:
            rest()
        except Exception:  # noqa: BLE001 - garbage left is the next command's
            pass


def _import_quietly(module: str) -> None:
    """Import the module of the after-exit step ahead (what fails is tried again, and passed
    over, by _after_exit)."""
    try:
        __import__(module)
    except Exception:  # noqa: BLE001
        pass


def _join_parent(sc: S.Syscalls, path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        parent = sc.ns_get_parent(fd, path)
    finally:
        os.close(fd)
    try:
        sc.setns(parent, S.CLONE_NEWUSER, f"{path} (its parent)")
    finally:
        os.close(parent)


def _join(sc: S.Syscalls, path: str, nstype: int) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        sc.setns(fd, nstype, path)
    finally:
        os.close(fd)


def _wait(pid: int) -> int:
    """Wait for pid; its exit code, or 128+N when a signal killed it (as podman reports)."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return EXIT_SETUP_FAILED
        if os.WIFEXITED(status):
            return os.WEXITSTATUS(status)
        if os.WIFSIGNALED(status):
            return 128 + os.WTERMSIG(status)


def init(spec: dict[str, Any], chan: Channel, detach: bool = False,
         sc: Optional[S.Syscalls] = None, wait_cgroup: bool = False, made: frozenset[str] = frozenset(),
         ready: Optional[dict[str, Any]] = None) -> NoReturn:
    """PID 1 of the container (wait_cgroup: not born in its cgroup, it waits for the host side
    to move it there; made: the namespaces stage 1 made ahead, make_namespaces; ready: the
    mounts it made ahead, mount_ahead). Never returns: execs or exits."""
    try:
        _init(spec, chan, detach, sc or S.default(), wait_cgroup, made, ready)
    except ExecError as exc:
        chan.report(exc)
        os._exit(exc.exit_code)
    except BaseException as exc:  # noqa: BLE001
        chan.report(exc)
    os._exit(EXIT_SETUP_FAILED)


def _init(spec: dict[str, Any], chan: Channel, detach: bool, sc: S.Syscalls, wait_cgroup: bool = False,
          made: frozenset[str] = frozenset(), ready: Optional[dict[str, Any]] = None) -> None:
    if not detach:  # a detached init outlives stage 1 by design
        sc.set_pdeathsig(_signal.SIGKILL)
    go, stdio = chan.expect("go")
    if wait_cgroup:   # in its cgroup before its cgroup namespace is made (whose root that is)
        chan.expect("joined")
    for target, fd in zip((1, 2), stdio):  # the host side's pipes (a foreground run it logs)
        os.dup2(fd, target)
        os.close(fd)
    os.setsid()
    ns = namespaces(spec)
    # Our own copy of the mount namespace: pivot_root must not move stage 1's root.
    flags = S.CLONE_NEWNS
    if "cgroup" in ns and ns["cgroup"] is None:
        flags |= S.CLONE_NEWCGROUP
    sc.unshare(flags)
    process = spec["process"]
    rootfs = spec["root"]["path"]
    if ns.get("network", "") is None:
        nested = spec.get("linux", {}).get("nestedIdMappings")
        if "network" not in made:
            sc.interface_up("lo")   # a new network namespace starts with `lo` down; containers expect it up
        if "network" not in made or nested:   # made ahead: for gid 0 of the default mappings
            _ping_group(sc, spec)
    if "uts" in ns and ns["uts"] is None and spec.get("hostname"):
        sc.sethostname(spec["hostname"])
    _sysctls(sc, spec.get("linux", {}).get("sysctl") or {})
    if spec.get("linux", {}).get("seccomp"):
        # before pivot_root: the host's files are out of reach after it
        _seccomp.preload(spec["linux"]["seccomp"], sc)
    notify = None
    if spec.get("linux", {}).get("bindNotify"):
        from .network import bindnotify as notify   # before pivot_root, as seccomp above
    R.mount_all(sc, rootfs, spec.get("mounts", []), ready)
    cwd = process.get("cwd") or "/"
    cwd_host = resolve_in_root(rootfs, cwd)
    if not os.path.isdir(cwd_host):
        if os.path.exists(cwd_host):
            # podman's words and status (the engine adds the container's id)
            raise SetupError(f'workdir "{cwd}" exists on container, but is not a directory', 126)
        if spec.get("workdirMustExist"):   # given with --workdir: podman makes only the image's
            raise SetupError(f'workdir "{cwd}" does not exist on container', 126)
        os.makedirs(cwd_host, 0o755, exist_ok=True)
    nested = spec.get("linux", {}).get("nestedIdMappings")
    waited_net = False
    if nested and go.get("net"):
        # The network helper opens /proc/PID/ns/net of this process: it may not once this
        # process has other ids in a nested namespace (and is no longer dumpable).
        chan.expect("net")
        waited_net = True
    if nested:
        # The path to the root file system may not be searchable with the nested namespace's
        # ids: start from its parent directory, which they may search (but not read).
        parent, base = os.path.split(rootfs.rstrip("/"))
        os.chmod(parent, 0o711)
        os.chdir(parent)
        joined = spec["linux"].get("nestedUserns")
        if joined:
            # the pod's nested user namespace, made by its infra container, maps already
            _join(sc, joined, S.CLONE_NEWUSER)
            sc.setresgid(0, 0, 0)
            sc.setresuid(0, 0, 0)
            sc.unshare(S.CLONE_NEWNS)
        else:
            _enter_nested_userns(sc, rootfs, nested)
        # Mounts that came from the outer namespace are locked, and pivot_root refuses to
        # move onto one: a bind of the root file system made here is ours.
        sc.mount(base, base, None, S.MS_BIND | S.MS_REC)
        rootfs = base
    hooks = spec.get("hooks") or {}
    oci_hooks = None
    if hooks.get("createContainer") or hooks.get("startContainer"):
        # imported while the host's files (and the zipapp) are still reachable
        from . import hooks as oci_hooks
    if hooks.get("createContainer"):
        # OCI createContainer: the mounts made, before pivot_root, in the container's
        # namespaces; a failure stops the start (reported as any set-up error)
        oci_hooks.run(spec, "createContainer", "creating", os.getpid(), cwd=rootfs)  # type: ignore[union-attr]
    R.pivot(sc, rootfs)
    linux = spec.get("linux", {})
    R.mask_paths(sc, linux.get("maskedPaths", []), linux.get("readonlyPaths", []))
    if spec["root"].get("readonly"):
        R.readonly_root(sc)
    if process.get("terminal"):
        _terminal(sc, chan, process)
    elif not process.get("stdin", False):
        _stdin_devnull()
    if notify is not None:
        # Still with CAP_SYS_ADMIN (which a filter needs without no_new_privs), and before the
        # profile's filter, which may refuse seccomp(2) itself.
        listener = notify.install(sc)
        if listener >= 0:
            chan.send("bind_notify", fds=[listener])
            os.close(listener)
    if go.get("net") and not waited_net:
        chan.expect("net")  # the network is made meanwhile (parent.launch)
    if go.get("hold"):
        # `init`: everything is set up; the container's process waits here, created but not
        # started, until its supervisor says "start" (`podpy start`), as an OCI runtime's
        # `create` leaves it for `start`.
        chan.send("held")
        chan.expect("start")
    # Last before the user and capabilities change: a low limit (nofile) must not get in the
    # way of the set-up itself.
    _rlimits(sc, process.get("rlimits") or [])
    _process_settings(sc, process, linux)
    secure(sc, process, linux.get("seccomp"))
    try:
        os.chdir(cwd)
    except OSError as exc:
        raise SetupError(f"cannot chdir to `{cwd}`: {exc.strerror}") from exc
    if oci_hooks is not None and hooks.get("startContainer"):
        _start_container_hooks(spec, chan, oci_hooks)
    _exec(process, chan)


def _start_container_hooks(spec: dict[str, Any], chan: Channel, oci_hooks: Any) -> None:
    """OCI startContainer: after start, in the container as its process will be, just before
    the exec. The start has succeeded by then, so a failure is the container's own end, as
    with runc's init: status 1, the reason on the container's stderr."""
    try:
        oci_hooks.run(spec, "startContainer", "created", os.getpid(), cwd=None)
    except SetupError as exc:
        chan.close()   # the host side takes the container as started
        try:
            os.write(2, f"Error: {exc}\n".encode(errors="replace"))
        finally:
            os._exit(1)


def _enter_nested_userns(sc: S.Syscalls, rootfs: str, maps: dict[str, list[dict[str, int]]]) -> None:
    """Move the init into a user namespace nested in the one it was made in, with the maps of
    --userns=keep-id|auto or --uidmap/--gidmap given in the outer namespace's ids (podman's
    intermediate ids). Everything that needs the outer namespace's privileges (the root file
    system, the mounts, the hostname, the loopback) is done by then; a child that stays in the
    outer namespace writes the maps (a process may not write its own), and a mount namespace
    owned by the nested one lets pivot_root and the masks work there."""
    me = os.getpid()
    r, w = os.pipe()
    helper = os.fork()
    if helper == 0:
        code = 1
        try:
            os.close(w)
            if os.read(r, 1) == b"1":
                # The container's proc, mounted in the root file system, where the init is `me`
                # (1 in a PID namespace of its own).
                proc = os.path.join(rootfs, "proc", str(me))
                for name, key in (("uid_map", "uidMappings"), ("gid_map", "gidMappings")):
                    with open(os.path.join(proc, name), "w") as f:
                        f.write("".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in maps[key]))
                code = 0
        finally:
            os._exit(code)
    os.close(r)
    try:
        sc.unshare(S.CLONE_NEWUSER)
        os.write(w, b"1")
    finally:
        os.close(w)
    _, status = os.waitpid(helper, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SetupError("could not write the id maps of the container's nested user namespace")
    sc.setresgid(0, 0, 0)
    sc.setresuid(0, 0, 0)
    sc.unshare(S.CLONE_NEWNS)


def _ping_group(sc: S.Syscalls, spec: dict[str, Any]) -> None:
    """As podman's default sysctl net.ipv4.ping_group_range=0 0: the container's root group may
    ping (ICMP datagram sockets) without CAP_NET_RAW, which the default set lacks. The ids count
    in the namespace that owns the network namespace: for a nested one, its outer id of gid 0."""
    gid = 0
    nested = spec.get("linux", {}).get("nestedIdMappings")
    if nested:
        outer = [m["hostID"] for m in nested.get("gidMappings", []) if m["containerID"] == 0]
        if not outer:
            return
        gid = outer[0]
    try:
        sc.sysctl("net/ipv4/ping_group_range", f"{gid} {gid}")
    except OSError:
        pass


def _sysctls(sc: S.Syscalls, sysctls: dict[str, str]) -> None:
    """--sysctl: written under /proc/sys, which shows the settings of the writer's network and
    IPC namespaces (the container's by now). Podman's runtime fails with 127 for a setting the
    kernel does not have, 126 for one it refuses."""
    for key, value in sysctls.items():
        try:
            sc.sysctl(key.replace(".", "/"), value)
        except OSError as exc:
            raise SetupError(f"sysctl {key}={value}: {os.strerror(exc.errno or 0)} (/proc/sys/{key.replace('.', '/')})",
                             127 if exc.errno == errno.ENOENT else 126) from exc


def _rlimits(sc: S.Syscalls, rlimits: list[dict[str, Any]]) -> None:
    """--ulimit: the spec's limits (-1 unlimited). A limit above our hard one is refused (EPERM:
    only a privileged process may raise a hard limit), as with podman's runtime (126)."""
    for r in rlimits:
        name, soft, hard = str(r["type"]), int(r["soft"]), int(r["hard"])
        try:
            sc.setrlimit(name, soft, hard)
        except OSError as exc:
            why = os.strerror(exc.errno or 0)
            if exc.errno == errno.EPERM:
                why += " (a rootless container cannot raise a hard limit above the user's own)"
            raise SetupError(f"setting {name} to {_limit(soft)}:{_limit(hard)}: {why}",
                             126 if exc.errno == errno.EPERM else 0) from exc


PERSONALITIES = {"LINUX": 0x0000, "LINUX32": 0x0008}


def _process_settings(sc: S.Syscalls, process: dict[str, Any], linux: dict[str, Any]) -> None:
    """--oom-score-adj, --personality and --umask: inherited by what the init execs. A score
    below the one we have is refused rootless (EACCES), as with podman's runtime (126)."""
    score = process.get("oomScoreAdj")
    if score is not None:
        try:
            sc.set_oom_score_adj(int(score))
        except OSError as exc:
            raise SetupError(f"setting oom_score_adj to {score}: {os.strerror(exc.errno or 0)} (a rootless "
                             "container cannot lower it below the user's own)", 126) from exc
    domain = (linux.get("personality") or {}).get("domain")
    if domain:
        if domain not in PERSONALITIES:
            raise SetupError(f"unknown personality domain {domain}", 126)
        sc.personality(PERSONALITIES[domain])
    umask = process.get("user", {}).get("umask")
    if umask is not None:
        sc.umask(int(umask))


def _limit(value: int) -> str:
    return "unlimited" if value == -1 else str(value)


def _stdin_devnull() -> None:
    fd = os.open("/dev/null", os.O_RDONLY)
    if fd != 0:
        os.dup2(fd, 0)
        os.close(fd)


def _terminal(sc: S.Syscalls, chan: Channel, process: dict[str, Any], console: bool = True) -> None:
    """Allocate the pty in the container's own devpts, make it our controlling
    terminal on 0/1/2 (and /dev/console), and send the master to the host side."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    sc.unlockpt(master)
    slave_path = sc.ptsname(master)
    slave = os.open(slave_path, os.O_RDWR | os.O_NOCTTY)
    size = process.get("consoleSize")
    if size:
        sc.set_winsize(slave, int(size["height"]), int(size["width"]))
    if console:
        try:
            ensure_target("/dev/console", False)
            sc.mount(slave_path, "/dev/console", None, S.MS_BIND)
        except OSError:
            pass
    sc.set_controlling_terminal(slave, slave_path)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)
    chan.send("pty", fds=[master])
    os.close(master)


def secure(sc: S.Syscalls, process: dict[str, Any], seccomp: Optional[dict[str, Any]]) -> None:
    """User, groups, capabilities, no_new_privs and the seccomp filter, in the order that works:
    without no_new_privs the filter needs CAP_SYS_ADMIN, so it goes in before the capabilities
    are dropped; with it, last."""
    nnp = bool(process.get("noNewPrivileges"))
    if seccomp and not nnp:
        _seccomp.load(seccomp, sc)
    _set_user_and_caps(sc, process)
    if nnp:
        sc.set_no_new_privs()
        if seccomp:
            _seccomp.load(seccomp, sc)


def _set_user_and_caps(sc: S.Syscalls, process: dict[str, Any]) -> None:
    user = process.get("user", {})
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    extra = [int(g) for g in user.get("additionalGids", [])]
    capset = process.get("capabilities")
    keep = caps.mask_of(list(capset.get("bounding", []))) if capset is not None else None
    if keep is not None:
        caps.drop_bounding(sc, keep)
    try:
        if not user.get("keepOriginalGroups"):   # --group-add keep-groups: the caller's stay
            sc.setgroups(extra)
    except OSError as exc:
        # setgroups is denied in a single-id user namespace: fine when nothing
        # beyond the primary group was asked for.
        if exc.errno != errno.EPERM or not set(extra) <= {gid}:
            raise SetupError(f"setgroups {extra}: {exc.strerror}") from exc
    try:
        sc.setresgid(gid, gid, gid)
        sc.setresuid(uid, uid, uid)
    except OSError as exc:
        raise SetupError(f"cannot set user {uid}:{gid}: {exc.strerror} "
                         "(is the id mapped in the user namespace?)") from exc
    if keep is not None and uid == 0:
        eff = caps.mask_of(list(capset.get("effective", []))) if capset else keep
        sc.capset(eff & keep, keep, 0)


def _exec(process: dict[str, Any], chan: Channel) -> None:
    args = [str(a) for a in process["args"]]
    env = {}
    for item in process.get("env", []):
        k, _, v = item.partition("=")
        env[k] = v
    if not env.get("HOME"):
        env["HOME"] = passwd_home(os.getuid())
    for sig in _RESET_SIGNALS:
        _signal.signal(sig, _signal.SIG_DFL)
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])
    keep = chan.fileno()
    # Only 0, 1 and 2 cross into the container (the sync socket is close-on-exec), and
    # with preserveFds (--preserve-fds N) the N after them, as the caller had them.
    first = 3 + int(process.get("preserveFds") or 0)
    for fd in range(3, first):
        os.set_inheritable(fd, True)
    os.closerange(first, keep)
    os.closerange(max(keep + 1, first), 1 << 16)
    try:
        os.execve(lookpath(args[0], env.get("PATH")), args, env)
    except OSError as exc:
        raise ExecError(args[0], exc.errno or errno.ENOENT) from exc
