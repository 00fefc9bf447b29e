"""Which namespaces a foreground run's stage 1 makes ahead of its spec (runverbs.new_namespaces):
the ones its container gets new."""

from podpy.engine.runoptions import CreateOptions
from podpy.engine.runverbs import new_namespaces


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
