"""Whether a second SO_REUSEPORT worker of a container may join the host port's group: the
group must be this container's alone, and a socket handed out that the kernel's list misses
(bound, not listening yet) still counts while its process holds it."""

from __future__ import annotations

import _thread
import os
import socket
from types import SimpleNamespace

import pytest

from rootless.network import bindnotify as bn
from rootless.network import redirect


@pytest.fixture
def handed_out():
    """A socket bound with SO_REUSEPORT and not listening, as a worker holds it after its bind."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("127.0.0.1", 0))
    yield s
    s.close()


def _redirect(sock: socket.socket):
    r = redirect.Redirect.__new__(redirect.Redirect)
    r.lock = _thread.allocate_lock()
    m = SimpleNamespace(container_port=80, host_port=sock.getsockname()[1])
    taken = redirect._Taken(m, None, 1)   # type: ignore[arg-type]
    taken.sockets[os.fstat(sock.fileno()).st_ino] = [False, os.getpid(), sock.fileno()]
    r.inner = {80: taken}
    return r, m


def test_a_socket_the_kernel_lists_makes_the_group_ours(handed_out, monkeypatch):
    r, m = _redirect(handed_out)
    inode = os.fstat(handed_out.fileno()).st_ino
    monkeypatch.setattr(bn, "tcp_sockets", lambda: {inode: (bn.TCP_LISTEN, m.host_port)})
    assert r._our_group(m) is True


def test_a_socket_missing_from_the_list_counts_while_its_process_holds_it(handed_out, monkeypatch):
    r, m = _redirect(handed_out)
    monkeypatch.setattr(bn, "tcp_sockets", lambda: {})
    assert r._our_group(m) is True
    fd = handed_out.fileno()
    handed_out.close()
    other = socket.socket()   # whatever the process has at that number now is not the socket
    try:
        assert other.fileno() == fd
        assert r._our_group(m) is False
    finally:
        other.close()


def test_someone_elses_socket_on_the_port_keeps_the_group_closed(handed_out, monkeypatch):
    r, m = _redirect(handed_out)
    inode = os.fstat(handed_out.fileno()).st_ino
    monkeypatch.setattr(bn, "tcp_sockets", lambda: {inode: (bn.TCP_LISTEN, m.host_port),
                                                    inode + 1: (bn.TCP_LISTEN, m.host_port)})
    assert r._our_group(m) is False
    monkeypatch.setattr(bn, "tcp_sockets", lambda: {inode + 1: (bn.TCP_LISTEN, m.host_port)})
    assert r._our_group(m) is False
