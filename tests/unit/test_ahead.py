"""A stage 1 started ahead of its spec (rootless/ahead.py): which specs it can run, and that
one let go exits and is reaped."""

import os

import pytest

from rootless.ahead import Ahead
from rootless.userns import IdMap, IdMappings

DEFAULT = IdMappings((IdMap(0, 1000, 1), IdMap(1, 100000, 65536)), (IdMap(0, 1000, 1), IdMap(1, 100000, 65536)))


def _unforked(mappings, early_init=False):
    ahead = object.__new__(Ahead)
    ahead.mappings = mappings
    ahead.early_init = early_init
    return ahead


def _spec(namespaces, mappings=DEFAULT):
    return {"linux": {"namespaces": namespaces, **mappings.to_spec()}}


def test_fits_a_new_user_namespace_with_the_same_maps():
    assert _unforked(DEFAULT).fits(_spec([{"type": "user"}, {"type": "mount"}]))


def test_does_not_fit_other_maps_a_joined_namespace_or_none():
    other = IdMappings((IdMap(0, 1000, 1),), (IdMap(0, 1000, 1),))
    ahead = _unforked(DEFAULT)
    assert not ahead.fits(_spec([{"type": "user"}], other))
    assert not ahead.fits(_spec([{"type": "user", "path": "/proc/1/ns/user"}]))
    assert not ahead.fits(_spec([{"type": "mount"}]))


OWN = [{"type": t} for t in ("user", "mount", "pid", "uts", "ipc", "network")]


def test_an_early_init_fits_only_the_namespaces_it_was_forked_into():
    ahead = _unforked(DEFAULT, early_init=True)
    assert ahead.fits(_spec(OWN))
    assert ahead.fits(_spec([*OWN, {"type": "cgroup"}]))
    assert not ahead.fits(_spec([ns for ns in OWN if ns["type"] != "network"]))   # --network host
    assert not ahead.fits(_spec([*OWN[:-1], {"type": "network", "path": "/run/netns/x"}]))
    assert not ahead.fits(_spec([*OWN, {"type": "cgroup", "path": "/proc/1/ns/cgroup"}]))
    assert not ahead.fits(_spec([*OWN, {"type": "time"}]))
    assert not ahead.fits(_spec([{"type": "user"}, {"type": "mount"}]))
    # a fuse-overlayfs server, started by stage 1 with the rootfs, must stay out of the
    # container's PID namespace (its init could not end before the server is reaped)
    fuse = _spec(OWN)
    fuse["rootfsMount"] = {"type": "fuse-overlayfs", "target": "/r", "lower": ["/l"]}
    assert not ahead.fits(fuse)
    assert _unforked(DEFAULT).fits(fuse)
    # without one, the other namespaces are stage 1's to make as the spec says
    assert _unforked(DEFAULT).fits(_spec([{"type": "user"}, {"type": "mount"}]))


def test_an_early_init_that_is_discarded_exits_and_is_reaped_with_its_stage1():
    """Its stage 1 waits for its maps, makes the namespaces and forks the init; let go, the
    init ends at the end of its pipe, stage 1 reaps it and exits. (Unprivileged: a user
    namespace of one's own id, which may make the others.)"""
    ahead = Ahead(_own(), early_init=True)
    pid = ahead.pid
    ahead.discard()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_a_discarded_stage1_exits_and_is_reaped():
    own = IdMappings((IdMap(0, os.getuid(), 1),), (IdMap(0, os.getgid(), 1),))
    ahead = Ahead(own)
    pid = ahead.pid
    ahead.discard()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    ahead.discard()  # a second time changes nothing


def _own() -> IdMappings:
    return IdMappings((IdMap(0, os.getuid(), 1),), (IdMap(0, os.getgid(), 1),))


def test_give_discards_a_stage1_the_spec_does_not_fit():
    ahead = Ahead(_own())
    pid = ahead.pid
    assert ahead.give(_spec([{"type": "user"}], DEFAULT), None) is False
    assert ahead.handed is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_a_given_stage1_that_is_never_launched_is_abandoned_and_reaped(tmp_path):
    """A start that fails between giving stage 1 its spec and launching (a cgroup that cannot
    be made...) lets it go: its init, waiting for "go", ends at the channel's end, and stage 1
    after it; abandon returns once stage 1 is gone."""
    import time

    from rootless import parent

    ahead = Ahead(_own())
    pid = ahead.pid
    spec = _spec([{"type": "user"}, {"type": "mount"}], _own())
    spec.update(process={"args": ["/bin/true"], "cwd": "/"}, root={"path": str(tmp_path)})
    assert ahead.give(spec, None) is True
    assert ahead.handed is not None and ahead.host is None
    started = time.monotonic()
    parent.abandon(ahead)
    assert time.monotonic() - started < 4   # not the kill after _abort's 5 s
    assert ahead.handed is None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    ahead.discard()  # what runverbs does at the end: nothing left to do


@pytest.mark.parametrize("fields, own", [
    ({}, True), ({"network": ["none"]}, True), ({"network": ["slirp4netns:port_handler=slirp4netns"]}, True),
    ({"network": ["pasta"]}, True), ({"network": ["host"]}, False), ({"network": ["container:db"]}, False),
    ({"network": ["mynet"]}, False), ({"pid": "host"}, False), ({"ipc": "shareable"}, False),
    ({"uts": "host"}, False), ({"pod": "p"}, False), ({"userns": "keep-id"}, False),
    ({"uidmap": ["0:1:1000"]}, False), ({"subuidname": "u"}, False),
])
def test_run_guesses_from_its_options_whether_to_fork_the_init_early(fields, own):
    from podpy.engine.runoptions import CreateOptions
    from podpy.engine.runverbs import _own_namespaces

    assert _own_namespaces(CreateOptions(image="busybox", **fields), "overlay") is own
    assert _own_namespaces(CreateOptions(image="busybox", **fields), None) is own
    # the fuse-overlayfs driver's server must stay out of the container's PID namespace
    assert _own_namespaces(CreateOptions(image="busybox", **fields), "fuse-overlayfs") is False


def test_the_store_records_its_driver_beside_its_data(tmp_path):
    from storage.sidecar import recorded_driver

    assert recorded_driver(str(tmp_path)) is None
    (tmp_path / "driver.json").write_text('{"driver": "fuse-overlayfs"}')
    assert recorded_driver(str(tmp_path)) == "fuse-overlayfs"
