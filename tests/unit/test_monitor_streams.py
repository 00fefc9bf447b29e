"""The monitor's attached clients (podpy/monitor/streams.py), on a real terminal, real pipes
and real sockets: what a client sent just before it closed is not lost to the output that
came first, and a client that does not read never holds the monitor up."""

from __future__ import annotations

import os
import pty
import select

from podpy.monitor import streams
from podpy.monitor.channel import Channel
from podpy.monitor.container import Container
from podpy.monitor.streams import Streams
from rootless import syscalls


class _Monitor(Streams):
    """Streams with the service's bookkeeping reduced to what these tests look at: a real
    poll set, the handlers, the clients let go."""

    def __init__(self) -> None:
        self.containers: dict = {}
        self.handlers: dict = {}
        self.behind: dict = {}
        self.poller = select.poll()
        self.dropped: list[Channel] = []

    def watch(self, fd: int, handler) -> None:
        self.handlers[fd] = handler
        self.poller.register(fd, select.POLLIN)

    def unwatch(self, fd: int) -> None:
        if self.handlers.pop(fd, None) is not None:
            self.poller.unregister(fd)

    def _drop(self, chan: Channel) -> None:
        self.dropped.append(chan)
        self.unwatch(chan.fileno())
        chan.close()

    def connect(self, ctr: Container) -> Channel:
        """A client attached to ctr, as the service's accept and attach make one; its end."""
        here, there = Channel.pair()
        self.watch(here.fileno(), None)
        self._attach(here, ctr.id)
        assert there.recv()[0]["type"] == "attached"
        return there

    def pump(self) -> None:
        """The service's loop, once, without waiting."""
        for fd, _events in self.poller.poll(0):
            handler = self.handlers.get(fd)
            if handler is not None:
                handler(fd)


def _container(mon: _Monitor, tty: bool) -> tuple[Container, int, int, int]:
    """A supervised container with an output pipe (and a terminal of 24x80): (it, the pipe's
    write end, its read end, the terminal's other side or -1)."""
    ctr = Container("c" * 64, {})
    ctr.pid = 100
    slave = -1
    if tty:
        ctr.pty, slave = pty.openpty()
        syscalls.default().set_winsize(ctr.pty, 24, 80)
    out_r, out_w = os.pipe()
    ctr.streams[out_r] = "stdout"
    mon.containers[ctr.pid] = ctr
    return ctr, out_w, out_r, slave


def _close(*fds: int) -> None:
    for fd in fds:
        if fd is not None and fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass


def test_a_resize_sent_just_before_the_client_closed_reaches_the_terminal() -> None:
    """The API service's resize attaches, sends "resize" and closes. When the container prints
    before the monitor reads that message, the broadcast finds the client gone: the resize is
    still applied before the client is detached."""
    mon = _Monitor()
    ctr, out_w, out_r, slave = _container(mon, tty=True)
    try:
        client = mon.connect(ctr)
        client.send("resize", rows=51, cols=132)
        client.close()
        os.write(out_w, b"printed first\n")
        mon._output(ctr, out_r)
        assert syscalls.default().get_winsize(slave) == (51, 132)
        assert ctr.attached == [] and len(mon.dropped) == 1
    finally:
        _close(slave, out_w, out_r, ctr.pty)


def test_a_client_that_is_still_there_gets_the_output_and_keeps_its_messages_queued() -> None:
    """Output to a live client is sent, and its queued messages wait for their own turn."""
    mon = _Monitor()
    ctr, out_w, out_r, slave = _container(mon, tty=True)
    try:
        client = mon.connect(ctr)
        client.send("resize", rows=30, cols=100)
        os.write(out_w, b"hello\n")
        mon._output(ctr, out_r)
        msg, _ = client.recv()
        assert (msg["type"], msg["stream"], msg["data"]) == ("output", "stdout", b"hello\n")
        assert syscalls.default().get_winsize(slave) == (24, 80) and len(ctr.attached) == 1
        mon.pump()
        assert syscalls.default().get_winsize(slave) == (30, 100)
        client.close()
        mon.pump()
        assert ctr.attached == [] and len(mon.dropped) == 1
    finally:
        _close(slave, out_w, out_r, ctr.pty)


def _flood(mon: _Monitor, ctr: Container, out_w: int, out_r: int, chunks: int) -> list[bytes]:
    """chunks of container output, each read by the monitor as it comes; what was written."""
    written = []
    for i in range(chunks):
        data = b"%06d" % i + b"x" * 60000
        os.write(out_w, data)
        mon._output(ctr, out_r)
        written.append(data)
    return written


def test_a_client_that_does_not_read_never_holds_the_monitor_up_and_gets_everything_in_order() -> None:
    """Far more output than a socket holds, to a client that reads none of it yet: each of the
    monitor's reads returns at once; the rest waits for the client, which then gets it all, in
    order, with the exit last, and is let go."""
    mon = _Monitor()
    ctr, out_w, out_r, _ = _container(mon, tty=False)
    try:
        client = mon.connect(ctr)
        written = _flood(mon, ctr, out_w, out_r, 40)    # some 2.4 MB: the socket holds about 200 KB
        assert mon.behind and ctr.attached
        mon._let_go(ctr, ctr.attached[0], 7)
        assert ctr.attached == [] and not mon.dropped   # the client has not taken it all yet
        got = []
        while True:
            mon.pump()
            msg, _ = client.recv()
            assert msg is not None
            if msg["type"] == "exit":
                break
            got.append(msg["data"])
        assert got == written and msg["code"] == 7
        mon.pump()
        assert len(mon.dropped) == 1 and not mon.behind
        client.close()
    finally:
        _close(out_w, out_r)


def test_a_client_too_far_behind_is_let_go_and_the_others_keep_their_output() -> None:
    """A client that has taken nothing of more than BACKLOG bytes is detached (it reads the
    end of the stream); a client that reads gets all of it."""
    mon = _Monitor()
    ctr, out_w, out_r, _ = _container(mon, tty=False)
    try:
        stuck = mon.connect(ctr)
        reader = mon.connect(ctr)
        got = []
        written = []
        for _ in range(streams.BACKLOG // 60000 + 10):
            written += _flood(mon, ctr, out_w, out_r, 1)
            mon.pump()
            got.append(reader.recv()[0]["data"])
        assert got == written
        assert len(ctr.attached) == 1 and len(mon.dropped) == 1
        taken = 0
        while stuck.recv()[0] is not None:
            taken += 1
        assert 0 < taken < len(written)
        for end in (stuck, reader):
            end.close()
        mon.pump()
    finally:
        _close(out_w, out_r)


def test_the_monitor_overrides_none_of_its_mixins_methods() -> None:
    """service.Monitor is Readiness + Streams + sync.Service: a method of its own with a
    mixin's name would silently replace the mixin's."""
    from podpy.monitor.readiness import Readiness
    from podpy.monitor.service import Monitor

    for mixin in (Readiness, Streams):
        for name, value in vars(mixin).items():
            if callable(value) or isinstance(value, staticmethod):
                assert Monitor.__dict__.get(name, value) is value, f"Monitor.{name} replaces {mixin.__name__}'s"
