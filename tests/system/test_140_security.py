"""Security defaults as rootless podman's: a seccomp filter (podman's default profile), a
profile of one's own or none, no-new-privileges, masked paths, and no fd of podpy's inside."""

import json

import pytest


@pytest.fixture
def p(podpy, busybox):
    return podpy


def _status_field(p, field, *opts):
    out = p("run", "--rm", "--network", "none", *opts, "busybox", "grep", f"^{field}:", "/proc/self/status").stdout
    return out.split()[1]


def test_default_seccomp_filter(p):
    # a filter is in place (what the default profile allows and denies: tests/unit/test_seccomp.py)
    assert _status_field(p, "Seccomp") == "2"
    assert _status_field(p, "Seccomp", "--security-opt", "seccomp=unconfined") == "0"
    assert _status_field(p, "Seccomp", "--privileged") == "0"


def test_exec_gets_the_filter_too(p):
    p("run", "-d", "--name", "sec", "--network", "none", "busybox", "sleep", "60")
    try:
        assert p("exec", "sec", "grep", "^Seccomp:", "/proc/self/status").stdout.split()[1] == "2"
        assert p("exec", "--privileged", "sec", "grep", "^Seccomp:", "/proc/self/status").stdout.split()[1] == "0"
    finally:
        p("rm", "-f", "sec")


def test_a_profile_of_ones_own(p, tmp_path):
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}))
    profile.chmod(0o644)
    res = p("run", "--rm", "--network", "none", "--security-opt", f"seccomp={profile}", "busybox",
            "sh", "-c", "mkdir /tmp/x", check=False)
    assert res.returncode != 0 and "Permission denied" in res.stderr   # errno 13, as the profile says
    res = p("run", "--rm", "--security-opt", "seccomp=/no/such/profile.json", "busybox", "true", check=False)
    assert res.returncode == 125 and res.stderr.count("\n") == 1
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    bad.chmod(0o644)
    res = p("run", "--rm", "--network", "none", "--security-opt", f"seccomp={bad}", "busybox", "true", check=False)
    assert res.returncode == 125 and "not JSON" in res.stderr and res.stderr.count("\n") == 1


def test_no_new_privileges_and_masks(p):
    assert _status_field(p, "NoNewPrivs") == "0"
    assert _status_field(p, "NoNewPrivs", "--security-opt", "no-new-privileges") == "1"
    out = p("run", "--rm", "--network", "none", "busybox", "sh", "-c", "cat /proc/keys 2>&1 | wc -c; "
            "cat /proc/sys/kernel/hostname >/dev/null && touch /proc/sys/kernel/hostname 2>&1 | head -1").stdout
    assert out.splitlines()[0] == "0" and "Read-only" in out
    out = p("run", "--rm", "--network", "none", "--security-opt", "unmask=/proc/keys", "busybox",
            "sh", "-c", "test -s /proc/keys -o -r /proc/keys && echo visible").stdout
    assert out == "visible\n"
    out = p("run", "--rm", "--network", "none", "--security-opt", "mask=/etc/hostname", "busybox",
            "cat", "/etc/hostname").stdout
    assert out == ""
    res = p("run", "--rm", "--security-opt", "bogus=1", "busybox", "true", check=False)
    assert res.returncode == 125 and "--security-opt" in res.stderr


def test_only_standard_fds_reach_the_container(p):
    out = p("run", "--rm", "--network", "none", "busybox", "ls", "/proc/self/fd").stdout.split()
    assert sorted(out) == ["0", "1", "2", "3"]   # 3: the directory ls is reading


def test_preserve_fds(p, tmp_path):
    import subprocess

    data = tmp_path / "passed"
    data.write_text("through fd 3\n")
    data.chmod(0o644)
    # the shell opens the file as fd 3 of podpy, as a caller would
    argv = ["sh", "-c", 'exec "$@" 3<"$PASSED"', "sh",
            *p.command("run", "--rm", "--network", "none", "--preserve-fds", "1", "busybox",
                       "sh", "-c", "cat <&3; ls /proc/self/fd | sort -n | tr '\\n' ' '")]
    res = subprocess.run(argv, env={**p.environ(), "PASSED": str(data)}, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("through fd 3\n") and res.stdout.split("\n")[1].split() == ["0", "1", "2", "3", "4"]
    res = p("run", "--rm", "--preserve-fds", "2", "busybox", "true", check=False)
    assert res.returncode == 125 and "not open" in res.stderr


def test_exec_preserve_fds(p, tmp_path):
    import subprocess

    data = tmp_path / "passed"
    data.write_text("through fd 3 into exec\n")
    data.chmod(0o644)
    p("run", "-d", "--name", "fds", "--network", "none", "busybox", "sleep", "60")
    try:
        argv = ["sh", "-c", 'exec "$@" 3<"$PASSED"', "sh",
                *p.command("exec", "--preserve-fds", "1", "fds", "sh", "-c",
                           "cat <&3; ls /proc/self/fd | sort -n | tr '\\n' ' '")]
        res = subprocess.run(argv, env={**p.environ(), "PASSED": str(data)}, capture_output=True, text=True,
                             timeout=60)
        assert res.returncode == 0, res.stderr
        lines = res.stdout.split("\n")
        assert lines[0] == "through fd 3 into exec" and lines[1].split() == ["0", "1", "2", "3", "4"]
        # without the flag, nothing of the caller's beyond 0-2
        argv = ["sh", "-c", 'exec "$@" 3<"$PASSED"', "sh",
                *p.command("exec", "fds", "sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '")]
        res = subprocess.run(argv, env={**p.environ(), "PASSED": str(data)}, capture_output=True, text=True,
                             timeout=60)
        assert res.returncode == 0 and res.stdout.split() == ["0", "1", "2", "3"], res.stdout
        res = p("exec", "--preserve-fds", "2", "fds", "true", check=False)
        assert res.returncode == 125 and "not open" in res.stderr
    finally:
        p("rm", "-f", "fds")


def test_ping_group_range_as_podman(p):
    # podman's default sysctl: the container's root group may open ICMP datagram sockets
    # (ping without CAP_NET_RAW, which the default capability set lacks)
    out = p("run", "--rm", "--network", "none", "busybox", "cat", "/proc/sys/net/ipv4/ping_group_range").stdout
    assert out.split() == ["0", "0"]
    out = p("run", "--rm", "--network", "none", "--userns=auto", "busybox", "cat",
            "/proc/sys/net/ipv4/ping_group_range").stdout
    assert out.split() == ["0", "0"]
