"""IPv6 on user networks: the subnets `network create` makes (podman's choices), the ip6=
network option, and the DNS responder's AAAA answers."""

import ipaddress
import struct

import pytest

from dnswire import query
from podpy.errors import InvalidArgument
from podpy.network import options as netopts
from podpy.network import subnets
from rootless.network import dns

UPLINK = "10.0.2.0/24"
USED = [ipaddress.ip_network("10.88.0.0/16"), ipaddress.ip_network(UPLINK)]


def fixed(data: bytes):
    return lambda n: data[:n]


def test_random_ula_is_a_unique_local_64():
    net = subnets.random_ula(fixed(bytes(range(1, 9))))
    assert str(net) == "fd02:304:506:708::/64"
    for _ in range(20):
        net = subnets.random_ula()
        assert net.prefixlen == 64 and net.network_address.packed[0] == 0xFD


def test_ipv6_alone_gives_a_pool_ipv4_subnet_then_a_random_64():
    planned = subnets.plan([], [], [], True, USED, UPLINK, fixed(b"\x00\x11\x22\x33\x44\x55\x66\x77"))
    assert planned == [{"subnet": "10.89.0.0/24", "gateway": "10.89.0.1"},
                       {"subnet": "fd11:2233:4455:6677::/64", "gateway": "fd11:2233:4455:6677::1"}]


def test_without_ipv6_one_ipv4_subnet():
    assert subnets.plan([], [], [], False, USED, UPLINK) == [{"subnet": "10.89.0.0/24", "gateway": "10.89.0.1"}]


def test_given_ipv6_subnet_comes_first_and_an_ipv4_one_is_added():
    """podman: `--ipv6 --subnet fd44::/64` is fd44::/64, then a pool subnet."""
    planned = subnets.plan(["fd44::/64"], [], [], True, USED, UPLINK)
    assert planned == [{"subnet": "fd44::/64", "gateway": "fd44::1"},
                       {"subnet": "10.89.0.0/24", "gateway": "10.89.0.1"}]


def test_given_ipv4_subnet_with_ipv6_gets_a_random_64():
    planned = subnets.plan(["10.99.0.0/24"], [], [], True, USED, UPLINK, fixed(b"\xaa" * 8))
    assert [p["subnet"] for p in planned] == ["10.99.0.0/24", "fdaa:aaaa:aaaa:aaaa::/64"]


def test_gateways_and_ranges_go_with_the_subnet_in_their_place():
    planned = subnets.plan(["fd00:1::/64", "10.77.0.0/24"], ["fd00:1::fe", "10.77.0.254"],
                           ["fd00:1::100/120"], False, USED, UPLINK)
    assert planned == [
        {"subnet": "fd00:1::/64", "gateway": "fd00:1::fe",
         "lease_range": {"start_ip": "fd00:1::101", "end_ip": "fd00:1::1ff"}},
        {"subnet": "10.77.0.0/24", "gateway": "10.77.0.254"}]
    lo, hi = subnets.host_range(planned[0])
    assert (str(lo), str(hi)) == ("fd00:1::101", "fd00:1::1ff")
    lo, hi = subnets.host_range(planned[1])
    assert (str(lo), str(hi)) == ("10.77.0.1", "10.77.0.254")


@pytest.mark.parametrize("given,gateways,ranges,ipv6,words", [
    (["fd00::/64"], [], [], False, "IPv6-only network"),
    (["fd00::/64", "fd01::/64"], [], [], True, "one subnet of each IP version"),
    (["fd00::/127"], [], [], True, "too small"),
    (["10.88.1.0/24"], [], [], False, "overlaps 10.88.0.0/16"),
    (["10.0.2.128/25"], [], [], False, "uplink"),
    (["fd00::/64"], ["fd01::1"], [], True, "not a host address"),
    (["fd00::/64"], ["fd00::"], [], True, "not a host address"),
    (["fd00::/64"], [], ["10.1.0.0/24"], True, "not inside subnet"),
    ([], ["10.0.0.1"], [], False, "need a --subnet"),
    (["nonsense"], [], [], False, "invalid --subnet"),
])
def test_plan_errors(given, gateways, ranges, ipv6, words):
    with pytest.raises(InvalidArgument, match=words):
        subnets.plan(given, gateways, ranges, ipv6, USED, UPLINK)


def test_a_random_64_avoids_the_other_networks():
    draws = iter([b"\x00\x01" + bytes(6), b"\x00\x02" + bytes(6)])
    used = [*USED, ipaddress.ip_network("fd01::/64")]
    planned = subnets.plan([], [], [], True, used, UPLINK, lambda n: next(draws))
    assert planned[1]["subnet"] == "fd02::/64"


def test_of_finds_each_family():
    net = {"subnets": [{"subnet": "fd00::/64", "gateway": "fd00::1"}, {"subnet": "10.1.0.0/24", "gateway": "10.1.0.1"}]}
    assert subnets.of(net, 4)["subnet"] == "10.1.0.0/24"
    assert subnets.of(net, 6)["subnet"] == "fd00::/64"
    assert subnets.of({"subnets": net["subnets"][1:]}, 6) is None


def test_network_option_ip6():
    choice = netopts.parse_network(["front:ip6=fd00::9,ip=10.89.0.9"])
    assert choice.networks == {"front": {"aliases": [], "ip6": "fd00::9", "ip": "10.89.0.9"}}
    with pytest.raises(InvalidArgument, match="invalid IPv6 address"):
        netopts.parse_network(["front:ip6=10.89.0.9"])


def _answers(reply: bytes) -> list[tuple[int, bytes]]:
    """(type, data) of each answer record of a reply to a query from dnswire (its question
    is echoed, and each answer's name is a pointer to it)."""
    count = struct.unpack_from("!H", reply, 6)[0]
    pos = 12
    while reply[pos]:
        pos += reply[pos] + 1
    pos += 5
    out = []
    for _ in range(count):
        _ptr, rtype, _cls, _ttl, length = struct.unpack_from("!HHHIH", reply, pos)
        pos += 12
        out.append((rtype, reply[pos:pos + length]))
        pos += length
    return out


def test_dns_answers_aaaa_with_the_ipv6_address():
    records = dns.Records()
    records.add("c1", ["web", "c1short"], "10.89.0.2", "fd00::2")
    records.add("c2", ["db"], "10.89.0.3")
    aaaa = _answers(records.respond(query("web.dns.podman", dns.AAAA), False))
    assert aaaa == [(dns.AAAA, ipaddress.ip_address("fd00::2").packed)]
    a = _answers(records.respond(query("web", dns.A), False))
    assert a == [(dns.A, ipaddress.ip_address("10.89.0.2").packed)]
    # a container without IPv6: its name is known, with no AAAA record
    assert _answers(records.respond(query("db", dns.AAAA), False)) == []
    records.remove("c1")
    assert records.respond(query("web", dns.AAAA), True) is not None   # internal: refused, not forwarded
    assert records.ipv6 == {}
