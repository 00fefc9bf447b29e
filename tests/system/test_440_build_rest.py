"""build's remaining flags: the layer cache kept in a registry (--cache-to, --cache-from),
SSH agent forwarding into RUN (--ssh, RUN --mount=type=ssh), the id maps of RUN's user
namespace (--userns-uid-map & co), OCI hooks (--hooks-dir), and network create's
--ipam-driver."""

import json
import os
import shutil
from pathlib import Path

import pytest

from helpers import settled_state
from registry import LocalRegistry


@pytest.fixture
def p(new_podpy, image_tar):
    q = new_podpy()
    q("import", image_tar, "busybox")
    return q


def ctx(tmp_path: Path, containerfile: str, files: dict | None = None) -> Path:
    d = tmp_path / "ctx"
    d.mkdir(parents=True, exist_ok=True)
    (d / "Containerfile").write_text(containerfile)
    for rel, content in (files or {}).items():
        (d / rel).write_text(content)
    return d


@pytest.fixture
def registry(tmp_path):
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is needed (installed by packaging/setup.sh test)")
    (tmp_path / "reg").mkdir()
    reg = LocalRegistry(tmp_path / "reg")
    yield reg
    reg.stop()


# -- --cache-to / --cache-from ---------------------------------------------------------------

STAMPED = "FROM localhost/busybox\nCOPY f /f\nRUN date +%s%N > /stamp\nRUN echo second > /second\n"


def fresh_store_with_the_same_base(p, new_podpy, tmp_path):
    """A new store whose busybox is the very image of p's (its id is in every cache key)."""
    saved = tmp_path / "busybox-image.tar"
    if not saved.exists():
        p("save", "-o", saved, "busybox")
    fresh = new_podpy()
    fresh("load", "-i", saved)
    return fresh


def test_cache_to_then_cache_from_in_a_fresh_store_runs_no_step(p, new_podpy, registry, tmp_path):
    d = ctx(tmp_path, STAMPED, {"f": "x\n"})
    repo = f"{registry.host}/buildcache"
    out = p("build", "--tls-verify=false", "--cache-to", repo, "-t", "first", d).stdout
    assert "Using cache" not in out
    stamp = p("run", "--rm", "first", "cat", "/stamp").stdout
    # three steps with a layer each: three tags in the repository, the steps' cache keys
    tags = p("search", "--list-tags", "--tls-verify=false", repo, "--format", "{{.Tag}}").stdout.split()
    assert len(tags) == 3 and all(len(t) == 64 for t in tags)
    fresh = fresh_store_with_the_same_base(p, new_podpy, tmp_path)
    out = fresh("build", "--tls-verify=false", "--cache-from", repo, "-t", "second", d).stdout
    assert out.count("--> Using cache") == 3
    assert fresh("run", "--rm", "second", "cat", "/stamp").stdout == stamp   # RUN did not run again
    # the pulled steps keep no names of the cache's
    assert repo not in fresh("images", "--format", "{{.Repository}}").stdout
    # a changed step misses from there on: it runs, and what follows too
    (d / "f").write_text("changed\n")
    out = fresh("build", "--tls-verify=false", "--cache-from", repo, "-t", "third", d).stdout
    assert "Using cache" not in out
    assert fresh("run", "--rm", "third", "cat", "/stamp").stdout != stamp


def test_cache_ttl_ignores_older_cached_steps_of_the_registry(p, new_podpy, registry, tmp_path):
    d = ctx(tmp_path, STAMPED, {"f": "x\n"})
    repo = f"{registry.host}/ttl"
    p("build", "--tls-verify=false", "--cache-to", repo, d)
    fresh = fresh_store_with_the_same_base(p, new_podpy, tmp_path)
    import time
    time.sleep(2)
    out = fresh("build", "--tls-verify=false", "--cache-from", repo, "--cache-ttl", "1s", d).stdout
    assert "Using cache" not in out


def test_cache_from_refuses_a_tag_and_a_local_name(p, tmp_path):
    d = ctx(tmp_path, "FROM localhost/busybox\n")
    r = p("build", "--cache-from", "127.0.0.1:5000/c:tag", d, check=False)
    assert r.returncode == 125 and "without a tag" in r.stderr
    r = p("build", "--cache-to", "cache", d, check=False)
    assert r.returncode == 125 and "--cache-to" in r.stderr


# -- --ssh and RUN --mount=type=ssh ------------------------------------------------------------

SSH_CHECK = ('FROM localhost/busybox\n'
             'RUN --mount=type=ssh [ -S "$SSH_AUTH_SOCK" ] && echo "sock=$SSH_AUTH_SOCK" > /seen\n'
             'RUN --mount=type=ssh,id=other,target=/agent [ -S /agent ] && echo other >> /seen\n')


@pytest.fixture
def agent(tmp_path):
    """An ssh-agent of this test's, with a key of its own loaded."""
    if shutil.which("ssh-agent") is None or shutil.which("ssh-keygen") is None:
        pytest.skip("openssh-client is needed (installed by packaging/setup.sh test)")
    import subprocess
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "podpy-test-key", "-f", str(key)],
                   check=True)
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    import time
    for _ in range(200):
        # listening, not only bound (its file appears a moment before the agent listens)
        if subprocess.run(["ssh-add", "-q", str(key)], env={**os.environ, "SSH_AUTH_SOCK": str(sock)},
                          stderr=subprocess.DEVNULL).returncode == 0:
            break
        time.sleep(0.02)
    else:
        pytest.fail(f"ssh-agent never took the key on {sock}")
    yield sock, key
    proc.terminate()
    proc.wait()


def test_ssh_default_binds_the_agent_socket_and_sets_ssh_auth_sock(p, agent, tmp_path):
    sock, _key = agent
    d = ctx(tmp_path, SSH_CHECK)
    p("build", "-q", "-t", "ssh1", "--ssh", "default", "--ssh", f"other={sock}", d,
      env={"SSH_AUTH_SOCK": str(sock)})
    assert p("run", "--rm", "ssh1", "cat", "/seen").stdout == "sock=/run/buildkit/ssh_agent.0\nother\n"
    # the socket and its directory are not in the image
    r = p("run", "--rm", "ssh1", "ls", "/run/buildkit", check=False)
    assert r.returncode != 0
    assert "SSH_AUTH_SOCK" not in json.dumps(json.loads(p("image", "inspect", "ssh1").stdout)[0]["Config"])


# busybox has no SSH client: the host's ssh-add runs in the step through the host's dynamic
# loader and libraries, bound read-only with -v (Debian's /lib is /usr/lib)
SSH_ADD = ("/hostusr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 --library-path /hostusr/lib/x86_64-linux-gnu "
           "/hostusr/bin/ssh-add -l")


def host_ssh_add():
    if not os.path.exists("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"):
        pytest.skip("the host's ssh-add is run through /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 (x86-64 only)")
    return ["-v", "/usr:/hostusr:ro"]


def test_ssh_agent_answers_inside_run(p, agent, tmp_path):
    sock, _key = agent
    d = ctx(tmp_path, f"FROM localhost/busybox\nRUN --mount=type=ssh {SSH_ADD} > /keys\n")
    p("build", "-q", "-t", "ssh2", *host_ssh_add(), "--ssh", f"default={sock}", d)
    assert "podpy-test-key" in p("run", "--rm", "ssh2", "cat", "/keys").stdout


def test_ssh_key_file_gets_an_agent_of_podpys_own(p, agent, tmp_path):
    _sock, key = agent
    d = ctx(tmp_path, f"FROM localhost/busybox\nRUN --mount=type=ssh,id=k {SSH_ADD} > /keys\n")
    p("build", "-q", "-t", "ssh3", *host_ssh_add(), "--ssh", f"k={key}", d, env={"SSH_AUTH_SOCK": ""})
    assert "podpy-test-key" in p("run", "--rm", "ssh3", "cat", "/keys").stdout


def test_ssh_required_and_missing_agents_are_errors(p, tmp_path):
    d = ctx(tmp_path, "FROM localhost/busybox\nRUN --mount=type=ssh,required=true true\n")
    r = p("build", d, check=False)
    assert r.returncode == 125 and "required" in r.stderr
    # not required: the step runs without it
    d = ctx(tmp_path, "FROM localhost/busybox\nRUN --mount=type=ssh [ -z \"$SSH_AUTH_SOCK\" ]\n")
    p("build", "-q", d)
    r = p("build", "--ssh", "default", d, check=False, env={"SSH_AUTH_SOCK": ""})
    assert r.returncode == 125 and "SSH_AUTH_SOCK is not set" in r.stderr
    r = p("build", "--ssh", f"k={tmp_path}/nokey", d, check=False)
    assert r.returncode == 125 and "nokey" in r.stderr


# -- --userns-uid-map & co ----------------------------------------------------------------------

MAPS = ("FROM localhost/busybox\n"
        "RUN cat /proc/self/uid_map /proc/self/gid_map > /maps; touch /owned; chown 5:6 /owned; "
        "ls -ln /etc/passwd >> /maps\n")


def maps_of(p, image):
    return [line.split() for line in p("run", "--rm", image, "cat", "/maps").stdout.splitlines()]


def test_userns_maps_give_run_its_user_namespace(p, tmp_path):
    d = ctx(tmp_path, MAPS)
    p("build", "-q", "-t", "mapped", "--userns-uid-map", "0:1:1000", "--userns-gid-map", "0:1:2000", d)
    lines = maps_of(p, "mapped")
    # counted in the user's namespace, as run --uidmap counts: 0 the user, 1.. the subordinate ids
    assert lines[0] == ["0", "1", "1000"] and lines[1] == ["0", "1", "2000"]
    assert lines[2][2:4] == ["0", "0"]     # the image's files kept their owners as RUN saw them
    assert p("run", "--rm", "mapped", "stat", "-c", "%u:%g", "/owned").stdout.strip() == "5:6"
    # without the flags: the user's default mapping (and the cache does not mix the two up)
    p("build", "-q", "-t", "plain", d)
    assert maps_of(p, "plain")[0][:2] == ["0", str(os.getuid())]


def test_userns_map_user_takes_the_subordinate_ranges_of_a_user(p, tmp_path):
    import pwd
    d = ctx(tmp_path, MAPS)
    me = pwd.getpwuid(os.getuid()).pw_name
    p("build", "-q", "-t", "byname", "--userns-uid-map-user", me, "--userns-gid-map-group", me, d)
    lines = maps_of(p, "byname")
    # the user's own subordinate ids: from 1 up in its namespace
    assert lines[0][:2] == ["0", "1"] and lines[1][:2] == ["0", "1"]


def test_userns_path_joins_that_user_namespace_for_run(p, podman, tmp_path):
    """build --userns PATH (podman's value besides host and private): RUN joins the user
    namespace of a running process, here a container's."""
    p("run", "-d", "--name", "ns-owner", "localhost/busybox", "sleep", "60")
    try:
        pid = p("inspect", "--format", "{{.State.Pid}}", "ns-owner").stdout.strip()
        want = os.readlink(f"/proc/{pid}/ns/user")
        d = ctx(tmp_path, "FROM localhost/busybox\nRUN readlink /proc/self/ns/user > /ns\n")
        p("build", "-q", "--no-cache", "-t", "joined", "--userns", f"/proc/{pid}/ns/user", d)
        assert p("run", "--rm", "joined", "cat", "/ns").stdout.strip() == want
        p("build", "-q", "--no-cache", "-t", "own", d)
        assert p("run", "--rm", "own", "cat", "/ns").stdout.strip() != want
    finally:
        p("rm", "-f", "-t", "0", "ns-owner")
    # anything else must be a path, in podman's words
    d = ctx(tmp_path, "FROM localhost/busybox\nRUN true\n")
    for tool in (p, podman):
        r = tool("build", "--userns", "keep-id", d, check=False)
        assert r.returncode == 125 and "checking user namespace: stat keep-id: no such file or directory" in r.stderr


def test_userns_map_errors(p, tmp_path):
    d = ctx(tmp_path, MAPS)
    r = p("build", "--userns-uid-map", "0:1:99999999", d, check=False)
    assert r.returncode == 125 and "--userns-uid-map" in r.stderr
    r = p("build", "--userns-uid-map", "nonsense", d, check=False)
    assert r.returncode == 125
    r = p("build", "--userns-uid-map-user", "no-such-user-here", d, check=False)
    assert r.returncode == 125 and "no-such-user-here" in r.stderr
    r = p("build", "--userns-uid-map-user", "root", "--userns-uid-map", "0:1:10", d, check=False)
    assert r.returncode == 125 and "cannot be combined" in r.stderr


# -- OCI hooks (--hooks-dir) ------------------------------------------------------------------

def hook_dir(tmp_path: Path, name: str, stages: list, when: dict, out: Path, exit_code: int = 0) -> Path:
    """A hooks directory with one hook: a script that appends its stage argument, its
    environment's HOOKVAR and the state JSON it read to out."""
    d = tmp_path / "hooks"
    d.mkdir(exist_ok=True)
    script = tmp_path / "hook.sh"
    script.write_text(f'#!/bin/sh\n{{ echo "$1 $HOOKVAR $(id -u)"; cat; echo; }} >> {out}\nexit {exit_code}\n')
    script.chmod(0o755)
    for stage in stages:
        (d / f"{name}-{stage}.json").write_text(json.dumps({
            "version": "1.0.0", "hook": {"path": str(script), "args": ["hook.sh", stage], "env": ["HOOKVAR=v"],
                                        "timeout": 10},
            "when": when, "stages": [stage]}))
    return d


def records(out: Path) -> list:
    lines = out.read_text().splitlines() if out.exists() else []
    return [(lines[i].split(), json.loads(lines[i + 1])) for i in range(0, len(lines), 2)]


STAGES = ["prestart", "createRuntime", "poststart", "poststop"]


def test_hooks_run_at_their_stages_with_the_state_on_stdin(p, tmp_path):
    out = tmp_path / "got"
    d = hook_dir(tmp_path, "all", STAGES, {"always": True}, out)
    r = p("--hooks-dir", d, "run", "--name", "hooked", "localhost/busybox", "true")
    assert r.returncode == 0
    got = records(out)
    assert [g[0][0] for g in got] == ["prestart", "createRuntime", "poststart", "poststop"]
    cid = p("inspect", "--format", "{{.Id}}", "hooked").stdout.strip()
    for (stage, var, uid), state in got:
        assert var == "v" and uid == str(os.getuid())     # hook's env; run as the user (rootless)
        assert state["id"] == cid and state["ociVersion"]
    assert got[0][1]["status"] == "created" and got[0][1]["pid"] > 0
    assert got[2][1]["status"] == "running"
    assert got[3][1]["status"] == "stopped"


def test_hooks_of_a_detached_container(p, tmp_path):
    out = tmp_path / "got"
    d = hook_dir(tmp_path, "all", STAGES, {"always": True}, out)
    # a runroot of the test's own: a monitor of this podpy launches the container
    run = ["--runroot", tmp_path / "run"]
    p(*run, "--hooks-dir", d, "run", "-d", "--name", "bg", "localhost/busybox", "sleep", "0.3")
    p(*run, "wait", "bg")
    import time
    for _ in range(100):
        if len(records(out)) == 4:
            break
        time.sleep(0.05)
    assert [g[0][0] for g in records(out)] == STAGES


def test_hooks_match_annotations_commands_and_bind_mounts(p, tmp_path):
    out = tmp_path / "got"
    d = hook_dir(tmp_path, "ann", ["prestart"], {"annotations": {"^org\\.example\\.hook$": "^yes$"}}, out)
    p("--hooks-dir", d, "run", "--rm", "localhost/busybox", "true")
    assert records(out) == []
    p("--hooks-dir", d, "run", "--rm", "--annotation", "org.example.hook=yes", "localhost/busybox", "true")
    assert len(records(out)) == 1
    out.unlink()
    (d / "ann-prestart.json").unlink()
    d = hook_dir(tmp_path, "cmd", ["prestart"], {"commands": ["/sleep$"]}, out)
    p("--hooks-dir", d, "run", "--rm", "localhost/busybox", "true")
    p("--hooks-dir", d, "run", "--rm", "localhost/busybox", "/bin/sleep", "0")
    assert len(records(out)) == 1
    out.unlink()
    (d / "cmd-prestart.json").unlink()
    d = hook_dir(tmp_path, "bind", ["prestart"], {"hasBindMounts": True}, out)
    p("--hooks-dir", d, "run", "--rm", "localhost/busybox", "true")
    p("--hooks-dir", d, "run", "--rm", "-v", f"{tmp_path}:/mnt", "localhost/busybox", "true")
    assert len(records(out)) == 1


def test_a_failing_prestart_hook_stops_the_start(p, tmp_path):
    out = tmp_path / "got"
    d = hook_dir(tmp_path, "bad", ["prestart"], {"always": True}, out, exit_code=3)
    r = p("--hooks-dir", d, "run", "--rm", "localhost/busybox", "echo", "ran", check=False)
    assert r.returncode != 0 and "ran" not in r.stdout and "prestart hook" in r.stderr


def container_hooks(tmp_path: Path, create_code: int = 0, start_path: str = "/bin/sh") -> Path:
    """A hooks directory with a createContainer hook (a host script that records its user,
    working directory, root listing and state JSON in tmp_path/created, then exits with
    create_code) and a startContainer hook (start_path, a shell of the container's, which
    records the same in /mnt/started: a bind mount of tmp_path/vol)."""
    d = tmp_path / "chooks"
    d.mkdir()
    (tmp_path / "vol").mkdir()
    (tmp_path / "vol").chmod(0o777)   # the startContainer hook writes as the container's user 1000
    record = '{ echo "$HOOKVAR $(id -u) $(pwd) $(ls / | tr \'\\n\' ,) $(grep CapEff /proc/self/status)"; cat; echo; }'
    script = tmp_path / "create.sh"
    script.write_text(f"#!/bin/sh\n{record} > {tmp_path}/created\nexit {create_code}\n")
    script.chmod(0o755)
    (d / "a.json").write_text(json.dumps({
        "version": "1.0.0", "hook": {"path": str(script), "args": ["create.sh"], "env": ["HOOKVAR=c"]},
        "when": {"always": True}, "stages": ["createContainer"]}))
    (d / "b.json").write_text(json.dumps({
        "version": "1.0.0", "hook": {"path": start_path, "args": ["sh", "-c", f"{record} > /mnt/started"],
                                     "env": ["HOOKVAR=s"], "timeout": 10},
        "when": {"always": True}, "stages": ["startContainer"]}))
    return d


def hook_record(path: Path) -> tuple:
    first, state = path.read_text().split("\n", 1)
    return first.split(" ", 4), json.loads(state)


def test_create_and_start_container_hooks_run_in_the_container_as_with_podman(p, podman, tmp_path):
    got = {}
    for name, tool in (("podpy", p), ("podman", podman)):
        base = tmp_path / name
        base.mkdir()
        d = container_hooks(base)
        r = tool("--hooks-dir", d, "run", "--rm", "-v", f"{base}/vol:/mnt", "-w", "/etc", "--user", "1000",
                 "localhost/busybox", "echo", "ran")
        assert r.stdout.strip() == "ran"
        got[name] = hook_record(base / "created"), hook_record(base / "vol" / "started")
    for name, ((c_words, c_state), (s_words, s_state)) in got.items():
        # createContainer: a host program, as the container's root with its capabilities, in the
        # root file system's directory, before pivot_root (the host's / is what it sees)
        assert c_words[:2] == ["c", "0"] and c_words[2].startswith("/") and c_words[2] != "/", name
        assert c_words[4].endswith("CapEff:\t000001ffffffffff"), name
        assert c_state["status"] == "creating" and c_state["pid"] == 1, name
        # startContainer: the container's own /bin/sh, as the process's user, in its workdir,
        # with its capabilities (none for a non-root user)
        assert s_words[:3] == ["s", "1000", "/etc"], name
        assert s_words[4].endswith("CapEff:\t0000000000000000"), name
        assert s_state["status"] == "created" and s_state["pid"] == 1, name
        assert s_state["id"] == c_state["id"], name
    assert got["podpy"][0][0][3] == got["podman"][0][0][3]     # the host's / (not yet pivoted)
    assert "etc," in got["podpy"][1][0][3] and got["podpy"][1][0][3] != got["podpy"][0][0][3]


def test_a_failing_create_container_hook_stops_the_start_as_with_podman(p, podman, tmp_path):
    for name, tool in (("podpy", p), ("podman", podman)):
        base = tmp_path / name
        base.mkdir()
        d = container_hooks(base, create_code=3)
        r = tool("--hooks-dir", d, "run", "--name", "cfail", "-v", f"{base}/vol:/mnt", "localhost/busybox",
                 "echo", "ran", check=False)
        assert r.returncode == 126 and "ran" not in r.stdout, (name, r.stderr)
        assert "exit status 3" in r.stderr, name
        assert not (base / "vol" / "started").exists(), name
        state = tool("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "cfail").stdout.split()
        assert state == ["created", "0"], name
        tool("rm", "cfail")
    r = p("--hooks-dir", d, "run", "--rm", "localhost/busybox", "true", check=False)
    assert len(r.stderr.strip().splitlines()) == 1 and "createContainer hook" in r.stderr


def test_a_failing_start_container_hook_ends_the_container_as_with_podman(p, podman, tmp_path):
    # the hook's path is looked up in the container, where a host path is missing
    for name, tool in (("podpy", p), ("podman", podman)):
        base = tmp_path / name
        base.mkdir()
        d = container_hooks(base, start_path=str(base / "create.sh"))
        r = tool("--hooks-dir", d, "run", "--name", "sfail", "localhost/busybox", "echo", "ran", check=False)
        assert r.returncode == 1 and "ran" not in r.stdout, (name, r.stderr)
        assert "no such file or directory" in r.stderr.lower(), name
        assert (base / "created").exists(), name
        assert settled_state(tool, "sfail") == "exited", name
        assert tool("inspect", "--format", "{{.State.ExitCode}}", "sfail").stdout.strip() == "1", name
        # detached: the start succeeds, the container ends with 1 and the reason in its log
        r = tool("--hooks-dir", d, "run", "-d", "--name", "sfail-d", "localhost/busybox", "echo", "ran")
        assert tool("wait", "sfail-d").stdout.strip() == "1", name
        assert "no such file or directory" in tool("logs", "sfail-d").stderr.lower(), name
        tool("rm", "sfail", "sfail-d")


def test_bad_hook_files_and_directories_are_errors(p, tmp_path):
    d = tmp_path / "bad-hooks"
    d.mkdir()
    (d / "x.json").write_text('{"version": "2.0.0"}')
    r = p("--hooks-dir", d, "run", "--rm", "localhost/busybox", "true", check=False)
    assert r.returncode == 125 and "version" in r.stderr
    r = p("--hooks-dir", tmp_path / "none", "run", "--rm", "localhost/busybox", "true", check=False)
    assert r.returncode == 125 and "--hooks-dir" in r.stderr


def test_build_hooks_dir_runs_hooks_for_run_steps(p, tmp_path):
    out = tmp_path / "got"
    d = hook_dir(tmp_path, "b", ["prestart", "poststop"], {"always": True}, out)
    c = ctx(tmp_path, "FROM localhost/busybox\nRUN true\nRUN true\n")
    p("build", "-q", "--hooks-dir", d, c)
    assert [g[0][0] for g in records(out)] == ["prestart", "poststop", "prestart", "poststop"]


# -- build --logsplit, several --platform values ------------------------------------------------

def _host_arch() -> str:
    import platform

    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def test_logsplit_names_each_platforms_log_as_podman(p, podman, tmp_path):
    c = ctx(tmp_path, "FROM localhost/busybox\nRUN echo hello\n")
    arch = _host_arch()
    names = {}
    for name, tool in (("podpy", p), ("podman", podman)):
        d = tmp_path / name
        d.mkdir()
        tool("build", "--no-cache", "--logfile", d / "none", "--logsplit", c)
        tool("build", "--logfile", d / "one", "--logsplit", "--platform", f"linux/{arch}", c)
        names[name] = sorted(os.listdir(d))
        # the build's lines, its RUN's output and the image's id go to the platform's file
        assert (d / "none").read_text() == "", name
        lines = (d / "none__").read_text().splitlines()
        assert "hello" in lines and lines[0].startswith("STEP 1/2: FROM"), name
        assert len(lines[-1]) == 64 and int(lines[-1], 16) >= 0, name     # the image's id, last
        assert (d / f"one_linux_{arch}").read_text().startswith("STEP 1/2: FROM"), name
        tool("build", "-q", "--logsplit", c)     # without --logfile it does nothing, as in podman
        assert sorted(os.listdir(d)) == names[name], name
    assert names["podpy"] == names["podman"] == ["none", "none__", "one", f"one_linux_{arch}"]


def test_several_platforms_are_built_one_after_another(p, tmp_path):
    if _host_arch() != "amd64":
        pytest.skip("needs an amd64 host, which runs linux/386 programs too")
    c = ctx(tmp_path, "FROM scratch\nCOPY f /f\n", {"f": "data\n"})
    log = tmp_path / "build.log"
    p("build", "--logfile", log, "--logsplit", "--platform", "linux/amd64,linux/386", "--manifest", "multi", c)
    for arch in ("amd64", "386"):
        lines = (tmp_path / f"build.log_linux_{arch}").read_text().splitlines()
        assert lines[0] == f"[linux/{arch}] STEP 1/2: FROM scratch" and len(lines[-1]) == 64
        assert p("image", "inspect", "--format", "{{.Architecture}}", lines[-1]).stdout.strip() == arch
    listed = json.loads(p("manifest", "inspect", "multi").stdout)["manifests"]
    assert sorted(m["platform"]["architecture"] for m in listed) == ["386", "amd64"]
    # without --logsplit: one log, each line with its platform
    out = p("build", "--platform", "linux/amd64,linux/386", c).stdout
    assert "[linux/amd64] STEP 2/2: COPY f /f" in out and "[linux/386] STEP 2/2: COPY f /f" in out
    # a platform of another architecture is built too when no RUN step has to run its binaries
    p("build", "--platform", "linux/amd64,linux/arm64", "--manifest", "both", c)
    listed = json.loads(p("manifest", "inspect", "both").stdout)["manifests"]
    assert [m["platform"]["architecture"] for m in listed] == ["amd64", "arm64"]


# -- network create --ipam-driver ---------------------------------------------------------------

def test_ipam_driver_none_makes_a_network_without_addresses_as_podman(p, podman):
    p("network", "create", "--ipam-driver", "none", "noaddr")
    ours = json.loads(p("network", "inspect", "noaddr").stdout)[0]
    assert ours["ipam_options"] == {"driver": "none"}
    assert not ours.get("subnets") and ours["dns_enabled"] is False
    podman("network", "create", "--ipam-driver", "none", "noaddr440")
    try:
        theirs = json.loads(podman("network", "inspect", "noaddr440").stdout)[0]
    finally:
        podman("network", "rm", "noaddr440")
    assert theirs["ipam_options"] == ours["ipam_options"] and not theirs.get("subnets")
    assert theirs["dns_enabled"] == ours["dns_enabled"]


def test_a_container_on_a_network_without_addresses_as_podman(p, podman):
    """--ipam-driver none: the container gets its interface (with --mac-address's MAC) and no
    address, route or DNS server of the network, as with podman."""
    mac = "92:d0:c6:0a:29:33"
    script = "ip -4 addr show eth0; ip link show eth0; ip route; echo routes-done"
    got = {}
    for name, tool in (("podpy", p), ("podman", podman)):
        tool("network", "create", "--ipam-driver", "none", "noaddr-run")
        try:
            got[name] = tool("run", "--rm", "--network", "noaddr-run", "--mac-address", mac, "localhost/busybox",
                             "sh", "-c", script).stdout
        finally:
            tool("network", "rm", "-f", "noaddr-run")
    for name, out in got.items():
        assert f"link/ether {mac}" in out and "inet " not in out, (name, out)
        assert out.split("link/ether", 1)[1].splitlines()[-1] == "routes-done", (name, out)   # no route
    # podman 4.3.1 drops --ip there without a word; podpy says why it cannot give it
    p("network", "create", "--ipam-driver", "none", "noaddr2")
    r = p("run", "--rm", "--network", "noaddr2", "--ip", "10.1.1.1", "localhost/busybox", "true", check=False)
    assert r.returncode == 125 and "gives no addresses (--ipam-driver none)" in r.stderr
    r = p("run", "--rm", "--network", "noaddr2", "-p", "8080:80", "localhost/busybox", "true", check=False)
    assert r.returncode == 125 and "ports cannot be published" in r.stderr
    p("run", "-d", "--name", "noaddr-c", "--network", "noaddr2", "localhost/busybox", "sleep", "30")
    net = json.loads(p("inspect", "--format", "{{json .NetworkSettings.Networks}}", "noaddr-c").stdout)["noaddr2"]
    assert net["IPAddress"] == "" and net["Gateway"] == "" and net["MacAddress"]
    p("rm", "-f", "-t", "0", "noaddr-c")


@pytest.mark.parametrize("args, mode", [(["--network", "none", "--dns", "1.1.1.1"], "none"),
                                        (["--network", "none", "--dns-search", "example.org"], "none"),
                                        (["--network", "none", "--dns-option", "ndots:2"], "none"),
                                        (["--network", "container:dnsx", "--dns", "1.1.1.1"], "container")])
def test_dns_flags_with_no_network_of_its_own_are_refused_as_podman(p, podman, args, mode):
    for tool in (p, podman):
        tool("run", "-d", "--name", "dnsx", "localhost/busybox", "sleep", "30")
        try:
            r = tool("run", "--rm", *args, "localhost/busybox", "true", check=False)
        finally:
            tool("rm", "-f", "-t", "0", "dnsx")
        assert r.returncode == 125 and f"conflicting options: dns and the network mode: {mode}" in r.stderr
    assert p("run", "--rm", "--network", "host", "--dns", "1.1.1.1", "localhost/busybox", "cat",
             "/etc/resolv.conf").stdout.splitlines() == ["nameserver 1.1.1.1"]


def test_ipam_driver_host_local_is_the_default_and_others_are_refused(p):
    p("network", "create", "--ipam-driver", "host-local", "hl")
    hl = json.loads(p("network", "inspect", "hl").stdout)[0]
    assert hl["ipam_options"] == {"driver": "host-local"} and hl["subnets"]
    r = p("network", "create", "--ipam-driver", "dhcp", "d", check=False)
    assert r.returncode == 125 and "DHCP proxy" in r.stderr
    r = p("network", "create", "--ipam-driver", "bogus", "b", check=False)
    assert r.returncode == 125 and 'unsupported ipam driver "bogus"' in r.stderr
    r = p("network", "create", "--ipam-driver", "none", "--subnet", "10.99.0.0/24", "s", check=False)
    assert r.returncode == 125 and "none ipam driver is set but subnets are given" in r.stderr
    assert "d" not in p("network", "ls", "--format", "{{.Name}}").stdout.split()
