"""A DNS query on the wire, as a resolver sends it, shared by the DNS responder's tests."""

import struct

from rootless.network import dns


def query(name, qtype=dns.A, ident=0x1234):
    """A standard query (recursion desired) with one question: name, qtype, class IN."""
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack("!HH", qtype, 1)
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + q
