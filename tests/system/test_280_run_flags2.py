"""The run/create flags of the second round, each checked inside a real container (and, where
podman 4.3.1 behaves the same on this host, against podman's own output): --group-add
(keep-groups), --umask, --unsetenv(-all), --env-merge, --http-proxy, --label-file,
--annotation, --no-hosts, --passwd-entry, --oom-score-adj, --personality, --requires,
--systemd, --rootfs, --userns=nomap, --subuidname, -a, -q, --authfile and the cgroup knobs."""

from __future__ import annotations

import json
import os
import pwd
import subprocess

import pytest


@pytest.fixture
def p(podpy, busybox):
    yield podpy
    podpy("rm", "-fa", "-t", "0", check=False)


def _run(p, *args, check=True, env=None):
    return p("run", "--rm", "--network", "none", *args, check=check, env=env)


def _one_line_error(res, code=125):
    assert res.returncode == code, (res.returncode, res.stderr)
    assert res.stderr.startswith("Error: ") and res.stderr.count("\n") == 1, res.stderr
    return res.stderr


def _inspect(p, name, template):
    return p("inspect", "--format", template, name).stdout.strip()


def test_group_add(p):
    # the busybox image's /etc/group has extra:x:1001:tester
    assert _run(p, "--group-add", "10", "--group-add", "extra", "busybox", "id", "-G").stdout.split() == [
        "0", "10", "1001"]
    # keep-groups: the caller's own groups stay (its primary group is the container's 0), rather
    # than the user's memberships in the image's /etc/group
    assert _run(p, "-u", "tester", "busybox", "id", "-G").stdout.split() == ["1000", "1001"]
    kept = _run(p, "-u", "tester", "--group-add", "keep-groups", "busybox", "id", "-G").stdout.split()
    assert "1001" not in kept and "0" in kept
    err = _one_line_error(_run(p, "--group-add", "keep-groups", "--group-add", "10", "busybox", "true",
                               check=False))
    assert "'--group-add keep-groups' option is not allowed with any other --group-add options" in err
    assert "unable to find group nosuch" in _one_line_error(_run(p, "--group-add", "nosuch", "busybox", "true",
                                                                 check=False))
    p("create", "--name", "ga", "--group-add", "10", "--group-add", "extra", "busybox", "true")
    assert _inspect(p, "ga", "{{json .HostConfig.GroupAdd}}") == '["10","extra"]'
    p("create", "--name", "kg", "--group-add", "keep-groups", "busybox", "true")
    assert json.loads(_inspect(p, "kg", "{{json .Config.Annotations}}"))["run.oci.keep_original_groups"] == "1"


@pytest.mark.parametrize("user", [None, "0", "tester", "1000", "1000:10", "tester:10", "12345", "12345:12345"])
def test_a_containers_groups_are_podmans(p, podman, user):
    """The supplementary groups podman gives: none to a container whose user nobody named, the
    primary group and the user's memberships to a user named without a group, the group given
    otherwise; a numeric group the image lacks gets a line in /etc/group naming the user."""
    args = ["-u", user] if user else []
    script = "id; tail -1 /etc/group"
    ours = _run(p, *args, "busybox", "sh", "-c", script).stdout
    theirs = podman("run", "--rm", *args, "localhost/busybox", "sh", "-c", script).stdout
    assert ours == theirs


def test_umask(p):
    assert _run(p, "--umask", "0027", "busybox", "sh", "-c", "umask; touch /f; stat -c %a /f").stdout.split() == [
        "0027", "640"]
    assert _run(p, "busybox", "sh", "-c", "umask").stdout.strip() == "0022"
    assert "invalid umask string 99" in _one_line_error(_run(p, "--umask", "99", "busybox", "true", check=False))
    p("create", "--name", "um", "--umask", "077", "busybox", "true")
    assert _inspect(p, "um", "{{.Config.Umask}}") == "0077"
    p("run", "-d", "--name", "umd", "--network", "none", "--umask", "077", "busybox", "sleep", "300")
    assert p("exec", "umd", "sh", "-c", "umask").stdout.strip() == "0077"   # exec has the container's


def _env(text):
    return dict(line.partition("=")[::2] for line in text.splitlines())


def test_environment_flags(p):
    env = _env(_run(p, "-e", "FOO=1", "--unsetenv", "PATH", "--unsetenv", "FOO", "busybox", "/bin/env").stdout)
    assert "PATH" not in env and env["FOO"] == "1"    # what -e gives is never taken away
    env = _env(_run(p, "--unsetenv-all", "-e", "A=1", "busybox", "/bin/env").stdout)
    assert set(env) == {"A", "HOME", "HOSTNAME"}
    out = _run(p, "--env-merge", "PATH=${PATH}:/opt", "--env-merge", "NEW=x", "busybox", "sh", "-c",
               'echo "$PATH|$NEW"').stdout.strip()
    assert out.endswith(":/sbin:/bin:/opt|")
    proxy = {"http_proxy": "http://proxy.example:3128"}
    assert _env(_run(p, "busybox", "/bin/env", env=proxy).stdout)["http_proxy"] == "http://proxy.example:3128"
    assert "http_proxy" not in _env(_run(p, "--http-proxy=false", "busybox", "/bin/env", env=proxy).stdout)


def test_labels_annotations_and_no_hosts(p, tmp_path):
    labels = tmp_path / "labels"
    labels.write_text("a=1\n# a comment\n\nb=2\n")
    p("create", "--name", "lf", "--label-file", labels, "-l", "b=3", "--annotation", "k=v", "busybox", "true")
    assert json.loads(_inspect(p, "lf", "{{json .Config.Labels}}")) == {"a": "1", "b": "3"}
    assert json.loads(_inspect(p, "lf", "{{json .Config.Annotations}}"))["k"] == "v"
    out = _run(p, "--chrootdirs", "/srv", "busybox", "sh", "-c", "cmp /etc/hosts /srv/etc/hosts && echo same").stdout
    assert out.strip() == "same"
    res = _run(p, "--no-hosts", "busybox", "cat", "/etc/hosts", check=False)
    assert res.returncode == 1 and "No such file" in res.stderr
    assert "cannot be set together" in _one_line_error(_run(p, "--no-hosts", "--add-host", "a:1.2.3.4", "busybox",
                                                            "true", check=False))
    assert "annotations must be formatted KEY=VALUE" in _one_line_error(
        _run(p, "--annotation", "k", "busybox", "true", check=False))


def test_passwd_entry(p):
    out = _run(p, "-u", "1234", "--passwd-entry", "$USERNAME:x:$UID:$GID:$NAME:$HOME:/bin/sh", "busybox", "sh", "-c",
               "id -un; tail -1 /etc/passwd").stdout.splitlines()
    assert out == ["1234", "1234:x:1234:0:container user:/:/bin/sh"]


def test_oom_score_adj_and_personality(p):
    assert _run(p, "--oom-score-adj", "200", "busybox", "cat", "/proc/self/oom_score_adj").stdout.strip() == "200"
    # lowering it needs a privilege no rootless process has: podman's runtime fails with 126
    assert "oom_score_adj" in _one_line_error(_run(p, "--oom-score-adj", "-200", "busybox", "true", check=False), 126)
    assert _run(p, "--personality", "LINUX32", "busybox", "uname", "-m").stdout.strip() in ("i686", "i386")
    assert _run(p, "--personality", "LINUX", "busybox", "uname", "-m").stdout.strip() == os.uname().machine


def test_requires(p):
    p("create", "--name", "db", "busybox", "sleep", "300")
    _run(p, "--requires", "db", "busybox", "true")
    assert _inspect(p, "db", "{{.State.Status}}") == "running"
    p("create", "--name", "app", "--requires", "db", "busybox", "true")
    db = _inspect(p, "db", "{{.Id}}")
    assert _inspect(p, "app", "{{json .Dependencies}}") == f'["{db}"]'
    assert "has dependent containers" in _one_line_error(p("rm", "-f", "db", check=False))
    assert "is not a valid container" in _one_line_error(_run(p, "--requires", "nosuch", "busybox", "true",
                                                              check=False))


def test_systemd_mode(p):
    out = _run(p, "--systemd", "always", "busybox", "sh", "-c", "grep -E ' /(run|run/lock|tmp|var/log/journal) ' "
               "/proc/self/mounts | cut -d' ' -f2,3; test -d /sys/fs/cgroup && echo cgroup; echo $container").stdout
    assert set(out.split()) >= {"/run", "/run/lock", "/tmp", "/var/log/journal", "tmpfs", "cgroup", "podman"}
    assert _run(p, "--systemd", "always", "busybox", "test", "-f", "/run/.containerenv").returncode == 0
    p("create", "--name", "sd", "--systemd", "always", "busybox", "sleep", "1")
    assert _inspect(p, "sd", "{{.Config.SystemdMode}} {{.Config.StopSignal}}") == "true 37"   # SIGRTMIN+3
    plain = _run(p, "busybox", "sh", "-c", "grep -c ' /run/lock ' /proc/self/mounts", check=False).stdout.strip()
    assert plain == "0"
    assert "systemd option requires" in _one_line_error(_run(p, "--systemd", "x", "busybox", "true", check=False))


def test_rootfs(p, image_tar, tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    subprocess.run(["tar", "-xf", str(image_tar), "-C", str(root), "--no-same-owner"], check=False,
                   stderr=subprocess.DEVNULL)
    out = _run(p, "--rootfs", root, "sh", "-c", "id -u; echo hi > /written").stdout.strip()
    assert out == "0"
    assert (root / "written").read_text() == "hi\n" and (root / "written").stat().st_uid == os.getuid()
    p("create", "--name", "rf", "--rootfs", root, "true")
    assert _inspect(p, "rf", "{{.Rootfs}}|{{.ImageName}}") == f"{root}|"
    assert p("start", "-a", "rf").returncode == 0
    assert "(--rootfs), not an image" in _one_line_error(p("commit", "rf", "rfimage", check=False))
    assert "no such file or directory" in _one_line_error(_run(p, "--rootfs", tmp_path / "none", "true",
                                                               check=False))


def test_rootfs_overlay_keeps_the_directory_unchanged_as_podman(p, podman, image_tar, tmp_path):
    """--rootfs PATH:O: the container writes in an overlay of its own, which lasts as long as
    the container; the directory is left as it was (podman's behaviour, checked with podman)."""
    for name, tool in (("podpy", p), ("podman", podman)):
        root = tmp_path / name
        root.mkdir()
        subprocess.run(["tar", "-xf", str(image_tar), "-C", str(root), "--no-same-owner"], check=False,
                       stderr=subprocess.DEVNULL)
        before = sorted(os.listdir(root))
        script = "cat /kept 2>/dev/null; echo written > /kept; rm /bin/true; id -u"
        out = tool("run", "--name", "rfo", "--rootfs", f"{root}:O", "sh", "-c", script).stdout.split()
        assert out == ["0"], name
        assert tool("start", "-a", "rfo").stdout.split() == ["written", "0"], name   # the overlay lasts
        assert tool("inspect", "--format", "{{.Rootfs}}", "rfo").stdout.strip() == str(root), name
        tool("rm", "rfo")
        assert sorted(os.listdir(root)) == before and (root / "bin" / "true").exists(), name
        out = tool("run", "--rm", "--rootfs", f"{root}:O", "sh", "-c", "cat /kept || echo fresh").stdout
        assert out.strip() == "fresh", name    # a new container: a new overlay
    p("create", "--name", "rfo2", "--rootfs", f"{tmp_path / 'podpy'}:O", "true")
    assert "(--rootfs), not an image" in _one_line_error(p("commit", "rfo2", "rfoimage", check=False))


def test_systemd_tmpfs_keep_what_the_image_has_there(p, image_tar, tmp_path):
    root = tmp_path / "tree"
    root.mkdir()
    subprocess.run(["tar", "-xf", str(image_tar), "-C", str(root), "--no-same-owner"], check=False,
                   stderr=subprocess.DEVNULL)
    (root / "run" / "app").mkdir(parents=True)
    (root / "run" / "app" / "state").write_text("kept\n")
    (root / "var" / "log" / "journal").mkdir(parents=True)
    (root / "var" / "log" / "journal").chmod(0o2755)
    out = _run(p, "--systemd", "always", "--rootfs", root, "sh", "-c", "cat /run/app/state; "
               "stat -c %a /var/log/journal /run/lock; grep -c ' /run tmpfs ' /proc/self/mounts").stdout.split()
    assert out == ["kept", "2755", "1777", "1"]   # copied up, the directory's mode kept; a new one 1777


def test_userns_nomap_and_subuidname(p):
    out = _run(p, "--userns=nomap", "busybox", "cat", "/proc/self/uid_map", "/proc/self/gid_map").stdout.split()
    assert out == ["0", "1", "65536"] * 2
    p("create", "--name", "nm", "--userns=nomap", "busybox", "true")
    assert _inspect(p, "nm", "{{.HostConfig.UsernsMode}} {{json .HostConfig.IDMappings.UidMap}}") == \
        'private ["0:1:65536"]'
    me = pwd.getpwuid(os.getuid()).pw_name
    out = _run(p, "--subuidname", me, "busybox", "cat", "/proc/self/uid_map").stdout.split()
    assert out == ["0", "1", "65536"]
    assert 'no subuid ranges found for user "nosuch"' in _one_line_error(
        _run(p, "--subuidname", "nosuch", "busybox", "true", check=False))


def test_attach_streams(p):
    both = ["busybox", "sh", "-c", "echo out; echo err >&2"]
    res = _run(p, "-a", "stdout", *both)
    assert (res.stdout, res.stderr) == ("out\n", "")
    res = _run(p, "-a", "stderr", *both)
    assert (res.stdout, res.stderr) == ("", "err\n")
    res = p("run", "--name", "logged", "-a", "stdout", *both)
    assert res.stderr == "" and sorted(p("logs", "logged").stdout.split() + p("logs", "logged").stderr.split()) == [
        "err", "out"]
    assert 'invalid stream "foo"' in _one_line_error(_run(p, "-a", "foo", "busybox", "true", check=False))


def test_pull_flags_of_run(p, tmp_path):
    assert "stat /nonexistent/auth.json: no such file or directory" in _one_line_error(
        _run(p, "--authfile", "/nonexistent/auth.json", "busybox", "true", check=False))
    assert "--platform option can not be specified with --arch or --os" in _one_line_error(
        _run(p, "--platform", "linux/amd64", "--arch", "amd64", "busybox", "true", check=False))
    res = _run(p, "-q", "--tls-verify=false", "--disable-content-trust", "--arch", os.uname().machine.replace(
        "x86_64", "amd64").replace("aarch64", "arm64"), "--pull", "never", "busybox", "true")
    assert res.stderr == ""


def test_cgroup_knobs(p):
    res = _run(p, "--cpu-period", "100000", "--cpu-quota", "50000", "--cpuset-cpus", "0", "--memory-reservation",
               "64m", "--memory-swappiness", "10", "--cgroup-conf", "pids.max=100", "busybox", "true")
    # applied where the delegated tree has the controller; otherwise one warning per controller
    for flag in ("--cpu-period/--cpu-quota", "--cpuset-cpus", "--memory-reservation", "--cgroup-conf pids.max"):
        assert flag in res.stderr or "controller" not in res.stderr
    assert "--memory-swappiness ignored" in res.stderr
    p("create", "--name", "cg", "--cpu-period", "100000", "--cpu-quota", "50000", "--cpuset-cpus", "0-1",
      "--blkio-weight", "300", "--memory-reservation", "64m", "--oom-kill-disable", "--oom-score-adj", "100",
      "--cgroup-conf", "memory.high=1000000", "busybox", "true")
    host = json.loads(_inspect(p, "cg", "{{json .HostConfig}}"))
    assert (host["CpuPeriod"], host["CpuQuota"], host["CpusetCpus"], host["BlkioWeight"]) == (100000, 50000, "0-1",
                                                                                          300)
    assert (host["MemoryReservation"], host["OomKillDisable"], host["OomScoreAdj"]) == (64 << 20, True, 100)
    assert host["CgroupConf"] == {"memory.high": "1000000"}
    for args, message in ((["--cpus", "1", "--cpu-period", "1000"], "--cpu-period and --cpus cannot be set together"),
                          (["--device-read-bps", "/dev/nosuch:1mb"], "could not parse throttle device at /dev/nosuch"),
                          (["--memory-swappiness", "101"], "valid memory swappiness range is 0-100"),
                          (["--device-cgroup-rule", "foo"], "requires type, major:Minor, and access rules"),
                          (["--cgroup-conf", "foo"], "--cgroup-conf must be formatted KEY=VALUE")):
        assert message in _one_line_error(_run(p, *args, "busybox", "true", check=False))


def test_same_as_podman(p, podman):
    """Where podman 4.3.1 gives the same answer on this host: groups, umask, the environment."""
    for args in (["--group-add", "10", "--group-add", "extra", "-u", "tester", "busybox", "id", "-G"],
                 ["--umask", "0027", "busybox", "sh", "-c", "umask"],
                 ["-e", "FOO=1", "--unsetenv", "PATH", "--unsetenv", "FOO", "busybox", "/bin/sh", "-c",
                  "echo $FOO$PATH"],
                 ["--env-merge", "PATH=${PATH}:/opt", "busybox", "sh", "-c", "echo $PATH"]):
        ours = _run(p, *args).stdout
        theirs = podman("run", "--rm", "--network", "none", *[a.replace("busybox", "localhost/busybox") for a in args])
        assert ours == theirs.stdout, args


@pytest.fixture(scope="module")
def registry(tmp_path_factory, image_tar):
    from registry import oci_layout, push, serving

    work = tmp_path_factory.mktemp("registry")
    with serving(work) as reg:
        oci_layout(work / "busybox", [image_tar.read_bytes()], ["sh"])
        push(work / "busybox", f"{reg.host}/library/busybox:latest")
        yield reg


def test_implicit_pull_quiet_and_tls(new_podpy, registry):
    """run's pull of a missing image: without --tls-verify=false the plain-HTTP registry is
    refused; with it the image comes, its progress shown, and not with -q."""
    p = new_podpy()
    image = f"{registry.host}/library/busybox"
    res = p("run", "--rm", "--network", "none", image, "true", check=False)
    assert res.returncode == 125
    res = p("run", "--rm", "--network", "none", "--tls-verify=false", image, "echo", "ok")
    assert res.stdout == "ok\n" and "Trying to pull" in res.stderr
    p("rmi", image)
    res = p("run", "--rm", "--network", "none", "-q", "--tls-verify=false", image, "echo", "ok")
    assert (res.stdout, res.stderr) == ("ok\n", "")
