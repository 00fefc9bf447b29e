"""The launcher: a short-lived fork of the monitor that starts one container and reports.

The runtime spec is read here, never by the monitor itself: a whole spec (podman's
seccomp profile included) would leave the monitor's heap larger for good.
"""

from __future__ import annotations

import _signal
import marshal
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .channel import Channel


def _own_fds_only(chan: Channel) -> None:
    """Leave signals as a new process has them and close every fd of the monitor's but chan:
    not other containers' host ports, which a copy here would keep bound while their servers
    take them over (rootless.network.redirect). The objects that owned those fds live on
    untouched until _exit (no collection runs)."""
    _signal.set_wakeup_fd(-1)
    for sig in (_signal.SIGCHLD, _signal.SIGPIPE, _signal.SIGINT, _signal.SIGHUP):
        _signal.signal(sig, _signal.SIG_DFL)
    import gc

    gc.disable()
    keep = chan.fileno()
    os.closerange(3, keep)
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))


def serve_spare(chan: Channel) -> None:
    """In a fork of the monitor made ahead of a launch: import what a launch needs, then wait
    for the monitor to hand over one ("launch", with the container's stdio) and serve it as
    launch() does; leave at the end of file (the monitor ended an idle spare) and exit."""
    try:
        _own_fds_only(chan)
        from rootless import parent, stage1, syscalls  # noqa: F401 - imported now, before the launch (with child)

        syscalls.default().load()   # ctypes and libc, which the container's set-up calls first

        msg, fds = chan.recv()
    except BaseException:  # noqa: BLE001
        os._exit(1)
    if msg is None or msg.get("type") != "launch":
        os._exit(0)
    launch(msg["msg"], fds, chan)


def launch(msg: dict[str, Any], stdio: list[int], chan: Channel) -> None:
    """In a fork of the monitor: start the container with stdio as its 0, 1, 2; report; exit."""
    code = 0
    try:
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)
        _own_fds_only(chan)   # the stdio fds too, now that they are 0, 1 and 2
        from rootless import parent

        # The spec is read here, in the short-lived launcher: the monitor never holds it (a whole
        # runtime spec, podman's seccomp profile included, would leave its heap larger for good).
        with open(msg["spec_path"], "rb") as f:
            spec = marshal.load(f)
        slirp = None
        if msg.get("slirp") is not None:
            from rootless.network.slirp import SlirpOptions

            opts = dict(msg["slirp"])
            opts["extra"] = tuple(opts.get("extra") or ())
            slirp = SlirpOptions(**opts)
        cgroup = msg.get("cgroup")
        procs = os.path.join(cgroup, "cgroup.procs") if cgroup else None
        plan = (msg.get("net") or {}).get("plan") or {}
        net: list[Any] = []

        def on_pid(pid: int) -> None:
            if plan:
                from rootless.network.setup import on_pid as network_on_pid

                net.append(network_on_pid(pid, plan, userns=bool(msg.get("userns")), tied=False))

        try:
            started = parent.launch(spec, parent.LaunchOptions(slirp=slirp, cgroup_procs=procs, detach=True,
                                                                      on_pid=on_pid, hold=bool(msg.get("hold"))))
        except BaseException as exc:  # noqa: BLE001 - reported to the monitor
            for done in net:
                done.stop()
            chan.send_error(exc)
            return
        fds, names = [], []
        pasta_pid = None
        if started.slirp is not None:
            fds.append(started.slirp.hand_over())
            names.append("slirp_exit")
        for done in net:
            pasta_pid = done.pasta_pid
        if started.pty_master is not None:
            fds.append(started.pty_master)
            names.append("pty")
        if started.bind_notify is not None:
            fds.append(started.bind_notify)
            names.append("bind_notify")
        if started.held is not None:   # `init`: the monitor says "start" on it later
            fds.append(started.held.fileno())
            names.append("held")
        chan.send("started", fds=fds, pid=started.pid, fuse_pid=started.fuse_pid,
                  slirp_pid=started.slirp.pid if started.slirp else None, fd_names=names,
                  cgroup_error=started.cgroup_error, pasta_pid=pasta_pid)
    except BaseException:  # noqa: BLE001
        code = 1
    finally:
        os._exit(code)
