"""The host side of starting a container: fork, id maps, network, cgroup, and
the wait for the container's process to exec.

Message order on the sync channel (see child.py for the other side):
    stage1 -> "userns"          (only with a new user namespace)
    host   -> "mapped"          after newuidmap/newgidmap
A stage 1 started ahead (ahead.py) has its maps written by a helper of its own and reads
its spec from a pipe: its messages start at "pid".
    stage1 -> "pid" {pid}       the init's host pid; stage 1 then closes its end
    host   -> "go" {net} [fds]  once the init is in its cgroup (fds: its stdout and stderr)
    host   -> "net"             with net: once slirp4netns (or the caller's on_pid) made the
                                network; the init waits for it before it secures itself and execs
    init   -> "held"            with hold (`init`): set up, waiting for "start" before it
                                secures itself and execs; launch returns then, and the channel
                                is the caller's (Container.held), to send "start" on
    init   -> "pty" [fd]        with a terminal: the pty master
    init   -> "bind_notify" [fd] with linux.bindNotify: its bind(2) listener (network/redirect.py)
    init   -> EOF               execve succeeded (the socket is close-on-exec)
Any side may instead send "error", which is raised here as its typed error.
"""

from __future__ import annotations

import _signal
import os

from .errors import EXIT_SETUP_FAILED, RuntimeFailure, SetupError, from_wire
from .sync import Channel
from .userns import IdMappings, write_maps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .ahead import Ahead
    from .network import slirp as slirp_mod


class LaunchOptions:
    """Host-side settings that are not part of the OCI spec.

    slirp: start slirp4netns with these options; cgroup_procs: a cgroup.procs file to move the
    init into; on_pid: told the init's pid before it execs; after_exit: run by stage 1 after
    the init exits; detach: stage 1 exits once the init is forked, leaving the init to the
    caller's subreaper (a detached container's monitor), which must reap it; close_fds: the
    caller's fds that stage 1, which lives as long as the container, must not hold (the
    listening sockets of published ports, which a process in the container may take over);
    stdio: the fds the container's stdout and stderr become (sent to the init with "go"),
    else it keeps stage 1's; hold: the init stops before it execs, until release() (`init`).
    """

    __slots__ = ("slirp", "cgroup_procs", "on_pid", "after_exit", "detach", "close_fds", "stdio", "hold")

    def __init__(self, slirp: Optional["slirp_mod.SlirpOptions"] = None, cgroup_procs: Optional[str] = None,
                 on_pid: Optional[Callable[[int], None]] = None,
                 after_exit: Optional[Callable[[], None]] = None, detach: bool = False,
                 close_fds: tuple[int, ...] = (), stdio: tuple[int, ...] = (), hold: bool = False) -> None:
        self.slirp = slirp
        self.cgroup_procs = cgroup_procs
        self.on_pid = on_pid
        self.after_exit = after_exit
        self.detach = detach
        self.close_fds = close_fds
        self.stdio = stdio
        self.hold = hold


class Container:
    """A started container, seen from the host side."""

    __slots__ = ("stage1_pid", "pid", "pty_master", "slirp", "exit_code", "fuse_pid", "cgroup_error",
                 "bind_notify", "held")

    def __init__(self, stage1_pid: int, pid: int, pty_master: Optional[int] = None,
                 slirp: Optional["slirp_mod.Slirp"] = None, exit_code: Optional[int] = None,
                 fuse_pid: Optional[int] = None) -> None:
        self.stage1_pid = stage1_pid
        self.pid = pid
        self.pty_master = pty_master
        self.slirp = slirp
        self.exit_code = exit_code
        self.fuse_pid = fuse_pid
        self.cgroup_error: Optional[str] = None
        self.bind_notify: Optional[int] = None
        self.held: Optional[Channel] = None   # with hold: the channel to the init that waits

    def signal(self, sig: int) -> None:
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def wait(self) -> int:
        """Wait for the container to exit; its exit code (128+N for a signal)."""
        if self.exit_code is None:
            while True:
                try:
                    _, status = os.waitpid(self.stage1_pid, 0)
                    break
                except ChildProcessError:
                    status = EXIT_SETUP_FAILED << 8
                    break
            self.exit_code = os.waitstatus_to_exitcode(status)
            if self.exit_code < 0:
                self.exit_code = 128 - self.exit_code
            if self.slirp:
                self.slirp.stop()
        return self.exit_code


def launch(spec: dict[str, Any], options: LaunchOptions, ahead: Optional["Ahead"] = None) -> Container:
    """Start the container described by spec, up to and including its execve. With ahead (a
    stage 1 forked earlier, ahead.py) that fits the spec, that one runs it; one that does not
    fit is discarded."""
    if ahead is not None and not ahead.fits(spec):
        ahead.discard()
        ahead = None
    if ahead is not None:
        pid = ahead.pid
        host = ahead.hand(spec, options.after_exit, options.detach)
    else:
        from . import child

        host, inside = Channel.pair()
        pid = os.fork()
        if pid == 0:
            child.stage1(spec, inside, [host.fileno(), *options.close_fds], options.after_exit, options.detach)
        inside.close()
    started: Optional[Container] = None
    try:
        linux = spec.get("linux", {})
        if ahead is None and any(ns["type"] == "user" and not ns.get("path") for ns in linux.get("namespaces", [])):
            host.expect("userns")
            write_maps(pid, IdMappings.from_spec(linux))
            host.send("mapped")
        msg, _ = host.expect("pid")
        started = Container(stage1_pid=pid, pid=int(msg["pid"]), fuse_pid=msg.get("fuse_pid"))
        if options.cgroup_procs:
            try:
                _join_cgroup(options.cgroup_procs, started.pid)
            except SetupError as exc:
                if options.detach:   # the monitor's cgroup may not reach this one: run without
                    started.cgroup_error = str(exc)
                else:
                    raise
        # The init sets up its mounts while the network is made; it waits for "net" before it
        # secures itself and execs, so the container's process starts with its network up.
        hooks = spec.get("hooks") or {}
        early_hooks = bool(hooks.get("prestart") or hooks.get("createRuntime"))
        wait_net = options.slirp is not None or options.on_pid is not None or early_hooks
        host.send("go", fds=list(options.stdio), net=wait_net, hold=options.hold)
        try:
            if options.slirp is not None:
                from .network import slirp as slirp_mod

                started.slirp = slirp_mod.start(started.pid, options.slirp, userns=_has_userns(spec))
            if options.on_pid:
                options.on_pid(started.pid)
        except RuntimeFailure:
            _raise_reported(host)   # an init that failed meanwhile took the network helper's namespaces
            raise
        if early_hooks:   # OCI hooks: the namespaces exist, the process has not exec'd (hooks.py)
            from . import hooks as oci_hooks

            oci_hooks.run(spec, "prestart", "created", started.pid)
            oci_hooks.run(spec, "createRuntime", "created", started.pid)
        if wait_net:
            host.send("net")
        while True:
            reply, fds = host.recv()
            if reply is None:
                break
            if reply.get("type") == "pty" and fds:
                started.pty_master = fds[0]
            elif reply.get("type") == "bind_notify" and fds:
                started.bind_notify = fds[0]
            elif reply.get("type") == "held" and options.hold:
                started.held, host = host, None
                return started
            elif reply.get("type") == "error":
                raise from_wire(reply["error"])
            else:
                for fd in fds:
                    os.close(fd)
        if hooks.get("poststart"):
            from . import hooks as oci_hooks

            oci_hooks.run(spec, "poststart", "running", started.pid, oci_hooks.stderr_warn)
        return started
    except BaseException as caught:
        exc = caught
        if isinstance(exc, BrokenPipeError):
            # a message to an init that had failed and gone: what it reported is the cause
            try:
                _raise_reported(host)
            except RuntimeFailure as reported:
                exc = reported
        host.close()
        code = _abort(pid, started)
        if options.detach and started is not None:
            _kill_detached(started)
        if isinstance(exc, RuntimeFailure):
            if not options.detach:  # a detached stage 1's status is not the init's
                exc.exit_code = code  # type: ignore[attr-defined]
            if exc is caught:
                raise
            raise exc from None
        if isinstance(exc, OSError):
            raise SetupError(f"starting the container: {exc}") from exc
        raise
    finally:
        if host is not None:
            host.close()


def _raise_reported(host: Channel) -> None:
    """Raise the error the init reported, if it reported one: the cause when the network could
    not be made for an init that is gone."""
    import select

    try:
        if not select.select([host.fileno()], [], [], 0.2)[0]:
            return
        reply, fds = host.recv()
    except OSError:
        return
    for fd in fds:
        os.close(fd)
    if reply is not None and reply.get("type") == "error":
        raise from_wire(reply["error"])


def _kill_detached(started: Container) -> None:
    """A detached init that failed before exec exits by itself once the channel closes; one
    past that point (an error after exec) must not be left running."""
    for pid in (started.pid, started.fuse_pid):
        if pid:
            try:
                os.kill(pid, _signal.SIGKILL)
            except ProcessLookupError:
                pass


def _has_userns(spec: dict[str, Any]) -> bool:
    return any(ns["type"] == "user" for ns in spec.get("linux", {}).get("namespaces", []))


def _join_cgroup(procs: str, pid: int) -> None:
    try:
        with open(procs, "w") as f:
            f.write(str(pid))
    except OSError as exc:
        raise SetupError(f"joining cgroup `{os.path.dirname(procs)}`: {exc.strerror}") from exc


def _abort(stage1: int, started: Optional[Container]) -> int:
    """Tear down a half-started container and return stage 1's exit code.

    With the channel closed, an init still waiting for "go" fails and exits, and
    stage 1 follows after its clean-up; only one that hangs is killed.
    """
    import time

    deadline = time.monotonic() + 5
    status = None
    while status is None:
        try:
            done, st = os.waitpid(stage1, os.WNOHANG)
        except ChildProcessError:
            status = EXIT_SETUP_FAILED << 8
            break
        if done:
            status = st
        elif time.monotonic() > deadline:
            os.kill(stage1, _signal.SIGKILL)
            _, status = os.waitpid(stage1, 0)
        else:
            time.sleep(0.002)
    code = os.waitstatus_to_exitcode(status)
    if started is not None:
        started.exit_code = code
        if started.slirp:
            started.slirp.stop()
        if started.pty_master is not None:
            os.close(started.pty_master)
        if started.bind_notify is not None:
            os.close(started.bind_notify)
    return code
