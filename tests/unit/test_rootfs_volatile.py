"""The overlay of a container removed at its exit (--rm) is mounted `volatile`, as podman mounts
it: nothing it writes is synced, and its unmount does not sync the upper directory's whole
file system. A kernel that does not know the option (before 5.10) gets the mount without it."""

from __future__ import annotations

import errno

import pytest

from rootless.errors import SyscallError
from rootless.mounts import mount_rootfs

DESC = {"type": "overlay", "lower": ["/l2", "/l1"], "upper": "/c/diff", "work": "/c/work", "target": "/c/merged",
        "userxattr": True}


class Kernel:
    """Records mount(2) calls; refuses `volatile` with `refuse` as the errno when told to."""

    def __init__(self, refuse: int = 0) -> None:
        self.mounts: list[str] = []
        self.refuse = refuse

    def mount(self, source, target, fstype, flags=0, data=None) -> None:
        self.mounts.append(data)
        if self.refuse and "volatile" in (data or ""):
            raise SyscallError("mount", target, self.refuse)


def test_a_removed_containers_overlay_is_volatile():
    k = Kernel()
    mount_rootfs(k, {**DESC, "volatile": True})
    assert k.mounts == ["lowerdir=/l2:/l1,upperdir=/c/diff,workdir=/c/work,userxattr,volatile"]


def test_other_containers_overlays_are_synced_as_always():
    k = Kernel()
    mount_rootfs(k, dict(DESC))
    assert k.mounts == ["lowerdir=/l2:/l1,upperdir=/c/diff,workdir=/c/work,userxattr"]


def test_a_kernel_without_the_option_mounts_without_it():
    k = Kernel(refuse=errno.EINVAL)
    mount_rootfs(k, {**DESC, "volatile": True})
    assert k.mounts == ["lowerdir=/l2:/l1,upperdir=/c/diff,workdir=/c/work,userxattr,volatile",
                        "lowerdir=/l2:/l1,upperdir=/c/diff,workdir=/c/work,userxattr"]


def test_another_failure_is_not_hidden():
    k = Kernel(refuse=errno.EPERM)
    with pytest.raises(SyscallError) as err:
        mount_rootfs(k, {**DESC, "volatile": True})
    assert err.value.errno == errno.EPERM and len(k.mounts) == 1


def test_the_mark_of_an_earlier_volatile_mount_goes_first(tmp_path):
    # a restarted --rm container: the kernel's mark of its last mount would refuse this one
    mark = tmp_path / "work" / "work" / "incompat" / "volatile"
    mark.mkdir(parents=True)
    (mark / "dirty").write_bytes(b"")
    k = Kernel()
    mount_rootfs(k, {**DESC, "work": str(tmp_path / "work"), "volatile": True})
    assert not (tmp_path / "work" / "work" / "incompat").exists()
    assert (tmp_path / "work" / "work").is_dir() and len(k.mounts) == 1
