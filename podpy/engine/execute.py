"""`exec`: run a command in a running container, as `run` would run it there."""

from __future__ import annotations

import os

from .. import options as opt
from ..errors import ExecRefused, InvalidArgument, UnknownUser, translate
from ..record import REQUIRED, Record
from ..state import RUNNING
from .context import Runtime
from .reconcile import reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional


class ExecOptions(Record):
    FIELDS = {
        "container": REQUIRED, "command": REQUIRED, "interactive": False, "tty": False, "detach": False,
        "env": list, "env_file": list, "user": None, "workdir": None, "privileged": False,
        "preserve_fds": None, "latest": False, "detach_keys": None,
    }
    __slots__ = tuple(FIELDS)
    container: str
    command: list[str]
    interactive: bool
    tty: bool
    detach: bool
    env: list[str]
    env_file: list[str]
    user: Optional[str]
    workdir: Optional[str]
    privileged: bool
    preserve_fds: Optional[str]
    latest: bool
    detach_keys: Optional[str]


def _container_file(pid: int, path: str, layer_dirs: list[str]) -> Optional[bytes]:
    """A file as the container sees it now (through its init's root), else from the image."""
    try:
        with open(f"/proc/{pid}/root{path}", "rb") as f:
            return f.read(1 << 20)
    except OSError:
        from storage import view

        return view.read_file(layer_dirs, path)


EXEC_DETACH_REFUSED = (b"\r\npodpy: cannot detach from a command exec runs in the foreground (nothing would "
                       b"supervise it): use exec -d to leave a command running\r\n")


def process_for(rt: Runtime, o: ExecOptions, console: Optional[tuple[int, int]]
                ) -> tuple[int, dict[str, Any], Optional[str]]:
    """(the container's init pid, the OCI process to run, the container's cgroup)."""
    from storage import images as img

    from .spec import builder

    if not o.command:
        raise InvalidArgument("must provide a non-empty command to start an exec session: invalid argument")
    if o.workdir is not None and not o.workdir.startswith("/"):
        raise InvalidArgument(f"invalid --workdir {o.workdir!r}: must be an absolute path")
    user_env = opt.parse_env_files(o.env_file) + opt.parse_env(o.env)
    reconcile(rt)
    rec = rt.state.lookup(o.container)
    if rec.state != RUNNING or not rec.pid:
        raise ExecRefused("can only create exec sessions on running containers: container state improper")
    user = None
    if o.user:
        image = img.by_id(rt.db.conn, rec.image_id)
        layer_dirs = rt.store.layer_dirs(image) if image is not None else []
        spec = opt.parse_user(o.user)
        try:
            uid, gid, groups, home = opt.resolve_user(spec, _container_file(rec.pid, "/etc/passwd", layer_dirs),
                                                      _container_file(rec.pid, "/etc/group", layer_dirs))
        except UnknownUser as exc:   # refused as podman's exec refuses it (255)
            raise ExecRefused(str(exc)) from exc
        if uid == 0 and home == "/":
            home = "/root"
        user = (uid, gid, groups, home)
    process = builder(rt).exec_process(rec, o.command, env=user_env, user=user, workdir=o.workdir, tty=o.tty,
                                       interactive=o.interactive, privileged=o.privileged,
                                       preserve_fds=o.preserve_fds, console=console)
    return rec.pid, process, rec.cgroup


def exec_(rt: Runtime, o: ExecOptions, on_started: Callable[[], None]) -> int:
    """Run the command; its exit code (126/127 as `run`'s), or 0 at once with detach."""
    from _signal import SIGKILL   # not signal.py: its enums import functools and collections

    from rootless import tty
    from rootless.execute import exec_in

    from .forward import Forwarder

    keys = None
    if o.detach_keys is not None:
        from ..options import detach_keys

        keys = detach_keys(o.detach_keys)
    if o.latest:
        from .listing import latest

        reconcile(rt)
        o.container = latest(rt).id
    console = tty.window_size(0) if o.tty and not o.detach else None
    pid, process, cgroup = process_for(rt, o, console)
    with Forwarder() as fwd:
        try:
            started = exec_in(pid, process, detach=o.detach, cgroup=cgroup)
        except Exception as exc:  # noqa: BLE001
            err = translate(exc)
            if o.detach:
                err.exit_code = 125   # podman's `exec -d`: a command it could not start is its own failure
            raise err from exc
        on_started()
        from ..events import emit

        emit(rt.cfg.runroot, "container", "exec", o.container, attributes={"command": " ".join(o.command)})
        if o.detach:
            if started.pty_master is not None:
                os.close(started.pty_master)
            return 0
        fwd.attach(started.signal)
        try:
            if started.pty_master is not None:
                with tty.RawMode(0):
                    # the keys are taken, as a foreground run's are: this podpy supervises the
                    # command, so there is nothing it could be detached to
                    tty.relay(started.pty_master, stdin_open=o.interactive,
                              escape=(keys, lambda: os.write(2, EXEC_DETACH_REFUSED)) if keys else None)
                os.close(started.pty_master)
            return started.wait()
        finally:
            if started.exit_code is None:
                started.signal(SIGKILL)
                started.wait()


def start_exec(rt: Runtime, o: ExecOptions, console: Optional[tuple[int, int]] = None,
               stdio: Optional[tuple[int, int, int]] = None) -> Any:
    """Start the command for a front end that relays its streams itself (the API service):
    stdio are the fds it gets (a terminal is made with o.tty, its master on the result's
    pty_master); the started rootless.execute.Execution, whose wait() gives its exit code."""
    from rootless.execute import exec_in

    from ..events import emit

    pid, process, cgroup = process_for(rt, o, console if o.tty and not o.detach else None)
    try:
        started = exec_in(pid, process, detach=o.detach, cgroup=cgroup, stdio=stdio)
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc
    emit(rt.cfg.runroot, "container", "exec", o.container, attributes={"command": " ".join(o.command)})
    return started
