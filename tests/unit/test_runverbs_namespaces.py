"""Which namespaces a foreground run's stage 1 makes ahead of its spec (runverbs.new_namespaces):
the ones its container gets new."""

from podpy.engine.runoptions import CreateOptions
from podpy.engine.runverbs import ahead_plan, new_namespaces
from rootless import rootfs
from rootless.userns import IdMap, IdMappings


def _opts(**fields):
    return CreateOptions(image="busybox", **fields)


def test_a_plain_run_gets_all_three():
    assert new_namespaces(_opts()) == ("uts", "ipc", "network")
    assert new_namespaces(_opts(network=["none"])) == ("uts", "ipc", "network")
    assert new_namespaces(_opts(network=["slirp4netns:port_handler=slirp4netns"])) == ("uts", "ipc", "network")
    assert new_namespaces(_opts(network=["hostnet"], ipc="private", uts="private")) == ("uts", "ipc", "network")


def test_the_host_s_or_another_s_are_not_made():
    assert new_namespaces(_opts(network=["host"])) == ("uts", "ipc")
    assert new_namespaces(_opts(network=["container:db"])) == ("uts", "ipc")
    assert new_namespaces(_opts(uts="host", ipc="ns:/proc/1/ns/ipc", network=["ns:/run/netns/x"])) == ()
    assert new_namespaces(_opts(ipc="container:db")) == ("uts", "network")


def test_a_pod_member_gets_none_ahead():
    assert new_namespaces(_opts(pod="p")) == ()


def test_the_plan_has_the_default_dev_and_sys_as_the_spec_builder_makes_them():
    maps = IdMappings((IdMap(0, 1000, 1), IdMap(1, 100000, 65536)), (IdMap(0, 1000, 1), IdMap(1, 100000, 65536)))
    plan = ahead_plan(_opts(), maps, "/run/user/1000/podpy")
    assert plan["namespaces"] == ["uts", "ipc", "network"]
    assert plan["mounts"]["scratch"] == "/run/user/1000/podpy/ahead"
    dev, sysfs = plan["mounts"]["groups"]
    defaults = rootfs.default_mounts(True, True, True, "private", "65536k")
    assert dev == defaults[1:5] and [m["destination"] for m in dev] == ["/dev", "/dev/pts", "/dev/mqueue", "/dev/shm"]
    assert sysfs == defaults[5:] and sysfs[0]["type"] == "sysfs"
    assert any("gid=5" in o for o in dev[1]["options"])
    own = IdMappings((IdMap(0, 1000, 1),), (IdMap(0, 1000, 1),))   # no tty group: devpts without gid=5
    assert not any("gid=5" in o for o in ahead_plan(_opts(), own, "/r")["mounts"]["groups"][0][1]["options"])
