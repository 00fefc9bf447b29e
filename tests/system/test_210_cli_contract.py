"""podman's global flags on real commands, and podman's commands that podpy refuses or has
just gained (completion, help, container exists, port), compared with podman 4.3.1 run as the
same user on a private store where podman is installed."""

from __future__ import annotations

import json
import os
import re
import shutil
import time

import pytest

from helpers import driver_skip_reason



@pytest.fixture
def p(podpy, busybox):
    return podpy


def _podman_messages(stderr: str) -> list[str]:
    """podman's log lines (`time=... level=warning msg="..."` without a terminal: podpy's alike)
    as messages (a msg of only letters, digits and -._/@^+ is not quoted)."""
    return [(m.group(1) or m.group(2)).replace('\\"', '"')
            for m in re.finditer(r'msg=(?:"((?:[^"\\]|\\.)*)"|([A-Za-z0-9._/@^+-]+))', stderr)]


_podpy_messages = _podman_messages


# -- global flags on real commands --------------------------------------------------------

def test_noout_discards_what_the_command_prints_not_its_containers_output(p, podman):
    for tool, image in ((p, "busybox"), (podman, "localhost/busybox")):
        res = tool("--noout", "run", "--rm", "--network", "none", image, "sh", "-c", "echo out; echo err >&2; exit 3",
                   check=False)
        assert (res.returncode, res.stdout, res.stderr) == (3, "out\n", "err\n"), tool
        res = tool("--noout", "run", "-d", "--network", "none", image, "true")
        assert (res.returncode, res.stdout) == (0, "")   # the id is podpy's (podman's) own output
        res = tool("--noout", "images")
        assert (res.returncode, res.stdout) == (0, "")


def test_a_bad_log_level_is_refused_with_podmans_message(p, podman):
    res = p("--log-level", "loud", "images", check=False)
    theirs = podman("--log-level", "loud", "images", check=False)
    message = ('Log Level "loud" is not supported, choose from: '
               "trace, debug, info, warn, warning, error, fatal, panic")
    # podman prints it without "Error: " and exits 1 here (before its error handling); so does podpy
    assert (res.returncode, res.stdout, res.stderr) == (1, "", f"{message}\n")
    assert (theirs.returncode, theirs.stderr.strip()) == (1, message)


def test_log_levels_as_podmans(p, podman):
    for tool in (p, podman):
        assert tool("--log-level=error", "images").stderr == ""
    debug = p("--log-level=debug", "images").stderr   # without a terminal: logrus's lines, as podman's
    assert 'level=info msg="podpy filtering at log level debug"' in debug
    assert 'level=debug msg="Using graph root ' in debug
    theirs = podman("--log-level=debug", "images").stderr
    assert re.search(r'level=info msg="\S*podman filtering at log level debug"', theirs)


def test_events_backend_none_writes_no_event(p, podman, tmp_path):
    tmp = tmp_path / "tmp"   # the event log goes to TMPDIR/events/events.log, away from other tests'
    p("--tmpdir", tmp, "--events-backend", "none", "run", "--rm", "--network", "none", "busybox", "true")
    assert not (tmp / "events" / "events.log").exists()
    res = p("--tmpdir", tmp, "--events-backend", "none", "events", "--stream=false", check=False)
    theirs = podman("--events-backend", "none", "events", "--stream=false", check=False)
    assert (res.returncode, res.stderr) == (theirs.returncode, theirs.stderr) == (
        125, 'Error: cannot read events with the "none" backend\n')
    p("--tmpdir", tmp, "run", "--rm", "--network", "none", "busybox", "true")
    events = p("--tmpdir", tmp, "events", "--stream=false", "--format", "{{.Status}}").stdout.split()
    assert events[:2] == ["create", "start"] and "remove" in events


def test_a_detached_containers_clean_up_keeps_the_events_flags(p, tmp_path):
    """The monitor's clean-up records the exit (`died`, and `remove` with --rm) with the run's
    --tmpdir and --events-backend. No podpy command runs meanwhile: one would record the exit
    itself, with its own flags (as a podman command would)."""

    def wait_for(what, done):
        deadline = time.monotonic() + 30
        while not done():
            assert time.monotonic() < deadline, f"no {what} after 30 s"
            time.sleep(0.1)

    logged_tmp = tmp_path / "logged"
    log = logged_tmp / "events" / "events.log"
    cid = p("--tmpdir", logged_tmp, "run", "-d", "--rm", "--network", "none", "busybox", "true").stdout.strip()
    wait_for("remove event", lambda: '"Status":"remove"' in log.read_text())
    assert [json.loads(line)["Status"] for line in log.read_text().splitlines()] == [
        "create", "start", "died", "remove"]
    assert {json.loads(line)["ID"] for line in log.read_text().splitlines()} == {cid}

    quiet_tmp = tmp_path / "quiet"
    cid = p("--tmpdir", quiet_tmp, "--events-backend", "none", "run", "-d", "--rm", "--network", "none", "busybox",
            "true").stdout.strip()
    wait_for("removal", lambda: not (p.data_home / "podpy" / "containers" / cid).exists())
    assert not (quiet_tmp / "events").exists()


def test_journald_without_a_journal_falls_back_to_the_file(p, tmp_path):
    if os.path.exists("/run/systemd/journal/socket"):
        pytest.skip("this machine has a journal")
    tmp = tmp_path / "tmp"
    res = p("--tmpdir", tmp, "--events-backend", "journald", "run", "--rm", "--network", "none", "busybox", "true")
    assert "Falling back to --events-backend=file" in _podpy_messages(res.stderr)
    assert '"Status":"start"' in (tmp / "events" / "events.log").read_text()


def test_any_runtime_is_recorded_and_podpy_runs_the_container(p, podman):
    res = p("--runtime", "crun", "--runtime-flag", "debug", "run", "--rm", "--network", "none", "busybox",
            "echo", "ran")
    assert (res.returncode, res.stdout) == (0, "ran\n")   # crun is not even installed: podpy runs it
    fmt = "{{.Host.OCIRuntime.Name}}"
    assert p("--runtime", "crun", "info", "--format", fmt).stdout == "crun\n"
    assert p("--runtime", "runc", "info", "--format", fmt).stdout == podman("--runtime", "runc", "info",
                                                                             "--format", fmt).stdout == "runc\n"


def test_remote_connections_without_a_service_fail_as_podmans(p, podman, tmp_path):
    """Remote connections to a service that is not there (test_460_remote.py has them with
    one): one line naming what is missing, exit 125, as podman fails too."""
    missing = tmp_path / "nonexistent.sock"
    for args, words in ((["--url", f"unix://{missing}"], f"unable to connect to the service at unix://{missing}"),
                        (["-c", "elsewhere"], '"elsewhere" destination is not defined'),
                        (["--remote", "--url", f"unix://{missing}"], "unable to connect to the service")):
        res = p(*args, "images", check=False)
        theirs = podman(*args, "images", check=False)
        assert (res.returncode, res.stdout) == (125, ""), args
        assert len(res.stderr.splitlines()) == 1 and res.stderr.startswith(f"Error: {words}"), res.stderr
        assert theirs.returncode == 125, theirs   # podman fails too: no such service here


def test_storage_opts_are_refused_in_podmans_words(p, podman):
    for opt, message in (("overlay.foo=1", "overlay: Unknown option overlay.foo"),
                         ("bogus", "unable to parse key/value option: bogus")):
        res = p("--storage-opt", opt, "images", check=False)
        theirs = podman("--storage-opt", opt, "images", check=False)
        assert (res.returncode, res.stderr) == (theirs.returncode, theirs.stderr) == (125, f"Error: {message}\n")


def test_storage_opt_mount_program_gives_fuse_overlayfs(new_podpy, image_tar, harness_tmp):
    reason = driver_skip_reason("fuse-overlayfs", harness_tmp)
    if reason:
        pytest.skip(reason)
    fresh = new_podpy()
    opt = ["--storage-opt", f"overlay.mount_program={shutil.which('fuse-overlayfs')}"]
    fresh(*opt, "import", image_tar, "busybox")
    assert fresh(*opt, "info", "--format", "{{.Store.GraphDriverName}}").stdout == "fuse-overlayfs\n"
    assert fresh(*opt, "run", "--rm", "--network", "none", "busybox", "echo", "ok").stdout == "ok\n"


def test_cgroup_manager_systemd_falls_back_with_podmans_warnings(p, podman):
    if os.path.exists(f"/run/user/{os.getuid()}/systemd/private"):
        pytest.skip("this user has a systemd session: podman would use it")
    res = p("--cgroup-manager", "systemd", "images")
    theirs = podman("--cgroup-manager", "systemd", "images")
    ours = _podpy_messages(res.stderr)
    assert ours[-1] == "Falling back to --cgroup-manager=cgroupfs"
    assert ours == _podman_messages(theirs.stderr)[:len(ours)]
    bad = p("--cgroup-manager", "bogus", "images", check=False)
    assert (bad.returncode, bad.stderr) == (125, "Error: cgroup manager must be one of cgroupfs and systemd\n")


def test_syslog_without_a_syslog_socket_fails_as_podman(p, podman):
    if os.path.exists("/dev/log"):
        pytest.skip("this machine has a syslog socket")
    res = p("--syslog", "images", check=False)
    theirs = podman("--syslog", "images", check=False)
    assert (res.returncode, res.stdout) == (125, "")
    assert res.stderr == "Error: Failed to initialize syslog hook: Unix syslog delivery error\n"
    assert theirs.returncode != 0 and "Failed to initialize syslog hook" in theirs.stderr


def test_the_accepted_engine_flags_are_recorded(p):
    fmt = "{{.Host.Conmon.Path}} {{.Host.NetworkCmdPath}} {{.Host.NetworkConfigDir}} {{.Host.CgroupManager}}"
    res = p("--conmon", "/usr/bin/conmon", "--network-cmd-path", "/usr/bin/slirp4netns", "--network-config-dir",
            "/nonexistent", "--cgroup-manager", "cgroupfs", "info", "--format", fmt)
    assert res.stdout == "/usr/bin/conmon /usr/bin/slirp4netns /nonexistent cgroupfs\n"


# -- refusals, and the commands just added ------------------------------------------------

@pytest.mark.parametrize("args,message", [
    (["image", "sign", "docker://x"], "please provide an identity"),
    (["container", "checkpoint", "x"], "podpy container checkpoint: checkpointing needs CRIU"),
    (["system", "migrate"], "podpy system migrate: out of scope"),
    (["push", "--sign-by-sigstore-private-key", "/no/such/key", "busybox", "localhost:1/x"],
     "reading private key from /no/such/key: open /no/such/key: no such file or directory"),
    (["--hooks-dir", "/no/such/hooks", "run", "--rm", "busybox", "true"],
     "--hooks-dir /no/such/hooks: no such directory"),
])
def test_refusals_are_one_line_and_125(p, args, message):
    res = p(*args, check=False)
    assert res.returncode == 125 and res.stdout == ""
    assert len(res.stderr.splitlines()) == 1 and res.stderr.startswith(f"Error: {message}")


def test_container_exists_and_port_as_podman(p, podman):
    outputs = []
    for tool, image in ((p, "busybox"), (podman, "localhost/busybox")):
        tool("run", "-d", "--name", "contract-port", "-p", "127.0.0.1::80", "-p", "127.0.0.1::81/udp", image,
             "sleep", "60")
        try:
            port = tool("port", "contract-port").stdout
            one = tool("port", "contract-port", "81/udp").stdout
            missing = tool("port", "contract-port", "82", check=False)
            codes = [tool("container", "exists", name, check=False).returncode for name in ("contract-port", "nope")]
            # podman lists the ports in no fixed order (a Go map): compare them sorted
            listed = "".join(sorted(re.sub(r":\d+", ":N", port).splitlines(keepends=True)))
            outputs.append((listed, re.sub(r":\d+", ":N", one), missing.returncode, missing.stderr, codes))
        finally:
            tool("rm", "-f", "-t", "0", "contract-port")
    assert outputs[0] == outputs[1] == ("80/tcp -> 127.0.0.1:N\n81/udp -> 127.0.0.1:N\n", "127.0.0.1:N\n", 125,
                                        'Error: failed to find published port "82"\n', [0, 1])


def test_completion_prints_a_script_that_asks_podpy(p, tmp_path):
    script = p("completion", "bash").stdout
    assert "_PODPY_COMPLETE=bash_complete" in script and "_podpy_completion" in script
    assert p("completion", "zsh", "--no-desc").stdout.count("zsh_complete_nodesc") == 1
    assert "fish_complete" in p("completion", "fish").stdout
    p("completion", "-f", tmp_path / "podpy.bash", "bash")
    assert (tmp_path / "podpy.bash").read_text() == script
    asked = p(env={"_PODPY_COMPLETE": "bash_complete", "COMP_WORDS": "podpy ima", "COMP_CWORD": "1"})
    assert sorted(asked.stdout.split()) == ["plain,image", "plain,images"]
    bad = p("completion", "tcsh", check=False)
    assert bad.returncode == 125 and 'invalid argument "tcsh"' in bad.stderr


def test_help_and_dash_h(p):
    assert p("help", "container", "ls").stdout == p("container", "ls", "--help").stdout
    assert p("ps", "-h").stdout == p("ps", "--help").stdout
    assert "Unknown help topic [`nope`]" in p("help", "nope").stdout
    assert "-h, --hostname" in p("run", "--help").stdout   # run's -h is podman's: the hostname
