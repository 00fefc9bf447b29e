"""mount, umount, image mount, image unmount: an image's or a container's files read by the user
from the host with plain tools (cat, ls, stat, readlink), with no namespace and no root; owners
as the container sees them; the mount counter as podman keeps it; and no mount outliving what it
shows (unmount, rm, rmi, a killed server cleaned up by the next command)."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from helpers import VARIANTS

SERVER = "storage.fusemount.serve"


def sh(cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    """A host command, as the user, with nothing of podpy's around it."""
    proc = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    if check:
        assert proc.returncode == 0, f"{cmd}: {proc.stderr}"
    return proc


def mount_points() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f]


def is_mounted(path: str) -> bool:
    return path in mount_points()


def servers(where: str) -> list[int]:
    """The serving processes whose command line names where (a mount point, or a store)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
        except OSError:
            continue
        if SERVER in cmd and where in cmd:
            found.append(int(pid))
    return found


def gone(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in "ZX":
                    return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def eventually(check, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def assert_ended(path: str) -> None:
    assert not is_mounted(path)
    assert not os.path.exists(path)
    assert all(gone(pid) for pid in servers(path))


@pytest.fixture(params=VARIANTS, ids=VARIANTS)
def p(request, new_podpy, image_tar):
    q = new_podpy(variant=request.param)
    q("import", image_tar, "busybox")
    yield q
    q("umount", "-a", "-f", check=False)
    q("image", "unmount", "-a", "-f", check=False)
    # What a failed test may have left: no FUSE mount may outlive the store's directory.
    home = str(q.home)
    for point in mount_points():
        if point.startswith(home):
            subprocess.run(["fusermount3", "-u", "-z", point], capture_output=True, check=False)
    for pid in servers(home):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def test_an_image_is_read_with_the_users_own_tools(p):
    # an image of two layers: the second deletes a file, replaces a directory (opaque) and adds
    # files owned by another user, a hard link, a symlink and a fifo
    p("run", "--name", "src", "--network", "none", "busybox", "sh", "-c",
      "rm /etc/group; rm -rf /home; mkdir /home; echo new > /home/new; mkdir /data; echo data > /data/f;"
      " chown 1000:1001 /data/f; chmod 640 /data/f; ln /data/f /data/hard; ln -s ../data/f /data/sym;"
      " mkfifo /data/fifo")
    p("commit", "src", "layered")
    p("rm", "src")
    path = p("image", "mount", "layered").stdout.strip()
    assert path.startswith(str(p.data_home)) and is_mounted(path)
    passwd = p("run", "--rm", "--network", "none", "layered", "cat", "/etc/passwd").stdout
    assert sh(f"cat {path}/etc/passwd").stdout == passwd
    assert not os.path.lexists(f"{path}/etc/group")                   # a whiteout
    assert sorted(os.listdir(f"{path}/home")) == ["new"]             # an opaque directory
    assert sh(f"stat -c '%A %u %g' {path}/tmp {path}/root {path}/bin/busybox").stdout.split("\n")[:3] == [
        "drwxrwxrwt 0 0", "drwx------ 0 0", "-rwxr-xr-x 0 0"]
    f, hard = (sh(f"stat -c '%A %u %g %h %i' {path}/data/{n}").stdout.split() for n in ("f", "hard"))
    assert f[:4] == ["-rw-r-----", "1000", "1001", "2"] and f == hard  # the container's ids; one inode
    assert sh(f"ls -ln {path}/data/f").stdout.split()[2:4] == ["1000", "1001"]
    assert sh(f"readlink {path}/data/sym").stdout == "../data/f\n"
    assert sh(f"readlink {path}/bin/sh").stdout == "busybox\n"
    assert sh(f"stat -c %F {path}/data/fifo").stdout == "fifo\n"
    assert sh(f"cat {path}/data/f").stdout == "data\n"                  # as the container's root reads it
    assert sh(f"ls -A {path}/root").returncode == 0
    assert sh(f"cmp {path}/bin/busybox {path}/bin/sh").returncode == 0
    res = sh(f"touch {path}/etc/new", check=False)
    assert res.returncode != 0 and "Read-only file system" in res.stderr

    # listed as podman lists them; a second mount is counted, and one unmount leaves it mounted
    assert p("image", "mount").stdout.split() == ["localhost/layered:latest", path]
    listed = json.loads(p("image", "mount", "--format", "json").stdout)
    assert [(m["mountpoint"], m["Repositories"]) for m in listed] == [(path, ["localhost/layered:latest"])]
    image_id = p("image", "inspect", "--format", "{{.Id}}", "layered").stdout.strip()
    assert listed[0]["id"] == image_id
    assert p("image", "mount", "layered").stdout.strip() == path
    assert p("image", "unmount", "layered").stdout.strip() == image_id
    assert is_mounted(path) and sh(f"cat {path}/etc/passwd").stdout == passwd
    assert p("image", "unmount", "layered").stdout.strip() == image_id
    assert_ended(path)
    assert p("image", "mount").stdout == ""
    res = p("image", "unmount", "layered")   # not mounted: no error, and nothing said, as podman
    assert (res.returncode, res.stdout) == (0, "")


def test_a_container_mount_shows_what_the_container_writes(p):
    p("run", "-d", "--name", "c", "--network", "none", "busybox", "sh", "-c",
      "echo one > /one; chown 1000:1000 /one; rm /etc/passwd; sleep 300")
    deadline = time.monotonic() + 10
    while p("exec", "c", "test", "-e", "/one", check=False).returncode and time.monotonic() < deadline:
        time.sleep(0.1)
    path = p("mount", "c").stdout.strip()
    assert sh(f"cat {path}/one").stdout == "one\n"
    assert sh(f"ls -ln {path}/one").stdout.split()[2:4] == ["1000", "1000"]
    assert not os.path.lexists(f"{path}/etc/passwd")
    assert os.path.exists(f"{path}/bin/busybox")
    # written while mounted, by the running container: seen within the kernel's second of caching
    p("exec", "c", "sh", "-c", "echo two > /two; rm /one; mkdir -p /home/tester/sub")
    assert eventually(lambda: os.path.exists(f"{path}/two") and not os.path.exists(f"{path}/one"))
    assert sh(f"cat {path}/two").stdout == "two\n"
    assert eventually(lambda: os.path.isdir(f"{path}/home/tester/sub"))
    cid = p("inspect", "--format", "{{.Id}}", "c").stdout.strip()
    assert p("mount").stdout.split() == [cid[:12], path]
    assert p("mount", "--no-trunc").stdout.split() == [cid, path]
    listed = json.loads(p("mount", "--format", "json").stdout)
    assert listed == [{"id": cid, "Names": ["c"], "mountpoint": path}]
    assert p("umount", "c").stdout == "c\n"
    assert_ended(path)
    p("rm", "-f", "c")


def test_a_container_with_ids_of_its_own_shows_what_it_sees(p):
    if not os.access("/dev/fuse", os.R_OK | os.W_OK) or subprocess.run(
            ["sh", "-c", "command -v fuse-overlayfs"], capture_output=True).returncode:
        pytest.skip("--userns=keep-id needs fuse-overlayfs and /dev/fuse")
    inside = p("run", "--name", "k", "--userns=keep-id", "--network", "none", "busybox", "sh", "-c",
               "echo me > /tmp/mine; stat -c '%u:%g' /tmp/mine /bin/busybox /home/tester").stdout.split()
    assert inside[0] == f"{os.getuid()}:{os.getgid()}"
    path = p("mount", "k").stdout.strip()
    seen = sh(f"stat -c '%u:%g' {path}/tmp/mine {path}/bin/busybox {path}/home/tester").stdout.split()
    assert seen == inside


def test_rm_and_rmi_take_their_mounts_with_them(p):
    p("create", "--name", "made", "--network", "none", "busybox", "true")
    path = p("mount", "made").stdout.strip()
    p("container", "mount", "made")     # counted twice: rm ends it all the same
    p("rm", "made")
    assert_ended(path)
    image_path = p("image", "mount", "busybox").stdout.strip()
    p("image", "mount", "busybox")
    p("rmi", "busybox")
    assert_ended(image_path)
    assert p("image", "mount").stdout == ""


def test_a_killed_server_is_cleaned_up_by_the_next_command(p):
    path = p("image", "mount", "busybox").stdout.strip()
    (pid,) = servers(path)
    os.kill(pid, signal.SIGKILL)
    assert gone(pid)
    with pytest.raises(OSError):
        os.listdir(path)              # a stale FUSE mount: its server is gone
    p("ps")                           # any command that reads the state
    assert not is_mounted(path) and not os.path.exists(path)
    assert p("image", "mount").stdout == ""
    assert p("image", "mount", "busybox").stdout.strip() == path   # and it can be mounted again
    assert os.path.isdir(f"{path}/etc")


def test_all_of_them_at_once(p):
    for name in ("a", "b"):
        p("create", "--name", name, "--network", "none", "busybox", "true")
    paths = p("mount", "--all").stdout.split()
    assert len(paths) == 2 and all(is_mounted(x) for x in paths)
    ids = {p("inspect", "--format", "{{.Id}}", n).stdout.strip() for n in ("a", "b")}
    assert set(p("umount", "--all").stdout.split()) == ids
    for x in paths:
        assert_ended(x)
    image_path = p("image", "mount", "--all").stdout.strip()
    p("image", "mount", "busybox")
    assert is_mounted(image_path)
    p("image", "unmount", "--all", "--force")    # whatever the counter
    assert_ended(image_path)


def test_bad_names_mount_nothing(p):
    res = p("mount", "nosuch", check=False)
    assert res.returncode == 125 and 'no container with name or ID "nosuch"' in res.stderr
    res = p("image", "mount", "busybox", "nosuch", check=False)
    assert res.returncode == 125 and res.stdout == "" and "nosuch" in res.stderr
    assert p("image", "mount").stdout == ""      # busybox was not mounted either
    for args in (["umount"], ["image", "unmount"], ["mount", "--format", "{{.ID}}"]):
        res = p(*args, check=False)
        assert res.returncode == 125 and res.stderr.count("\n") == 1, (args, res.stderr)


def test_a_container_mount_with_each_storage_driver(podpy_driver):
    q = podpy_driver
    q("run", "--name", "d", "--network", "none", "busybox", "sh", "-c",
      "rm /etc/group; rm -rf /home; mkdir /home; echo mine > /home/mine; echo x > /x")
    path = q("mount", "d").stdout.strip()
    try:
        assert sh(f"cat {path}/x {path}/home/mine").stdout == "x\nmine\n"
        assert not os.path.lexists(f"{path}/etc/group")
        assert os.listdir(f"{path}/home") == ["mine"]
        image_path = q("image", "mount", "busybox").stdout.strip()
        assert sh(f"cat {image_path}/etc/group").returncode == 0   # the image still has it
        assert Path(image_path, "home", "tester").is_dir()
    finally:
        q("umount", "-a", "-f", check=False)
        q("image", "unmount", "-a", "-f", check=False)
    assert_ended(path)
