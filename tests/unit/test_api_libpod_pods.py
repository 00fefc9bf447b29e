"""The libpod API's pods, kube and generate routes and their client: podman's PodSpecGenerator
read into `pod create`'s options (and podpy's client writing it), pod ps's filters, the query
names the kube routes read without regard to case, and the routes registered."""

import json

import pytest

from podpy.api import AREAS
from podpy.api.errors import BadParameter
from podpy.api.libpod_kube import Query
from podpy.api.libpod_podspec import pod_create_options
from podpy.api.routes import Router
from podpy.engine import podfilter
from podpy.engine.podmanspec import pod_spec_generator
from podpy.engine.podoptions import PodCreateOptions
from podpy.errors import InvalidArgument

# what podman 4.3.1's client sends for `podman --remote pod create --name p2 -p 18081:80 --label x=y`
PODMAN_POD_CREATE = {
    "name": "p2", "exit_policy": "continue", "labels": {"x": "y"}, "shared_namespaces": ["ipc", "net", "uts"],
    "share_parent": True, "pod_create_command": ["podman", "--remote", "pod", "create", "--name", "p2"],
    "pidns": {"nsmode": "private"}, "userns": {}, "utsns": {}, "netns": {},
    "portmappings": [{"host_ip": "", "container_port": 80, "host_port": 18081, "range": 1, "protocol": ""}],
    "Networks": None, "resource_limits": {"cpu": {}},
    "idmappings": {"HostUIDMapping": True, "HostGIDMapping": True, "UIDMap": None, "GIDMap": None,
                   "AutoUserNs": False, "AutoUserNsOpts": {"Size": 0, "InitialSize": 0, "PasswdFile": "",
                                                           "GroupFile": "", "AdditionalUIDMappings": None,
                                                           "AdditionalGIDMappings": None}},
}


def test_podmans_pod_create_body_becomes_pod_create_options():
    o = pod_create_options(PODMAN_POD_CREATE)
    assert (o.name, o.labels, o.exit_policy, o.infra) == ("p2", ["x=y"], "continue", True)
    assert o.share == "ipc,net,uts" and o.share_parent and o.pid is None   # "private": the default
    assert o.publish == ["18081:80/tcp"] and o.network == [] and o.userns is None
    assert o.create_command[:3] == ["podman", "--remote", "pod"]


def test_the_default_networks_addresses_and_the_pods_devices():
    o = pod_create_options(dict(PODMAN_POD_CREATE, Networks={"default": {"static_ips": ["10.88.0.9"],
                                                                         "static_mac": "92:d0:c6:0a:29:33"}},
                                pod_devices=["/dev/null"]))
    assert (o.ip, o.mac_address, o.network, o.devices) == ("10.88.0.9", "92:d0:c6:0a:29:33", [], ["/dev/null"])


def test_an_empty_share_list_means_none_and_no_infra_is_read():
    assert pod_create_options(dict(PODMAN_POD_CREATE, shared_namespaces=[])).share == "none"
    o = pod_create_options({"name": "x", "no_infra": True, "shared_namespaces": []})
    assert not o.infra and o.share is None


@pytest.mark.parametrize("field,value,words", [
    ("no_manage_resolv_conf", True, "PodSpecGenerator field 'no_manage_resolv_conf' is not available in podpy"),
    ("pidns", {"nsmode": "bogus"}, "PodSpecGenerator pidns mode 'bogus' is not available in podpy"),
    ("resource_limits", {"pids": {"limit": 3}}, "PodSpecGenerator resource_limits.pids is not available in podpy"),
    ("mounts", [{"type": "tmpfs", "destination": "/t"}], "tmpfs and image mounts are not available in podpy"),
])
def test_what_a_pod_cannot_have_is_refused_in_one_line(field, value, words):
    with pytest.raises(BadParameter) as exc:
        pod_create_options(dict(PODMAN_POD_CREATE, **{field: value}))
    assert words in exc.value.message and exc.value.status == 400


def test_podpys_pod_spec_reads_back_as_the_same_options(tmp_path):
    labels = tmp_path / "labels"
    labels.write_text("# a comment\nfrom=file\n")
    o = PodCreateOptions(name="web", labels=["a=b"], label_files=[str(labels)], publish=["127.0.0.1:8080:80/tcp"],
                         network=["net1"], network_alias=["alias1"], hostname="h", add_host=["db:10.0.0.2"],
                         dns=["10.0.0.1"], dns_search=["example"], dns_option=["ndots:2"], share="net,uts",
                         infra_command='["/catatonit", "-P"]', exit_policy="stop", volumes=["vol:/data:ro"],
                         sysctls=["net.ipv4.ip_forward=1"], shm_size="64m", pid="host", userns="keep-id",
                         memory="256m", cpus="1.5", cpu_shares="512", uidmap=["0:1:100"], gidmap=["0:1:100"],
                         no_hosts=False, ip="10.89.0.5", mac_address="92:d0:c6:0a:29:33",
                         create_command=["podpy", "pod", "create"])
    spec = pod_spec_generator(o)
    json.dumps(spec)   # what is sent is JSON
    back = pod_create_options(json.loads(json.dumps(spec)))
    assert back.labels == ["a=b", "from=file"] and back.name == "web" and back.hostname == "h"
    assert back.publish == ["127.0.0.1:8080:80/tcp"] and back.network == ["net1"]
    assert back.network_alias == ["alias1"] and back.add_host == ["db:10.0.0.2"]
    assert (back.dns, back.dns_search, back.dns_option) == (["10.0.0.1"], ["example"], ["ndots:2"])
    assert back.share == "net,uts" and json.loads(back.infra_command) == ["/catatonit", "-P"]
    assert back.exit_policy == "stop" and back.volumes == ["vol:/data:ro"]
    assert back.sysctls == ["net.ipv4.ip_forward=1"] and back.shm_size == str(64 << 20)
    assert (back.pid, back.userns) == ("host", "keep-id")
    assert back.memory == str(256 << 20) and back.cpus == "1.5" and back.cpu_shares == "512"
    assert back.uidmap == ["0:1:100"] and back.gidmap == ["0:1:100"]
    assert (back.ip, back.mac_address) == ("10.89.0.5", "92:d0:c6:0a:29:33")
    assert back.create_command == ["podpy", "pod", "create"]


def test_the_pod_spec_refuses_what_it_cannot_carry():
    with pytest.raises(InvalidArgument) as exc:
        pod_spec_generator(PodCreateOptions(name="x", subuidname="someone"))
    assert str(exc.value) == "podpy pod create --subuidname: not available with --remote"
    with pytest.raises(InvalidArgument) as exc:
        pod_spec_generator(PodCreateOptions(device_read_bps=["/dev/sda:1mb"]), "generate spec", "why")
    assert str(exc.value) == "podpy generate spec --device-read-bps: why"


POD_A = {"Id": "aaaa1111", "Name": "web", "Created": 100.0, "Status": "Running", "Labels": {"app": "x"},
         "Networks": ["net1"], "Containers": [{"Id": "c1", "Names": "web-infra", "Status": "running"},
                                              {"Id": "c2", "Names": "web-app", "Status": "running"}]}
POD_B = {"Id": "bbbb2222", "Name": "db", "Created": 200.0, "Status": "Exited", "Labels": {},
         "Networks": [], "Containers": [{"Id": "c3", "Names": "db-infra", "Status": "exited"}]}


@pytest.mark.parametrize("filters,names", [
    ([], ["web", "db"]), (["name=we"], ["web"]), (["id=bbbb"], ["db"]), (["label=app=x"], ["web"]),
    (["label=app"], ["web"]), (["status=exited"], ["db"]), (["ctr-names=*-app"], ["web"]),
    (["ctr-number=1"], ["db"]), (["ctr-status=exited"], ["db"]), (["network=net1"], ["web"]),
    (["name=web", "name=db"], ["web", "db"]), (["name=web", "status=exited"], []),
    (["until=150"], ["web"]),
])
def test_pod_ps_filters(filters, names):
    assert [p["Name"] for p in podfilter.select([POD_A, POD_B], filters)] == names


def test_pod_ps_refuses_an_unknown_filter():
    with pytest.raises(InvalidArgument, match="bogus is an invalid filter"):
        podfilter.parse(["bogus=1"])
    with pytest.raises(InvalidArgument, match="it must be KEY=VALUE"):
        podfilter.parse(["name"])


class _Req:
    def __init__(self, query):
        self.query = query


def test_the_kube_routes_read_their_query_without_regard_to_case():
    q = Query(_Req({"logDriver": ["k8s-file"], "logdriver": [""], "staticIPs": ["10.0.0.2"], "Start": ["false"],
                    "replicas": ["3"]}))
    assert q.text("logdriver") == "k8s-file" and q.texts("staticips") == ["10.0.0.2"]
    assert q.flag("start", True) is False and q.flag("nohosts") is False and q.number("replicas") == 3
    with pytest.raises(BadParameter):
        Query(_Req({"start": ["maybe"]})).flag("start")


@pytest.mark.parametrize("method,path", [
    ("POST", "/libpod/pods/create"), ("GET", "/libpod/pods/json"), ("GET", "/libpod/pods/p1/json"),
    ("GET", "/libpod/pods/p1/exists"), ("POST", "/libpod/pods/p1/start"), ("POST", "/libpod/pods/p1/stop"),
    ("POST", "/libpod/pods/p1/restart"), ("POST", "/libpod/pods/p1/kill"), ("POST", "/libpod/pods/p1/pause"),
    ("POST", "/libpod/pods/p1/unpause"), ("DELETE", "/libpod/pods/p1"), ("POST", "/libpod/pods/prune"),
    ("GET", "/libpod/pods/p1/top"), ("GET", "/libpod/pods/stats"), ("POST", "/libpod/play/kube"),
    ("DELETE", "/libpod/play/kube"), ("GET", "/libpod/generate/kube"), ("GET", "/libpod/generate/c1/systemd"),
])
def test_the_pod_kube_and_generate_routes_are_served(method, path):
    route, params = Router.build(AREAS).match(method, path)
    assert route.method == method
    assert params.get("name", "p1" if "/p1" in path else "c1" if "/c1" in path else None) in ("p1", "c1", None)
