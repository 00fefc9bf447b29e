"""cp: both ways and between containers, running and stopped containers, tar streams, owners,
mounts, podman's refusals, and no way out to the host."""

import gzip
import io
import subprocess
import tarfile

import pytest


@pytest.fixture
def p(new_podpy, image_tar):
    q = new_podpy()
    q("import", image_tar, "busybox")
    return q


def test_cp_both_ways(p, tmp_path):
    p("run", "-d", "--name", "r", "--network", "none", "busybox", "sh", "-c",
      "mkdir /d && echo hi > /d/f && ln -s /etc/passwd /d/link && sleep 60")
    out = tmp_path / "out"
    out.mkdir()
    p("cp", "r:/d", str(out / "copy"))           # DST does not exist: it becomes the copy
    assert (out / "copy" / "f").read_text() == "hi\n"
    assert (out / "copy" / "link").is_symlink() and str((out / "copy" / "link").readlink()) == "/etc/passwd"
    p("cp", "r:/d", str(out))                    # DST is a directory: into it
    assert (out / "d" / "f").read_text() == "hi\n"
    p("cp", "r:/d/.", str(out / "content"))      # the directory's content
    assert sorted(x.name for x in (out / "content").iterdir()) == ["f", "link"]
    src = tmp_path / "in.txt"
    src.write_text("from the host\n")
    src.chmod(0o644)
    p("cp", str(src), "r:/d/")
    p("cp", str(src), "r:/renamed.txt")
    assert p("exec", "r", "cat", "/d/in.txt", "/renamed.txt").stdout == "from the host\n" * 2
    assert p("exec", "r", "stat", "-c", "%u:%g", "/renamed.txt").stdout == "0:0\n"   # the container's root
    # a tar stream out and in
    tar = subprocess.run(p.command("cp", "r:/d", "-"), env=p.environ(), capture_output=True, timeout=60).stdout
    names = tarfile.open(fileobj=io.BytesIO(tar)).getnames()
    assert {"d", "d/f", "d/link", "d/in.txt"} <= set(names)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("streamed")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"ok\n"))
    res = subprocess.run(p.command("cp", "-", "r:/tmp"), env=p.environ(), input=buf.getvalue(), capture_output=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    assert p("exec", "r", "cat", "/tmp/streamed").stdout == "ok\n"


def test_cp_with_a_stopped_container(p, tmp_path):
    p("run", "--name", "s", "--network", "none", "busybox", "sh", "-c", "echo kept > /kept")
    dest = tmp_path / "kept"
    p("cp", "s:/kept", str(dest))
    assert dest.read_text() == "kept\n"
    (tmp_path / "new").write_text("new\n")
    (tmp_path / "new").chmod(0o644)
    p("cp", str(tmp_path / "new"), "s:/new")
    p("start", "-a", "s")   # the copied file is there when it runs again
    assert p("run", "--rm", "--network", "none", "--volumes-from", "s", "busybox", "true").returncode == 0
    p("commit", "s", "withnew")
    assert p("run", "--rm", "--network", "none", "withnew", "cat", "/new").stdout == "new\n"


def test_container_symlinks_never_reach_the_host(p, tmp_path):
    tmp_path = tmp_path / "host"
    tmp_path.mkdir()
    secret = tmp_path / "secret"
    secret.write_text("host secret\n")
    secret.chmod(0o644)
    p("run", "--name", "evil", "--network", "none", "busybox", "sh", "-c",
      f"ln -s {secret} /pointer; ln -s / /up; mkdir /box; ln -s {tmp_path} /box/out")
    # reading: the path is resolved in the container's root, where the host's file is not
    res = p("cp", f"evil:/up{secret}", str(tmp_path / "got"), check=False)
    assert res.returncode == 125 and not (tmp_path / "got").exists()
    # a symlink given as the source is followed, in the container's root, where the host's
    # file is not: missing, as podman says, and nothing written
    res = p("cp", "evil:/pointer", str(tmp_path / "ptr"), check=False)
    assert res.returncode == 125 and '"/pointer" could not be found on container evil' in res.stderr
    # writing: through a symlink of the container, into the container, not to the host
    (tmp_path / "payload").write_text("x\n")
    (tmp_path / "payload").chmod(0o644)
    res = p("cp", str(tmp_path / "payload"), "evil:/box/out/", check=False)
    assert res.returncode == 125 and '"/box/out/" could not be found on container evil' in res.stderr
    assert secret.read_text() == "host secret\n"
    assert sorted(x.name for x in tmp_path.iterdir()) == sorted(["secret", "payload"])
    res = p("cp", "a", "b", check=False)
    assert res.returncode == 125 and "at least one side" in res.stderr


def _err(res, message):
    assert res.returncode == 125, res.stderr
    assert res.stderr.strip().splitlines()[-1] == f"Error: {message}", res.stderr


def test_cp_between_two_containers(p, tmp_path):
    p("run", "-d", "--name", "a", "--network", "none", "busybox", "sh", "-c",
      "mkdir /d && echo hi > /d/f && sleep 60")
    p("create", "--name", "b", "--network", "none", "busybox", "true")
    p("cp", "a:/d", "b:/copied")                 # running to stopped
    p("cp", "b:/copied/f", str(tmp_path / "f"))
    assert (tmp_path / "f").read_text() == "hi\n"
    p("cp", "a:/d", "a:/d2")                     # one container, both sides: paused once
    assert p("exec", "a", "cat", "/d2/f").stdout == "hi\n"
    assert p("inspect", "--format", "{{.State.Status}}", "a").stdout == "running\n"

    cid = p("inspect", "--format", "{{.Id}}", "a").stdout.strip()

    def pauses():
        return [s for s in p("events", "--stream=false", "--filter", f"container={cid}", "--format",
                               "{{.Status}}").stdout.split() if s in ("pause", "unpause")]
    if p("inspect", "--format", "{{.State.CgroupPath}}", "a").stdout.strip():
        # frozen for each copy, once when it is both sides
        assert pauses() == ["pause", "unpause"] * 2
    p("cp", "--pause=false", "a:/d/f", "a:/f3")
    assert p("exec", "a", "cat", "/f3").stdout == "hi\n"
    assert len(pauses()) in (0, 4)   # not frozen this time


def test_archive_gives_files_to_the_containers_user(p, tmp_path):
    src = tmp_path / "f"
    src.write_text("x\n")
    src.chmod(0o644)
    p("run", "-d", "--name", "u", "--user", "1234:4321", "--network", "none", "busybox", "sleep", "60")
    p("cp", str(src), "u:/tmp/default")
    p("cp", "-a", str(src), "u:/tmp/archive")
    p("cp", "--archive=false", str(src), "u:/tmp/kept")
    p("cp", "-a=false", str(src), "u:/tmp/kept2")
    out = p("exec", "u", "stat", "-c", "%n %u:%g", "/tmp/default", "/tmp/archive", "/tmp/kept", "/tmp/kept2").stdout
    # --archive (the default): the container's user; false: the caller's ids, its root in the container
    assert out == "/tmp/default 1234:4321\n/tmp/archive 1234:4321\n/tmp/kept 0:0\n/tmp/kept2 0:0\n"


def test_cp_into_volumes_binds_and_tmpfs_of_a_running_container(p, tmp_path):
    bind = tmp_path / "bind"
    bind.mkdir()
    bind.chmod(0o777)
    src = tmp_path / "f"
    src.write_text("m\n")
    src.chmod(0o644)
    p("run", "-d", "--name", "m", "--network", "none", "-v", "cpvol:/vol", "-v", f"{bind}:/bind",
      "--tmpfs", "/tmpfs", "busybox", "sleep", "60")
    for where in ("/vol/", "/bind/", "/tmpfs/"):
        p("cp", str(src), f"m:{where}")
        assert p("exec", "m", "cat", where + "f").stdout == "m\n"
    assert (bind / "f").read_text() == "m\n"
    assert p("run", "--rm", "--network", "none", "-v", "cpvol:/v", "busybox", "cat", "/v/f").stdout == "m\n"
    p("cp", "m:/tmpfs/f", str(tmp_path / "back"))
    assert (tmp_path / "back").read_text() == "m\n"


def test_podmans_refusals(p, tmp_path):
    p("run", "-d", "--name", "r", "--network", "none", "busybox", "sh", "-c",
      "mkdir -p /d /y/file && echo hi > /d/f && echo x > /file && sleep 60")
    (tmp_path / "dir").mkdir()
    (tmp_path / "afile").write_text("q\n")
    # a directory onto a file, either way
    _err(p("cp", str(tmp_path / "dir"), "r:/file", check=False),
         "destination must be a directory when copying a directory")
    _err(p("cp", "r:/d", str(tmp_path / "afile"), check=False),
         "destination must be a directory when copying a directory")
    _err(p("cp", "r:/d", "r:/file", check=False), "destination must be a directory when copying a directory")
    assert (tmp_path / "afile").read_text() == "q\n"
    # no glob is expanded on either side
    _err(p("cp", "r:/d/*", str(tmp_path), check=False),
         '"/d/*" could not be found on container r: no such file or directory')
    _err(p("cp", str(tmp_path / "*"), "r:/tmp", check=False),
         f'"{tmp_path}/*" could not be found on the host: no such file or directory')
    _err(p("cp", "r:/nope", str(tmp_path), check=False),
         '"/nope" could not be found on container r: no such file or directory')
    # stdin: a (compressed) tar, into a directory
    res = subprocess.run(p.command("cp", "-", "r:/tmp"), env=p.environ(), input=b"hello\n",
                         capture_output=True, timeout=60)
    _err(_text(res), "source must be a (compressed) tar archive when copying from stdin")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("zipped")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"gz\n"))
    res = subprocess.run(p.command("cp", "-", "r:/file"), env=p.environ(), input=buf.getvalue(),
                         capture_output=True, timeout=60)
    _err(_text(res), "destination must be a directory when copying from stdin")
    res = subprocess.run(p.command("cp", "-", "r:/tmp"), env=p.environ(), input=gzip.compress(buf.getvalue()),
                         capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert p("exec", "r", "cat", "/tmp/zipped").stdout == "gz\n"


def test_overwrite(p, tmp_path):
    p("run", "-d", "--name", "o", "--network", "none", "busybox", "sh", "-c",
      "mkdir -p /y/file && echo z > /y/sub && sleep 60")
    src = tmp_path / "x"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "inner").write_text("s\n")
    (src / "file").write_text("f\n")
    for f in (src / "sub" / "inner", src / "file"):
        f.chmod(0o644)
    res = p("cp", f"{src}/.", "o:/y", check=False)   # a file onto a directory, a directory onto a file
    assert res.returncode == 125 and "file exists" in res.stderr
    assert p("exec", "o", "sh", "-c", "test -d /y/file && cat /y/sub").stdout == "z\n"
    p("cp", "--overwrite", f"{src}/.", "o:/y")
    assert p("exec", "o", "cat", "/y/file", "/y/sub/inner").stdout == "f\ns\n"


def _text(res):
    res.stderr = res.stderr.decode()
    return res


def test_cp_into_volumes_and_binds_of_a_stopped_container(p, tmp_path):
    bind = tmp_path / "sbind"
    bind.mkdir()
    bind.chmod(0o777)
    src = tmp_path / "f"
    src.write_text("s\n")
    src.chmod(0o644)
    p("create", "--name", "st", "--network", "none", "-v", "stvol:/vol", "-v", f"{bind}:/bind",
      "busybox", "cat", "/vol/f", "/bind/f")
    p("cp", str(src), "st:/vol/")
    p("cp", str(src), "st:/bind/")
    assert (bind / "f").read_text() == "s\n"
    assert p("start", "-a", "st").stdout == "s\ns\n"
    p("cp", "st:/vol/f", str(tmp_path / "back"))
    assert (tmp_path / "back").read_text() == "s\n"


def test_symlinks_given_to_cp_are_followed_as_podman_follows_them(p, tmp_path):
    """A symlink named as the source is copied as what it points to, under that one's name;
    one that points to nothing is missing; a symlink named as the destination is written
    through (in the container, within its root). Links inside a copied directory stay links."""
    p("run", "--name", "links", "--network", "none", "busybox", "sh", "-c",
      "mkdir -p /tmp/d /tmp/sub && echo in-d > /tmp/d/f && ln -s /tmp/d /tmp/link && ln -s .. /tmp/sub/up && "
      "ln -s /tmp/d/f /tmp/flink && ln -s /nonexist /tmp/dangling && ln -s /tmp/nonesuch /tmp/wlink")
    out = tmp_path / "out"
    out.mkdir()
    p("cp", "links:/tmp/link", str(out))
    assert (out / "d" / "f").read_text() == "in-d\n" and not (out / "link").exists()
    p("cp", "links:/tmp/sub/up", str(tmp_path / "dest"))
    assert (tmp_path / "dest").is_dir() and not (tmp_path / "dest").is_symlink()
    assert (tmp_path / "dest" / "d" / "f").read_text() == "in-d\n"
    p("cp", "links:/tmp/flink", str(tmp_path / "file"))
    assert not (tmp_path / "file").is_symlink() and (tmp_path / "file").read_text() == "in-d\n"
    res = p("cp", "links:/tmp/dangling", str(out), check=False)
    assert res.returncode == 125 and '"/tmp/dangling" could not be found on container links' in res.stderr
    src = tmp_path / "f1"
    src.write_text("through\n")
    src.chmod(0o644)
    p("cp", str(src), "links:/tmp/wlink")
    p("cp", "links:/tmp/nonesuch", str(tmp_path / "back"))
    assert (tmp_path / "back").read_text() == "through\n"
    hostlink = tmp_path / "hl"
    hostlink.symlink_to("/nonexistent-on-the-host")
    res = p("cp", str(hostlink), "links:/tmp/", check=False)
    assert res.returncode == 125 and "could not be found on the host" in res.stderr
