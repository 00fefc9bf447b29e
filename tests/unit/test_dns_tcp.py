"""A user network's DNS responder: PTR answers, the decisions shared by UDP and TCP, and DNS
over TCP for real (a listening socket, pipelined queries, one passed on to an upstream TCP
resolver that the test runs)."""

import select
import socket
import struct
import threading

from rootless.network import dns
from dnswire import query as _query
from rootless.network.dnstcp import TcpDns


def _records():
    records = dns.Records()
    records.add("c1", ["db", "8f3a2b1c0d9e", "database"], "10.89.0.2")
    return records


def test_ptr_names_a_containers_address():
    assert dns.reverse_address("2.0.89.10.in-addr.arpa") == "10.89.0.2"
    assert dns.reverse_address("2.0.89.10.in-addr.arpa.") == "10.89.0.2"
    for bad in ("0.89.10.in-addr.arpa", "x.0.89.10.in-addr.arpa", "300.0.89.10.in-addr.arpa", "db.dns.podman"):
        assert dns.reverse_address(bad) is None
    reply = _records().respond(_query("2.0.89.10.in-addr.arpa", dns.PTR), internal=False)
    _id, flags, _qd, an, _ns, _ar = struct.unpack_from("!HHHHHH", reply)
    assert flags & 0xF == dns.NOERROR and an == 3
    assert b"\x02db\x03dns\x06podman\x00" in reply and b"\x08database\x03dns\x06podman\x00" in reply


def test_respond_answers_passes_on_or_refuses():
    records = _records()
    assert records.respond(_query("db.dns.podman"), internal=False).endswith(bytes([10, 89, 0, 2]))
    assert records.respond(_query("example.org"), internal=False) is None          # upstream
    assert records.respond(_query("9.0.89.10.in-addr.arpa", dns.PTR), internal=False) is None
    refused = records.respond(_query("example.org"), internal=True)
    assert struct.unpack_from("!HH", refused)[1] & 0xF == dns.REFUSED
    assert records.respond(b"garbage", internal=False) == b""                       # dropped


class _Loop:
    """The holder's poll loop, in a thread."""

    def __init__(self):
        self.poller = select.poll()
        self.handlers = {}
        self.stop = False
        self.lock = threading.Lock()

    def watch(self, fd, handler, events=0):
        self.handlers[fd] = handler
        self.poller.register(fd, events or select.POLLIN)

    def unwatch(self, fd):
        if self.handlers.pop(fd, None) is not None:
            self.poller.unregister(fd)

    def run(self):
        while not self.stop:
            for fd, _ev in self.poller.poll(50):
                handler = self.handlers.get(fd)
                if handler is not None:
                    handler(fd)


def _upstream():
    """A TCP resolver that answers every query with the question echoed and RCODE 3."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()

    def serve():
        conn, _ = srv.accept()
        with conn:
            length = struct.unpack("!H", conn.recv(2))[0]
            query = b""
            while len(query) < length:
                query += conn.recv(length - len(query))
            reply = struct.pack("!HH", struct.unpack_from("!H", query)[0], 0x8183) + query[4:]
            conn.sendall(struct.pack("!H", len(reply)) + reply)

    threading.Thread(target=serve, daemon=True).start()
    return srv


def _read_message(sock):
    head = b""
    while len(head) < 2:
        head += sock.recv(2 - len(head))
    length = struct.unpack("!H", head)[0]
    body = b""
    while len(body) < length:
        body += sock.recv(length - len(body))
    return body


def test_dns_over_tcp_answers_and_passes_on():
    records = _records()
    upstream = _upstream()
    loop = _Loop()
    tcp = TcpDns(loop, ("127.0.0.1", 0), lambda data: records.respond(data, False), upstream.getsockname())
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    try:
        with socket.create_connection(tcp.sock.getsockname(), timeout=5) as client:
            local, outside = _query("database", ident=1), _query("example.org", ident=2)
            # both queries in one write, the second split from its length: pipelined, as RFC 7766 allows
            client.sendall(struct.pack("!H", len(local)) + local + struct.pack("!H", len(outside)))
            client.sendall(outside)
            answers = {struct.unpack_from("!H", m)[0]: m for m in (_read_message(client), _read_message(client))}
        assert answers[1].endswith(bytes([10, 89, 0, 2]))
        assert struct.unpack_from("!HH", answers[2])[1] & 0xF == dns.NXDOMAIN
    finally:
        loop.stop = True
        thread.join()
        tcp.close()
        upstream.close()
    assert not tcp.conns
