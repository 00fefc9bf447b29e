"""podpy run: namespaces, the rootfs, /etc files, exit codes, -v -e -w -u --entrypoint --rm, networks."""

import json
import os
import socket
import threading

import pytest

NONE = ("--network", "none")


def run(podpy, *args, **kw):
    return podpy("run", "--rm", *NONE, *args, **kw)


def test_uid_map_is_the_full_rootless_mapping(podpy, busybox):
    out = run(podpy, busybox, "cat", "/proc/self/uid_map").stdout.split()
    assert out[:3] == ["0", str(os.getuid()), "1"]
    assert out[3] == "1" and int(out[5]) >= 65536
    assert run(podpy, busybox, "id", "-u").stdout == "0\n"


def test_pid1_hostname_and_etc_files(podpy, busybox):
    out = podpy("run", "--rm", "--name", "etcfiles", busybox, "sh", "-c",
                "echo $$; hostname; cat /etc/hostname; cat /etc/hosts; cat /etc/resolv.conf").stdout
    lines = out.splitlines()
    assert lines[0] == "1"
    assert len(lines[1]) == 12 and lines[2] == lines[1]
    assert f"{lines[1]} etcfiles" in out and "127.0.0.1\tlocalhost" in out
    assert "nameserver 10.0.2.3" in out
    assert run(podpy, "--hostname", "box1", busybox, "hostname").stdout == "box1\n"


def test_mounts_inside(podpy, busybox):
    out = run(podpy, busybox, "sh", "-c", "cat /proc/mounts; ls /dev; touch /sys/x 2>&1; echo rc=$?").stdout
    assert " / overlay " in out or " / " in out
    for want in ("proc /proc proc", "tmpfs /dev tmpfs", "devpts /dev/pts devpts", "mqueue /dev/mqueue",
                 "shm /dev/shm tmpfs"):
        assert want in out, want
    assert "sysfs /sys sysfs ro" in out
    for dev in ("null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm", "fd"):
        assert dev in out.split()
    assert "rc=1" in out
    assert run(podpy, busybox, "sh", "-c", "echo hi > /dev/null && head -c 4 /dev/zero | wc -c").stdout.strip() == "4"


def test_masked_paths_and_caps(podpy, busybox):
    out = run(podpy, busybox, "sh", "-c", "cat /proc/keys | wc -c; grep -c ' /proc/keys ' /proc/mounts; grep CapBnd /proc/self/status").stdout
    assert out.splitlines()[0].strip() == "0"   # masked: /dev/null is bound over it
    assert out.splitlines()[1].strip() == "1"
    assert out.split()[-1] == "00000000800405fb"  # podman 4 default set: CHOWN..SYS_CHROOT, SETFCAP


@pytest.mark.parametrize("cmd,code", [
    (["true"], 0), (["sh", "-c", "exit 3"], 3), (["false"], 1), (["sh", "-c", "exit 255"], 255),
])
def test_exit_codes(podpy, busybox, cmd, code):
    assert run(podpy, busybox, *cmd, check=False).returncode == code


def test_not_found_is_127_and_not_executable_is_126(podpy, busybox):
    res = run(podpy, busybox, "no-such-command", check=False)
    assert res.returncode == 127 and "not found" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    res = run(podpy, busybox, "/etc/passwd", check=False)
    assert res.returncode == 126 and "permission denied" in res.stderr.lower()


def test_bind_volumes_rw_and_ro(podpy, busybox, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.txt").write_text("hello")
    out = run(podpy, "-v", f"{data}:/src", busybox, "sh", "-c", "cat /src/in.txt; echo out > /src/out.txt").stdout
    assert out == "hello" and (data / "out.txt").read_text() == "out\n"
    res = run(podpy, "-v", f"{data}:/src:ro", busybox, "sh", "-c", "cat /src/in.txt; touch /src/x", check=False)
    assert res.returncode == 1 and "Read-only file system" in res.stderr
    assert not (data / "x").exists()


def test_env_envfile_workdir(podpy, busybox, tmp_path):
    envfile = tmp_path / "env"
    envfile.write_text("# comment\nFROM_FILE=f\nOVER=file\n")
    out = run(podpy, "--env-file", envfile, "-e", "A=1", "-e", "OVER=flag", "-w", "/usr/bin",
              busybox, "sh", "-c", "echo $A $FROM_FILE $OVER; pwd; echo $HOME; echo $PATH").stdout.split("\n")
    assert out[0] == "1 f flag"
    assert out[1] == "/usr/bin"
    assert out[2] == "/root"
    assert "/usr/bin" in out[3]


def test_user_by_id_and_name(podpy, busybox):
    assert run(podpy, "-u", "1000:1000", busybox, "id").stdout.strip() == "uid=1000(tester) gid=1000(tester) groups=1000(tester)"
    out = run(podpy, "-u", "tester", busybox, "sh", "-c", "id -u; id -G; echo $HOME").stdout.split()
    assert out[0] == "1000" and "1001" in out[1:-1] and out[-1] == "/home/tester"
    assert run(podpy, "-u", "4242", busybox, "id", "-u").stdout == "4242\n"
    assert run(podpy, "-u", "tester", busybox, "grep", "CapEff", "/proc/self/status").stdout.split()[-1] == "0000000000000000"


def test_user_looked_up_through_a_bind_mounted_passwd(podpy, busybox, tmp_path):
    # as podman: the container's /etc/passwd and /etc/group are the ones its mounts put there
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nmine:x:4321:4322:me:/home/me:/bin/sh\n")
    (etc / "group").write_text("root:x:0:\nmygroup:x:4322:\nextra:x:4400:mine\n")
    os.chmod(tmp_path, 0o755)
    bind = ["-v", f"{etc / 'passwd'}:/etc/passwd:ro", "--mount", f"type=bind,src={etc / 'group'},dst=/etc/group"]
    out = run(podpy, *bind, "-u", "mine", busybox, "sh", "-c", "id; echo $HOME").stdout.splitlines()
    assert out == ["uid=4321(mine) gid=4322(mygroup) groups=4322(mygroup),4400(extra)", "/home/me"]
    out = run(podpy, *bind, "-u", "4321", busybox, "sh", "-c", "id -g; echo $HOME").stdout.split()
    assert out == ["4322", "/home/me"]
    assert run(podpy, *bind, "-u", "mine:extra", busybox, "id", "-g").stdout == "4400\n"
    # a directory bound over /etc counts too; a user the mounted file lacks is unknown
    whole = ["-v", f"{etc}:/etc"]
    assert run(podpy, *whole, "-u", "mine", busybox, "id", "-u").stdout == "4321\n"
    res = podpy("run", "--rm", *NONE, *bind, "-u", "tester", busybox, "id", check=False)
    assert res.returncode == 126 and "unable to find user tester: no matching entries in passwd file" in res.stderr


def test_entrypoint_override(podpy, busybox):
    assert run(podpy, "--entrypoint", "/bin/echo", busybox, "a", "b").stdout == "a b\n"
    assert run(podpy, "--entrypoint", '["/bin/sh", "-c"]', busybox, "echo $0", "zero").stdout == "zero\n"


def test_rm_leaves_nothing(podpy, busybox):
    containers = podpy.data_home / "podpy" / "containers"
    before = set(os.listdir(containers)) if containers.exists() else set()
    podpy("run", "--rm", *NONE, "--name", "gone-after", busybox, "sh", "-c", "echo x > /file")
    assert podpy("container", "exists", "gone-after", check=False).returncode == 1
    assert set(os.listdir(containers)) == before


def test_a_removed_containers_overlay_is_volatile_as_podmans(podpy, busybox):
    # --rm: never synced, so its unmount does not sync the store's file system; the others are
    root = "awk '$2 == \"/\" {print $3, $4}' /proc/mounts"
    removed = podpy("run", "--rm", *NONE, busybox, "sh", "-c", root).stdout
    kept = podpy("run", *NONE, "--name", "kept-synced", busybox, "sh", "-c", root).stdout
    podpy("rm", "kept-synced")
    if podpy("info", "--format", "{{.Store.GraphDriverName}}").stdout.strip() == "overlay":
        assert removed.startswith("overlay ") and "volatile" in removed
    assert "volatile" not in kept
    # a volatile mount's mark does not keep a --rm container from restarting, as with podman
    podpy("run", "-d", "--rm", *NONE, "--name", "restarts", busybox, "sleep", "60")
    for _ in range(2):
        podpy("restart", "-t", "0", "restarts")
        assert podpy("inspect", "--format", "{{.State.Status}}", "restarts").stdout == "running\n"
    podpy("rm", "-f", "-t", "0", "restarts")


def test_without_rm_the_container_stays_exited(podpy, busybox):
    podpy("run", *NONE, "--name", "stays", busybox, "sh", "-c", "exit 4", check=False)
    data = json.loads(podpy("inspect", "stays").stdout)[0]
    assert data["State"]["Status"] == "exited" and data["State"]["ExitCode"] == 4
    podpy("rm", "stays")


def test_network_none_has_only_loopback(podpy, busybox):
    out = run(podpy, busybox, "ip", "-o", "link").stdout
    assert "lo:" in out and "tap0" not in out and "UP" in out


def test_network_host_shares_interfaces(podpy, busybox):
    out = podpy("run", "--rm", "--network", "host", busybox, "ip", "-o", "link").stdout
    assert len(out.splitlines()) == len(os.listdir("/sys/class/net"))


def test_default_network_reaches_the_host(podpy, busybox):
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    def serve():
        conn, _ = srv.accept()
        conn.recv(1024)
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    out = podpy("run", "--rm", "--network", "slirp4netns:allow_host_loopback=true", busybox, "sh", "-c",
                f"ip -o addr show tap0; wget -q -O- http://10.0.2.2:{port}/").stdout
    srv.close()
    assert "10.0.2.100/24" in out and out.endswith("hello")


def test_stdin_only_with_interactive(podpy, busybox):
    assert run(podpy, "-i", busybox, "cat", input="piped\n").stdout == "piped\n"
    assert run(podpy, busybox, "cat", input="ignored\n").stdout == ""


def test_read_only_rootfs(podpy, busybox):
    res = run(podpy, "--read-only", busybox, "touch", "/x", check=False)
    assert res.returncode == 1 and "Read-only" in res.stderr


def test_containerenv_as_podman_writes_it(podpy, busybox):
    # podman 4.3: the file is there (empty) in every container; a privileged one reads its facts.
    assert run(podpy, busybox, "sh", "-c", "test -f /run/.containerenv && wc -c < /run/.containerenv").stdout.strip() == "0"
    out = run(podpy, "--privileged", "--name", "cenv", busybox, "cat", "/run/.containerenv").stdout
    lines = out.splitlines()
    assert lines[0].startswith('engine="podpy-') and lines[1] == 'name="cenv"'
    assert lines[2].startswith('id="') and len(lines[2]) == len('id=""') + 64
    assert lines[3].startswith('image="') and lines[4].startswith('imageid="')
    assert lines[5:] == ["rootless=1"]


@pytest.mark.parametrize("user,home", [("", "/root"), ("nobody", "/nonexistent"), ("1234", "/")])
def test_home_never_empty(podpy, busybox, user, home):
    # As runc under podman: an empty HOME is the user's home in the image's /etc/passwd, else /.
    flags = ("--user", user) if user else ()
    assert run(podpy, *flags, busybox, "sh", "-c", "echo $HOME").stdout == home + "\n"
    assert run(podpy, *flags, "-e", "HOME=", busybox, "sh", "-c", "echo $HOME").stdout == home + "\n"


def test_exec_home_never_empty(podpy, busybox):
    podpy("run", "-d", "--name", "homeexec", *NONE, "--user", "nobody", busybox, "sleep", "100")
    try:
        assert podpy("exec", "-e", "HOME=", "homeexec", "sh", "-c", "echo $HOME").stdout == "/nonexistent\n"
        assert podpy("exec", "--user", "1234", "homeexec", "sh", "-c", "echo $HOME").stdout == "/\n"
        assert podpy("exec", "--user", "0", "-e", "HOME=", "homeexec", "sh", "-c", "echo $HOME").stdout == "/root\n"
    finally:
        podpy("rm", "-f", "-t", "0", "homeexec", check=False)


def test_workdir_that_is_not_a_directory(podpy, busybox):
    r = run(podpy, "--workdir", "/etc/passwd", busybox, "pwd", check=False)
    assert r.returncode == 126
    assert r.stderr.startswith('Error: workdir "/etc/passwd" exists on container ')
    assert r.stderr.rstrip().endswith(", but is not a directory")
    r = podpy("run", "-d", "--name", "wdfile", *NONE, "--workdir", "/etc/passwd", busybox, "pwd", check=False)
    assert r.returncode == 126 and "wdfile" not in r.stdout
    assert podpy("ps", "-a", "--filter", "name=wdfile", "--format", "{{.Status}}").stdout == "Created\n"
    podpy("rm", "-f", "wdfile")
    # one that does not exist is not made (podman makes only the image's WORKDIR)
    r = run(podpy, "--workdir", "/new/dir", busybox, "pwd", check=False)
    assert r.returncode == 126 and r.stderr.startswith('Error: workdir "/new/dir" does not exist on container ')


def test_image_directory_modes_kept(podpy, busybox):
    # A layer tar without an entry for / gives it 0555, as containers/storage does under podman;
    # the other directories keep the tar's modes, and root still writes into /.
    out = run(podpy, busybox, "sh", "-c", "stat -c '%a %n' / /bin /tmp /root; touch /new && echo wrote").stdout
    assert out.splitlines() == ["555 /", "755 /bin", "1777 /tmp", "700 /root", "wrote"]
    assert run(podpy, "--user", "1234", busybox, "touch", "/new", check=False).returncode == 1


def test_image_root_mode_ignores_its_tar(podpy, image_tar, tmp_path):
    import tarfile

    # The same image with an entry for / of 0750: podman's storage skips that entry (its / is
    # 0555 still), in the image and in one committed from its container.
    tar = tmp_path / "root0750.tar"
    with tarfile.open(image_tar) as src, tarfile.open(tar, "w") as dst:
        root = tarfile.TarInfo("./")
        root.type, root.mode = tarfile.DIRTYPE, 0o750
        dst.addfile(root)
        for member in src:
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
    podpy("import", str(tar), "root0750")
    assert run(podpy, "root0750", "stat", "-c", "%a", "/").stdout == "555\n"
    try:
        podpy("run", "--name", "rootmode", *NONE, "root0750", "touch", "/x")
        podpy("commit", "rootmode", "root0750c")
        podpy("rm", "rootmode")
        assert run(podpy, "root0750c", "stat", "-c", "%a %n", "/", "/x").stdout == "555 /\n644 /x\n"
    finally:   # the session's store is shared: leave its image list as it was
        podpy("rm", "-f", "rootmode", check=False)
        podpy("rmi", "root0750c", "root0750", check=False)


def test_a_run_keeps_slow_standard_modules_out(podpy, busybox):
    """Every process of a `run` (podpy, stage 1, the init) leaves out the standard modules that
    cost milliseconds to import: re with enum, functools and collections (some 5 ms), json,
    subprocess (functools and collections come with the zipapp's runpy). Import statements are checked by the unit tests; this catches a module imported
    inside a function that a run calls (as a check of a stored image's time once did). The first
    run of a store compiles the seccomp filter (libseccomp through ctypes); the next ones do not."""
    podpy("run", "--rm", "--network", "none", busybox, "true")
    res = podpy("run", "--rm", "--network", "none", busybox, "true", env={"PYTHONPROFILEIMPORTTIME": "1"})
    imported = {line.rsplit("|", 1)[1].strip() for line in res.stderr.splitlines() if line.startswith("import time:")}
    assert "rootless.child" in imported or "podpy.cli.main" in imported, res.stderr[:500]   # the profile is there
    slow = {"re", "enum", "json", "subprocess", "threading"}
    if podpy.variant != "zipapp":   # Python's own runpy, which runs a zipapp, imports these
        slow |= {"functools", "collections"}
    assert not imported & slow, (imported & slow, res.stderr)
