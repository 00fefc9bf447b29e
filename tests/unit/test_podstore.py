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


def _store(tmp_path):
    db = Database(str(tmp_path / "podpy.db"))
    db.migrate("containers", ("CREATE TABLE containers (id TEXT PRIMARY KEY, name TEXT)",))
    return SimpleNamespace(db=db, cfg=SimpleNamespace(namespace=None)), PodStore(db)


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


def test_a_pod_whose_infra_container_was_never_made_says_so(tmp_path):
    rt, pods = _store(tmp_path)
    pods.insert(PodRecord(id="c" * 64, name="half", created=1.0, config=PodConfig(share=["net"]), infra_id=None))
    with pytest.raises(InvalidArgument, match="has no infra container .* `podpy pod rm half`"):
        join(rt, CreateOptions(image="busybox", pod="half"))
