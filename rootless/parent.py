"""The host side of starting a container: fork, id maps, network, cgroup, and
the wait for the container's process to exec.

Message order on the sync channel (see stage1.py and child.py for the other side):
    stage1 -> "userns"          (only with a new user namespace)
    host   -> "mapped"          after newuidmap/newgidmap
A stage 1 started ahead (ahead.py) has its maps written by a helper of its own and reads
its spec from a pipe: its messages start at "pid".
    stage1 -> "pid" {pid} [fd]  the init's host pid; stage 1 then closes its end. fd (not for
                                a detached one): a pipe on which stage 1 writes the init's
                                exit status once the root file system is released, and
                                which ends once stage 1 is done (Container.wait, finish)
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

    # A call made in another process, by name: (module, function, arguments)
    Call = tuple[str, str, tuple[Any, ...]]


class LaunchOptions:
    """Host-side settings that are not part of the OCI spec.

    slirp: start slirp4netns with these options; cgroup_procs: the cgroup.procs file of the
    init's cgroup (stage 1 forks it there, else it is moved there); on_pid: told the init's pid before it execs; after_exit: a call stage 1 makes
    after the init exits, by name (module, function, arguments: it crosses a pipe to a stage 1
    started ahead); detach: stage 1 exits once the init is forked, leaving the init to the
    caller's subreaper (a detached container's monitor), which must reap it; close_fds: the
    caller's fds that stage 1, which lives as long as the container, must not hold (the
    listening sockets of published ports, which a process in the container may take over);
    stdio: the fds the container's stdout and stderr become (sent to the init with "go"),
    else it keeps stage 1's; hold: the init stops before it execs, until release() (`init`).
    """

    __slots__ = ("slirp", "cgroup_procs", "on_pid", "after_exit", "detach", "close_fds", "stdio", "hold")

    def __init__(self, slirp: Optional["slirp_mod.SlirpOptions"] = None, cgroup_procs: Optional[str] = None,
                 on_pid: Optional[Callable[[int], None]] = None,
                 after_exit: Optional[Call] = None, detach: bool = False,
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
                 "bind_notify", "held", "done_fd")

    def __init__(self, stage1_pid: int, pid: int, pty_master: Optional[int] = None,
                 slirp: Optional["slirp_mod.Slirp"] = None, exit_code: Optional[int] = None,
                 fuse_pid: Optional[int] = None, done_fd: Optional[int] = None) -> None:
        self.stage1_pid = stage1_pid
        # stage 1's pipe: the init's exit status as a line, then its end once stage 1 is done
        self.done_fd = done_fd
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

    def wait(self, finish: bool = True) -> int:
        """Wait for the container to exit; its exit code (128+N for a signal). Stage 1 tells
        it once the root file system is released; with finish, this also waits for stage 1
        to be done (its after_exit run: finish()), else the caller calls finish() later and
        may do its own clean-up meanwhile."""
        if self.exit_code is None:
            code = self._reported()
            if code is None:   # stage 1 ended without telling (killed): its own status
                code = self._reap()
            self.exit_code = code
            if self.slirp:
                self.slirp.stop()
        if finish:
            self.finish()
        return self.exit_code

    def finish(self) -> None:
        """Wait for stage 1 to be done with the container (the end of its pipe), not for its
        exit: the kernel's tear-down of its namespaces takes a millisecond or more, which
        nobody needs to wait for. It is reaped now if it is gone, else by a later launch
        (reap_left) or, when this process ends first, by whoever inherits it."""
        fd, self.done_fd = self.done_fd, None
        if fd is None:
            return
        try:
            while os.read(fd, 64):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        _reap_later(self.stage1_pid)

    def _reported(self) -> Optional[int]:
        if self.done_fd is None:
            return None
        try:
            line = os.read(self.done_fd, 64)   # one write of one short line: whole or nothing
        except OSError:
            return None
        try:
            return int(line) if line.endswith(b"\n") else None
        except ValueError:
            return None

    def _reap(self) -> int:
        try:
            _, status = os.waitpid(self.stage1_pid, 0)
        except ChildProcessError:
            status = EXIT_SETUP_FAILED << 8
        code = os.waitstatus_to_exitcode(status)
        return 128 - code if code < 0 else code


_left: list[int] = []   # stage 1 processes done with their containers, not reaped yet


def _reap_later(pid: int) -> None:
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == 0:
            _left.append(pid)
    except ChildProcessError:
        pass


def reap_left() -> None:
    """Reap the stage 1 processes that finish() left exiting, those that are gone by now."""
    for pid in list(_left):
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == 0:
                continue
        except ChildProcessError:
            pass
        _left.remove(pid)


def launch(spec: dict[str, Any], options: LaunchOptions, ahead: Optional["Ahead"] = None) -> Container:
    """Start the container described by spec, up to and including its execve. With ahead (a
    stage 1 forked earlier, ahead.py) that fits the spec, that one runs it (given the spec
    now, or already by Ahead.give); one that does not fit is discarded."""
    if _left:
        reap_left()
    if ahead is not None and ahead.handed is not None:   # given its spec already (Ahead.give)
        pid, host, ahead.handed = ahead.pid, ahead.handed, None
    else:
        if ahead is not None and not ahead.fits(spec):
            ahead.discard()
            ahead = None
        cgroup = os.path.dirname(options.cgroup_procs) if options.cgroup_procs else None
        if ahead is not None:
            pid = ahead.pid
            host = ahead.hand(spec, options.after_exit, options.detach, cgroup)
        else:
            from . import stage1

            host, inside = Channel.pair()
            pid = os.fork()
            if pid == 0:
                stage1.stage1(spec, inside, [host.fileno(), *options.close_fds], options.after_exit,
                              options.detach, cgroup=cgroup)
            inside.close()
    started: Optional[Container] = None
    try:
        linux = spec.get("linux", {})
        if ahead is None and any(ns["type"] == "user" and not ns.get("path") for ns in linux.get("namespaces", [])):
            host.expect("userns")
            write_maps(pid, IdMappings.from_spec(linux))
            host.send("mapped")
        # "go" at once: the init reads it when it starts, without a round trip through us. The
        # init sets up its mounts while the network is made; it waits for "net" before it
        # secures itself and execs, so the container's process starts with its network up.
        hooks = spec.get("hooks") or {}
        early_hooks = bool(hooks.get("prestart") or hooks.get("createRuntime"))
        wait_net = options.slirp is not None or options.on_pid is not None or early_hooks
        host.send("go", fds=list(options.stdio), net=wait_net, hold=options.hold)
        msg, fds = host.expect("pid")
        started = Container(stage1_pid=pid, pid=int(msg["pid"]), fuse_pid=msg.get("fuse_pid"),
                            done_fd=fds[0] if fds else None)
        if options.cgroup_procs and not msg.get("in_cgroup"):
            # Not born in its cgroup (cgroupfork.fork_init): moved there now; the init waits for
            # "joined" before it makes its cgroup namespace.
            try:
                _join_cgroup(options.cgroup_procs, started.pid)
            except SetupError as exc:
                if options.detach:   # the monitor's cgroup may not reach this one: run without
                    started.cgroup_error = str(exc)
                else:
                    raise
            host.send("joined")
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


def abandon(ahead: "Ahead") -> None:
    """A stage 1 given its spec (Ahead.give) whose launch is not coming (the start failed
    before it): its channel closed, the init it forked fails and exits, and stage 1 after its
    clean-up (after_exit), waited for here."""
    host, ahead.handed = ahead.handed, None
    if host is not None:
        host.close()
        _abort(ahead.pid, None)


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
        if started.done_fd is not None:
            os.close(started.done_fd)
            started.done_fd = None
        if started.slirp:
            started.slirp.stop()
        if started.pty_master is not None:
            os.close(started.pty_master)
        if started.bind_notify is not None:
            os.close(started.bind_notify)
    return code
