"""The run/create flags of the kernel's side and the container's life (--ulimit, --sysctl,
--shm-size, --device, --pid/--ipc/--uts/--cgroupns, --cgroups, --tz, --cidfile, --pidfile,
--timeout, --sdnotify, --hostuser, --env-host, --replace, --detach-keys, ...): parsed and
checked as podman 4.3.1 does, with its messages, each refusal one line and nothing made;
what create() stores, what the spec asks for and what inspect shows."""

from __future__ import annotations

import os

import pytest

from podpy.cli import runargs
from podpy.engine import kernelopts, runfiles
from podpy.engine import spec as specgen
from podpy.engine.create import create
from podpy.engine.runoptions import CreateOptions
from podpy.errors import InvalidArgument
from podpy.options import detach_keys, parse_limits, parse_log_options, parse_security_opts
from podpy.state import ContainerConfig, ContainerRecord


@pytest.fixture
def rt(rt):
    """The shared runtime (conftest.py) with an image `img` in its store."""
    config = {"created": "2024-01-01T00:00:00Z", "architecture": "amd64", "os": "linux",
              "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
    rt.store.create_image(config, [], ["localhost/img:latest"])
    return rt


def _create(rt, *args):
    fields = runargs.parse("create", [*args, "img"])
    return create(rt, CreateOptions(**fields))


def _refused(rt, args, message):
    """create refuses with this one-line message (exit 125), and nothing is made."""
    with pytest.raises(InvalidArgument) as got:
        _create(rt, *args)
    assert got.value.exit_code == 125 and "\n" not in str(got.value)
    assert message in str(got.value), str(got.value)
    assert rt.state.all() == []


# -- --ulimit --------------------------------------------------------------------------------

def test_ulimits_as_podman_parses_them():
    limits, host = kernelopts.parse_ulimits(["nofile=1024:2048", "core=-1,nproc=10"], rootless=True)
    assert not host
    assert limits == [["RLIMIT_NOFILE", 1024, 2048], ["RLIMIT_CORE", -1, -1], ["RLIMIT_NPROC", 10, 10]]
    # nothing given: podman's defaults, nofile first and nproc last
    limits, _ = kernelopts.parse_ulimits(["stack=8192"], rootless=True)
    assert [name for name, _s, _h in limits] == ["RLIMIT_NOFILE", "RLIMIT_STACK", "RLIMIT_NPROC"]
    assert kernelopts.parse_ulimits(["nofile=5", "host"], rootless=True) == ([], True)


def test_default_ulimits_follow_the_users_own_limits():
    nofile, nproc = kernelopts.default_ulimits(rootless=True)
    own = kernelopts._own_limits()
    hard = own["Max open files"][1]
    assert nofile == ["RLIMIT_NOFILE", min(hard, 1048576), min(hard, 1048576)]   # soft raised to hard
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    if pid_max <= own["Max processes"][1] or own["Max processes"][1] == -1:
        assert nproc == ["RLIMIT_NPROC", pid_max, pid_max]
    # as root: podman's 1048576 when the hard limit may be raised (CAP_SYS_RESOURCE), else the
    # own hard limit, so that a default never fails a start on a confined host
    expected = 1048576 if kernelopts._may_raise_limits() or hard == -1 else min(hard, 1048576)
    assert kernelopts.default_ulimits(rootless=False)[0] == ["RLIMIT_NOFILE", expected, expected]


def test_may_raise_limits_reads_cap_sys_resource(monkeypatch, tmp_path):
    status = tmp_path / "status"
    real_open = open

    def fake(path, *a, **k):
        return real_open(status, *a, **k) if path == "/proc/self/status" else real_open(path, *a, **k)

    monkeypatch.setattr("builtins.open", fake)
    status.write_text("Name:\tx\nCapEff:\t000001ffffffffff\n")
    assert kernelopts._may_raise_limits()
    status.write_text("Name:\tx\nCapEff:\t000001fffeffffff\n")   # bit 24 (CAP_SYS_RESOURCE) off
    assert not kernelopts._may_raise_limits()


@pytest.mark.parametrize("value, why", [
    ("bogus=1", "invalid ulimit type: bogus"),
    ("RLIMIT_NOFILE=1", "invalid ulimit type: RLIMIT_NOFILE"),
    ("nofile", "invalid ulimit argument: nofile"),
    ("nofile=abc", 'strconv.ParseInt: parsing "abc": invalid syntax'),
    ("nofile=unlimited", 'strconv.ParseInt: parsing "unlimited": invalid syntax'),
    ("nofile=1:2:3", "too many limit value arguments - 1:2:3, can only have up to two, `soft[:hard]`"),
    ("nofile=2048:1024", "ulimit soft limit must be less than or equal to hard limit: 2048 > 1024"),
])
def test_bad_ulimits(rt, value, why):
    _refused(rt, ["--ulimit", value], f'ulimit option "{value}" requires name=SOFT:HARD, failed to be parsed: {why}')


# -- --sysctl --------------------------------------------------------------------------------

def test_sysctls_allowed_and_refused():
    ok = kernelopts.parse_sysctls(["net.ipv4.ip_forward=1,kernel.msgmax=4096", "fs.mqueue.msg_max=20",
                                   "kernel.sem=250 32000 32 128"], "slirp4netns", "shareable", "private")
    assert ok == {"net.ipv4.ip_forward": "1", "kernel.msgmax": "4096", "fs.mqueue.msg_max": "20",
                  "kernel.sem": "250 32000 32 128"}


@pytest.mark.parametrize("args, message", [
    (["--sysctl", "foo"], "foo is invalid, sysctl values must be in the form of KEY=VALUE"),
    (["--sysctl", "net.ipv4.ip_forward= 1"], "'net.ipv4.ip_forward= 1' is invalid, extra spaces found"),
    (["--sysctl", "kernel.hostname=x"], "sysctl 'kernel.hostname' is not allowed"),
    (["--sysctl", "vm.swappiness=1"], "sysctl 'vm.swappiness' is not allowed"),
    (["--sysctl", "net.ipv4.ip_forward=1", "--network", "host"],
     "sysctl net.ipv4.ip_forward=1 can't be set since Network Namespace set to host: invalid argument"),
    (["--sysctl", "fs.mqueue.msg_max=20", "--ipc", "host"],
     "sysctl fs.mqueue.msg_max=20 can't be set since IPC Namespace set to host: invalid argument"),
    (["--sysctl", "kernel.shmmax=20", "--ipc", "host"],
     "sysctl kernel.shmmax=20 can't be set since IPC Namespace set to host"),
])
def test_bad_sysctls(rt, args, message):
    _refused(rt, args, message)


# -- --shm-size, --device ----------------------------------------------------------------------

def test_shm_sizes_as_go_units_reads_them():
    assert kernelopts.ram_in_bytes("1m", "--shm-size") == 1 << 20
    assert kernelopts.ram_in_bytes("1g", "--shm-size") == 1 << 30
    assert kernelopts.ram_in_bytes("10b", "--shm-size") == 10
    assert kernelopts.ram_in_bytes("64MiB", "--shm-size") == 64 << 20
    assert kernelopts.ram_in_bytes("1.5k", "--shm-size") == 1536
    assert kernelopts.ram_in_bytes("0", "--shm-size") == 0
    for bad in ("abc", "-1", "1x", "", "1kk"):
        with pytest.raises(InvalidArgument, match=f"unable to translate --shm-size: invalid size: '{bad}'"):
            kernelopts.ram_in_bytes(bad, "--shm-size")


def test_shm_size_with_the_hosts_ipc_is_refused(rt):
    _refused(rt, ["--shm-size", "1m", "--ipc", "host"], "cannot set shmsize when running in the host IPC")


def test_devices_as_podman_parses_them():
    assert kernelopts.parse_devices(["/dev/null"]) == [("/dev/null", "/dev/null", "rwm")]
    assert kernelopts.parse_devices(["/dev/null:/dev/x:r"]) == [("/dev/null", "/dev/x", "r")]
    assert kernelopts.parse_devices(["/dev/null:rw"]) == [("/dev/null", "/dev/null", "rw")]
    cfg = ContainerConfig(command=["x"], entrypoint=[], env=[], devices=[["/dev/null", "/dev/x", "r"],
                                                                            ["/dev/zero", "/dev/zero", "rwm"]])
    mounts = kernelopts.device_mounts(cfg)
    assert mounts[0]["source"] == "/dev/null" and mounts[0]["destination"] == "/dev/x" and "ro" in mounts[0]["options"]
    assert "ro" not in mounts[1]["options"] and "nodev" not in mounts[1]["options"]


@pytest.mark.parametrize("value, message", [
    ("/dev/null:/dev/x:xyz", "invalid device mode: xyz"),
    ("/dev/null:dev/x", "invalid device mode: dev/x"),
    ("/dev/null:/dev/x:rw:x", "invalid device specification: /dev/null:/dev/x:rw:x"),
    ("/dev/nonexistent", "stat /dev/nonexistent: no such file or directory"),
    ("/etc/passwd", "/etc/passwd is not a valid device: not a device node"),
])
def test_bad_devices(rt, value, message):
    _refused(rt, ["--device", value], message)


# -- namespaces and cgroups --------------------------------------------------------------------

def test_namespace_modes_stored_as_inspect_shows_them(rt):
    rec = _create(rt, "--pid", "host", "--ipc", "none", "--uts", "host", "--cgroupns", "private",
                  "--cgroups", "split")
    cfg = rec.config
    assert (cfg.pid_mode, cfg.ipc_mode, cfg.uts_mode, cfg.cgroupns_mode, cfg.cgroups_mode) == (
        "host", "none", "host", "private", "split")
    other = _create(rt, "--pid", f"container:{rec.name}", "--ipc", f"container:{rec.id[:12]}")
    assert other.config.pid_mode == other.config.ipc_mode == f"container:{rec.id}"
    plain = _create(rt).config
    assert (plain.pid_mode, plain.ipc_mode, plain.uts_mode) == ("private", "shareable", "private")
    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    assert plain.cgroupns_mode == ("private" if v2 else "host") and plain.cgroups_mode == "enabled"


@pytest.mark.parametrize("args, message", [
    (["--pid", "bogus"], "unrecognized namespace mode bogus passed"),
    (["--ipc", "bogus"], "unrecognized namespace mode bogus passed"),
    (["--cgroupns", "shareable"], "unrecognized namespace mode shareable passed"),
    (["--uts", "container:"], "unrecognized namespace mode container: passed"),
    (["--pid", "container:nope"], 'looking up container to share pid namespace with: no container with name or ID'),
    (["--pid", "ns:/no/such/ns"], "cannot find specified PID namespace path: stat /no/such/ns: no such file"),
    (["--uts", "host", "--hostname", "x"], "cannot set hostname when running in the host UTS namespace"),
    (["--cgroups", "bogus"], 'invalid cgroup mode "bogus": invalid argument'),
    (["--cgroups", "disabled", "--pid", "host"],
     "containers not creating Cgroups must create a private PID namespace: invalid argument"),
    (["--cgroups", "disabled", "--cgroup-parent", "x"], "cannot set cgroup parent if not creating cgroups"),
])
def test_bad_namespaces(rt, args, message):
    _refused(rt, args, message)


def _rec(**cfg) -> ContainerRecord:
    base = {"command": ["sh"], "entrypoint": [], "env": ["PATH=/bin"]}
    base.update(cfg)
    return ContainerRecord(id="c" * 64, name="web", image_id="i" * 64, image_name="img", created=0.0,
                           state="running", config=ContainerConfig(**base), pid=4242)


def _spec(rt, **cfg):
    rootfs = {"type": "bind", "source": "/x", "target": "/x/merged"}
    return specgen.builder(rt)._spec(_rec(seccomp="unconfined", **cfg), rootfs, {}, None, None)


def test_the_spec_asks_for_limits_settings_and_namespaces(rt):
    spec = _spec(rt, ulimits=[["RLIMIT_NOFILE", 10, 20]], sysctls={"net.ipv4.ip_forward": "1"},
                 pid_mode="host", uts_mode="host", ipc_mode="none", cgroupns_mode="private", shm_size=1024)
    assert spec["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}]
    assert spec["linux"]["sysctl"] == {"net.ipv4.ip_forward": "1"}
    kinds = [ns["type"] for ns in spec["linux"]["namespaces"]]
    assert "pid" not in kinds and "uts" not in kinds and "ipc" in kinds and "cgroup" in kinds
    mounts = {m["destination"]: m for m in spec["mounts"]}
    assert mounts["/proc"]["type"] == "bind" and mounts["/proc"]["source"] == "/proc"   # the host's PIDs
    assert "/dev/shm" not in mounts                                                     # --ipc none
    spec = _spec(rt, shm_size=1024, ulimits=[["RLIMIT_NOFILE", 1, 1]], ulimit_host=True)
    shm = next(m for m in spec["mounts"] if m["destination"] == "/dev/shm")
    assert "size=1024" in shm["options"] and "rlimits" not in spec["process"]
    spec = _spec(rt, ipc_mode="host")
    mounts = {m["destination"]: m for m in spec["mounts"]}
    assert mounts.get("/dev/shm", {"source": "/dev/shm"})["source"] == "/dev/shm"
    assert mounts.get("/dev/mqueue", {"type": "bind"})["type"] == "bind"   # the host's, never a new mqueue


def test_a_container_to_join_must_run(rt):
    other = _create(rt, "--name", "other")
    rec = _create(rt, "--pid", "container:other")
    with pytest.raises(Exception, match="cannot join the pid namespace of container other: it is not running"):
        kernelopts.namespace_joins(rt, rec)
    assert other.id in rec.config.pid_mode


# -- --tz, --cidfile, --pidfile, --timeout, --sdnotify, --hostuser, --env-host ------------------

def test_timezones():
    assert runfiles.check_timezone("Europe/Paris") == "Europe/Paris" and runfiles.check_timezone("local") == "local"
    assert runfiles.localtime("UTC").startswith(b"TZif")
    assert runfiles.localtime("") is None


@pytest.mark.parametrize("value, message", [
    ("Bogus/Zone", "running container create option: stat /usr/share/zoneinfo/Bogus/Zone: no such file or directory"),
    ("../../etc/passwd", "stat /usr/etc/passwd: no such file or directory"),   # joined as podman joins it
    ("Europe", "running container create option: invalid timezone: is a directory"),
])
def test_bad_timezones(rt, value, message):
    _refused(rt, ["--tz", value], message)


def test_cidfile_written_at_create_and_never_over_another(rt, tmp_path):
    path = tmp_path / "cid"
    rec = _create(rt, "--cidfile", str(path))
    assert path.read_text() == rec.id and oct(path.stat().st_mode & 0o777) == "0o644"
    assert rec.config.cidfile == str(path)
    with pytest.raises(InvalidArgument, match="container id file exists. Ensure another container is not using it or "
                                              f"delete {path}"):
        _create(rt, "--cidfile", str(path))
    assert len(rt.state.all()) == 1
    with pytest.raises(InvalidArgument, match="opening cidfile /no/such/dir/cid"):
        _create(rt, "--cidfile", "/no/such/dir/cid")


def test_a_failed_create_leaves_no_cidfile(rt, tmp_path):
    path = tmp_path / "cid"
    _create(rt, "--name", "taken")
    with pytest.raises(Exception, match="already in use"):
        _create(rt, "--name", "taken", "--cidfile", str(path))
    assert not path.exists()


def test_life_options_stored(rt, tmp_path, monkeypatch):
    sock = tmp_path / "notify.sock"
    monkeypatch.setenv("NOTIFY_SOCKET", str(sock))
    cfg = _create(rt, "--timeout", "5", "--tz", "UTC", "--pidfile", str(tmp_path / "pid"),
                  "--conmon-pidfile", str(tmp_path / "cpid"), "--kernel-memory", "whatever").config
    assert (cfg.timeout, cfg.timezone, cfg.sdnotify, cfg.notify_socket) == (5, "UTC", "container", str(sock))
    assert cfg.pidfile == str(tmp_path / "pid") and cfg.conmon_pidfile == str(tmp_path / "cpid")
    assert "The --kernel-memory flag is no longer supported. This flag is a noop." in rt.cfg.warnings
    assert _create(rt, "--sdnotify", "ignore").config.notify_socket == ""
    # --gpus: taken and ignored, silently, as podman 4.3.1 takes it
    warned = list(rt.cfg.warnings)
    assert _create(rt, "--gpus", "all", "--gpus", "device=0").config.devices == []
    assert rt.cfg.warnings == warned


@pytest.mark.parametrize("args, message", [
    (["--timeout", "-1"], 'invalid argument "-1" for "--timeout" flag: strconv.ParseUint: parsing "-1": invalid syntax'),
    (["--timeout", "abc"], 'parsing "abc": invalid syntax'),
    (["--sdnotify", "bogus"], 'invalid sdnotify value "bogus": must be container, conmon, healthy or ignore'),
    (["--pidfile", "/no/such/dir/pid"], "invalid --pidfile /no/such/dir/pid: /no/such/dir is not a directory"),
    (["--hostuser", "no-such-user-here"], "user: unknown user no-such-user-here"),
    (["--replace"], "cannot replace container without --name being set"),
    (["--rm", "--restart", "always"], 'the --rm option conflicts with --restart, when the restartPolicy is not "" and "no"'),
])
def test_bad_life_options(rt, args, message):
    _refused(rt, args, message)


def test_hostuser_adds_the_hosts_entries():
    import pwd

    root = pwd.getpwuid(0)
    out = runfiles.hostuser_passwd(["0"], "nobody:x:65534:65534::/:/bin/false", "/srv")
    assert out == f"nobody:x:65534:65534::/:/bin/false\n{root.pw_name}:*:0:0:{root.pw_gecos}:/srv:/bin/sh\n"
    assert runfiles.hostuser_passwd([root.pw_name], f"{root.pw_name}:x:0:0::/root:/bin/sh\n", "/") is None


def test_env_host_and_uts_host(rt, monkeypatch):
    import socket

    monkeypatch.setenv("PODPY_TEST_FROM_HOST", "yes")
    env = _create(rt, "--env-host", "-e", "B=2").config.env
    assert "PODPY_TEST_FROM_HOST=yes" in env and "B=2" in env
    assert not any(e.startswith("PODPY_TEST_FROM_HOST=") for e in _create(rt).config.env)
    env = _create(rt, "--uts", "host").config.env
    assert f"HOSTNAME={socket.gethostname()}" in env


def test_replace_removes_the_container_of_that_name(rt):
    first = _create(rt, "--name", "web")
    told = []
    fields = runargs.parse("create", ["--name", "web", "--replace", "img"])
    second = create(rt, CreateOptions(**fields), on_replaced=told.append)
    assert told == ["web"] and [r.id for r in rt.state.all()] == [second.id] and second.id != first.id


# -- what inspect shows --------------------------------------------------------------------------

def test_inspect_fields(rt, tmp_path):
    from podpy.engine.reports import container_inspect

    rec = _create(rt, "--ulimit", "nofile=10:20", "--shm-size", "2m", "--uts", "host", "--ipc", "private",
                  "--cgroupns", "private", "--cgroups", "disabled", "--tz", "UTC", "--timeout", "7",
                  "--sdnotify", "conmon", "--cidfile", str(tmp_path / "cid"), "--pidfile", str(tmp_path / "pid"),
                  "--security-opt", "no-new-privileges:true", "--device", "/dev/null")
    doc = container_inspect(rec, "/merged", "vfs", "/run/x", None)
    host, config = doc["HostConfig"], doc["Config"]
    assert host["Ulimits"][0] == {"Name": "RLIMIT_NOFILE", "Soft": 10, "Hard": 20}
    assert host["Ulimits"][-1]["Name"] == "RLIMIT_NPROC"
    assert (host["ShmSize"], host["PidMode"], host["UTSMode"], host["IpcMode"]) == (2 << 20, "private", "host", "private")
    assert (host["CgroupMode"], host["Cgroups"], host["Devices"]) == ("private", "disabled", [])
    assert host["ContainerIDFile"] == str(tmp_path / "cid") and host["SecurityOpt"] == ["no-new-privileges"]
    assert (config["Timezone"], config["Timeout"], config["sdNotifyMode"]) == ("UTC", 7, "conmon")
    assert config["Annotations"]["io.podman.annotations.cid-file"] == str(tmp_path / "cid")
    assert doc["PidFile"] == str(tmp_path / "pid") and doc["ConmonPidFile"] == ""
    plain = container_inspect(_create(rt), "/merged", "vfs", "/run/x", None)
    assert plain["HostConfig"]["ShmSize"] == 65536000 and "Timezone" not in plain["Config"]
    assert plain["HostConfig"]["Ulimits"] == [] or plain["HostConfig"]["Ulimits"][0]["Name"] == "RLIMIT_NOFILE"
    assert (plain["HostConfig"]["PidMode"], plain["HostConfig"]["IpcMode"], plain["HostConfig"]["Cgroups"]) == (
        "private", "shareable", "default")
    host_limits = container_inspect(_create(rt, "--ulimit", "host"), "/m", "vfs", "/r", None)
    assert host_limits["HostConfig"]["Ulimits"] == []


# -- the rest of the flags -----------------------------------------------------------------------

def test_run_only_options_are_not_creates():
    for flag in ("--sig-proxy=false", "--rmi", "--detach-keys=ctrl-x"):
        assert runargs.parse("run", [flag, "img"])
        with pytest.raises(InvalidArgument, match=f"unknown flag: {flag.split('=')[0]}"):
            runargs.parse("create", [flag, "img"])
    assert runargs.parse("run", ["--sig-proxy=false", "img"])["sig_proxy"] is False
    assert CreateOptions(image="img").sig_proxy is True
    assert runargs.parse("run", ["--detach-keys", "", "img"])["detach_keys"] == ""


def test_detach_keys_as_podman_reads_them():
    assert detach_keys("ctrl-p,ctrl-q") == b"\x10\x11"
    assert detach_keys("a,b") == b"ab" and detach_keys("ctrl-@") == b"\x00" and detach_keys("ctrl-_") == b"\x1f"
    assert detach_keys("") == b"" and detach_keys("DEL") == b"\x7f"
    for bad in ("bogus", "ctrl-", "ctrl-A", "ab", "ctrl-a,,"):
        key = bad.split(",")[-1] if "," in bad else bad
        with pytest.raises(InvalidArgument, match=f"invalid detach keys: Unknown character: '{key}'"):
            detach_keys(bad)


def test_bad_detach_keys_refused_before_anything(rt):
    from podpy.engine.containers import ContainerEngine

    fields = runargs.parse("run", ["--detach-keys", "bogus", "img"])
    with pytest.raises(InvalidArgument, match="invalid detach keys: Unknown character: 'bogus'"):
        ContainerEngine(rt, print).run(CreateOptions(**fields))
    assert rt.state.all() == []


def test_memory_zero_is_no_limit_and_security_opt_colon_form():
    assert parse_limits("0", None, None, None, None) == {}
    assert parse_security_opts(["no-new-privileges:true"])["no_new_privileges"] is True
    assert parse_security_opts(["no-new-privileges:false"])["no_new_privileges"] is False
    assert parse_security_opts(["seccomp:unconfined"])["seccomp"] == "unconfined"


def test_log_drivers():
    assert parse_log_options("passthrough", [])[0] == "passthrough"
    if not os.path.exists("/run/systemd/journal/socket"):
        with pytest.raises(InvalidArgument, match="failed to initialize journal: write unixgram "
                                                  "->/run/systemd/journal/socket: sendmsg: no such file or directory"):
            parse_log_options("journald", [])
    with pytest.raises(InvalidArgument, match="unsupported log driver 'bogus'"):
        parse_log_options("bogus", [])


def test_escape_takes_the_detach_keys_out_of_the_input():
    from rootless.tty import Escape

    e = Escape(b"\x10\x11")
    assert e.feed(b"ab\x10\x11cd") == (b"abcd", 1)
    assert e.feed(b"x\x10") == (b"x", 0)          # a prefix waits for the next read
    assert e.feed(b"\x11y") == (b"y", 1)
    assert e.feed(b"\x10") == (b"", 0) and e.feed(b"z") == (b"\x10z", 0)   # not the sequence: passed on
    assert e.feed(b"\x10") == (b"", 0) and e.flush() == b"\x10"


def test_journal_entries_written_and_read(tmp_path):
    import socket

    from podpy.engine.logs import JournalReader
    from podpy.monitor.logfile import JournalLog, journal_field

    assert journal_field(b"MESSAGE", b"hi") == b"MESSAGE=hi\n"
    assert journal_field(b"MESSAGE", b"a\nb") == b"MESSAGE\n" + (3).to_bytes(8, "little") + b"a\nb\n"
    path = str(tmp_path / "journal.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    try:
        log = JournalLog("f" * 64, "web", path)
        log.write("stdout", b"one\ntw")
        log.write("stderr", b"err\n")
        log.write("stdout", b"o\n")
        log.close()
        got = [server.recv(65536) for _ in range(3)]
    finally:
        server.close()
    assert got[0].startswith(b"MESSAGE=one\n") and b"CONTAINER_ID_FULL=" + b"f" * 64 + b"\n" in got[0]
    assert b"CONTAINER_NAME=web\n" in got[0] and b"PRIORITY=6\n" in got[0]
    assert got[1].startswith(b"MESSAGE=err\n") and b"PRIORITY=3\n" in got[1]
    assert got[2].startswith(b"MESSAGE=two\n")
    reader = JournalReader("f" * 64)
    entries = reader.parse(b'{"__CURSOR":"c1","__REALTIME_TIMESTAMP":"1700000000000000","MESSAGE":"hi",'
                           b'"PRIORITY":"6"}\n{"__CURSOR":"c2","__REALTIME_TIMESTAMP":"1700000001000000",'
                           b'"MESSAGE":[104,105],"PRIORITY":"3"}\n')
    assert [(e.stream, e.text, e.time) for e in entries] == [(b"stdout", b"hi\n", 1700000000.0),
                                                             (b"stderr", b"hi\n", 1700000001.0)]
    assert reader.cursor == "c2"


def test_an_older_monitor_is_not_asked_for_what_it_does_not_know(monkeypatch):
    """A detached start with --timeout or passthrough checks what the running monitor supports:
    an older one would take the passed stdio for published ports' listeners."""
    from podpy.engine import start
    from podpy.errors import EngineError
    from podpy.monitor import client
    from podpy.monitor.service import FEATURES

    replies = {"pid": 42}
    monkeypatch.setattr(client, "request", lambda runroot, kind, **_kw: {"type": "pong", **replies})
    with pytest.raises(EngineError, match=r"monitor that runs \(pid 42\), started by an older podpy, does not support "
                                          r"--log-driver passthrough, --timeout for detached containers"):
        start._check_monitor("/run", ["stdio", "timeout"])
    replies["features"] = FEATURES
    start._check_monitor("/run", ["stdio", "timeout", "journald"])


def test_a_fifo_bound_over_etc_passwd_is_not_read(tmp_path):
    # the user's lookup reads a bound file only when it is a regular one: a FIFO would hang the create
    import os

    from podpy.engine.create import _etc_file
    from podpy.options import Volume

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    regular = tmp_path / "passwd"
    regular.write_text("root:x:0:0::/root:/bin/sh\n")
    assert _etc_file([Volume(str(fifo), "/etc/passwd", ())], [], "/etc/passwd") is None
    assert _etc_file([Volume(str(regular), "/etc/passwd", ())], [], "/etc/passwd") == regular.read_bytes()
    assert _etc_file([Volume(str(tmp_path), "/etc", ())], [], "/etc/passwd") == regular.read_bytes()
