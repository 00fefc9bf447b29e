"""The run/create flags everyday scripts use, each checked inside a real container: --ulimit,
--sysctl, --shm-size, --device, --pid/--ipc/--uts/--cgroupns (host, private, another
container's), --cgroups, --tz, --cidfile, --pidfile, --conmon-pidfile, --timeout, --replace,
--rmi, --env-host, --hostuser, --sdnotify, --log-driver passthrough|journald, --sig-proxy,
--detach-keys, --platform, --memory 0, --kernel-memory, --security-opt no-new-privileges:true,
and what inspect shows for them."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import time

import pexpect
import pytest


@pytest.fixture
def p(podpy, busybox):
    yield podpy
    podpy("rm", "-fa", "-t", "0", check=False)


@pytest.fixture
def own(new_podpy, image_tar, tmp_path):
    """A store with a runtime directory, and so a monitor, of its own: one this podpy started
    (the user's shared one may come from another podpy)."""
    run = tmp_path / "xdg-run"
    run.mkdir(mode=0o700)
    store = new_podpy()
    store.base_env = {**store.base_env, "XDG_RUNTIME_DIR": str(run)}
    store("import", image_tar, "busybox")
    yield store
    store("rm", "-fa", "-t", "0", check=False)


def _run(p, *args, check=True):
    return p("run", "--rm", "--network", "none", *args, check=check)


def _one_line_error(res, code=125):
    assert res.returncode == code, (res.returncode, res.stderr)
    assert res.stderr.startswith("Error: ") and res.stderr.count("\n") == 1, res.stderr
    return res.stderr


def _inspect(p, name, template):
    return p("inspect", "--format", template, name).stdout.strip()


# -- what the kernel gives the container ------------------------------------------------------

def test_ulimit(p):
    out = _run(p, "--ulimit", "nofile=1024:2048", "--ulimit", "core=-1", "busybox", "sh", "-c",
               "ulimit -n; ulimit -Hn; ulimit -c").stdout.split()
    assert out == ["1024", "2048", "unlimited"]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # podman's default: open files at the hard limit; `host`: podpy's own limits as they are
    assert _run(p, "busybox", "sh", "-c", "ulimit -n; ulimit -Hn").stdout.split() == [str(hard)] * 2
    assert _run(p, "--ulimit", "host", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn").stdout.split() == [
        str(soft), str(hard)]
    # rootless, a hard limit above the user's own is refused, as with podman (126)
    res = _run(p, "--ulimit", f"nofile={hard + 1}:{hard + 1}", "busybox", "true", check=False)
    assert "RLIMIT_NOFILE" in _one_line_error(res, 126) and "Operation not permitted" in res.stderr
    assert "invalid ulimit type: bogus" in _one_line_error(_run(p, "--ulimit", "bogus=1", "busybox", "true",
                                                                check=False))
    p("create", "--name", "ul", "--ulimit", "nofile=10:20", "busybox", "true")
    limits = json.loads(_inspect(p, "ul", "{{json .HostConfig.Ulimits}}"))
    assert limits[0] == {"Name": "RLIMIT_NOFILE", "Soft": 10, "Hard": 20} and limits[-1]["Name"] == "RLIMIT_NPROC"
    p("create", "--name", "ulh", "--ulimit", "host", "busybox", "true")
    assert _inspect(p, "ulh", "{{json .HostConfig.Ulimits}}") == "[]"


def test_sysctl(p):
    out = _run(p, "--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.msgmax=4096,fs.mqueue.msg_max=20",
               "busybox", "sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax "
               "/proc/sys/fs/mqueue/msg_max").stdout.split()
    assert out == ["1", "4096", "20"]
    # a setting the kernel does not have: podman's runtime fails with 127
    assert "net.ipv4.no_such_setting" in _one_line_error(
        _run(p, "--sysctl", "net.ipv4.no_such_setting=1", "busybox", "true", check=False), 127)
    res = p("run", "--rm", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1", "busybox", "true", check=False)
    assert "can't be set since Network Namespace set to host" in _one_line_error(res)
    assert "sysctl 'vm.swappiness' is not allowed" in _one_line_error(
        _run(p, "--sysctl", "vm.swappiness=1", "busybox", "true", check=False))


def test_shm_size(p):
    def size(*opts):
        return _run(p, *opts, "busybox", "df", "-k", "/dev/shm").stdout.splitlines()[-1].split()[1]

    assert size() == "65536" and size("--shm-size", "1m") == "1024" and size("--shm-size", "2g") == str(2 << 20)
    assert _run(p, "--ipc", "none", "busybox", "sh", "-c", "test -e /dev/shm || echo none").stdout == "none\n"
    assert "invalid size: 'abc'" in _one_line_error(_run(p, "--shm-size", "abc", "busybox", "true", check=False))
    p("create", "--name", "shm", "--shm-size", "2m", "busybox", "true")
    p("create", "--name", "shm0", "busybox", "true")
    assert _inspect(p, "shm", "{{.HostConfig.ShmSize}}") == str(2 << 20)
    assert _inspect(p, "shm0", "{{.HostConfig.ShmSize}}") == "65536000"   # podman's figure for 65536k


def test_device(p):
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no /dev/fuse on this host")
    out = _run(p, "--device", "/dev/fuse:/dev/myfuse:r", "--device", "/dev/null:/dev/xnull", "busybox", "sh", "-c",
               "stat -c '%F %t,%T' /dev/myfuse; grep ' /dev/myfuse ' /proc/self/mountinfo | cut -d' ' -f6; "
               "echo hi > /dev/xnull && echo written").stdout.splitlines()
    assert out[0] == "character special file a,e5"         # 10, 229: the host's node
    assert out[1].startswith("ro") and out[2] == "written"   # read-only without w
    assert "/etc/passwd is not a valid device" in _one_line_error(
        _run(p, "--device", "/etc/passwd", "busybox", "true", check=False))
    assert "invalid device mode: xyz" in _one_line_error(
        _run(p, "--device", "/dev/null:/dev/x:xyz", "busybox", "true", check=False))
    p("create", "--name", "dev", "--device", "/dev/fuse", "busybox", "true")
    assert _inspect(p, "dev", "{{json .HostConfig.Devices}}") == "[]"   # bind mounts, as rootless podman's


# -- namespaces -------------------------------------------------------------------------------

def _ns(kind):
    return os.readlink(f"/proc/self/ns/{kind}")


def test_host_namespaces(p):
    out = _run(p, "--pid", "host", "--ipc", "host", "--uts", "host", "--cgroupns", "host", "busybox", "sh", "-c",
               "for n in pid ipc uts cgroup; do readlink /proc/self/ns/$n; done; hostname; "
               "cat /etc/hostname; echo $HOSTNAME; test -e /proc/1 && echo host-pids").stdout.split()
    assert out[:4] == [_ns("pid"), _ns("ipc"), _ns("uts"), _ns("cgroup")]
    assert out[4:7] == [socket.gethostname()] * 3 and out[7] == "host-pids"
    out = _run(p, "--cgroupns", "private", "busybox", "sh", "-c",
               "readlink /proc/self/ns/pid; readlink /proc/self/ns/cgroup; echo $$").stdout.split()
    assert out[0] != _ns("pid") and out[1] != _ns("cgroup") and out[2] == "1"
    assert "cannot set hostname when running in the host UTS namespace" in _one_line_error(
        _run(p, "--uts", "host", "--hostname", "x", "busybox", "true", check=False))
    assert "unrecognized namespace mode bogus passed" in _one_line_error(
        _run(p, "--pid", "bogus", "busybox", "true", check=False))
    assert "belongs to the host's user namespace" in _one_line_error(
        _run(p, "--pid", "ns:/proc/self/ns/pid", "busybox", "true", check=False))
    for mode in ("private", "host"):
        p("create", "--name", f"ns-{mode}", "--pid", mode, "--ipc", mode, "--uts", mode, "--cgroupns", mode,
          "busybox", "true")
        assert _inspect(p, f"ns-{mode}", "{{.HostConfig.PidMode}} {{.HostConfig.IpcMode}} {{.HostConfig.UTSMode}} "
                        "{{.HostConfig.CgroupMode}}") == " ".join([mode] * 4)
    p("create", "--name", "ns-default", "busybox", "true")
    assert _inspect(p, "ns-default", "{{.HostConfig.PidMode}} {{.HostConfig.IpcMode}} {{.HostConfig.UTSMode}}") == (
        "private shareable private")


def test_namespaces_of_another_container(p):
    cid = p("run", "-d", "--name", "nsbox", "--hostname", "boxname", "busybox", "sh", "-c",
            "echo shared > /dev/shm/x; sleep 60").stdout.strip()
    theirs = p("exec", "nsbox", "sh", "-c", "for n in pid ipc uts; do readlink /proc/self/ns/$n; done").stdout.split()
    out = p("run", "--rm", "--pid", "container:nsbox", "--ipc", "container:nsbox", "--uts", "container:nsbox",
            "--network", "container:nsbox", "busybox", "sh", "-c",
            "for n in pid ipc uts; do readlink /proc/self/ns/$n; done; hostname; cat /dev/shm/x; "
            "ps -o pid,args | grep -c 'sleep 6[0]'").stdout.split()
    assert out[:3] == theirs                             # the same namespaces
    assert out[3:] == ["boxname", "shared", "1"]         # its host name, /dev/shm and processes
    assert _inspect(p, "nsbox", "{{.HostConfig.PidMode}}") == "private"
    p("create", "--name", "joiner", "--pid", "container:nsbox", "busybox", "true")
    assert _inspect(p, "joiner", "{{.HostConfig.PidMode}}") == f"container:{cid}"
    # a container that shares the host's namespaces passes them on (no setns into the host's)
    p("run", "-d", "--name", "hostbox", "--pid", "host", "--uts", "host", "busybox", "sleep", "60")
    out = _run(p, "--pid", "container:hostbox", "--uts", "container:hostbox", "busybox", "sh", "-c",
               "readlink /proc/self/ns/pid; hostname").stdout.split()
    assert out == [_ns("pid"), socket.gethostname()]
    res = _run(p, "--pid", "container:no-such-container", "busybox", "true", check=False)
    assert "looking up container to share pid namespace with" in _one_line_error(res)
    # a private IPC namespace is not for sharing (the default, shareable, and none are)
    priv = p("create", "--name", "privipc", "--ipc", "private", "busybox", "true").stdout.strip()
    res = p("create", "--ipc", "container:privipc", "busybox", "true", check=False)
    assert res.returncode == 125 and res.stderr == (f"Error: joining IPC of container {priv} is not allowed: "
                                                    "non-shareable IPC (hint: use IpcMode:shareable for the donor "
                                                    "container)\n")
    p("create", "--name", "noipc", "--ipc", "none", "busybox", "true")
    p("create", "--ipc", "container:noipc", "busybox", "true")


def test_cgroups_disabled(p):
    p("run", "-d", "--name", "nocg", "--cgroups", "disabled", "busybox", "sleep", "60")
    assert _inspect(p, "nocg", "{{.HostConfig.Cgroups}} {{.State.CgroupPath}}") == "disabled"
    info = json.loads(p("info", "--format", "json").stdout)["host"]
    p("run", "-d", "--name", "withcg", "--cgroups", "split", "busybox", "sleep", "60")
    assert _inspect(p, "withcg", "{{.HostConfig.Cgroups}}") == "default"
    if info.get("cgroupDelegated"):
        assert _inspect(p, "withcg", "{{.State.CgroupPath}}")   # enabled: a cgroup of its own
    assert "must create a private PID namespace" in _one_line_error(
        _run(p, "--cgroups", "disabled", "--pid", "host", "busybox", "true", check=False))


# -- files and the container's life ---------------------------------------------------------

def test_tz(p):
    with open("/usr/share/zoneinfo/Europe/Paris", "rb") as f:
        paris = f.read()
    out = p("run", "--rm", "--network", "none", "--tz", "Europe/Paris", "busybox", "sh", "-c",
            "date +%Z; md5sum /etc/localtime").stdout.split()
    import hashlib

    assert out[0] in ("CET", "CEST") and out[1] == hashlib.md5(paris).hexdigest()
    with open("/etc/localtime", "rb") as f:
        local = hashlib.md5(f.read()).hexdigest()
    assert _run(p, "--tz", "local", "busybox", "md5sum", "/etc/localtime").stdout.split()[0] == local
    assert "stat /usr/share/zoneinfo/Bogus/Zone: no such file or directory" in _one_line_error(
        _run(p, "--tz", "Bogus/Zone", "busybox", "true", check=False))
    p("create", "--name", "tz", "--tz", "Europe/Paris", "busybox", "true")
    assert _inspect(p, "tz", "{{.Config.Timezone}}") == "Europe/Paris"


def test_cidfile(p, tmp_path):
    path = tmp_path / "cid"
    cid = p("create", "--name", "cf", "--cidfile", path, "busybox", "true").stdout.strip()
    assert path.read_text() == cid
    assert _inspect(p, "cf", "{{.HostConfig.ContainerIDFile}}") == str(path)
    res = p("run", "--rm", "--cidfile", path, "busybox", "true", check=False)
    assert f"container id file exists. Ensure another container is not using it or delete {path}" in \
        _one_line_error(res)
    assert p("ps", "-aq").stdout.split() == [cid[:12]]   # nothing made


def test_pidfiles(p, tmp_path):
    pid, cpid = tmp_path / "pid", tmp_path / "conmon.pid"
    p("run", "-d", "--name", "pf", "--pidfile", pid, "--conmon-pidfile", cpid, "busybox", "sleep", "60")
    assert pid.read_text() == _inspect(p, "pf", "{{.State.Pid}}")
    with open(f"/proc/{cpid.read_text()}/cmdline", "rb") as f:
        assert b"podpy.monitor" in f.read()                 # what supervises it: the monitor
    pid2, cpid2 = tmp_path / "pid2", tmp_path / "conmon2.pid"
    res = _run(p, "--pidfile", pid2, "--conmon-pidfile", cpid2, "busybox", "cat", "/proc/self/stat")
    assert res.stdout.split()[0] == "1" and int(pid2.read_text()) > 1 and int(cpid2.read_text()) > 1
    assert _inspect(p, "pf", "{{.PidFile}} {{.ConmonPidFile}}") == f"{pid} {cpid}"


def test_timeout(own):
    p = own
    start = time.monotonic()
    res = _run(p, "--timeout", "1", "busybox", "sleep", "30", check=False)
    assert res.returncode == 255 and time.monotonic() - start < 15   # podman's 255: exit code -1
    p("run", "-d", "--name", "to", "--timeout", "1", "busybox", "sleep", "30")
    deadline = time.monotonic() + 15
    while _inspect(p, "to", "{{.State.Status}}") == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _inspect(p, "to", "{{.State.Status}} {{.State.ExitCode}} {{.Config.Timeout}}") == "exited -1 1"
    assert "Exited (-1)" in p("ps", "-a", "--filter", "name=to", "--format", "{{.Status}}").stdout
    assert 'invalid argument "abc" for "--timeout" flag' in _one_line_error(
        _run(p, "--timeout", "abc", "busybox", "true", check=False))


def test_replace(p):
    first = p("create", "--name", "rp", "busybox", "echo", "first").stdout.strip()
    out = p("create", "--name", "rp", "--replace", "busybox", "echo", "second").stdout.split()
    assert out[0] == "rp" and out[1] != first                 # the replaced one's name, as podman prints it
    assert p("start", "-a", "rp").stdout == "second\n"
    p("run", "-d", "--name", "rp2", "--stop-timeout", "1", "busybox", "sleep", "60")
    res = p("run", "--rm", "--name", "rp2", "--replace", "--network", "none", "busybox", "echo", "again")
    assert res.stdout == "rp2\nagain\n"
    assert "cannot replace container without --name being set" in _one_line_error(
        _run(p, "--replace", "busybox", "true", check=False))


def test_rmi(p):
    p("tag", "busybox", "localhost/rmi-me")
    _run(p, "--rmi", "localhost/rmi-me", "true")
    assert p("image", "exists", "localhost/rmi-me", check=False).returncode == 1
    assert p("image", "exists", "busybox").returncode == 0    # the image's other name keeps it


def test_env_host_and_hostuser(p):
    out = p("run", "--rm", "--network", "none", "--env-host", "-e", "B=2", "busybox", "sh", "-c",
            "echo $PODPY_FROM_HOST $B", env={"PODPY_FROM_HOST": "yes"}).stdout
    assert out == "yes 2\n"
    import pwd

    me = pwd.getpwuid(os.getuid())
    line = _run(p, "-w", "/tmp", "--hostuser", me.pw_name, "busybox", "grep", f"^{me.pw_name}:",
                "/etc/passwd").stdout.strip()
    assert line == f"{me.pw_name}:*:{me.pw_uid}:{me.pw_gid}:{me.pw_gecos}:/tmp:/bin/sh"
    assert "unknown user no-such-user-here" in _one_line_error(
        _run(p, "--hostuser", "no-such-user-here", "busybox", "true", check=False))


def test_sdnotify(p, tmp_path):
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    os.chmod(path, 0o777)
    server.settimeout(10)
    try:
        out = p("run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo $NOTIFY_SOCKET; test -S $NOTIFY_SOCKET "
                "&& echo socket", env={"NOTIFY_SOCKET": path}).stdout.split()
        assert out == ["/run/notify/notify.sock", "socket"]
        assert server.recv(4096).startswith(b"MAINPID=")      # container: podpy tells only its pid
        res = p("run", "--rm", "--network", "none", "--sdnotify", "conmon", "busybox", "sh", "-c",
                "echo [$NOTIFY_SOCKET]", env={"NOTIFY_SOCKET": path})
        assert res.stdout == "[]\n"
        message = server.recv(4096)
        assert b"READY=1\n" in message and b"MAINPID=" in message
        res = p("run", "--rm", "--network", "none", "--sdnotify", "ignore", "busybox", "sh", "-c",
                "echo [$NOTIFY_SOCKET]", env={"NOTIFY_SOCKET": path})
        assert res.stdout == "[]\n"
    finally:
        server.close()
    assert 'invalid sdnotify value "bogus"' in _one_line_error(
        _run(p, "--sdnotify", "bogus", "busybox", "true", check=False))


def test_log_drivers(own, tmp_path):
    p = own
    res = _run(p, "--log-driver", "passthrough", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert (res.stdout, res.stderr) == ("out\n", "err\n")
    out, err = tmp_path / "out", tmp_path / "err"
    with open(out, "w") as o, open(err, "w") as e:
        subprocess.run(p.command("run", "-d", "--name", "pt", "--log-driver", "passthrough", "busybox", "sh", "-c",
                                 "echo detached-out; echo detached-err >&2"), env=p.environ(), stdout=o, stderr=e,
                       check=True, timeout=60)
    p("wait", "pt")
    # the container's line and podpy's id, in either order (the container may write first)
    assert "detached-out" in out.read_text().splitlines() and err.read_text() == "detached-err\n"
    assert "this container is using the 'passthrough' log driver, cannot read logs" in _one_line_error(
        p("logs", "pt", check=False))
    assert _inspect(p, "pt", "{{.HostConfig.LogConfig.Type}}") == "passthrough"
    if not os.path.exists("/run/systemd/journal/socket"):
        res = _run(p, "--log-driver", "journald", "busybox", "true", check=False)
        assert "failed to initialize journal" in _one_line_error(res)


def test_small_ones(p):
    res = _run(p, "--kernel-memory", "10m", "--memory", "0", "--security-opt", "no-new-privileges:true",
               "busybox", "grep", "NoNewPrivs", "/proc/self/status")
    assert res.stdout.split() == ["NoNewPrivs:", "1"]
    assert "The --kernel-memory flag is no longer supported. This flag is a noop." in res.stderr
    p("create", "--name", "m0", "--memory", "0", "busybox", "true")
    assert _inspect(p, "m0", "{{.HostConfig.Memory}}") == "0"


def test_platform(p):
    import platform

    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    assert _run(p, "--platform", f"linux/{arch}", "busybox", "true").returncode == 0
    other = "arm64" if arch != "arm64" else "amd64"
    res = _run(p, "--platform", f"linux/{other}", "busybox", "true", check=False)
    assert res.returncode == 125 and "Trying to pull" in res.stderr   # another platform's: pulled, as podman
    assert "invalid platform" in _one_line_error(_run(p, "--platform", "a/b/c/d", "busybox", "true", check=False))


# -- signals and the terminal -----------------------------------------------------------------

def test_sig_proxy_false(p):
    proc = subprocess.Popen(p.command("run", "--rm", "--network", "none", "--sig-proxy=false", "busybox", "sh", "-c",
                                      "trap 'echo got-term; exit 3' TERM; echo ready; sleep 1; echo finished"),
                            env=p.environ(), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert out == "finished\n" and proc.returncode == 0      # the signal did not reach it
    res = p("create", "--sig-proxy=false", "busybox", "true", check=False)   # podman's hint line after the error
    assert (res.returncode, res.stderr) == (125, "Error: unknown flag: --sig-proxy\nSee 'podpy create --help'\n")


def test_detach_keys(p):
    cmd = p.command("run", "--rm", "-it", "--network", "none", "busybox", "sh")
    child = pexpect.spawn(cmd[0], cmd[1:], env=p.environ(), encoding="utf-8", timeout=30)
    child.expect("# ")
    child.sendcontrol("p")
    child.sendcontrol("q")
    child.expect("cannot detach from a container running in the foreground")
    child.sendline("echo still-here")       # refused: the container runs on, attached
    child.expect("still-here")
    child.sendline("exit 4")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 4
    cmd = p.command("run", "--rm", "-it", "--detach-keys", "", "--network", "none", "busybox", "sh")
    child = pexpect.spawn(cmd[0], cmd[1:], env=p.environ(), encoding="utf-8", timeout=30)
    child.expect("# ")
    child.sendcontrol("p")
    child.sendcontrol("q")
    child.sendline("exit 5")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 5 and "cannot detach" not in child.before
    res = p("run", "--rm", "--name", "dk", "--detach-keys", "bogus", "busybox", "true", check=False)
    assert "invalid detach keys: Unknown character: 'bogus'" in _one_line_error(res)
    assert p("container", "exists", "dk", check=False).returncode == 1   # nothing made (podman leaves one)


def test_inspect_of_the_rest(p, tmp_path):
    p("create", "--name", "ins", "--uts", "host", "--cgroupns", "private", "--timeout", "7", "--sdnotify", "conmon",
      "--cgroups", "no-conmon", "--security-opt", "no-new-privileges:true", "busybox", "true")
    doc = json.loads(p("inspect", "ins").stdout)[0]
    assert (doc["Config"]["Timeout"], doc["Config"]["sdNotifyMode"]) == (7, "conmon")
    assert (doc["HostConfig"]["UTSMode"], doc["HostConfig"]["CgroupMode"], doc["HostConfig"]["Cgroups"]) == (
        "host", "private", "default")
    assert doc["HostConfig"]["SecurityOpt"] == ["no-new-privileges"]


def test_workdir_group_add_env_and_signals_as_podman_takes_them(p, tmp_path, image_tar):
    """--workdir must exist (podman makes only the image's WORKDIR); --group-add takes a comma
    list; an -e name may hold spaces; `kill -s -INT` is SIGINT."""
    res = p("run", "--rm", "--network", "none", "--workdir", "/i/do/not/exist", "busybox", "pwd", check=False)
    assert res.returncode == 126
    assert res.stderr.startswith('Error: workdir "/i/do/not/exist" does not exist on container ')
    assert p("run", "--rm", "--network", "none", "--workdir", "/tmp", "busybox", "pwd").stdout == "/tmp\n"
    p("import", "--change", "WORKDIR /made/here", image_tar, "wd-image")
    assert p("run", "--rm", "--network", "none", "wd-image", "pwd").stdout == "/made/here\n"
    assert p("run", "--rm", "--network", "none", "--group-add", "1,2", "busybox", "id", "-G").stdout.split()[-2:] \
        == ["1", "2"]
    envfile = tmp_path / "env"
    envfile.write_text("export E=5\nB = 2\n")
    out = p("run", "--rm", "--network", "none", "--env-file", envfile, "-e", "A VAR=1", "busybox", "env").stdout
    assert {"export E=5", "B = 2", "A VAR=1"} <= set(out.splitlines())
    p("run", "-d", "--name", "sig", "--network", "none", "busybox", "sh", "-c",
      "trap 'echo got-int' INT; echo ready; while :; do sleep 0.05; done")
    for _ in range(100):
        if "ready" in p("logs", "sig").stdout:
            break
        time.sleep(0.05)
    p("kill", "-s", "-INT", "sig")
    for _ in range(100):
        if "got-int" in p("logs", "sig").stdout:
            break
        time.sleep(0.05)
    assert "got-int" in p("logs", "sig").stdout
    res = p("kill", "-s", "65", "sig", check=False)
    assert (res.returncode, res.stderr.strip()) == (125, "Error: valid signals are 1 through 64")
    p("rmi", "-f", "wd-image")


def test_log_driver_json_file_keeps_its_name(p):
    """--log-driver json-file: written as k8s-file's, named json-file in inspect, as podman."""
    p("run", "--name", "jf", "--network", "none", "--log-driver", "json-file", "busybox", "echo", "logged")
    assert p("inspect", "--format", "{{.HostConfig.LogConfig.Type}}", "jf").stdout == "json-file\n"
    assert p("logs", "jf").stdout == "logged\n"
    p("run", "-d", "--name", "jfd", "--network", "none", "--log-driver", "json-file", "busybox", "echo", "detached")
    assert p("wait", "jfd").stdout == "0\n" and p("logs", "jfd").stdout == "detached\n"
