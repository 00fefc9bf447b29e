"""A DNS responder for one user network: the names of its containers, and the rest passed
on to the upstream resolver (unless the network is internal).

It answers A queries for a container's name, its aliases and its short id, bare or under
the search domain `dns.podman` (what podman's aardvark-dns answers), with the container's
address on that network, and AAAA queries with its IPv6 address on a network with IPv6;
other types for those names get an empty answer. A PTR
query for a container's address (`D.C.B.A.in-addr.arpa`) is answered with its names under
the search domain. Other names are forwarded, query and answer as they are, to the upstream
resolver; an internal network gets REFUSED for them, having no way out. The same answers go
over UDP and over TCP (dnstcp.py).

Only the wire format podpy needs is implemented (RFC 1035: header, one question, A and PTR
records); anything it cannot parse is dropped, as a resolver would drop garbage.
"""

from __future__ import annotations

import _socket
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

SEARCH_DOMAIN = "dns.podman"
TTL = 60
A, PTR, AAAA, ANY = 1, 12, 28, 255
NOERROR, SERVFAIL, NXDOMAIN, REFUSED = 0, 2, 3, 5
_HEADER = struct.Struct("!HHHHHH")


class Query:
    """One parsed question."""

    __slots__ = ("id", "flags", "name", "qtype", "qclass", "question")

    def __init__(self, ident: int, flags: int, name: str, qtype: int, qclass: int, question: bytes) -> None:
        self.id = ident
        self.flags = flags
        self.name = name
        self.qtype = qtype
        self.qclass = qclass
        self.question = question   # the question section's bytes, echoed in the answer


def parse_query(data: bytes) -> Optional[Query]:
    """The question of a standard query, or None when data is not one we can answer."""
    if len(data) < 12:
        return None
    ident, flags, qdcount, _an, _ns, _ar = _HEADER.unpack_from(data)
    if flags & 0x8000 or (flags >> 11) & 0xF != 0 or qdcount != 1:
        return None   # a response, another opcode, or several questions
    labels = []
    pos = 12
    while True:
        if pos >= len(data):
            return None
        length = data[pos]
        pos += 1
        if length == 0:
            break
        if length > 63 or pos + length > len(data):
            return None   # compression pointers do not occur in a question we accept
        labels.append(data[pos:pos + length].decode("ascii", "replace"))
        pos += length
    if pos + 4 > len(data):
        return None
    qtype, qclass = struct.unpack_from("!HH", data, pos)
    return Query(ident, flags, ".".join(labels), qtype, qclass, data[12:pos + 4])


def local_name(name: str) -> str:
    """The container name a query asks about: lower case, without the search domain."""
    name = name.rstrip(".").lower()
    if name.endswith("." + SEARCH_DOMAIN):
        name = name[: -len(SEARCH_DOMAIN) - 1]
    return name


def answer(q: Query, addresses: list[str]) -> bytes:
    """The response to q for a name we know: its A records, or AAAA records for its IPv6
    addresses (none for other types)."""
    records = b""
    count = 0
    if q.qclass == 1:
        for ip in addresses:
            six = ":" in ip
            if q.qtype == ANY or q.qtype == (AAAA if six else A):
                raw = _socket.inet_pton(_socket.AF_INET6 if six else _socket.AF_INET, ip)
                records += struct.pack("!HHHIH", 0xC00C, AAAA if six else A, 1, TTL, len(raw)) + raw
                count += 1
    return _header(q, NOERROR, count) + q.question + records


def reverse_address(name: str) -> Optional[str]:
    """The IPv4 address a PTR query's name stands for (4.3.2.1.in-addr.arpa -> 1.2.3.4)."""
    labels = name.rstrip(".").lower().split(".")
    if len(labels) != 6 or labels[4:] != ["in-addr", "arpa"]:
        return None
    if not all(p.isdigit() and len(p) <= 3 and int(p) < 256 for p in labels[:4]):
        return None
    return ".".join(str(int(p)) for p in reversed(labels[:4]))


def _encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii", "replace")[:63]
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def answer_ptr(q: Query, names: list[str]) -> bytes:
    """The response to a PTR query for an address we know: a record per name."""
    records = b""
    for name in names:
        target = _encode_name(f"{name}.{SEARCH_DOMAIN}")
        records += struct.pack("!HHHIH", 0xC00C, PTR, 1, TTL, len(target)) + target
    return _header(q, NOERROR, len(names)) + q.question + records


def error(q: Query, rcode: int) -> bytes:
    return _header(q, rcode, 0) + q.question


def _header(q: Query, rcode: int, answers: int) -> bytes:
    # QR, the opcode and RD of the query, RA, AA for our own names
    flags = 0x8000 | (q.flags & 0x0100) | 0x0080 | (0x0400 if rcode == NOERROR else 0) | rcode
    return _HEADER.pack(q.id, flags, 1, answers, 0, 0)


class Records:
    """Names -> addresses on one network, from the containers attached to it."""

    def __init__(self) -> None:
        self.by_container: dict[str, tuple[list[str], str]] = {}
        self.ipv6: dict[str, str] = {}   # container -> its IPv6 address, on a network with IPv6

    def add(self, container: str, names: list[str], ip: str, ip6: Optional[str] = None) -> None:
        self.by_container[container] = ([n.lower() for n in names if n], ip)
        if ip6:
            self.ipv6[container] = ip6
        else:
            self.ipv6.pop(container, None)

    def remove(self, container: str) -> None:
        self.by_container.pop(container, None)
        self.ipv6.pop(container, None)

    def lookup(self, name: str) -> list[str]:
        """The addresses of the containers with this name: IPv4 ones, then IPv6 ones."""
        name = local_name(name)
        found = [cid for cid, (names, _ip) in self.by_container.items() if name in names]
        return [self.by_container[c][1] for c in found] + [self.ipv6[c] for c in found if c in self.ipv6]

    def names_of(self, ip: str) -> list[str]:
        """The names of the container with this address (its name first, then its aliases and
        short id), for PTR."""
        for names, address in self.by_container.values():
            if address == ip:
                return [n for n in names if n]
        return []

    def respond(self, data: bytes, internal: bool) -> Optional[bytes]:
        """The reply to a query from this network's records: its answer, REFUSED when the
        network has no way out for other names, or None when the query is to be passed on
        upstream (or is not one we parse: None as well, with nothing to pass on)."""
        q = parse_query(data)
        if q is None:
            return b""
        if q.qtype == PTR:
            ip = reverse_address(q.name)
            names = self.names_of(ip) if ip else []
            if names:
                return answer_ptr(q, names)
        else:
            found = self.lookup(q.name)
            if found:
                return answer(q, found)
        if internal:
            return error(q, REFUSED)
        return None

    def __len__(self) -> int:
        return len(self.by_container)
