"""engine/podstore.py: a pod's status by podman's rules, --share, and joining a pod."""

from types import SimpleNamespace

import pytest

from podpy.engine.podstore import PodConfig, PodRecord, PodStore, join, parse_share, status
from podpy.engine.runoptions import CreateOptions
from podpy.errors import InvalidArgument
from storage.db import Database


def test_status_follows_podmans_rules():
    assert status([]) == "Created"
    assert status(["running", "running"]) == "Running"
    assert status(["running", "exited"]) == "Degraded"
    assert status(["exited", "stopped"]) == "Exited"
    assert status(["exited", "created"]) == "Stopped"
    assert status(["paused"]) == "Paused"
    assert status(["created", "configured"]) == "Created"


def test_share_kinds():
    assert parse_share(None, True) == ["net", "uts", "ipc"]
    assert parse_share("+pid", True) == ["net", "uts", "ipc", "pid"]
    assert parse_share("none", True) == [] and parse_share(None, False) == []
    with pytest.raises(InvalidArgument, match="invalid kernel namespace to share: disk"):
        parse_share("net,disk", True)
    with pytest.raises(InvalidArgument, match="without an infra container"):
        parse_share("net", False)


def _store(tmp_path, infra_network="slirp4netns"):
    db = Database(str(tmp_path / "podpy.db"))
    db.migrate("containers", ("CREATE TABLE containers (id TEXT PRIMARY KEY, name TEXT)",))
    infra = SimpleNamespace(config=SimpleNamespace(network=infra_network))
    state = SimpleNamespace(get=lambda cid: infra)
    return SimpleNamespace(db=db, cfg=SimpleNamespace(namespace=None), state=state), PodStore(db)


def test_joining_takes_the_infra_containers_namespaces_and_refuses_what_would_set_them(tmp_path):
    rt, pods = _store(tmp_path)
    pods.insert(PodRecord(id="a" * 64, name="p", created=1.0, config=PodConfig(share=["net", "uts", "ipc"]),
                          infra_id="b" * 64))
    o, pod = join(rt, CreateOptions(image="busybox", pod="p"))
    joined = "container:" + "b" * 64
    assert pod.name == "p" and o.network == [joined] and (o.uts, o.ipc, o.pid) == (joined, joined, None)
    with pytest.raises(InvalidArgument, match="published or exposed ports must be defined when the pod is created"):
        join(rt, CreateOptions(image="busybox", pod="p", publish=["8080:80"]))
    with pytest.raises(InvalidArgument, match="cannot set hostname when joining the pod UTS namespace"):
        join(rt, CreateOptions(image="busybox", pod="p", hostname="x"))


def test_members_of_a_pod_on_the_hosts_network_use_the_hosts_network_themselves(tmp_path):
    rt, pods = _store(tmp_path, infra_network="host")
    pods.insert(PodRecord(id="a" * 64, name="hp", created=1.0, config=PodConfig(share=["net", "uts", "ipc"]),
                          infra_id="b" * 64))
    o, _pod = join(rt, CreateOptions(image="busybox", pod="hp"))
    assert o.network == ["host"] and o.uts == "container:" + "b" * 64


def test_a_pod_whose_infra_container_was_never_made_says_so(tmp_path):
    rt, pods = _store(tmp_path)
    pods.insert(PodRecord(id="c" * 64, name="half", created=1.0, config=PodConfig(share=["net"]), infra_id=None))
    with pytest.raises(InvalidArgument, match="has no infra container .* `podpy pod rm half`"):
        join(rt, CreateOptions(image="busybox", pod="half"))


# -- a pod's own cgroup limits ----------------------------------------------------------------

def _pod_limits(**given):
    from podpy.engine.podcgroup import decide
    from podpy.engine.podoptions import PodCreateOptions

    return decide(PodCreateOptions(**given))


def test_pod_limits_as_cgroup_files_and_as_podman_shows_them():
    files, shown = _pod_limits(cpus="1.5", memory="100m", cpu_shares="512", cpuset_cpus="0-1", blkio_weight="300")
    assert files["cpus"] == "150000 100000" and files["memory"] == str(100 << 20)
    assert files["cpuset_cpus"] == "0-1" and files["io_weight"] == "default 2930"   # 10-1000 on io.weight's 1-10000
    assert shown == {"cpu_period": 100000, "cpu_quota": 150000, "cpu_shares": 512, "cpuset_cpus": "0-1",
                     "blkio_weight": 300, "memory_limit": 100 << 20, "memory_swap": 200 << 20}


def test_pod_swap_is_shown_as_memory_plus_swap():
    assert _pod_limits(memory="100m", memory_swap="150m")[1]["memory_swap"] == 150 << 20
    assert _pod_limits(memory="100m", memory_swap="-1")[1]["memory_swap"] == -1
    assert _pod_limits() == ({}, {})


@pytest.mark.parametrize("given, message", [
    ({"cpus": "0"}, "invalid --cpus"), ({"memory_swap": "1g"}, "--memory-swap needs --memory"),
    ({"cpuset_mems": "a"}, "invalid --cpuset-mems"), ({"blkio_weight": "5"}, "--blkio-weight"),
])
def test_bad_pod_limits(given, message):
    from podpy.errors import InvalidArgument

    with pytest.raises(InvalidArgument, match=message):
        _pod_limits(**given)


def test_kube_build_directories_are_named_as_podman_names_them(tmp_path):
    from podpy.kube.apply import build_file

    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text("FROM scratch\n")
    assert build_file("localhost/web:1.0", str(tmp_path)) == str(tmp_path / "web" / "Dockerfile")
    assert build_file("quay.io/team/web@sha256:" + "a" * 64, str(tmp_path)) == str(tmp_path / "web" / "Dockerfile")
    (tmp_path / "web" / "Containerfile").write_text("FROM scratch\n")
    assert build_file("web", str(tmp_path)) == str(tmp_path / "web" / "Containerfile")
    assert build_file("api", str(tmp_path)) is None
    assert build_file("..", str(tmp_path)) is None
