"""Parsing of -e, --env-file, -v, -u, --entrypoint, labels and names."""

import os

import pytest

from podpy import formats as fmt
from podpy import options as opt
from podpy.errors import InvalidArgument

PASSWD = b"root:x:0:0:root:/root:/bin/sh\ntester:x:1000:1000::/home/tester:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"
GROUP = b"root:x:0:\ntester:x:1000:\nextra:x:1001:tester\nnogroup:x:65534:\n"


def test_env_forms():
    host = {"FOO": "1", "FOOBAR": "2", "OTHER": "3"}
    assert opt.parse_env(["A=1", "B=", "FOO", "MISSING", "FOO*"], host) == [
        "A=1", "B=", "FOO=1", "FOO=1", "FOOBAR=2"]


@pytest.mark.parametrize("bad", ["=x", ""])
def test_env_rejects_malformed(bad):
    with pytest.raises(InvalidArgument, match="invalid environment variable"):
        opt.parse_env([bad], {})


def test_env_names_as_podman_takes_them():
    """Only an empty name is refused; the front is trimmed, spaces inside are the name's own
    (an env file's `export E=5` is the variable `export E`)."""
    assert opt.parse_env([" A=1", "A B=1", "export E=5", "\tT=x"], {}) == ["A=1", "A B=1", "export E=5", "T=x"]


def test_env_file(tmp_path, monkeypatch):
    monkeypatch.setenv("FROM_HOST", "h")
    f = tmp_path / "env"
    f.write_text("# comment\n\nA=1\nB=two words\nFROM_HOST\n")
    assert opt.parse_env_files([str(f)]) == ["A=1", "B=two words", "FROM_HOST=h"]


def test_env_file_missing(tmp_path):
    with pytest.raises(InvalidArgument, match="parsing env file .*: open .*: no such file or directory"):
        opt.parse_env_files([str(tmp_path / "nope")])


def test_merge_env_later_wins():
    assert opt.merge_env(["PATH=/a", "X=1"], ["PATH=/b"], ["Y=2"]) == ["PATH=/b", "X=1", "Y=2"]


def test_volume_ok(tmp_path):
    v = opt.parse_volume(f"{tmp_path}:/src:ro,z")
    assert (v.source, v.destination, v.options) == (str(tmp_path), "/src", ("ro", "z"))
    m = opt.volume_mount(v)
    assert m["options"][:2] == ["rbind", "ro"] and m["type"] == "bind"


@pytest.mark.parametrize("bad,msg", [
    ("x", "expected SOURCE"),
    ("/tmp:rel", "not absolute"),
    ("/tmp:/a:bogus", "unknown option"),
    ("/nonexistent-path-xyz:/a", "no such file"),
    ("/tmp:/a:ro,rw", "ro and rw"),
    ("/tmp:/a:b:c", "expected SOURCE"),
    ("bad name!:/data", "neither a path nor a volume name"),
])
def test_volume_rejects(bad, msg):
    with pytest.raises(InvalidArgument, match=msg):
        opt.parse_volume(bad)


def test_relative_volume_resolves(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    assert opt.parse_volume("./d:/d").source == os.path.join(str(tmp_path), "d")


@pytest.mark.parametrize("value,expected", [
    ("0", (0, 0, [0], "/root")),
    ("tester", (1000, 1000, [1001], "/home/tester")),
    ("tester:extra", (1000, 1001, [1001], "/home/tester")),
    ("1000:1000", (1000, 1000, [1000], "/home/tester")),
    ("4242", (4242, 0, [0], "/")),
    ("4242:77", (4242, 77, [77], "/")),
])
def test_user_resolution(value, expected):
    assert opt.resolve_user(opt.parse_user(value), PASSWD, GROUP) == expected


def test_unknown_user_and_group():
    with pytest.raises(InvalidArgument, match="unable to find user nosuch"):
        opt.resolve_user(opt.parse_user("nosuch"), PASSWD, GROUP)
    with pytest.raises(InvalidArgument, match="unable to find group nogrp"):
        opt.resolve_user(opt.parse_user("tester:nogrp"), PASSWD, GROUP)


@pytest.mark.parametrize("bad", ["", ":", "a:", "a:b:c", "-x"])
def test_user_malformed(bad):
    with pytest.raises(InvalidArgument):
        opt.parse_user(bad)


def test_entrypoint_forms():
    assert opt.parse_entrypoint(None) is None
    assert opt.parse_entrypoint("") == []
    assert opt.parse_entrypoint("/bin/echo") == ["/bin/echo"]
    assert opt.parse_entrypoint('["/bin/sh", "-c"]') == ["/bin/sh", "-c"]
    with pytest.raises(InvalidArgument):
        opt.parse_entrypoint("[broken")


def test_names_and_labels():
    assert opt.check_name("web-1.a_b") == "web-1.a_b"
    for bad in ("-x", "a b", "", "a/b"):
        with pytest.raises(InvalidArgument):
            opt.check_name(bad)
    assert opt.parse_labels(["a=1", "b"]) == {"a": "1", "b": ""}
    with pytest.raises(InvalidArgument):
        opt.parse_labels(["=1"])


def test_volume_kinds():
    assert opt.parse_volume("data:/var/lib/x:ro") == opt.Volume("data", "/var/lib/x", ("ro",), "volume")
    assert opt.parse_volume("/anon") == opt.Volume("", "/anon", (), "volume")
    m = opt.parse_mount("type=volume,src=v1,dst=/d,ro=true,nocopy")
    assert (m.kind, m.source, m.destination, set(m.options)) == ("volume", "v1", "/d", {"ro", "nocopy"})
    t = opt.parse_mount("type=tmpfs,destination=/t,tmpfs-size=1m")
    assert t.kind == "tmpfs" and "size=1048576" in t.options
    assert opt.volume_mount(opt.parse_tmpfs("/run/x:size=1m,noexec"))["type"] == "tmpfs"
    for bad in ("type=nfs,dst=/x", "type=volume,dst=rel", "type=bind,dst=/x", "type=volume,dst=/x,bogus=1"):
        with pytest.raises(InvalidArgument):
            opt.parse_mount(bad)


def test_lifecycle_option_parsers():
    assert opt.parse_restart(None) == "no" and opt.parse_restart("on-failure:3") == "on-failure:3"
    assert opt.parse_signal("TERM") == 15 and opt.parse_signal("SIGKILL") == 9 and opt.parse_signal("10") == 10
    import signal

    assert opt.parse_signal("SIGRTMIN+1") == signal.SIGRTMIN + 1
    assert fmt.parse_size("10m", "x") == 10 << 20 and fmt.parse_size("512", "x") == 512
    assert fmt.parse_duration("1m30s", "x") == 90 and fmt.parse_duration("2", "x") == 2
    assert fmt.go_duration("500ms") == 0.5 and fmt.go_duration("soon") is None
    limits = opt.parse_limits("64m", "96m", "1.5", "1024", "-1")
    assert limits == {"memory": str(64 << 20), "memory_swap": str(32 << 20), "cpus": "150000 100000",
                      "cpu_shares": "39", "pids_limit": "max"}
    assert opt.parse_log_options("json-file", ["max-size=1k"]) == ("json-file", {"max-size": "1024"})   # its name kept, as podman
    sec = opt.parse_security_opts(["seccomp=unconfined", "no-new-privileges", "mask=/a:/b", "label=disable"])
    assert sec == {"seccomp": "unconfined", "no_new_privileges": True, "mask": ["/a", "/b"], "unmask": []}
    hc = opt.healthcheck({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000, "Retries": 2},
                         None, None, None, None, "10s", "kill", False)
    assert hc == {"test": ["CMD-SHELL", "true"], "interval": 5.0, "timeout": 10.0, "start_period": 0.0,
                  "retries": 2, "on_failure": "kill"}
    assert opt.healthcheck({"Test": ["CMD", "x"]}, None, None, None, None, None, None, True) == {}
    assert opt.healthcheck(None, '["curl", "-f", "x"]', None, None, None, None, None, False)["test"] == [
        "CMD", "curl", "-f", "x"]


@pytest.mark.parametrize("call,msg", [
    (lambda: opt.parse_restart("sometimes"), "invalid restart policy"),
    (lambda: opt.parse_restart("always:3"), "only on-failure"),
    (lambda: opt.parse_restart("on-failure:x"), "retry count"),
    (lambda: opt.parse_signal("NOPE"), "invalid signal"),
    (lambda: opt.parse_signal("99"), "valid signals are 1 through 64"),
    (lambda: opt.parse_signal("-0"), "invalid signal: 0"),
    (lambda: fmt.parse_size("lots", "--memory"), "invalid --memory"),
    (lambda: fmt.parse_duration("soon", "--health-interval"), "invalid --health-interval"),
    (lambda: opt.parse_limits("1m", None, None, None, None), "minimum allowed is 6MiB"),
    (lambda: opt.parse_limits(None, "1g", None, None, None), "needs --memory"),
    (lambda: opt.parse_limits("64m", "32m", None, None, None), "at least --memory"),
    (lambda: opt.parse_limits(None, None, "0", None, None), "invalid --cpus"),
    (lambda: opt.parse_limits(None, None, None, "1", None), "invalid --cpu-shares"),
    (lambda: opt.parse_limits(None, None, None, None, "many"), "invalid --pids-limit"),
    (lambda: opt.parse_log_options("syslog", []), "unsupported log driver"),
    (lambda: opt.parse_log_options(None, ["max-size"]), "expected KEY=VALUE"),
    (lambda: opt.parse_log_options(None, ["path=rel"]), "must be absolute"),
    (lambda: opt.parse_log_options(None, ["colour=red"]), "unknown log option"),
    (lambda: opt.parse_security_opts(["seccomp=/no/such.json"]), "no such file"),
    (lambda: opt.parse_security_opts(["no-new-privileges=maybe"]), "expected true or false"),
    (lambda: opt.parse_security_opts(["mask=relative"]), "absolute paths"),
    (lambda: opt.parse_security_opts(["selinux=on"]), "invalid --security-opt"),
    (lambda: opt.healthcheck(None, "[bad", None, None, None, None, None, False), "invalid --health-cmd"),
    (lambda: opt.healthcheck(None, "true", None, "0", None, None, None, False), "--health-retries"),
    (lambda: opt.healthcheck(None, "true", None, None, None, None, "panic", False),
     'invalid on-failure action "panic" for health check: supported actions are none,kill,restart,stop'),
    (lambda: opt.healthcheck(None, None, None, None, None, None, "kill", False),
     "cannot set on-failure action to kill without a health check"),
    (lambda: opt.healthcheck({"Test": ["NONE"]}, None, None, None, None, None, "stop", False),
     "cannot set on-failure action to stop without a health check"),
    (lambda: opt.healthcheck(None, None, "5s", None, None, None, None, False), "need a --health-cmd"),
    (lambda: opt.parse_tmpfs("rel"), "must be absolute"),
])
def test_lifecycle_option_errors(call, msg):
    with pytest.raises(InvalidArgument, match=msg):
        call()


def test_detach_keys():
    from podpy.engine.attach import detach_sequence

    assert detach_sequence("ctrl-p,ctrl-q") == b"\x10\x11" and detach_sequence("") == b""
    with pytest.raises(InvalidArgument, match="invalid detach keys: Unknown character: 'meta-x'"):
        detach_sequence("ctrl-p,meta-x")


def test_container_groups_as_podman_gives_them():
    spec = opt.UserSpec("tester", None)
    assert opt.container_groups(None, 0, [0]) == []                  # nobody named a user
    assert opt.container_groups(spec, 1000, [1001]) == [1000, 1001]  # the primary group too
    assert opt.container_groups(spec, 1000, [1000]) == [1000]
    assert opt.container_groups(opt.UserSpec("1000", "10"), 10, [10]) == [10]
