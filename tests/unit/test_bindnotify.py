"""The bind(2) notification primitives, for real: a forked child (no_new_privs, so this
works unprivileged) installs the filter and binds; this process answers as the forwarder
does: with a socket of its own put at the child's fd, by letting the call go on, or with
an errno."""

import os
import platform
import socket
import struct

import pytest

from rootless.network import bindnotify as bn

pytestmark = pytest.mark.skipif(bn.program() is None, reason=f"no bind filter for {platform.machine()}")


def _run(prog, arch, nr, addrlen):
    """What the classic BPF program answers for one call (the three loads and jumps it uses)."""
    insns = [struct.unpack("=HBBI", prog[i:i + 8]) for i in range(0, len(prog), 8)]
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == 0x20:
            acc = {0: nr, 4: arch, 32: addrlen}[k]
            pc += 1
        elif code == 0x15:
            pc += 1 + (jt if acc == k else jf)
        else:
            assert code == 0x06
            return {0x7FC00000: "notify", 0x7FFF0000: "allow"}[k]


def test_the_filter_reports_inet_binds_of_the_native_architecture_only():
    prog = bn.program("x86_64")
    x86_64, bind = 0xC000003E, 49
    for length in (16, 24, 28, 128):
        assert _run(prog, x86_64, bind, length) == "notify"
    for length in (12, 20, 110, 2):              # netlink, packet, unix: never wait for us
        assert _run(prog, x86_64, bind, length) == "allow"
    assert _run(prog, x86_64, 42, 16) == "allow"                 # connect
    assert _run(prog, 0x40000003, bind, 16) == "allow"           # i386
    arm = bn.program("aarch64")
    assert _run(arm, 0xC00000B7, 200, 28) == "notify" and _run(arm, 0xC00000B7, 49, 28) == "allow"
    assert bn.program("mips") is None


def test_sockaddrs_parse():
    v4 = struct.pack("=H", socket.AF_INET) + struct.pack("!H", 80) + socket.inet_aton("10.0.2.100") + bytes(8)
    assert bn.parse_sockaddr(v4) == (socket.AF_INET, "10.0.2.100", 80, 0)
    v6 = (struct.pack("=H", socket.AF_INET6) + struct.pack("!H", 8080) + bytes(4)
          + socket.inet_pton(socket.AF_INET6, "::") + struct.pack("=I", 3))
    assert bn.parse_sockaddr(v6) == (socket.AF_INET6, "::", 8080, 3)
    unix = struct.pack("=H", socket.AF_UNIX) + b"/run/x.sock\0"
    assert bn.parse_sockaddr(unix) is None
    assert bn.parse_sockaddr(v4[:5]) is None and bn.parse_sockaddr(b"") is None


def test_listening_inodes_are_the_listening_sockets():
    with socket.socket(socket.AF_INET6) as six, socket.socket() as four, socket.socket() as bound:
        six.bind(("::", 0))
        six.listen()
        four.bind(("127.0.0.1", 0))
        four.listen()
        bound.bind(("127.0.0.1", 0))
        found = bn.listening_inodes()
        assert os.fstat(six.fileno()).st_ino in found and os.fstat(four.fileno()).st_ino in found
        assert os.fstat(bound.fileno()).st_ino not in found


def _child(binds):
    """Fork a child that installs the filter, sends the listener, then makes `binds`
    (family, address) and reports each outcome on a pipe; returns (pid, listener, reader)."""
    here, there = socket.socketpair()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            here.close()
            os.close(r)
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(38, 1, 0, 0, 0)   # PR_SET_NO_NEW_PRIVS
            fd = bn.install()
            socket.send_fds(there, [b"l"], [fd] if fd >= 0 else [])
            if fd < 0:
                os._exit(3)
            os.close(fd)
            unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            name = "\0bindnotify-%d" % os.getpid()
            name += "x" * (2 + len(name) in (16, 24, 28, 128))      # not an inet length
            unix.bind(name)   # not reported: nobody answers it
            os.write(w, b"unix bound\n")
            for family, address in binds:
                s = socket.socket(family, socket.SOCK_STREAM)
                try:
                    s.bind(address)
                    s.listen()
                    name = s.getsockname()
                    os.write(w, f"ok {name[0]} {name[1]} {int(s.family)} {os.get_inheritable(s.fileno())}\n".encode())
                    c, _ = s.accept()
                    c.sendall(b"from the child")
                    c.close()
                except OSError as exc:
                    os.write(w, f"err {exc.errno}\n".encode())
                s.close()
        finally:
            os._exit(0)
    there.close()
    os.close(w)
    _, fds, _, _ = socket.recv_fds(here, 10, 1)
    here.close()
    assert fds, "the filter could not be installed"
    return pid, fds[0], os.fdopen(r)


def test_a_bind_answered_with_our_socket_a_bind_that_goes_on_and_a_refused_one():
    pid, listener, out = _child([(socket.AF_INET6, ("::", 80)), (socket.AF_INET, ("127.0.0.1", 0)),
                                 (socket.AF_INET, ("127.0.0.1", 81))])
    try:
        assert out.readline() == "unix bound\n"
        # 1: an IPv6 server's bind of port 80 gets our v4-mapped socket on a free port
        n = bn.receive(listener)
        assert n.is_bind() and bn.still_waiting(listener, n.id)
        assert bn.thread_group(n.pid) == pid
        family, address, port, _ = bn.parse_sockaddr(bn.read_memory(n.pid, n.args[1], n.args[2]))
        assert (family, address, port) == (socket.AF_INET6, "::", 80)
        pidfd = os.pidfd_open(pid)
        theirs = socket.socket(fileno=bn.take_fd(pidfd, n.args[0]))
        os.close(pidfd)
        assert theirs.family == socket.AF_INET6 and theirs.type == socket.SOCK_STREAM
        assert bn.fd_cloexec(n.pid, n.args[0])          # Python's sockets are close-on-exec
        theirs.close()
        ours = socket.socket(socket.AF_INET6)
        ours.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        ours.bind(("::ffff:127.0.0.1", 0))
        bn.place(listener, n.id, ours.fileno(), n.args[0], cloexec=True)
        bn.answer(listener, n.id)
        given = ours.getsockname()[1]
        ours.close()
        line = out.readline().split()
        assert line[:3] == ["ok", "::ffff:127.0.0.1", str(given)] and line[4] == "False"
        with socket.create_connection(("127.0.0.1", given)) as c:
            assert c.recv(100) == b"from the child"
        # 2: goes on as asked
        n = bn.receive(listener)
        bn.proceed(listener, n.id)
        line = out.readline().split()
        assert line[0] == "ok" and line[1] == "127.0.0.1" and line[2] != "0"
        with socket.create_connection(("127.0.0.1", int(line[2]))) as c:
            assert c.recv(100) == b"from the child"
        # 3: refused with an errno
        n = bn.receive(listener)
        bn.answer(listener, n.id, 98)
        assert out.readline().split() == ["err", "98"]
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert not bn.still_waiting(listener, n.id)
    finally:
        os.close(listener)
        out.close()
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def _disconnect(sock):
    """connect(2) to AF_UNSPEC: a listening socket goes back to unconnected, keeping its port."""
    import ctypes

    unspec = (ctypes.c_char * 16)()
    assert ctypes.CDLL(None, use_errno=True).connect(sock.fileno(), unspec, 16) == 0


def test_a_guarded_socket_serves_but_never_connects():
    if not bn.guard_works():
        pytest.skip("this kernel refuses a socket filter on a TCP socket without CAP_NET_ADMIN over its "
                    "network namespace (the host sockets are then not handed over)")
    with socket.socket() as service, socket.socket() as guarded:
        service.bind(("127.0.0.1", 0))
        service.listen()
        service.settimeout(0.3)
        assert bn.guard(guarded) and bn.guarded(guarded)
        guarded.bind(("127.0.0.1", 0))
        guarded.listen()
        with socket.create_connection(guarded.getsockname()) as client:
            served, _ = guarded.accept()
            served.sendall(b"x" * 100_000)
            served.close()
            got = b""
            while chunk := client.recv(65536):
                got += chunk
        assert len(got) == 100_000
        _disconnect(guarded)
        guarded.settimeout(1.0)
        with pytest.raises(OSError):
            guarded.connect(service.getsockname())   # its SYN-ACK never arrives
        with pytest.raises(OSError):
            service.accept()                          # and the service never saw a connection
        with pytest.raises(PermissionError):
            guarded.setsockopt(socket.SOL_SOCKET, 27, 0)   # SO_DETACH_FILTER: locked
