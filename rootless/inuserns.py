"""Running a function or a command inside a fresh user namespace (or the namespaces of
another process), as root there: the store's work on files that container ids own, `podpy
unshare`, a mount's server. The helpers send their results and exceptions back pickled.

Apart from userns.py (the ids and their maps), which every command that starts a container
loads: this code is for the commands that work in the namespace themselves.

Choice: a fresh user namespace per command rather than a resident pause
process. Entering one costs a fork plus two short helper execs (measured about
3 ms here) and leaves nothing running between commands; every user namespace
podpy makes for one user carries the same mapping, so files written in one are
owned by the same ids in the next.
"""

from __future__ import annotations

import _signal
import os

from .errors import RuntimeFailure, SetupError
from .userns import default_mappings, write_maps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional, Sequence

    from .syscalls import Syscalls
    from .userns import IdMappings


def become_root_in_userns(sc: Optional[Syscalls] = None) -> None:
    """After the maps are written: take uid/gid 0 inside explicitly (the caller's
    ids already map to 0, but a set-gid helper may have left others) and keep caps."""
    from . import syscalls

    sc = sc or syscalls.default()
    sc.setresgid(0, 0, 0)
    sc.setresuid(0, 0, 0)


def run_in_userns(
    fn: Callable[..., Any],
    *args: Any,
    mappings: Optional[IdMappings] = None,
    extra_flags: int = 0,
    expect_exec: bool = False,
) -> Any:
    """Run `fn(*args)` in a forked child inside a new user namespace; return its result.

    The result (or the exception) comes back pickled through a pipe. When the
    caller is real root no user namespace is made: `fn` runs in a plain child.
    With expect_exec, `fn` execs a program and the return value is that
    program's exit code (128+N when a signal ended it).
    """
    import pickle  # noqa: F401 - loaded before the fork: fn may leave the host's files behind

    from . import syscalls   # the namespace code (imported here: the host side of a `run` needs none)

    rootful = os.geteuid() == 0 and mappings is None
    mappings = mappings or (None if rootful else default_mappings())
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            os.close(ready_r)
            os.close(go_w)
            os.close(res_r)
            sc = syscalls.default()
            sc.set_pdeathsig(_signal.SIGKILL)
            if not rootful:
                sc.unshare(syscalls.CLONE_NEWUSER | extra_flags)
            elif extra_flags:
                sc.unshare(extra_flags)
            os.write(ready_w, b"1")
            if os.read(go_r, 1) != b"1":
                os._exit(1)
            if not rootful:
                become_root_in_userns(sc)
            call_and_send(fn, args, res_w)
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(go_r)
    os.close(res_w)
    try:
        if os.read(ready_r, 1) != b"1":
            raise SetupError("could not create a user namespace")
        if not rootful:
            assert mappings is not None
            _map(pid, mappings)
        os.write(go_w, b"1")
        with os.fdopen(res_r, "rb") as f:
            res_r = -1
            data = f.read()
    finally:
        os.close(ready_r)
        os.close(go_w)
        if res_r >= 0:
            os.close(res_r)
        _, status = os.waitpid(pid, 0)
    return _outcome(data, status, expect_exec, "the user-namespace helper")


def run_in_namespaces_of(pid: int, kinds: Sequence[str], fn: Callable[..., Any], *args: Any,
                         expect_exec: bool = False) -> Any:
    """Run `fn(*args)` in a forked child that joined the user namespace and the namespaces
    `kinds` ("net", ...) of process pid, as root there, with a mount namespace of its own;
    return its result (as run_in_userns; with expect_exec, the exit code of the program fn
    execs). The user namespace is joined first, so that the others, which it owns, may be."""
    import pickle  # noqa: F401 - loaded before the fork, as in run_in_userns

    from . import syscalls

    flags = {"net": syscalls.CLONE_NEWNET, "ipc": syscalls.CLONE_NEWIPC, "uts": syscalls.CLONE_NEWUTS}
    res_r, res_w = os.pipe()
    child = os.fork()
    if child == 0:
        code = 0
        try:
            os.close(res_r)
            sc = syscalls.default()
            sc.set_pdeathsig(_signal.SIGKILL)
            user = f"/proc/{pid}/ns/user"
            joined = os.stat(user).st_ino != os.stat("/proc/self/ns/user").st_ino
            if joined:   # not when it is ours already (root, whose holder has none of its own)
                fd = os.open(user, os.O_RDONLY | os.O_CLOEXEC)
                sc.setns(fd, syscalls.CLONE_NEWUSER, user)
                os.close(fd)
            for kind in kinds:
                path = f"/proc/{pid}/ns/{kind}"
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                sc.setns(fd, flags[kind], path)
                os.close(fd)
            sc.unshare(syscalls.CLONE_NEWNS)
            if joined:
                become_root_in_userns(sc)
            call_and_send(fn, args, res_w)
        except BaseException as exc:  # noqa: BLE001 - carried to the parent when the pipe is still open
            code = 1
            try:
                call_and_send(_raise, (exc,), res_w)
            except BaseException:  # noqa: BLE001
                pass
        finally:
            os._exit(code)
    os.close(res_w)
    try:
        with os.fdopen(res_r, "rb") as f:
            data = f.read()
    finally:
        _, status = os.waitpid(child, 0)
    return _outcome(data, status, expect_exec, "the namespace helper")


def _outcome(data: bytes, status: int, expect_exec: bool, helper: str) -> Any:
    """What a helper sent (its result, or its exception raised here); with nothing sent,
    the exit code of the program it exec'd (expect_exec: 128+N for a signal), else an error."""
    if not data:
        if expect_exec:
            code = os.waitstatus_to_exitcode(status)
            return 128 - code if code < 0 else code
        raise SetupError(f"{helper} died ({_describe(status)})")
    return received(data)


def _map(pid: int, mappings: IdMappings) -> None:
    """The maps of the user namespace pid has just made, written; pid killed if they cannot be."""
    try:
        write_maps(pid, mappings)
    except RuntimeFailure:
        os.kill(pid, _signal.SIGKILL)
        raise


def _raise(exc: BaseException) -> None:
    raise exc


def spawn_in_userns(argv: Sequence[str], env: dict[str, str], mappings: Optional[IdMappings],
                    keep_fds: Sequence[int] = (), stderr_path: Optional[str] = None) -> int:
    """Start argv detached (a session of its own, not our child: it outlives this process) in
    a new user namespace with mappings, as its root; with mappings None (as root) in none.
    keep_fds stay open in it, under the same numbers; stderr goes to stderr_path (appended)
    or /dev/null. Returns its pid once its ids are mapped and it has been let go on."""
    from . import syscalls

    pid_r, pid_w = os.pipe()
    go_r, go_w = os.pipe()
    child = os.fork()
    if child == 0:
        try:
            os.close(pid_r)
            os.close(go_w)
            os.setsid()
            if os.fork():
                os._exit(0)   # the server is reparented at once: nobody here has to reap it
            sc = syscalls.default()
            if mappings is not None:
                sc.unshare(syscalls.CLONE_NEWUSER)
            os.write(pid_w, b"%d\n" % os.getpid())
            os.close(pid_w)
            if os.read(go_r, 1) != b"1":
                os._exit(1)
            if mappings is not None:
                become_root_in_userns(sc)
            null = os.open("/dev/null", os.O_RDWR)
            err = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600) if stderr_path else null
            for target, fd in ((0, null), (1, null), (2, err)):
                os.dup2(fd, target)
            for fd in keep_fds:
                os.set_inheritable(fd, True)
            keep = sorted({0, 1, 2, *keep_fds})
            for low, high in zip(keep, keep[1:] + [1 << 16]):
                os.closerange(low + 1, high)
            os.execve(argv[0], list(argv), env)
        except BaseException:  # noqa: BLE001
            pass
        os._exit(127)
    os.close(pid_w)
    os.close(go_r)
    try:
        os.waitpid(child, 0)
        with os.fdopen(pid_r, "rb") as f:
            pid_r = -1
            line = f.readline()
        if not line.strip():
            raise SetupError("could not start a process in a new user namespace")
        pid = int(line)
        if mappings is not None:
            _map(pid, mappings)
        os.write(go_w, b"1")
    finally:
        if pid_r >= 0:
            os.close(pid_r)
        os.close(go_w)
    return pid


def call_and_send(fn: Callable[..., Any], args: tuple[Any, ...], fd: int) -> None:
    """In a helper process: fn(*args), its result or exception pickled to fd (and closed)."""
    import pickle

    try:
        result: Any = ("ok", fn(*args))
    except BaseException as exc:  # noqa: BLE001 - carried to the parent
        result = ("err", exc)
    try:
        data = pickle.dumps(result)
    except Exception as exc:  # noqa: BLE001
        data = pickle.dumps(("err", SetupError(f"{type(exc).__name__}: {exc}")))
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def received(data: bytes) -> Any:
    """What call_and_send sent: the result, or its exception raised here."""
    import pickle

    kind, value = pickle.loads(data)
    if kind == "err":
        raise value
    return value


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit {os.WEXITSTATUS(status)}"
