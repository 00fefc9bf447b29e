"""`attach`: this terminal to a detached container's stdio, through its monitor.

Output arrives as it is written (stdout to stdout, stderr to stderr, or the
terminal's output); input is passed on when the container keeps stdin open (`-i`)
or has a terminal (`-t`), and the terminal follows this window's size. The
detach keys (ctrl-p ctrl-q by default) leave the container running; otherwise
attach ends with the container and returns its exit code.
"""

from __future__ import annotations

import os
import select
import signal
import sys

from ..errors import InvalidState
from ..state import INITIALIZED, RUNNING
from .context import Runtime
from .reconcile import reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional

def detach_sequence(spec: str) -> bytes:
    """--detach-keys: as podman reads them (podpy.options.detach_keys)."""
    from ..options import detach_keys

    return detach_keys(spec)


def attach(rt: Runtime, name: str, no_stdin: bool, detach_keys: str = "ctrl-p,ctrl-q",
           sig_proxy: bool = True, start: Optional[Callable[[], object]] = None) -> Optional[int]:
    """The container's exit code once it has exited; None when detached with the keys.
    sig_proxy: when the container has no terminal, the signals this process receives are
    passed on to its main process (as podman's attach does), rather than ending the attach.
    start: `start -a` of an initialized container: attached first, then this lets it exec,
    so none of its output is missed."""
    from rootless import tty

    from ..monitor.client import connect_monitor, monitor_root

    keys = detach_sequence(detach_keys)
    reconcile(rt)
    rec = rt.state.lookup(name)
    if rec.state != RUNNING and not (start is not None and rec.state == INITIALIZED):
        raise InvalidState(f"you can only attach to running containers: {rec.name} is {rec.state}: "
                           "container state improper")
    if not rec.detached:
        raise InvalidState(f"container {rec.name} runs in the foreground of another podpy: nothing to attach to")
    chan = connect_monitor(monitor_root(rt.cfg.runroot, rt.container_run_dir(rec.id)))
    chan.send("attach", id=rec.id)
    reply, _fds = chan.recv()
    if reply is None or reply.get("type") != "attached":
        chan.close()
        message = ((reply or {}).get("error") or {}).get("message") or "the monitor refused"
        raise InvalidState(f"attaching to {rec.name}: {message}")
    if start is not None:
        try:
            start()
        except BaseException:
            chan.close()
            raise
    terminal = bool(reply.get("tty"))
    use_stdin = not no_stdin and bool(reply.get("stdin"))
    raw = tty.RawMode(0) if terminal and use_stdin and os.isatty(0) else None

    def resize(*_args: object) -> None:
        size = tty.window_size(0)
        if size:
            try:
                chan.send("resize", rows=size[0], cols=size[1])
            except OSError:
                pass

    old_winch = signal.signal(signal.SIGWINCH, resize) if terminal else None
    if terminal:
        resize()
    out, err = sys.stdout.buffer, sys.stderr.buffer
    pending = b""
    forwarder = None
    if sig_proxy and not terminal:
        from .forward import Forwarder
        from .lifecycle import _signal

        forwarder = Forwarder().__enter__()
        forwarder.attach(lambda sig: _signal(rec, sig))
    try:
        if raw is not None:
            raw.__enter__()
        watch = [chan.fileno()] + ([0] if use_stdin else [])
        while True:
            try:
                ready, _, _ = select.select(watch, [], [])
            except InterruptedError:
                continue
            if 0 in ready:
                data = os.read(0, 65536)
                if not data:
                    watch.remove(0)
                    chan.send("eof")
                    continue
                if keys and raw is not None:
                    data = pending + data
                    if keys in data:
                        before = data[:data.index(keys)]
                        if before:
                            chan.send("input", data=before)
                        return None
                    # a prefix of the keys at the end waits for the next read
                    cut = next((i for i in range(len(keys) - 1, 0, -1) if data.endswith(keys[:i])), 0)
                    pending, data = (data[len(data) - cut:], data[:len(data) - cut]) if cut else (b"", data)
                if data:
                    chan.send("input", data=data)
            if chan.fileno() in ready:
                msg, fds = chan.recv()
                for fd in fds:
                    os.close(fd)
                if msg is None:
                    break
                kind = msg.get("type")
                if kind == "output":
                    stream = err if msg.get("stream") == "stderr" else out
                    stream.write(bytes(msg.get("data") or b""))
                    stream.flush()
                elif kind == "exit":
                    return int(msg["code"]) if msg.get("code") is not None else None
    finally:
        if raw is not None:
            raw.__exit__(None, None, None)
        if old_winch is not None:
            signal.signal(signal.SIGWINCH, old_winch)
        if forwarder is not None:
            forwarder.__exit__(None, None, None)
        chan.close()
    from .lifecycle import wait

    return wait(rt, rec.id)
