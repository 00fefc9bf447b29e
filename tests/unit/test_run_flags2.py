"""The run/create flags of the second round: --group-add, --umask, --unsetenv(-all), --env-merge,
--http-proxy, --label-file, --annotation, --no-hosts, --passwd-entry, --oom-score-adj,
--personality, --chrootdirs, --seccomp-policy, --requires, --systemd, -a, and the cgroup
knobs: checked as podman 4.3.1 checks them (its messages, one line, nothing made), what
create() stores, what the spec asks of the init, what inspect shows, what the cgroup gets."""

from __future__ import annotations

import os

import pytest

from podpy.cli import runargs
from podpy.engine import cgroupopts, procopts
from podpy.engine import etcfiles
from podpy.engine import spec as specgen
from podpy.engine.runverbs import attached_streams
from podpy.engine.create import create
from podpy.engine.reports import container_inspect
from podpy.engine.runoptions import CreateOptions
from podpy.errors import InvalidArgument
from podpy.state import ContainerConfig, ContainerRecord
from rootless import cgroups


@pytest.fixture
def rt(rt):
    """The shared runtime (conftest.py) with an image `img` in its store."""
    config = {"created": "2024-01-01T00:00:00Z", "architecture": "amd64", "os": "linux",
              "config": {"Cmd": ["sh"], "Env": ["PATH=/bin", "KEEP=1", "DROP=2"]},
              "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
    rt.store.create_image(config, [], ["localhost/img:latest"])
    return rt


def _create(rt, *args, command=()):
    fields = runargs.parse("create", [*args, "img", *command])
    return create(rt, CreateOptions(**fields))


def _refused(rt, args, message):
    with pytest.raises(InvalidArgument) as got:
        _create(rt, *args)
    assert got.value.exit_code == 125 and "\n" not in str(got.value)
    assert message in str(got.value), str(got.value)
    assert rt.state.all() == []


@pytest.mark.parametrize("args,message", [
    (["--group-add", "keep-groups", "--group-add", "10"], "'--group-add keep-groups' option is not allowed"),
    (["--group-add", "wheel"], "unable to find group wheel: no matching entries in group file"),
    (["--umask", "99"], "invalid umask string 99: invalid argument"),
    (["--umask", "00000"], "invalid umask string 00000"),
    (["--oom-score-adj", "x"], 'invalid argument "x" for "--oom-score-adj" flag'),
    (["--oom-score-adj", "1001"], "-1000 to 1000"),
    (["--personality", "foo"], "LINUX or LINUX32"),
    (["--seccomp-policy", "foo"], 'invalid seccomp policy "foo": valid policies are ["default" "image"]'),
    (["--seccomp-policy", "image"], "no seccomp policy defined by image"),
    (["--requires", "nosuch"], '"nosuch" is not a valid container, cannot be used as a dependency'),
    (["--no-hosts", "--add-host", "a:1.2.3.4"], "--no-hosts and --add-host cannot be set together"),
    (["--annotation", "novalue"], "annotations must be formatted KEY=VALUE"),
    (["--label-file", "/nonexistent/labels"], "unable to process labels: open /nonexistent/labels"),
    (["--systemd", "maybe"], "systemd option requires 'true, false, always'"),
    (["--cpus", "1", "--cpu-period", "1000"], "--cpu-period and --cpus cannot be set together"),
    (["--cpus", "1", "--cpu-quota", "1000"], "--cpu-quota and --cpus cannot be set together"),
    (["--cpu-quota", "x"], 'invalid argument "x" for "--cpu-quota" flag: strconv.ParseInt'),
    (["--cpu-period", "-5"], 'invalid argument "-5" for "--cpu-period" flag: strconv.ParseUint'),
    (["--cpuset-cpus", "abc"], "invalid --cpuset-cpus 'abc'"),
    (["--blkio-weight", "5"], "10 to 1000"),
    (["--blkio-weight-device", "/dev/null"], "bad format: /dev/null"),
    (["--blkio-weight-device", "/dev/nosuch:300"], "failed to inspect '/dev/nosuch' in --blkio-weight-device"),
    (["--blkio-weight-device", "/dev/null:300"], "/dev/null is not a block device"),
    (["--device-read-bps", "/dev/nosuch:1mb"], "could not parse throttle device at /dev/nosuch"),
    (["--device-read-iops", "/dev/null:1k"], "invalid rate for device: /dev/null:1k"),
    (["--memory-reservation", "x"], "invalid value for memory: invalid size: 'x'"),
    (["--memory", "10m", "--memory-reservation", "20m"], "cannot be less than memory reservation"),
    (["--memory-swappiness", "101"], "valid memory swappiness range is 0-100"),
    (["--device-cgroup-rule", "foo"], "requires type, major:Minor, and access rules"),
    (["--device-cgroup-rule", "x 1:3 r"], "invalid device type in device-access-add: x"),
    (["--cgroup-conf", "foo"], "--cgroup-conf must be formatted KEY=VALUE"),
])
def test_bad_values_refused(rt, args, message):
    _refused(rt, args, message)


def test_what_create_stores_and_inspect_shows(rt, tmp_path):
    labels = tmp_path / "labels"
    labels.write_text("a=1\n# a comment\n\nb\n")
    other = _create(rt, "--name", "db")
    rec = _create(rt, "--group-add", "10", "--group-add", "20", "--umask", "77", "--oom-score-adj", "100",
                  "--personality", "LINUX32", "--chrootdirs", "/srv", "--requires", "db", "--label-file",
                  str(labels), "-l", "a=2", "--annotation", "k=v=w", "--systemd", "always", "--cpu-quota", "50000",
                  "--cpuset-cpus", "0-1", "--memory-reservation", "100m", "--memory-swappiness", "10",
                  "--oom-kill-disable", "--cgroup-conf", "memory.high=1000000")
    cfg = rec.config
    assert cfg.groups[-2:] == [10, 20] and cfg.group_add == ["10", "20"]
    assert (cfg.umask, cfg.oom_score_adj, cfg.personality, cfg.chrootdirs) == ("0077", 100, "LINUX32", ["/srv"])
    assert cfg.requires == [other.id] and cfg.systemd and cfg.stop_signal == "37"   # SIGRTMIN+3
    assert cfg.labels == {"a": "2", "b": ""} and cfg.annotations == {"k": "v=w"}
    assert cfg.limits["cpu_max"] == "50000 100000" and cfg.limits["cpuset_cpus"] == "0-1"
    assert cfg.limits["memory_low"] == str(100 << 20) and cfg.limits["file:memory.high"] == "1000000"
    assert any("swappiness" in w for w in rt.cfg.warnings) and any("OOM killer" in w for w in rt.cfg.warnings)
    doc = container_inspect(rec, "/merged", "vfs", "/run/x", None)
    host, config = doc["HostConfig"], doc["Config"]
    assert (config["Umask"], config["SystemdMode"], config["ChrootDirs"]) == ("0077", True, ["/srv"])
    assert (host["GroupAdd"], host["OomScoreAdj"], host["CpuQuota"], host["CpuPeriod"]) == (["10", "20"], 100,
                                                                                         50000, 0)
    assert (host["CpusetCpus"], host["MemoryReservation"], host["MemorySwappiness"]) == ("0-1", 100 << 20, 10)
    assert host["OomKillDisable"] is True and host["CgroupConf"] == {"memory.high": "1000000"}
    assert doc["Dependencies"] == [other.id]
    plain = container_inspect(other, "/merged", "vfs", "/run/x", None)
    assert (plain["Config"]["Umask"], plain["HostConfig"]["CpuPeriod"], plain["HostConfig"]["CgroupConf"]) == (
        "0022", 0, None)
    assert "SystemdMode" not in plain["Config"]


def test_keep_groups_is_an_annotation_and_no_setgroups(rt):
    rec = _create(rt, "--group-add", "keep-groups")
    assert rec.config.keep_groups and rec.config.annotations == {"run.oci.keep_original_groups": "1"}
    spec = _spec(rt, rec)
    assert spec["process"]["user"]["keepOriginalGroups"] is True


def _spec(rt, rec):
    rootfs = {"type": "bind", "source": "/x", "target": "/x/merged"}
    rec.config.seccomp = "unconfined"
    return specgen.builder(rt)._spec(rec, rootfs, {}, None, None)


def test_the_spec_asks_the_init_for_them(rt):
    spec = _spec(rt, _create(rt, "--umask", "0027", "--oom-score-adj", "5", "--personality", "LINUX32",
                             "--systemd", "always"))
    assert spec["process"]["user"]["umask"] == 0o027 and spec["process"]["oomScoreAdj"] == 5
    assert spec["linux"]["personality"] == {"domain": "LINUX32"}
    tmpfs = {m["destination"] for m in spec["mounts"] if m["type"] == "tmpfs"}
    assert {"/run", "/run/lock", "/tmp", "/var/log/journal"} <= tmpfs
    assert any(m["destination"] == "/sys/fs/cgroup" for m in spec["mounts"])
    plain = _spec(rt, _create(rt))
    assert plain["process"]["user"]["umask"] == 0o022 and "oomScoreAdj" not in plain["process"]
    assert "personality" not in plain["linux"] and "/run/lock" not in {m["destination"] for m in plain["mounts"]}


def test_chrootdirs_get_the_hosts_and_resolv_conf(rt):
    rec = _create(rt, "--chrootdirs", "/srv", "--chrootdirs", "jail/")
    assert rec.config.chrootdirs == ["/srv", "/jail"]
    rootfs = {"type": "bind", "source": "/x", "target": "/x/merged"}
    rec.config.seccomp = "unconfined"
    spec = specgen.builder(rt)._spec(rec, rootfs, {"/etc/hosts": "/r/hosts", "/etc/resolv.conf": "/r/resolv.conf",
                                                   "/etc/hostname": "/r/hostname"}, None, None)
    binds = {m["destination"]: m["source"] for m in spec["mounts"] if m["type"] == "bind"}
    assert binds["/srv/etc/hosts"] == binds["/jail/etc/hosts"] == "/r/hosts"
    assert binds["/srv/etc/resolv.conf"] == "/r/resolv.conf" and "/srv/etc/hostname" not in binds


def test_systemd_mode_follows_the_command():
    assert procopts.systemd_mode(None, ["/sbin/init"]) and procopts.systemd_mode("true", ["/usr/lib/systemd/systemd"])
    assert not procopts.systemd_mode(None, ["sh"]) and not procopts.systemd_mode("false", ["/sbin/init"])
    assert procopts.systemd_mode("always", ["sh"])


def test_no_hosts_writes_no_hosts_file(rt):
    files = etcfiles.etc_files(_create(rt, "--no-hosts"))
    assert "/etc/hosts" not in files and "/etc/hostname" in files
    assert "/etc/hosts" in etcfiles.etc_files(_create(rt))


def test_environment_in_podmans_order(rt, monkeypatch):
    monkeypatch.setenv("http_proxy", "http://proxy:3128")
    env = _create(rt, "-e", "DROP=mine", "--unsetenv", "DROP", "--env-merge", "PATH=${PATH}:/opt",
                  "--env-merge", "NEW=x").config.env
    assert "PATH=/bin:/opt" in env and "KEEP=1" in env and "DROP=mine" in env   # -e is never taken away
    assert "http_proxy=http://proxy:3128" in env and not any(e.startswith("NEW=") for e in env)
    env = _create(rt, "--unsetenv-all", "-e", "A=1", "--http-proxy=false").config.env
    assert [e.partition("=")[0] for e in env] == ["A", "HOME", "HOSTNAME"]


def test_passwd_entry_for_a_user_the_image_lacks():
    text = procopts.passwd_with_entry("$USERNAME:x:$UID:$GID:$NAME:$HOME:/bin/sh:$OTHER", 1234, 0, "/",
                                      b"root:x:0:0:root:/root:/bin/sh")
    assert text == "root:x:0:0:root:/root:/bin/sh\n1234:x:1234:0:container user:/:/bin/sh:\n"
    assert procopts.passwd_with_entry("x", 0, 0, "/", b"root:x:0:0:root:/root:/bin/sh\n") is None


def test_group_names_from_the_images_group_file():
    assert procopts.group_add(["10", "extra", "10"], b"root:x:0:\nextra:x:1001:tester\n") == ([10, 1001], False)
    assert procopts.group_add(["keep-groups"], None) == ([], True)


def test_attach_streams():
    assert attached_streams([]) is None
    assert attached_streams(["stdout", "STDERR"]) == {"stdout", "stderr"}
    with pytest.raises(InvalidArgument, match='invalid stream "foo" for --attach'):
        attached_streams(["foo"])


def test_io_options_as_cgroup_v2_lines(rt, monkeypatch):
    monkeypatch.setattr(cgroupopts, "_device", lambda path: "254:0")
    o = CreateOptions(image="img", blkio_weight="10", blkio_weight_device=["/dev/vda:1000"],
                      device_read_bps=["/dev/vda:1mb"], device_write_iops=["/dev/vda:100"])
    files, shown, warnings = cgroupopts.decide(o, {})
    assert files["io_weight"] == "default 1\n254:0 10000"
    assert files["io_max"] == "254:0 rbps=1048576 wiops=100"
    assert shown["BlkioDeviceReadBps"] == [{"Path": "/dev/vda", "Rate": 1 << 20}] and not warnings


def test_limits_written_a_line_at_a_time_where_the_controller_is(tmp_path):
    parent = tmp_path / "parent"
    child = parent / "c"
    child.mkdir(parents=True)
    (parent / "cgroup.controllers").write_text("io memory\n")
    (parent / "cgroup.subtree_control").write_text("")
    written = []

    def fake_write(path, value):
        written.append((os.path.basename(path), value))

    import rootless.cgroups as cg

    real = cg._write
    cg._write = fake_write
    try:
        missing = cgroups.apply_limits(str(child), {"io_max": "1:2 rbps=1\n3:4 wbps=2", "cpu_max": "max 100000",
                                                    "file:memory.high": "1000"})
    finally:
        cg._write = real
    assert missing == ["cpu"]
    assert ("io.max", "1:2 rbps=1") in written and ("io.max", "3:4 wbps=2") in written
    assert ("memory.high", "1000") in written and not any(name == "cpu.max" for name, _ in written)


def test_requires_protects_the_required_container_from_rm(rt):
    from podpy.engine.removal import remove_many

    db = _create(rt, "--name", "db")
    _create(rt, "--name", "app", "--requires", "db")
    reports = remove_many(rt, ["db"], force=False, all_=False, ignore=False)
    assert reports[0].error is not None and "has dependent containers" in str(reports[0].error)
    assert rt.state.get(db.id) is not None


def test_a_record_of_an_older_podpy_reads_with_the_defaults():
    cfg = ContainerConfig.from_json('{"command": ["sh"], "entrypoint": [], "env": []}')
    assert (cfg.umask, cfg.group_add, cfg.keep_groups, cfg.systemd, cfg.resources) == ("", [], False, False, {})
    rec = ContainerRecord(id="c" * 64, name="x", image_id="i" * 64, image_name="img", created=0.0, state="created",
                          config=cfg)
    assert container_inspect(rec, "/m", "vfs", "/r", None)["Config"]["Umask"] == "0022"


def _maps():
    from rootless.userns import IdMap, IdMappings

    return IdMappings((IdMap(0, 1000, 1), IdMap(1, 100000, 65536)), (IdMap(0, 1000, 1), IdMap(1, 100000, 65536)))


def test_userns_nomap_maps_every_id_but_the_users_own():
    from podpy.engine.usernsopts import parse_userns

    userns = parse_userns("nomap", [], [], True, _maps())
    assert userns.idmap == {"uids": [[0, 1, 65536]], "gids": [[0, 1, 65536]]}
    with pytest.raises(InvalidArgument, match="nomap is only supported in rootless mode"):
        parse_userns("nomap", [], [], False, _maps())


def test_subuidname_maps_a_users_own_subordinate_ranges(tmp_path, monkeypatch):
    import rootless.userns as un

    subuid, subgid = tmp_path / "subuid", tmp_path / "subgid"
    subuid.write_text("me:100000:65536\nother:165536:65536\n")
    subgid.write_text("me:100000:65536\n")
    monkeypatch.setattr(un, "SUBUID", str(subuid))
    monkeypatch.setattr(un, "SUBGID", str(subgid))
    assert procopts.subid_maps("me", None, _maps()) == (["0:1:65536"], ["0:1:65536"])
    with pytest.raises(InvalidArgument, match="not among the subordinate ids"):
        procopts.subid_maps("other", "me", _maps())
    with pytest.raises(InvalidArgument, match='no subuid ranges found for user "nosuch"'):
        procopts.subid_maps("nosuch", None, _maps())


def test_rootfs_is_a_directory_in_the_images_place(rt, tmp_path):
    root = tmp_path / "tree"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "group").write_text("root:x:0:\nstaff:x:50:\n")
    fields = runargs.parse("create", ["--rootfs", "--group-add", "staff", str(root), "sh"])
    rec = create(rt, CreateOptions(**fields))
    assert (rec.image_id, rec.image_name, rec.config.rootfs) == ("", "", str(root)) and 50 in rec.config.groups
    desc = specgen.builder(rt).rootfs(rec)
    assert desc["type"] == "bind" and desc["source"] == str(root)
    assert container_inspect(rec, "/m", "vfs", "/r", None)["Rootfs"] == str(root)
    with pytest.raises(InvalidArgument, match="stat /nonexistent/tree: no such file or directory"):
        create(rt, CreateOptions(**runargs.parse("create", ["--rootfs", "/nonexistent/tree", "sh"])))


def test_seccomp_policy_image_takes_the_images_profile(rt):
    profile = '{"defaultAction": "SCMP_ACT_ALLOW"}'
    config = {"created": "2024-01-01T00:00:00Z", "architecture": "amd64", "os": "linux",
              "config": {"Cmd": ["sh"], "Labels": {procopts.SECCOMP_LABEL: profile}},
              "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
    rt.store.create_image(config, [], ["localhost/withprofile:latest"])
    fields = runargs.parse("create", ["--seccomp-policy", "image", "withprofile"])
    rec = create(rt, CreateOptions(**fields))
    with open(rec.config.seccomp) as f:
        assert f.read() == profile
    assert _create(rt).config.seccomp == ""   # the default policy: the default profile


def test_create_looks_its_image_up_once_after_the_pull_policy_did(rt):
    """`run` and `create` with --pull missing find the image for the policy and hand it to the
    container's creation, which does not look it up again (the row's insert still checks that
    it is there)."""
    from podpy.engine.containers import ContainerEngine

    seen: list[str] = []
    rt.db.conn.set_trace_callback(seen.append)
    try:
        rec = ContainerEngine(rt, lambda _line: None, None).create(CreateOptions(**runargs.parse("create", ["img"])))
    finally:
        rt.db.conn.set_trace_callback(None)
    assert rec.image_name == "localhost/img:latest"
    assert len([s for s in seen if s.startswith("SELECT image_id FROM image_names WHERE name=")]) == 1
