"""A container's stage 1, the namespace holder, forked by the host side (parent.launch) or
started ahead of its spec (ahead.py, which calls its steps one by one).

It unshares the user namespace, waits for its id maps, takes a mount namespace of its own and
mounts the rootfs there (so a fuse-overlayfs server stays outside the container's PID
namespace), unshares the PID, UTS, IPC and network namespaces and forks the init (child.py;
straight into the container's cgroup where it can: cgroupfork.py), then waits for it and exits
with its status, after running the caller's `after_exit` (still inside the user namespace, so
it can remove files owned by container ids). A detached stage 1 (the monitor's containers)
exits once the init is forked: the init is then reaped by the monitor, a child subreaper.

It takes the syscalls object it uses (`sc`, by default `syscalls.default()`): a unit test hands
in a recorder and checks the calls in their order.
"""

from __future__ import annotations

import _signal
import os

from . import rootfs as R
from . import syscalls as S
from .cgroupfork import fork_init
from .child import init, join_namespace, namespaces, ping_group
from .errors import EXIT_SETUP_FAILED, SetupError
from .mounts import ensure_target, mount_rootfs, resolve_in_root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn, Optional, Sequence

    from .sync import Channel


_NS_FLAGS = {
    "pid": S.CLONE_NEWPID, "uts": S.CLONE_NEWUTS, "ipc": S.CLONE_NEWIPC,
    "network": S.CLONE_NEWNET, "mount": S.CLONE_NEWNS, "cgroup": S.CLONE_NEWCGROUP,
    "user": S.CLONE_NEWUSER,
}


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
            join_namespace(sc, str(ns["user"]), S.CLONE_NEWUSER)
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
            join_namespace(sc, str(ns[kind]), _NS_FLAGS[kind])
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
        ping_group(sc, {})
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
