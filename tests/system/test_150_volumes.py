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


def test_local_driver_options_apply_in_the_container(p, tmp_path):
    # type=tmpfs: a fresh tmpfs at the mount point, with o='s options; uid= in the container's ids
    p("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=2m,uid=1000,mode=0750", "tv")
    out = _run(p, "-v", "tv:/x", "busybox", "sh", "-c",
               "echo data > /x/f; stat -f -c %T /x; stat -c '%u %a' /x; df -k /x | tail -1")
    kind, owner, df = out.splitlines()
    assert kind == "tmpfs" and owner == "1000 750" and df.split()[1] == "2048"
    assert _run(p, "-v", "tv:/x", "busybox", "ls", "-A", "/x") == ""   # fresh each time
    # type=bind with device=: the host directory itself
    host = tmp_path / "hostdir"
    host.mkdir()
    (host / "f").write_text("from the host\n")
    p("volume", "create", "-o", "type=bind", "-o", f"device={host}", "bv")
    p("volume", "create", "-o", f"device={host}", "-o", "o=bind,ro", "rov")
    assert _run(p, "-v", "bv:/x", "busybox", "sh", "-c", "cat /x/f; echo new > /x/g") == "from the host\n"
    assert (host / "g").read_text() == "new\n"
    res = p("run", "--rm", "--network", "none", "-v", "rov:/x", "busybox", "touch", "/x/h", check=False)
    assert res.returncode != 0 and "Read-only" in res.stderr
    # o=uid=,gid=: the volume's directory is theirs
    p("volume", "create", "-o", "o=uid=1000,gid=1001", "own")
    assert _run(p, "-v", "own:/x", "busybox", "stat", "-c", "%u:%g", "/x") == "1000:1001\n"
    # a file system that needs a real mount: created, but no container can start with it
    p("volume", "create", "-o", "type=ext4", "-o", "device=/dev/nonexistent", "ev")
    res = p("run", "--rm", "--network", "none", "-v", "ev:/x", "busybox", "true", check=False)
    assert res.returncode == 126 and res.stderr.count("\n") == 1
    assert res.stderr.startswith("Error: mounting volume ev for container ") and "permission denied" in res.stderr
    assert p("ps", "-aq").stdout == ""
    for opts, message in ((["-o", "foo=bar"], "invalid mount option foo for driver 'local'"),
                          (["-o", "type=bind", "-o", "device=/nonexistent"], "stat /nonexistent: no such file"),
                          (["-o", "o=size=10m"], "Project Quota")):
        res = p("volume", "create", *opts, "bad", check=False)
        assert res.returncode == 125 and res.stderr.count("\n") == 1 and message in res.stderr, res.stderr
    assert p("volume", "exists", "bad", check=False).returncode == 1


def test_volume_inspect_options_as_podman_shows_them(p, podman):
    for tool in (p, podman):
        tool("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=uid=1000,gid=2000", "t1")
        tool("volume", "create", "-o", "o=noquota", "q1")
        tool("volume", "create", "-l", "k=v", "plain")
    try:
        for name in ("t1", "q1", "plain"):
            mine = json.loads(p("volume", "inspect", name).stdout)[0]
            theirs = json.loads(podman("volume", "inspect", name).stdout)[0]
            assert list(mine) == list(theirs), name    # the same keys, in the same order
            for key in mine:
                if key not in ("Mountpoint", "CreatedAt"):
                    assert mine[key] == theirs[key], (name, key)
    finally:
        podman("volume", "rm", "-f", "t1", "q1", "plain", check=False)


def test_volume_export_import_and_mount(p, tmp_path):
    import subprocess

    _run(p, "-v", "src:/v", "busybox", "sh", "-c", "mkdir /v/d && echo one > /v/d/f && chown 1000:1000 /v/d/f")
    tar = tmp_path / "src.tar"
    p("volume", "export", "src", "-o", tar)
    piped = subprocess.run(p.command("volume", "export", "src"), env=p.environ(), capture_output=True, check=True)
    assert piped.stdout == tar.read_bytes() and b"d/f" in piped.stdout
    p("volume", "create", "dst")
    p("volume", "import", "dst", tar)
    assert _run(p, "-v", "dst:/v", "busybox", "stat", "-c", "%u %n", "/v/d/f") == "1000 /v/d/f\n"
    res = subprocess.run(p.command("volume", "import", "viastdin", "-"), env=p.environ(), input=piped.stdout,
                         capture_output=True)
    assert res.returncode == 125 and res.stderr == b"Error: no such volume viastdin\n"
    p("volume", "create", "viastdin")
    subprocess.run(p.command("volume", "import", "viastdin", "-"), env=p.environ(), input=piped.stdout, check=True)
    assert _run(p, "-v", "viastdin:/v", "busybox", "cat", "/v/d/f") == "one\n"
    for args, message in ((["export", "nosuch"], "no such volume nosuch"),
                          (["import", "dst", "/nonexistent.tar"], "open /nonexistent.tar: no such file or directory"),
                          (["import", "nosuch", tar], "no such volume nosuch")):
        res = p("volume", *args, check=False)
        assert res.returncode == 125 and res.stderr == f"Error: {message}\n", res.stderr
    # rootless: the volume's path only inside `unshare`, as podman's; unmount says the name
    res = p("volume", "mount", "src", check=False)
    assert res.returncode == 125 and "rootless mode" in res.stderr and "unshare" in res.stderr
    inside = p("unshare", *p.command("volume", "mount", "src")).stdout.strip()
    assert inside == json.loads(p("volume", "inspect", "src").stdout)[0]["Mountpoint"]
    assert p("volume", "unmount", "src").stdout == "src\n"


def test_volume_filters_prune_prompt_inspect_all_and_rm_time(p):
    p("volume", "create", "-l", "a=b", "lv1")
    p("volume", "create", "-l", "a=x", "lv2")
    p("volume", "create", "-o", "type=tmpfs", "other")
    ls = lambda *f: p("volume", "ls", "-q", *[x for v in f for x in ("--filter", v)]).stdout.split()  # noqa: E731
    assert ls("name=^lv") == ["lv1", "lv2"] and ls("label=a=b") == ["lv1"] and ls("opt=type=tmpfs") == ["other"]
    assert ls("name=lv1,name=other") == ["lv1", "other"] and ls("until=1h") == [] and ls("driver=local")[0] == "lv1"
    res = p("volume", "ls", "--filter", "label!=a", check=False)
    assert res.returncode == 125 and res.stderr == 'Error: "label!" is an invalid volume filter\n'
    names = [d["Name"] for d in json.loads(p("volume", "inspect", "--all").stdout)]
    assert names == ["lv1", "lv2", "other"]
    assert p("volume", "inspect", "-a", "lv1", check=False).returncode == 125
    # prune asks, listing what goes; a 'y' on a pipe answers it
    res = p("volume", "prune", "--filter", "label=a=b", input="n\n")
    assert res.stdout == ("WARNING! This will remove all volumes not used by at least one container. "
                          "The following volumes will be removed:\nlv1\nAre you sure you want to continue? [y/N] ")
    assert ls("name=lv1") == ["lv1"]
    res = p("volume", "prune", "--filter", "label=a=b", input="y\n")
    assert res.stdout.endswith("[y/N] lv1\n") and ls("name=lv1") == []
    res = p("volume", "prune", "--filter", "name=nomatch", input="y\n")
    assert res.stdout.endswith("removed:\nNo dangling volumes found\n")
    # rm -f -t N: a running container using the volume is stopped with N seconds' grace
    p("run", "-d", "--name", "busy", "--network", "none", "-v", "lv2:/v", "busybox", "sleep", "1000")
    assert p("volume", "rm", "-f", "-t", "0", "lv2").stdout == "lv2\n"
    assert p("ps", "-aq").stdout == ""
    res = p("volume", "rm", "-a", "other", check=False)
    assert res.returncode == 125 and "choose either one or more volumes or all" in res.stderr


def test_first_mount_gives_a_new_volume_its_owner_and_a_tmpfs_volume_the_image_content(p, podman):
    # the same runs through podpy and podman give the same owners and listings
    runs = [("-u", "5", "-v", "own1:/x", "ls -ldn /x | cut -c1-10,11-30"),
            ("-u", "7", "-v", "own1:/x", "ls -ldn /x | cut -c1-10,11-30"),      # the first user stays
            ("-v", "own2:/x", "ls -ldn /x | cut -c1-10,11-30"),
            ("-u", "5", "-v", "own2:/x", "ls -ldn /x | cut -c1-10,11-30"),
            ("-u", "5", "-v", "/anon", "ls -ldn /anon | cut -c1-10,11-30"),
            ("-u", "5", "-v", "own3:/home:nocopy", "ls -ldn /home | cut -c1-10,11-30"),   # the image's dir's
            ("-v", "tfs:/home", "ls -A /home; stat -c '%a %u' /home"),       # first mount: the image's content
            ("-v", "town:/home", "ls -A /home; stat -c '%a %u' /home")]      # o=uid=,mode= stay its own
    for tool in (p, podman):
        tool("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "tfs")
        tool("volume", "create", "-o", "type=tmpfs", "-o", "o=uid=1000,mode=0700", "town")
    try:
        for *args, script in runs:
            mine = p("run", "--rm", "--network", "none", *args, "busybox", "sh", "-c", script).stdout
            theirs = podman("run", "--rm", "--network", "none", *args, "localhost/busybox", "sh", "-c", script).stdout
            assert mine == theirs, (args, mine, theirs)
        # a tmpfs volume's later mounts: a fresh, empty tmpfs (podman's own --rm clean-up unmounts
        # its tmpfs asynchronously, so a second run there may still meet the first one's)
        assert _run(p, "-v", "tfs:/home", "busybox", "sh", "-c", "ls -A /home; stat -c '%a %u' /home") == "1777 0\n"
        assert json.loads(p("volume", "inspect", "own1").stdout)[0].get("NeedsChown") is None
        p("volume", "create", "fresh")
        fresh = json.loads(p("volume", "inspect", "fresh").stdout)[0]
        assert fresh["NeedsCopyUp"] is True and fresh["NeedsChown"] is True
    finally:
        podman("volume", "rm", "-a", "-f", check=False)


def test_image_volume_modes(p, tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Containerfile").write_text("FROM busybox\nRUN mkdir /data && echo img > /data/f\nVOLUME /data\n")
    p("build", "-q", "-t", "withvol", ctx)
    script = "grep ' /data ' /proc/mounts | cut -d' ' -f3; cat /data/f; stat -c %a /data"
    # bind (the default): an anonymous volume filled from the image, kept with the container
    p("run", "--name", "b", "--network", "none", "--image-volume", "bind", "withvol", "cat", "/data/f")
    assert len(p("volume", "ls", "-q").stdout.split()) == 1
    p("rm", "-v", "b")
    # tmpfs: a tmpfs with the image's content (and its directory's mode), no volume
    assert _run(p, "--image-volume", "tmpfs", "withvol", "sh", "-c", script) == "tmpfs\nimg\n755\n"
    # ignore: the image's directory as it is, in the container's own layer
    assert _run(p, "--image-volume", "ignore", "withvol", "sh", "-c", script) == "img\n755\n"
    assert p("volume", "ls", "-q").stdout == ""
    p("create", "--name", "c", "--image-volume", "tmpfs", "withvol", "true")
    assert all(not o.startswith("podpy.") for m in json.loads(p("inspect", "c").stdout)[0]["Mounts"]
               for o in m["Options"])
    res = p("run", "--rm", "--image-volume", "bogus", "withvol", "true", check=False)
    assert res.returncode == 125 and res.stderr == \
        'Error: invalid image volume mode "bogus" required value: bind, tmpfs, ignore\n'
