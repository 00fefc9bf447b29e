"""The monitor's attached clients (podpy/monitor/streams.py), on a real terminal and real
sockets: what a client sent just before it closed is not lost to the output that came first."""

from __future__ import annotations

import os
import pty

from podpy.monitor.channel import Channel
from podpy.monitor.container import Container
from podpy.monitor.service import Monitor
from podpy.monitor.streams import Streams
from rootless import syscalls


class _Monitor(Streams):
    """Streams with the service's bookkeeping reduced to what these tests look at."""

    _read = staticmethod(Monitor._read)

    def __init__(self) -> None:
        self.containers: dict = {}
        self.handlers: dict = {}
        self.dropped: list[Channel] = []

    def unwatch(self, fd: int) -> None:
        self.handlers.pop(fd, None)

    def _drop(self, chan: Channel) -> None:
        self.dropped.append(chan)
        chan.close()


def _terminal_container() -> tuple[_Monitor, Container, int, int]:
    master, slave = pty.openpty()
    out_r, out_w = os.pipe()
    mon = _Monitor()
    ctr = Container("c" * 64, {})
    ctr.pid, ctr.pty = 100, master
    ctr.streams[out_r] = "stdout"
    mon.containers[ctr.pid] = ctr
    return mon, ctr, slave, out_w


def test_a_resize_sent_just_before_the_client_closed_reaches_the_terminal() -> None:
    """The API service's resize attaches, sends "resize" and closes. When the container prints
    before the monitor reads that message, the broadcast finds the client gone: the resize is
    still applied before the client is detached."""
    mon, ctr, slave, out_w = _terminal_container()
    here, there = Channel.pair()
    try:
        syscalls.default().set_winsize(ctr.pty, 24, 80)
        mon._attach(here, ctr.id)
        assert there.recv()[0]["type"] == "attached"
        there.send("resize", rows=51, cols=132)
        there.close()
        os.write(out_w, b"printed first\n")
        out_r = next(iter(ctr.streams))
        mon._output(ctr, out_r)
        assert syscalls.default().get_winsize(slave) == (51, 132)
        assert ctr.attached == [] and mon.dropped == [here]
    finally:
        for fd in (slave, out_w, ctr.pty, *ctr.streams):
            os.close(fd)


def test_a_client_that_is_still_there_gets_the_output_and_keeps_its_messages_queued() -> None:
    """Output to a live client is sent, and its queued messages wait for their own turn."""
    mon, ctr, slave, out_w = _terminal_container()
    here, there = Channel.pair()
    try:
        syscalls.default().set_winsize(ctr.pty, 24, 80)
        mon._attach(here, ctr.id)
        there.recv()
        there.send("resize", rows=30, cols=100)
        os.write(out_w, b"hello\n")
        mon._output(ctr, next(iter(ctr.streams)))
        msg, _ = there.recv()
        assert (msg["type"], msg["stream"], msg["data"]) == ("output", "stdout", b"hello\n")
        assert syscalls.default().get_winsize(slave) == (24, 80) and ctr.attached == [here]
        mon.handlers[here.fileno()](here.fileno())
        assert syscalls.default().get_winsize(slave) == (30, 100)
        there.close()
        mon.handlers[here.fileno()](here.fileno())
        assert ctr.attached == [] and mon.dropped == [here]
    finally:
        for fd in (slave, out_w, ctr.pty, *ctr.streams):
            os.close(fd)
