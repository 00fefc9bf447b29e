"""cp: both ways, running and stopped containers, tar streams, and no way out to the host."""

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
    p("cp", "evil:/pointer", str(tmp_path / "ptr"))
    assert (tmp_path / "ptr").is_symlink()           # the link itself, not the host file it names
    # writing: through a symlink of the container, into the container, not to the host
    (tmp_path / "payload").write_text("x\n")
    (tmp_path / "payload").chmod(0o644)
    res = p("cp", str(tmp_path / "payload"), "evil:/box/out/", check=False)
    assert res.returncode == 125 and "no such directory in the container" in res.stderr
    assert secret.read_text() == "host secret\n"
    assert sorted(x.name for x in tmp_path.iterdir()) == sorted(["secret", "ptr", "payload"])
    res = p("cp", "a", "b", check=False)
    assert res.returncode == 125 and "exactly one side" in res.stderr
