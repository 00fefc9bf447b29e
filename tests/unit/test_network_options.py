"""The network options of run/create (-p, --network, --add-host, --dns*), the port listings,
/etc/hosts and resolv.conf, and the DNS responder's wire format."""

import struct

import pytest

from podpy.network import files as netfiles, options as netopts
from podpy.errors import InvalidArgument
from rootless.network import dns
from dnswire import query as _query


def m(host_ip, host_port, ctr, proto="tcp"):
    return {"host_ip": host_ip, "host_port": host_port, "container_port": ctr, "protocol": proto}


@pytest.mark.parametrize("spec,want", [
    ("80", [m("", 0, 80)]),
    ("8080:80", [m("", 8080, 80)]),
    ("127.0.0.1:8080:80", [m("127.0.0.1", 8080, 80)]),
    ("127.0.0.1::80", [m("127.0.0.1", 0, 80)]),
    ("0.0.0.0:8080:80", [m("", 8080, 80)]),
    ("[::1]:8080:80", [m("::1", 8080, 80)]),
    ("8000-8001:80-81", [m("", 8000, 80), m("", 8001, 81)]),
    ("53:53/udp", [m("", 53, 53, "udp")]),
    ("53:53/tcp,udp", [m("", 53, 53), m("", 53, 53, "udp")]),
])
def test_publish_forms(spec, want):
    assert netopts.parse_publish(spec) == want


@pytest.mark.parametrize("spec,words", [
    ("99999:80", "between 1 and 65535"),
    ("0:80", "between 1 and 65535"),
    ("abc", "invalid container port"),
    ("1:2:3:4", "invalid port format"),
    ("8000-8002:80-81", "different lengths: 3 vs 2"),
    ("90-80", "end is before the start"),
    ("80/sctp", "protocol"),
    ("300.1.1.1:80:80", "not an IP address"),
    ("[zz]:80:80", "not an IPv6 address"),
    ("8080:", "container port is missing"),
])
def test_publish_errors(spec, words):
    with pytest.raises(InvalidArgument, match=words):
        netopts.parse_publish(spec)


def test_settle_ports_gives_free_ports_and_refuses_duplicates():
    ports = netopts.settle_ports([m("127.0.0.1", 0, 80)], [(80, "tcp"), (443, "tcp")])
    assert [p["container_port"] for p in ports] == [80, 443]
    assert all(0 < p["host_port"] < 65536 for p in ports)
    with pytest.raises(InvalidArgument, match="published twice"):
        netopts.settle_ports([m("", 8080, 80), m("", 8080, 81)], [])


def test_port_listings_merge_ranges_like_podman():
    ports = [m("127.0.0.1", 8080, 80), m("", 9000, 90, "udp"), m("", 9001, 91, "udp"), m("::1", 7000, 70)]
    assert netopts.ports_text(ports) == ("127.0.0.1:8080->80/tcp, [::1]:7000->70/tcp, "
                                         "0.0.0.0:9000-9001->90-91/udp")
    assert netopts.ports_json(ports)[2] == {"host_ip": "", "container_port": 90, "host_port": 9000, "range": 2,
                                            "protocol": "udp"}
    assert netopts.ports_json([]) is None
    # ps's PORTS column is made from the JSON's groups: every port comes back from them
    assert sorted(netopts.ports_from_json(netopts.ports_json(ports)), key=str) == sorted(ports, key=str)
    assert netopts.ports_from_json(None) == []
    assert netopts.port_lines(ports) == ["70/tcp -> [::1]:7000", "80/tcp -> 127.0.0.1:8080",
                                         "90/udp -> 0.0.0.0:9000", "91/udp -> 0.0.0.0:9001"]
    assert netopts.port_lines(ports, "90/udp") == ["0.0.0.0:9000"]
    assert netopts.inspect_ports(ports[:1], [(80, "tcp"), (22, "tcp")]) == {
        "22/tcp": None, "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}


@pytest.mark.parametrize("values,mode,extra", [
    ([], "slirp4netns", {}),
    (["private"], "slirp4netns", {}),
    (["slirp4netns:allow_host_loopback=true,mtu=1500"], "slirp4netns",
     {"allow_host_loopback": "true", "mtu": "1500"}),
    (["slirp4netns:port_handler=slirp4netns"], "slirp4netns", {"port_handler": "slirp4netns"}),
    (["pasta:-T,8080"], "pasta", {"args": "-T,8080"}),
    (["host"], "host", {}),
    (["none"], "none", {}),
    (["container:web"], "container", {"container": "web"}),
    (["ns:/proc/1/ns/net"], "ns", {"path": "/proc/1/ns/net"}),
])
def test_network_modes(values, mode, extra):
    choice = netopts.parse_network(values)
    assert (choice.mode, choice.options) == (mode, extra)


def test_user_networks_with_options():
    choice = netopts.parse_network(["front:alias=web,ip=10.89.0.9,mac=02:00:00:00:00:01", "back", "bridge"])
    assert choice.mode == "bridge"
    assert choice.networks == {"front": {"aliases": ["web"], "ip": "10.89.0.9", "mac": "02:00:00:00:00:01"},
                               "back": {"aliases": []}, "podman": {"aliases": []}}


@pytest.mark.parametrize("values,words", [
    (["slirp4netns:foo=bar"], "unknown slirp4netns option"),
    (["slirp4netns:mtu=abc"], "mtu"),
    (["slirp4netns:cidr=10.0.0.0"], "cidr"),
    (["slirp4netns:port_handler=x"], "port_handler"),
    (["host:x"], "takes no options"),
    (["container:"], "container name"),
    (["ns:relative"], "absolute path"),
    (["host", "front"], "cannot be combined"),
    (["front", "front"], "given twice"),
    (["front:ip=1.2.3"], "invalid IP address"),
    (["front:mac=01:00:00:00:00:01"], "multicast"),
    (["front:color=red"], "invalid network option"),
])
def test_network_errors(values, words):
    with pytest.raises(InvalidArgument, match=words):
        netopts.parse_network(values)


def test_slirp_cidr_addresses():
    assert netopts.slirp_address({}) == ("10.0.2.100", "10.0.2.2", "10.0.2.3")
    assert netopts.slirp_address({"cidr": "10.5.0.0/16"}) == ("10.5.0.100", "10.5.0.2", "10.5.0.3")


def test_add_host_and_dns_options():
    assert netopts.parse_add_host("db:10.0.0.5") == ("db", "10.0.0.5")
    assert netopts.parse_add_host("v6:fd00::1") == ("v6", "fd00::1")
    assert netopts.parse_add_host("gw:host-gateway") == ("gw", "host-gateway")
    for bad in ("nocolon", "x:notanip", ":1.2.3.4"):
        with pytest.raises(InvalidArgument, match="add-host"):
            netopts.parse_add_host(bad)
    assert netopts.parse_dns(["1.1.1.1"], ["a.example"], ["ndots:2"]) == {
        "servers": ["1.1.1.1"], "search": ["a.example"], "options": ["ndots:2"]}
    assert netopts.parse_dns(["none"], ["."], []) == {"servers": [], "search": []}
    with pytest.raises(InvalidArgument, match="--dns"):
        netopts.parse_dns(["dns.example"], [], [])


def test_hosts_file_like_podman(monkeypatch):
    monkeypatch.setattr(netfiles, "_host_file", lambda path="/etc/hosts": [("127.0.0.1", ["localhost"])])
    net = netfiles.EtcNet(["10.0.2.100"], "192.0.2.2", ["10.0.2.3"])
    text = netfiles.hosts("abc123", "web", [["db", "10.1.1.1"], ["gw", "host-gateway"]], net)
    assert text == ("10.1.1.1\tdb\n192.0.2.2\tgw\n127.0.0.1\tlocalhost\n192.0.2.2\thost.containers.internal\n"
                    "10.0.2.100\tabc123 web\n")
    host = netfiles.hosts("abc123", "web", [], netfiles.EtcNet([], None, [], host_mode=True))
    assert host == "127.0.0.1\tlocalhost\n"


def test_resolv_conf_like_podman():
    host = ["nameserver 127.0.0.53", "nameserver 10.1.1.1", "search corp.example", "options edns0"]
    net = netfiles.EtcNet(["10.89.0.2"], None, ["10.89.0.1"], ["dns.podman"])
    assert netfiles.resolv(net, {}, host) == ("search dns.podman corp.example\nnameserver 10.89.0.1\n"
                                              "options edns0\n")
    assert netfiles.resolv(net, {"servers": ["9.9.9.9"], "search": [], "options": []}, host) == \
        "nameserver 9.9.9.9\n"
    assert netfiles.host_nameservers(host) == ["10.1.1.1"]
    assert netfiles.resolv(netfiles.EtcNet([], None, [], none=True), {}, host) is None


def test_hosts_file_base_file_and_internal_ip_from_containers_conf(tmp_path):
    base = tmp_path / "hosts"
    base.write_text("10.1.2.3 name1\n10.1.2.4 name2 #some comment\n")
    net = netfiles.EtcNet(["10.0.2.100"], "192.0.2.2", [])
    text = netfiles.hosts("conx", "conx", [["h3", "10.3.3.3"]], net, str(base), "10.9.9.9")
    # localhost after the user's entries, the name given twice when host name and name are the same
    assert text == ("10.3.3.3\th3\n10.1.2.3\tname1\n10.1.2.4\tname2\n127.0.0.1\tlocalhost\n::1\tlocalhost\n"
                    "10.9.9.9\thost.containers.internal\n10.0.2.100\tconx conx\n")
    # a name the base file has already is not given the container's address
    text = netfiles.hosts("name1", "name1", [], net, str(base), "10.9.9.9")
    assert text.splitlines()[-1] == "10.9.9.9\thost.containers.internal"
    with pytest.raises(InvalidArgument, match="failed to create new hosts file: open"):
        netfiles.hosts("a", "b", [], net, str(tmp_path / "missing"))


def test_joined_container_takes_the_others_hosts_with_a_line_of_its_own():
    infra = "127.0.0.1\tlocalhost\n10.0.2.100\tpodx infrax\n"
    assert netfiles.joined_entry(infra, ["podx", "con1x"]) == infra + "127.0.0.1\tcon1x\n"
    assert netfiles.joined_entry(infra, ["podx", "infrax"]) == infra


def test_resolv_conf_puts_containers_conf_settings_first():
    host = ["nameserver 10.1.1.1", "search corp.example", "options edns0"]
    net = netfiles.EtcNet(["10.0.2.100"], None, ["10.0.2.3"])
    conf = {"servers": ["1.1.1.1"], "search": ["example.com"], "options": ["ndots:3"]}
    assert netfiles.resolv(net, {}, host, conf) == \
        "search example.com\nnameserver 1.1.1.1\noptions ndots:3\n"
    given = {"servers": ["8.8.4.4"], "search": ["foo.org"], "options": ["x:1"]}
    assert netfiles.resolv(net, given, host, conf) == \
        "search example.com foo.org\nnameserver 1.1.1.1\nnameserver 8.8.4.4\noptions ndots:3 x:1\n"
    # no network: the image's file, whatever containers.conf says
    assert netfiles.resolv(netfiles.EtcNet([], None, [], none=True), {}, host, conf) is None


def test_dns_answers_container_names():
    records = dns.Records()
    records.add("c1", ["web", "8f3a2b1c0d9e", "alias"], "10.89.0.2")
    q = dns.parse_query(_query("WEB.dns.podman"))
    assert q is not None and q.name == "WEB.dns.podman"
    found = records.lookup(q.name)
    assert found == ["10.89.0.2"]
    reply = dns.answer(q, found)
    ident, flags, qd, an, _ns, _ar = struct.unpack_from("!HHHHHH", reply)
    assert (ident, qd, an) == (0x1234, 1, 1) and flags & 0x8000 and flags & 0xF == 0
    assert reply.endswith(bytes([10, 89, 0, 2]))
    aaaa = dns.answer(dns.parse_query(_query("alias", dns.AAAA)), found)
    assert struct.unpack_from("!HHHHHH", aaaa)[3] == 0
    refused = dns.error(q, dns.REFUSED)
    assert struct.unpack_from("!HH", refused)[1] & 0xF == dns.REFUSED
    records.remove("c1")
    assert records.lookup("web") == []


@pytest.mark.parametrize("data", [b"", b"\x00" * 11, _query("x")[:-2], b"\x12\x34\x81\x00" + _query("x")[4:]])
def test_dns_drops_what_it_cannot_parse(data):
    assert dns.parse_query(data) is None
