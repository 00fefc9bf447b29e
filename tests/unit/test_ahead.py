"""A stage 1 started ahead of its spec (rootless/ahead.py): which specs it can run, and that
one let go exits and is reaped."""

import os

import pytest

from rootless.ahead import Ahead
from rootless.userns import IdMap, IdMappings

DEFAULT = IdMappings((IdMap(0, 1000, 1), IdMap(1, 100000, 65536)), (IdMap(0, 1000, 1), IdMap(1, 100000, 65536)))


def _started(mappings):
    """A stage 1 forked with its mappings, as a run forks one late (early.start)."""
    from rootless import early

    return Ahead(early.start(mappings), mappings)


def _unforked(mappings):
    ahead = object.__new__(Ahead)
    ahead.mappings = mappings
    ahead.namespaces = ()
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


def test_a_discarded_stage1_exits_and_is_reaped():
    own = IdMappings((IdMap(0, os.getuid(), 1),), (IdMap(0, os.getgid(), 1),))
    ahead = _started(own)
    pid = ahead.pid
    ahead.discard()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    ahead.discard()  # a second time changes nothing


def _own() -> IdMappings:
    return IdMappings((IdMap(0, os.getuid(), 1),), (IdMap(0, os.getgid(), 1),))


def test_give_discards_a_stage1_the_spec_does_not_fit():
    ahead = _started(_own())
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

    ahead = _started(_own())
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


def test_a_stage1_given_its_root_ahead_and_then_let_go_exits_and_is_reaped(tmp_path):
    """prepare(): stage 1 mounts the root file system in its own mount namespace before its
    spec; discarded after that, it exits with the mount (nothing of it reaches ours)."""
    source, target = tmp_path / "source", tmp_path / "target"
    source.mkdir()
    target.mkdir()
    (source / "mark").write_text("x")
    ahead = _started(_own())
    pid = ahead.pid
    ahead.prepare({"type": "bind", "source": str(source), "target": str(target)})
    ahead.prepare({"type": "fuse-overlayfs", "target": str(target)})   # not ahead: left for the spec
    ahead.discard()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    assert not (target / "mark").exists()
    ahead.prepare({"type": "bind", "source": str(source), "target": str(target)})   # gone: nothing happens


def test_a_stage1_given_its_root_makes_the_file_mount_points_it_is_sent(tmp_path):
    """mount_points(): after the root, stage 1 makes the spec's file mount points in it (with
    their directories) before the spec comes; none without a root sent ahead."""
    source, target = tmp_path / "source", tmp_path / "target"
    (source / "etc").mkdir(parents=True)
    (source / "etc" / "hosts").write_text("kept\n")
    target.mkdir()
    ahead = _started(_own())
    ahead.mount_points(("/etc/early",))   # no root yet: nothing to make them in
    ahead.prepare({"type": "bind", "source": str(source), "target": str(target)})
    ahead.mount_points(("/etc/hostname", "/etc/hosts", "/run/.containerenv"))
    ahead.discard()   # stage 1 reads to the pipe's end, then exits
    assert (source / "etc" / "hostname").read_bytes() == b""
    assert (source / "run" / ".containerenv").read_bytes() == b""
    assert (source / "etc" / "hosts").read_text() == "kept\n"   # one there already is left as it is
    assert not (source / "etc" / "early").exists()


def test_mount_points_that_cannot_be_made_are_left_to_the_init(tmp_path):
    """make_mount_points: one whose directory is a file (or outside what can be made) is passed
    over, the others are made (the init makes what is missing as it mounts, and says why)."""
    (tmp_path / "etc").write_text("not a directory")
    from rootless import stage1

    stage1.make_mount_points(str(tmp_path), ("/etc/hostname", "/run/.containerenv"))
    assert (tmp_path / "etc").read_text() == "not a directory"
    assert (tmp_path / "run" / ".containerenv").read_bytes() == b""


def test_mount_points_of_a_root_left_for_the_spec_are_not_sent(tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    ahead = _started(_own())
    ahead.prepare({"type": "fuse-overlayfs", "target": str(target)})
    ahead.mount_points(("/etc/hostname",))
    ahead.discard()
    assert not (target / "etc").exists()


def test_a_root_given_to_a_stage1_that_died_is_dropped_without_error(tmp_path):
    """A stage 1 that failed (here: killed) no longer reads its pipe: prepare() says nothing,
    as the failure is on the channel for launch to report."""
    import signal

    ahead = _started(_own())
    os.kill(ahead.pid, signal.SIGKILL)
    os.waitpid(ahead.pid, 0)
    ahead.prepare({"type": "bind", "source": str(tmp_path), "target": str(tmp_path)})
    ahead.mount_points(("/etc/hostname",))
    ahead.discard()


def _early_forked() -> Ahead:
    """A stage 1 as podpy's main forks it (rootless/early.py), adopted as `start` adopts it."""
    from rootless import early

    early.fork()
    return Ahead(early.take())


def _uid_map(pid: int) -> str:
    """The uid map of pid's own user namespace once made and written (waited for, up to 5 s)."""
    import time

    with open("/proc/self/uid_map") as f:
        ours = f.read().split()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/uid_map") as f:
            text = f.read().split()
        if text and text != ours:
            return " ".join(text)
        time.sleep(0.01)
    raise AssertionError("the uid map was never written")


def test_a_stage1_forked_before_its_mappings_maps_its_namespace_with_those_sent_later():
    """early.fork's kind: forked with no mappings, it unshares and waits; the mappings sent
    afterwards are the ones its namespace gets."""
    ahead = _early_forked()
    try:
        ahead.send_mappings(_own())
        assert ahead.mappings == _own()
        assert _uid_map(ahead.pid) == f"0 {os.getuid()} 1"
        assert ahead.fits(_spec([{"type": "user"}], _own()))
    finally:
        ahead.discard()


def test_an_early_stage1_is_taken_by_start_and_one_let_go_is_reaped():
    from rootless import ahead as stage1
    from rootless import early

    early.fork()
    pid = early._forked[0]
    forked = early.take()
    assert early.take() is None   # taken once
    taken = stage1.start(forked, _own())
    assert taken.pid == pid and taken.mappings == _own()
    taken.discard()
    early.fork()
    forked = early.take()
    stage1.let_go(forked)
    with pytest.raises(ChildProcessError):
        os.waitpid(forked[0], os.WNOHANG)


def test_an_early_stage1_let_go_before_its_mappings_exits(tmp_path):
    ahead = _early_forked()
    pid = ahead.pid
    ahead.discard()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_an_early_stage1_given_a_spec_and_never_launched_is_abandoned_and_reaped(tmp_path):
    import time

    from rootless import parent

    ahead = _early_forked()
    pid = ahead.pid
    ahead.send_mappings(_own())
    spec = _spec([{"type": "user"}, {"type": "mount"}], _own())
    spec.update(process={"args": ["/bin/true"], "cwd": "/"}, root={"path": str(tmp_path)})
    assert ahead.give(spec, None) is True
    started = time.monotonic()
    parent.abandon(ahead)
    assert time.monotonic() - started < 4
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_a_stage1_that_made_namespaces_ahead_fits_only_specs_that_want_them_new():
    ahead = _unforked(DEFAULT)
    ahead.namespaces = ("uts", "network")
    new = [{"type": "user"}, {"type": "mount"}, {"type": "uts"}, {"type": "network"}]
    assert ahead.fits(_spec(new))
    assert not ahead.fits(_spec([{"type": "user"}, {"type": "mount"}, {"type": "uts"}]))   # the host's network
    joined = [{"type": "user"}, {"type": "uts"}, {"type": "network", "path": "/proc/1/ns/net"}]
    assert not ahead.fits(_spec(joined))


def test_a_stage1_makes_the_namespaces_it_is_asked_for_once_mapped():
    """The kinds sent with the mappings: stage 1 is in new UTS, IPC and network namespaces
    before any spec comes."""
    import time

    ahead = _early_forked()
    try:
        ahead.send_mappings(_own(), {"namespaces": ["uts", "ipc", "network"]})
        assert ahead.namespaces == ("uts", "ipc", "network")
        _uid_map(ahead.pid)
        deadline = time.monotonic() + 5
        kinds = ("uts", "ipc", "net")
        while time.monotonic() < deadline:
            theirs = [os.readlink(f"/proc/{ahead.pid}/ns/{kind}") for kind in kinds]
            if all(t != os.readlink(f"/proc/self/ns/{kind}") for t, kind in zip(theirs, kinds)):
                break
            time.sleep(0.01)
        else:
            raise AssertionError("stage 1 never made its namespaces")
    finally:
        ahead.discard()


def test_no_stage1_when_none_could_be_forked():
    """early.start's None (the fork failed): start gives none, and the launch forks its own."""
    from rootless import ahead as stage1

    assert stage1.start(None, _own()) is None
