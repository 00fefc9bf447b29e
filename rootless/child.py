"""The container's init: PID 1 of its new PID namespace, forked by stage 1 (stage1.py).

It reads "go", which the host side sends as soon as it has started stage 1 (and "joined"
when it has moved an init that was not born in its cgroup; with "net" in go, it waits again
for "net", the network made, and with "hold" it says "held" and waits for "start" before it
secures itself and execs), copies the mount namespace so pivot_root does not move stage 1,
mounts the container's file systems, pivots, masks paths, sets the terminal, user and
capabilities, and execs. Each step that fails is sent back as a typed error.

It takes the syscalls object it uses (`sc`, by default `syscalls.default()`): a unit test
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
from .errors import EXIT_SETUP_FAILED, ExecError, SetupError
from .execpath import lookpath, passwd_home
from .mounts import ensure_target, resolve_in_root
from .sync import Channel

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn, Optional


_RESET_SIGNALS = (_signal.SIGINT, _signal.SIGPIPE, _signal.SIGXFSZ, _signal.SIGTERM, _signal.SIGHUP,
                  _signal.SIGQUIT, _signal.SIGCHLD, _signal.SIGWINCH, _signal.SIGUSR1, _signal.SIGUSR2)


def namespaces(spec: dict[str, Any]) -> dict[str, Optional[str]]:
    """The spec's namespaces: type -> path to join, or None to create a new one."""
    return {ns["type"]: ns.get("path") for ns in spec.get("linux", {}).get("namespaces", [])}


def join_namespace(sc: S.Syscalls, path: str, nstype: int) -> None:
    """setns(2) into the namespace at path (of kind nstype)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        sc.setns(fd, nstype, path)
    finally:
        os.close(fd)


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
            ping_group(sc, spec)
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
            join_namespace(sc, joined, S.CLONE_NEWUSER)
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


def ping_group(sc: S.Syscalls, spec: dict[str, Any]) -> None:
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
