"""Bad input: one line naming the fault, exit 125, and nothing half-made."""

import os

import pytest


def _snapshot(p):
    store = p.data_home / "podpy"
    return (p("ps", "-a", "-q").stdout, sorted(os.listdir(store / "containers"))
            if (store / "containers").exists() else [])


@pytest.mark.parametrize("args,msg", [
    (["run", "--pull=never", "no-such-image", "true"], "image not known"),
    (["run", "--pull=sometimes", "busybox", "true"], "invalid --pull"),
    (["run", "-v", "tmp", "busybox", "true"], "invalid volume"),
    (["run", "-v", "/tmp:relative", "busybox", "true"], "not absolute"),
    (["run", "-v", "/does/not/exist:/x", "busybox", "true"], "no such file"),
    (["run", "-e", "=oops", "busybox", "true"], "invalid environment variable"),
    (["run", "--env-file", "/does/not/exist", "busybox", "true"], 'parsing env file "/does/not/exist": open /does/not/exist: no such file or directory'),
    (["run", "-u", "a:b:c", "busybox", "true"], "invalid user"),
    (["run", "-u", "70000", "busybox", "true"], "not mapped in the user namespace"),
    (["run", "--name", "bad name", "busybox", "true"], "invalid"),
    (["run", "--network", "bogus", "busybox", "true"], "network not found"),
    (["run", "--cap-add", "CAP_BOGUS", "busybox", "true"], "unknown capability"),
    (["run", "-w", "relative", "busybox", "true"], "workdir"),
    (["run", "--bogus-flag", "busybox", "true"], "unknown flag: --bogus-flag"),
    (["create", "busybox"], "no command"),
    (["start", "-a", "no-such-container"], "no such container"),
    (["inspect", "no-such-thing"], "no such object"),
    (["inspect", "--type", "volume", "busybox"], "invalid --type"),
    (["start", "nosuchcontainer"], "no such container"),
    (["start", "-a", "a", "b"], "multiple containers"),
    (["rm"], "you must provide at least one name or id"),
    (["rmi"], "requires at least one image"),
    (["ps", "--filter", "color=red"], "invalid filter"),
    (["ps", "--filter", "novalue"], "invalid filter \"novalue\""),
    (["history", "no-such-image"], "image not known"),
    (["pull", "--creds", "nocolon", "127.0.0.1:1/x/y"], "invalid --creds"),
    (["pull", "--platform", "linux/amd64/v2/x", "127.0.0.1:1/x/y"], "invalid platform"),
    (["login", "-u", "x", "-p", "a", "--password-stdin", "127.0.0.1:1"], "mutually exclusive"),
    (["login", "-u", "x", "127.0.0.1:1"], "no password given"),
    (["logout"], "needs a registry"),
    (["logout", "never.example"], "not logged into never.example"),
    (["load", "-i", "/does/not/exist.tar"], "no such file"),
    (["run", "-d", "--preserve-fds", "1", "busybox", "true"], "not open"),
    (["run", "--stop-timeout", "soon", "busybox", "true"], "invalid --stop-timeout"),
    (["run", "--cgroup-parent", "../up", "busybox", "true"], "invalid --cgroup-parent"),
    (["run", "--read-only-tmpfs", "maybe", "busybox", "true"], "invalid --read-only-tmpfs"),
    (["exec", "-i"], "exec requires the name or ID of a container or the --latest flag"),
    (["commit", "nosuch", "img"], "no such container"),
    (["cp", "nosuch:/etc", "."], "no such container"),
    (["top", "nosuch"], "no such container"),
    (["inspect", "--type", "image", "nosuch"], "inspecting object: nosuch: image not known"),
    (["container", "inspect", "nosuch"], "inspecting object: no such container nosuch"),
    (["stats", "--no-stream", "--interval", "0"], "--interval"),
    (["events", "--stream=false", "--since", "the dawn of time"], "invalid --since"),
    (["volume", "create", "-o", "nosuch=1", "v"], "invalid mount option nosuch for driver 'local'"),
    (["volume", "create", "-o", "o=size=1m", "v"], "Project Quota"),
    (["volume", "create", "bad name"], "invalid volume name"),
    (["volume", "inspect", "nosuch"], "no such volume"),
    (["healthcheck", "run", "nosuch"], "no such container"),
    (["attach", "nosuch"], "no such container"),
    (["system", "prune"], "EOF"),   # no answer to its question, as podman
    (["volume", "prune", "--filter", "bogus=1"], '"bogus" is an invalid volume filter'),
    (["volume", "export", "nosuch"], "no such volume nosuch"),
    (["run", "--image-volume", "bogus", "busybox", "true"], "invalid image volume mode"),
])
def test_bad_input(podpy, busybox, args, msg):
    before = _snapshot(podpy)
    res = podpy(*args, check=False)
    assert res.returncode == 125, (res.returncode, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith("Error: ") and msg in lines[0], lines
    # one line; an unknown flag's is followed by podman's hint
    assert lines[1:] == ([f"See 'podpy {args[0]} --help'"] if "unknown flag" in msg else []), lines
    assert _snapshot(podpy) == before


def test_failed_exec_leaves_the_container_created_without_rm(podpy, busybox):
    res = podpy("run", "--network", "none", "--name", "badexec", busybox, "nope", check=False)
    assert res.returncode == 127
    assert podpy("ps", "-a", "--format", "{{.Status}}", "--filter", "name=badexec").stdout == "Created\n"
    podpy("rm", "badexec")
    before = _snapshot(podpy)
    assert podpy("run", "--rm", "--network", "none", busybox, "nope", check=False).returncode == 127
    assert _snapshot(podpy) == before


def test_blocked_registry_is_refused_before_any_connection(new_podpy):
    p = new_podpy()
    conf = p.home / "config" / "containers"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "registries.conf").write_text('[[registry]]\nlocation = "127.0.0.1:1"\nblocked = true\n')
    for args in (["pull", "127.0.0.1:1/x/y"], ["run", "--rm", "127.0.0.1:1/x/y", "true"]):
        res = p(*args, check=False)
        assert res.returncode == 125 and "blocked" in res.stderr.strip().splitlines()[-1]


def test_export_bad_input(podpy, busybox, tmp_path):
    res = podpy("export", "no-such-container", check=False)
    assert res.returncode == 125 and res.stderr.strip() == (
        'Error: no container with name or ID "no-such-container" found: no such container')
    podpy("create", "--name", "exp-bad", busybox, "true")
    res = podpy("export", "-o", tmp_path, "exp-bad", check=False)
    assert res.returncode == 125 and "is a directory" in res.stderr and res.stderr.count("\n") == 1
    podpy("rm", "exp-bad")


def test_bad_input_on_existing_containers(podpy, busybox):
    podpy("create", "--name", "idle", busybox, "true")
    try:
        for args, msg in [(["top", "idle"], "not running"), (["attach", "idle"], "running containers"),
                          (["pause", "idle"], "not running"), (["unpause", "idle"], "not paused"),
                          (["healthcheck", "run", "idle"], "no defined healthcheck"),
                          (["commit", "idle", "Bad:Name:x"], "invalid"), (["volume", "rm", "nosuch"], "no such volume"),
                          (["exec", "idle"], "must provide a non-empty command to start an exec session")]:
            res = podpy(*args, check=False)
            assert res.returncode in (1, 125) and res.stderr.count("Error:") == 1 and msg in res.stderr, (args, res)
    finally:
        podpy("rm", "idle")
