"""Volumes: named and anonymous, copy-up from the image, --mount, --tmpfs, --volumes-from, :U,
and the volume commands."""

import json

import pytest


@pytest.fixture
def p(new_podpy, image_tar):
    q = new_podpy()
    q("import", image_tar, "busybox")
    return q


def _run(p, *args):
    return p("run", "--rm", "--network", "none", *args).stdout


def test_named_volume_keeps_data_and_copies_the_image_in(p):
    assert p("volume", "create", "--label", "a=b", "data").stdout == "data\n"
    info = json.loads(p("volume", "inspect", "data").stdout)[0]
    assert info["Name"] == "data" and info["Labels"] == {"a": "b"} and info["Mountpoint"].endswith("/data/_data")
    _run(p, "-v", "data:/srv", "busybox", "sh", "-c", "echo kept > /srv/f && chown 1000:1000 /srv/f")
    assert _run(p, "-v", "data:/srv:ro", "busybox", "sh", "-c", "cat /srv/f; stat -c %u /srv/f") == "kept\n1000\n"
    res = p("run", "--rm", "--network", "none", "-v", "data:/srv:ro", "busybox", "touch", "/srv/x", check=False)
    assert res.returncode != 0 and "Read-only" in res.stderr
    # a new volume on a path the image has: its content is copied in (nocopy: not)
    assert _run(p, "-v", "etc:/etc", "busybox", "cat", "/etc/passwd").startswith("root:")
    assert _run(p, "--mount", "type=volume,src=empty,dst=/etc,nocopy", "busybox", "ls", "-A", "/etc") == ""
    assert sorted(p("volume", "ls", "-q").stdout.split()) == ["data", "empty", "etc"]
    mounts = json.loads(p("create", "--name", "c", "-v", "data:/srv", "busybox", "true").stdout and
                        p("inspect", "c").stdout)[0]["Mounts"]
    assert mounts[0]["Type"] == "volume" and mounts[0]["Name"] == "data"
    res = p("volume", "rm", "data", check=False)
    assert res.returncode == 2 and "being used" in res.stderr
    assert p("volume", "rm", "-f", "data").stdout == "data\n"
    assert p("ps", "-aq").stdout == ""
    assert p("volume", "exists", "data", check=False).returncode == 1
    res = p("volume", "rm", "-f", "data")   # gone now: forcing is no error, as podman's
    assert res.stdout == "" and res.stderr == ""
    res = p("volume", "rm", "data", check=False)
    assert res.returncode == 1 and "no such volume" in res.stderr
    assert sorted(p("volume", "prune", "-f").stdout.split()) == ["empty", "etc"]


def test_anonymous_volumes(p):
    # -v /path makes an anonymous volume (as an image VOLUME does); --rm removes it
    _run(p, "-v", "/scratch", "busybox", "touch", "/scratch/x")
    assert p("volume", "ls", "-q").stdout == ""
    p("run", "--name", "keep", "--network", "none", "-v", "/scratch", "busybox", "touch", "/scratch/x")
    assert len(p("volume", "ls", "-q").stdout.split()) == 1
    p("rm", "-v", "keep")
    assert p("volume", "ls", "-q").stdout == ""


def test_mount_tmpfs_volumes_from_and_chown(p, tmp_path):
    out = _run(p, "--mount", "type=tmpfs,dst=/t,tmpfs-size=1m", "--tmpfs", "/t2:size=2m", "busybox",
               "sh", "-c", "grep -E ' /t2? ' /proc/mounts | cut -d' ' -f2,3")
    assert sorted(out.split("\n")[:-1]) == ["/t tmpfs", "/t2 tmpfs"]
    host = tmp_path / "shared"
    host.mkdir()
    host.chmod(0o777)
    p("run", "--name", "src", "--network", "none", "-v", f"{host}:/h", "-v", "vol:/v", "busybox",
      "sh", "-c", "echo from-src > /v/f")
    out = _run(p, "--volumes-from", "src:ro", "busybox", "sh", "-c", "cat /v/f; touch /v/g 2>&1; ls -d /h")
    assert out.startswith("from-src\n") and "Read-only" in out and out.endswith("/h\n")
    mine = tmp_path / "mine"
    mine.mkdir()
    assert _run(p, "-u", "tester", "-v", f"{mine}:/m:U", "busybox", "sh", "-c", "touch /m/ok && stat -c %u /m") == \
        "1000\n"
    for bad in (["--mount", "type=nfs,dst=/x"], ["--tmpfs", "rel"], ["-v", "a:/x", "-v", "b:/x"],
                ["--volumes-from", "nosuch"]):
        res = p("run", "--rm", *bad, "busybox", "true", check=False)
        assert res.returncode == 125 and res.stderr.count("\n") == 1, (bad, res.stderr)
