"""The port forwarder for real on loopback (its "container" is this process's own network
namespace): it carries connections, and no more of them at once than its limit -- a
connection holds its place until both its directions are over."""

import socket
import threading
import time

from rootless.network import portfwd


class _Here:
    """A socket source for the forwarder that makes its sockets right here."""

    def sockets(self, family, kind, count=1):
        return [socket.socket(family, kind) for _ in range(count)]

    def close(self):
        pass


def _holding_server():
    """A server that answers "hi" and then holds every connection open."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    held = []

    def serve():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            conn.sendall(b"hi")
            held.append(conn)

    threading.Thread(target=serve, daemon=True).start()
    return srv, held


def test_the_forwarder_carries_at_most_its_limit_of_connections(monkeypatch):
    monkeypatch.setattr(portfwd, "MAX_CONNECTIONS", 2)
    srv, held = _holding_server()
    mapping = portfwd.Mapping("127.0.0.1", 0, srv.getsockname()[1])
    fwd = portfwd.forwarder(portfwd.listen([mapping]), _Here(), "127.0.0.1")
    clients = []
    try:
        for _ in range(2):
            c = socket.create_connection(("127.0.0.1", mapping.host_port), timeout=5)
            assert c.recv(2) == b"hi"      # carried to the server
            clients.append(c)
        extra = socket.create_connection(("127.0.0.1", mapping.host_port), timeout=5)
        assert extra.recv(2) == b""        # over the limit: closed at once
        extra.close()
        clients.pop(0).close()             # the first one ends, both ways
        held[0].close()
        for _ in range(50):
            c = socket.create_connection(("127.0.0.1", mapping.host_port), timeout=5)
            got = c.recv(2)
            if got == b"hi":
                clients.append(c)
                break
            c.close()
            time.sleep(0.02)
        else:
            raise AssertionError("no room after a connection ended")
    finally:
        for c in clients:
            c.close()
        fwd.stop()
        srv.close()
        for conn in held:
            conn.close()
