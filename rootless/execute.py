"""`exec`: a new process in a running container's namespaces.

The host side forks a stage that joins the container's namespaces (its user
namespace first, for the capabilities the others need; the mount namespace
last) and forks the process, which is then inside the container's PID
namespace: it takes the terminal, user, groups and capabilities it was given,
and execs. The stage stays as the process's parent, forwards signals to it and
exits with its status, so the caller learns the exit code (126/127 when the
command cannot be run, as for `run`).
"""

from __future__ import annotations

import _signal
import errno as _errno
import os

from . import child as C
from . import syscalls as S
from .cgroupfork import fork_in_cgroup
from .errors import ExecError, RuntimeFailure, SetupError, from_wire
from .sync import Channel

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn, Optional

# Joining order: the user namespace gives the capabilities to join the others; the mount
# namespace last, since joining it changes what paths mean.
_ORDER = (("user", S.CLONE_NEWUSER), ("ipc", S.CLONE_NEWIPC), ("uts", S.CLONE_NEWUTS),
          ("net", S.CLONE_NEWNET), ("pid", S.CLONE_NEWPID), ("cgroup", S.CLONE_NEWCGROUP),
          ("mnt", S.CLONE_NEWNS))
_FORWARDED = (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT, _signal.SIGUSR1, _signal.SIGUSR2)


class Execution:
    """A started exec: its stage (our child) and the process inside."""

    def __init__(self, stage: int, pid: int, pty_master: Optional[int]) -> None:
        self.stage = stage
        self.pid = pid
        self.pty_master = pty_master
        self.exit_code: Optional[int] = None

    def signal(self, sig: int) -> None:
        try:
            os.kill(self.stage, sig)   # the stage passes it on
        except ProcessLookupError:
            pass

    def wait(self) -> int:
        if self.exit_code is None:
            _, status = os.waitpid(self.stage, 0)
            code = os.waitstatus_to_exitcode(status)
            self.exit_code = 128 - code if code < 0 else code
        return self.exit_code


def _namespace_fds(target: int, sc: Optional[S.Syscalls] = None) -> list[tuple[int, int, str]]:
    """(fd, flag, path) of each namespace of target that is not already ours, in joining order.

    A container with --userns=keep-id|auto or --uidmap runs in a user namespace nested in
    the one that owns its other namespaces: that outer one is joined first, the nested one
    after the namespaces it does not own, just before the mount namespace (which it owns)."""
    sc = sc or S.default()
    out: list[tuple[int, int, str]] = []
    nested: Optional[tuple[int, int, str]] = None
    try:
        for name, flag in _ORDER:
            path = f"/proc/{target}/ns/{name}"
            try:
                if os.stat(path).st_ino == os.stat(f"/proc/self/ns/{name}").st_ino:
                    continue
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
            if name == "user":
                try:
                    parent = sc.ns_get_parent(fd, path)
                except OSError:
                    parent = -1
                if parent >= 0:
                    os.set_inheritable(parent, False)
                    if os.fstat(parent).st_ino != os.stat("/proc/self/ns/user").st_ino:
                        nested = (fd, flag, path)
                        out.append((parent, flag, f"{path} (its parent)"))
                        continue
                    os.close(parent)
            if name == "mnt" and nested is not None:
                out.append(nested)
                nested = None
            out.append((fd, flag, path))
        if nested is not None:
            out.append(nested)
    except OSError as exc:
        for fd, _f, _p in out + ([nested] if nested else []):
            os.close(fd)
        raise SetupError(f"opening the namespaces of process {target}: {exc.strerror}") from exc
    return out


def exec_in(target: int, process: dict[str, Any], detach: bool = False, cgroup: Optional[str] = None,
            sc: Optional[S.Syscalls] = None, stdio: Optional[tuple[int, int, int]] = None) -> Execution:
    """Start process (OCI process shape) in the namespaces of target, a container's init (and
    in its cgroup, when it has one). stdio: the fds that become its stdin, stdout and stderr
    (without it, the caller's own; a server serving many clients passes each its pipes)."""
    sc = sc or S.default()
    namespaces = _namespace_fds(target, sc)
    host, inside = Channel.pair()
    stage = os.fork()
    if stage == 0:
        if stdio is not None:
            for fd_target, fd in enumerate(stdio):
                os.dup2(fd, fd_target)
            # A server's other fds (its clients' pipes and sockets, copied by this fork) would
            # stay open here as long as the process runs: another exec's stdin would never end.
            _close_all_but([inside.fileno(), host.fileno(), *(fd for fd, _f, _p in namespaces)])
        _stage(namespaces, process, inside, host.fileno(), detach, cgroup, sc)
    inside.close()
    for fd, _f, _p in namespaces:
        os.close(fd)
    try:
        # The stage says "pid" and the process "pty" over one socket: in either order.
        started = Execution(stage, 0, None)
        while True:
            reply, fds = host.recv()
            if reply is None:
                break
            kind = reply.get("type")
            if kind == "pid":
                started.pid = int(reply["pid"])
            elif kind == "pty" and fds:
                started.pty_master = fds[0]
            elif kind == "error":
                raise from_wire(reply["error"])
            else:
                for fd in fds:
                    os.close(fd)
        if not started.pid:
            raise SetupError("the exec set-up ended before the process started")
        return started
    except BaseException as exc:
        host.close()
        if isinstance(exc, ExecError):
            os.waitpid(stage, 0)
            raise
        try:
            os.kill(stage, _signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(stage, 0)
        if isinstance(exc, OSError) and not isinstance(exc, RuntimeFailure):
            raise SetupError(f"exec: {exc}") from exc
        raise
    finally:
        host.close()


def _close_all_but(keep: list[int]) -> None:
    """Close every fd from 3 up but those in keep."""
    low = 3
    for fd in sorted(set(keep)):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))


def _stage(namespaces: list[tuple[int, int, str]], process: dict[str, Any], chan: Channel, host_fd: int,
           detach: bool, cgroup: Optional[str], sc: S.Syscalls) -> NoReturn:
    code = C.EXIT_SETUP_FAILED
    try:
        os.close(host_fd)
        # libc now: once in the container's mount namespace the host's files are out of reach
        sc.load()
        if not detach:
            sc.set_pdeathsig(_signal.SIGKILL)
        os.setsid()   # out of the caller's process group: podpy forwards signals itself
        if detach:
            null = os.open("/dev/null", os.O_RDWR)
            for target in (0, 1, 2):
                os.dup2(null, target)
            os.close(null)
        # The container's cgroup, opened before the mount namespace changes what the path
        # means: the process is born there (cgroupfork.py), else we move there to fork
        # it (procs) and back (home) after, as writing cgroup.procs waits for a grace period
        # of the kernel's each time.
        where = procs = proc = -1
        home = None
        if cgroup:
            try:
                where = os.open(cgroup, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
                procs = os.open(os.path.join(cgroup, "cgroup.procs"), os.O_WRONLY | os.O_CLOEXEC)
                proc = os.open("/proc", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)   # ours, for our pids
                home = _own_cgroup_procs(cgroup)
            except OSError:
                pass
        if process.get("seccomp"):
            C._seccomp.preload(process["seccomp"], sc)   # the host's files, before the container's mount namespace
        for fd, flag, path in namespaces:
            sc.setns(fd, flag, path)
            os.close(fd)
        pid = fork_in_cgroup(sc, where, cgroup, proc) if where >= 0 and proc >= 0 and cgroup else -1
        if pid == 0:
            _process(sc, process, chan)
        moved = False
        if pid < 0:
            if procs >= 0:
                try:
                    os.write(procs, str(os.getpid()).encode())
                    moved = True
                except OSError:
                    pass   # from a cgroup that does not reach the container's (a move needs
                    # write access to both sides' common ancestor): the process runs outside it
            pid = os.fork()
            if pid == 0:
                _process(sc, process, chan)
        for fd in (where, procs, proc):
            if fd >= 0:
                os.close(fd)
        if home is not None and not moved:
            os.close(home)
        elif home is not None:
            # The process stays in the container's cgroup; we, a host-side helper, leave it.
            try:
                os.write(home, str(os.getpid()).encode())
            except OSError:
                pass
            os.close(home)
        chan.send("pid", pid=pid)
        chan.close()
        for sig in _FORWARDED:
            _signal.signal(sig, lambda s, _f: _pass_on(pid, s))
        while True:
            try:
                _, status = os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
        code = os.waitstatus_to_exitcode(status)
        code = 128 - code if code < 0 else code
    except BaseException as exc:  # noqa: BLE001 - reported to the host side
        chan.report(exc)
    os._exit(code)


def _own_cgroup_procs(cgroup: str) -> Optional[int]:
    """An open cgroup.procs of the cgroup we are in now, to go back to (None if unknown)."""
    try:
        with open("/proc/self/cgroup") as f:
            rel = next((line[3:].strip() for line in f if line.startswith("0::")), None)
        if rel is None:
            return None
        # the container's cgroup sits somewhere below the cgroup2 mount; find that mount
        # from the container's path and ours
        mount = cgroup
        while mount != "/" and not os.path.exists(os.path.join(mount, rel.lstrip("/"), "cgroup.procs")):
            mount = os.path.dirname(mount)
        path = os.path.join(mount, rel.lstrip("/"), "cgroup.procs")
        return os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        return None


def _pass_on(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _process(sc: S.Syscalls, process: dict[str, Any], chan: Channel) -> NoReturn:
    """In the container's PID namespace: become the process."""
    try:
        os.setsid()
        cwd = process.get("cwd") or "/"
        if process.get("terminal"):
            C._terminal(sc, chan, process, console=False)
        elif not process.get("stdin", False):
            C._stdin_devnull()
        C._process_settings(sc, process, {})   # the container's umask
        C.secure(sc, process, process.get("seccomp"))
        try:
            os.chdir(cwd)
        except OSError as exc:   # podman's codes: its runtime's chdir failure reads as "not found" (127)
            raise SetupError(f"cannot chdir to `{cwd}`: {exc.strerror}",
                             127 if exc.errno == _errno.ENOENT else 126) from exc
        C._exec(process, chan)
    except ExecError as exc:
        chan.report(exc)
        os._exit(exc.exit_code)
    except BaseException as exc:  # noqa: BLE001
        chan.report(exc)
    os._exit(C.EXIT_SETUP_FAILED)
