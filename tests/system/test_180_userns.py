"""User namespace options as rootless podman's: --userns=keep-id[:uid=,gid=], auto[:size=], host,
and --uidmap/--gidmap in podman's intermediate ids (0 the user, 1.. the subordinate ids). The
image's files keep their owners inside whatever the mapping. As with podman, such a container's
/proc/self/uid_map counts in the intermediate ids: its namespace nests in the default one."""

import json
import os
import pwd

import pytest

from helpers import subid_count

ME = os.getuid()
NAME = pwd.getpwuid(ME).pw_name


def _first_subid():
    with open("/etc/subuid") as f:
        for line in f:
            user, start, count = line.strip().split(":")
            if user in (NAME, str(ME)):
                return int(start)
    raise AssertionError("no subordinate ids")


@pytest.fixture
def p(podpy, busybox):
    return podpy


def _maps(p, *opts):
    out = p("run", "--rm", "--network", "none", *opts, "busybox", "cat", "/proc/self/uid_map").stdout
    return [tuple(int(x) for x in line.split()) for line in out.splitlines()]


def test_keep_id_runs_as_the_user_with_image_files_owned_by_root(p, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    out = p("run", "--rm", "--network", "none", "--userns=keep-id", "-v", f"{shared}:/shared", "busybox", "sh", "-c",
            "id -u; id -g; id -un; stat -c '%u:%g' /etc /bin/busybox; echo $HOME; touch /shared/made").stdout.split()
    assert out[:3] == [str(ME), str(os.getgid()), NAME]
    assert out[3:5] == ["0:0", "0:0"]       # the image's files, as the image has them
    assert out[5] == "/"
    made = (shared / "made").stat()
    assert (made.st_uid, made.st_gid) == (ME, os.getgid())   # the point of keep-id: host files are the user's
    assert _maps(p, "--userns=keep-id") == [(0, 1, ME), (ME, 0, 1), (ME + 1, ME + 1, 65536 - ME)]


def test_the_groups_of_keep_id_and_nomap_are_podmans(p):
    # keep-id: the user "UID:GID", so its group is among its groups, also under another --user;
    # nomap: root with its group; the default: no supplementary group at all
    def groups(*args):
        out = p("run", "--rm", "--network", "none", *args, "busybox", "grep", "^Groups:", "/proc/self/status").stdout
        return out.split()[1:]
    gid = str(os.getgid())
    assert groups("--userns=keep-id") == [gid]
    assert groups("--userns=keep-id", "-u", "0") == [gid, "0"]
    assert groups("--userns=nomap") == ["0"]
    assert groups() == []
    p("create", "--name", "kept-user", "--userns=keep-id", "busybox", "true")
    assert p("inspect", "--format", "{{.Config.User}}", "kept-user").stdout.strip() == f"{ME}:{gid}"
    p("rm", "kept-user")


def test_keep_id_with_other_ids_inside(p, tmp_path):
    out = p("run", "--rm", "--network", "none", "--userns=keep-id:uid=200,gid=210", "busybox", "sh", "-c",
            "id -u; id -g; grep ':200:210:' /etc/passwd | cut -d: -f1").stdout.split()
    assert out == ["200", "210", NAME]
    assert (200, 0, 1) in _maps(p, "--userns=keep-id:uid=200,gid=210")


def test_exec_and_cp_in_a_keep_id_container(p, tmp_path):
    p("run", "-d", "--name", "keep", "--network", "none", "--userns=keep-id", "busybox", "sleep", "60")
    try:
        assert p("exec", "keep", "id", "-u").stdout.strip() == str(ME)
        assert p("exec", "-u", "0", "keep", "id", "-u").stdout.strip() == "0"
        src = tmp_path / "note"
        src.write_text("hello\n")
        src.chmod(0o644)
        p("cp", str(src), "keep:/tmp/note")
        assert p("exec", "keep", "cat", "/tmp/note").stdout == "hello\n"
    finally:
        p("rm", "-f", "keep")


def test_auto_gives_each_container_its_own_range(p):
    p("run", "-d", "--name", "auto1", "--network", "none", "--userns=auto", "busybox", "sleep", "60")
    p("run", "-d", "--name", "auto2", "--network", "none", "--userns=auto:size=2000", "busybox", "sleep", "60")
    try:
        first = p("exec", "auto1", "cat", "/proc/self/uid_map").stdout.split()
        second = p("exec", "auto2", "cat", "/proc/self/uid_map").stdout.split()
        assert first[0] == second[0] == "0"
        assert first[2] == "1024" and second[2] == "2000"
        a, b = int(first[1]), int(second[1])
        assert not (a <= b < a + 1024 or b <= a < b + 2000)   # disjoint
        assert a >= 1 and b >= 1                                # never the user's own id (0)
        out = p("exec", "auto2", "sh", "-c", "id -u; stat -c %u /etc/passwd; touch /tmp/t && stat -c %u /tmp/t").stdout
        assert out.split() == ["0", "0", "0"]
        info = json.loads(p("inspect", "auto2").stdout)[0]["HostConfig"]
        assert info["UsernsMode"] == "auto:size=2000"
        assert info["IDMappings"]["UidMap"] == [f"0:{b}:2000"]
    finally:
        p("rm", "-f", "auto1", "auto2")


def test_uidmap_and_gidmap(p):
    assert _maps(p, "--uidmap", "0:1:100") == [(0, 1, 100)]
    out = p("run", "--rm", "--network", "none", "--uidmap", "0:1:100", "--gidmap", "0:5:50", "busybox",
            "sh", "-c", "cat /proc/self/gid_map; stat -c %u:%g /etc/passwd").stdout.split()
    assert out == ["0", "5", "50", "0:0"]


def test_userns_host_is_the_default_mapping(p):
    assert _maps(p, "--userns=host") == _maps(p) == [(0, ME, 1), (1, _first_subid(), 65536)]


@pytest.mark.parametrize("args,message", [
    (["--userns=bogus"], "invalid --userns 'bogus'"),
    (["--userns=keep-id:size=3"], "unknown option 'size'"),
    (["--uidmap", "0:1"], "invalid --uidmap '0:1'"),
    (["--uidmap", "0:1:10", "--uidmap", "5:100:10"], "the container ranges overlap"),
    (["--uidmap", "0:1:900000"], "are not available"),
    (["--userns=auto", "--uidmap", "0:1:10"], "cannot be used together"),
    (["--uidmap", "0:1:100", "-u", "500"], "user 500:0 is not mapped"),
])
def test_bad_user_namespace_options(p, args, message):
    before = p("ps", "-a", "-q").stdout
    r = p("run", "--rm", "--network", "none", *args, "busybox", "true", check=False)
    assert r.returncode == 125
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert p("ps", "-a", "-q").stdout == before   # nothing made


def test_subordinate_range_is_there():
    # The cases above rely on the test user's subordinate range of 65536 ids.
    assert subid_count("/etc/subuid", NAME, ME) >= 65536
