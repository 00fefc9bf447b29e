"""Pure parts of rootless/: subordinate ids, mount options, in-root resolution, capabilities, cgroup discovery, wire errors."""

import errno
import os

import pytest

from rootless import capabilities, cgroups, mounts, userns
from rootless import syscalls as S
from rootless.errors import ExecError, SyscallError, from_wire


def test_read_subids(tmp_path):
    f = tmp_path / "subuid"
    f.write_text("alice:100000:65536\n1001:200000:1000\nbob:300000:65536\nbad line\nalice:x:1\n")
    assert userns.read_subids(str(f), "alice", 1000) == [(100000, 65536)]
    assert userns.read_subids(str(f), "carol", 1001) == [(200000, 1000)]
    assert userns.read_subids(str(tmp_path / "none"), "alice", 1) == []


def test_mappings_stack_and_spec_roundtrip():
    maps = userns.IdMappings(userns._stack(1000, [(100000, 65536)]), userns._stack(1000, [(100000, 65536)]))
    assert [(m.container_id, m.host_id, m.size) for m in maps.uids] == [(0, 1000, 1), (1, 100000, 65536)]
    back = userns.IdMappings.from_spec(maps.to_spec())
    assert back.uids == maps.uids and back.to_host_uid(1) == 100000 and back.to_host_uid(70000) is None


def test_parse_options():
    flags, prop, data = mounts.parse_options(["rbind", "ro", "nosuid", "rprivate", "mode=755", "z"])
    assert flags == S.MS_BIND | S.MS_REC | S.MS_RDONLY | S.MS_NOSUID
    assert prop == S.MS_PRIVATE | S.MS_REC
    assert data == "mode=755"


def test_resolve_in_root_stays_inside(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc", root / "abs")           # absolute: resolved against root
    os.symlink("../../../..", root / "up")     # climbing: clamped at root
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    assert mounts.resolve_in_root(str(root), "/abs/hosts") == str(root / "etc" / "hosts")
    assert mounts.resolve_in_root(str(root), "/up/etc") == str(root / "etc")
    assert mounts.resolve_in_root(str(root), "/../../x") == str(root / "x")
    with pytest.raises(Exception, match="too many levels"):
        mounts.resolve_in_root(str(root), "/loop1/x")


def test_capabilities_resolve():
    caps = capabilities.resolve(capabilities.DEFAULT, ["net_admin"], ["CAP_CHOWN"], False)
    assert "CAP_NET_ADMIN" in caps and "CAP_CHOWN" not in caps and "CAP_KILL" in caps
    assert capabilities.resolve(capabilities.DEFAULT, [], ["all"], False) == []
    assert len(capabilities.resolve((), [], [], True)) == len(capabilities.NAMES)
    with pytest.raises(Exception, match="unknown capability"):
        capabilities.resolve((), ["CAP_NOPE"], [], False)


def test_cgroup2_mount_from_mountinfo(tmp_path):
    mi = tmp_path / "mountinfo"
    mi.write_text(
        "30 1 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
        "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n")
    assert cgroups.cgroup2_mount(str(mi)) == "/sys/fs/cgroup/unified"
    (tmp_path / "empty").write_text("")
    assert cgroups.cgroup2_mount(str(tmp_path / "empty")) is None


def test_errors_travel_as_wire_dicts():
    e = from_wire(SyscallError("mount", "/x", errno.EPERM).to_wire())
    assert str(e) == "mount `/x`: Operation not permitted"
    x = from_wire(ExecError("nope", errno.ENOENT).to_wire())
    assert isinstance(x, ExecError) and x.exit_code == 127
    assert ExecError("/etc/passwd", errno.EACCES).exit_code == 126
