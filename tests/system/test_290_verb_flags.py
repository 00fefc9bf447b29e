"""The flags of the lifecycle and image verbs that name containers and images other ways or
change what a verb does: --cidfile, --filter and --latest on stop/kill/pause/unpause/restart/rm,
--latest on the one-container verbs, inspect --size, wait --interval, logs --color, rmi
--ignore/--no-prune, import's platform, commit's flags, network rm --time, the prunes' filters,
pull --all-tags, login --verbose, container cleanup's flags and unshare --rootless-netns;
messages and exit codes compared with podman 4.3.1 where podman is installed."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess

import pytest

INSTALLED = pytest.mark.parametrize("podpy", ["installed"], indirect=True)


@pytest.fixture
def p(podpy, busybox):
    """The session's store with no containers: --latest and --all find these tests' alone."""
    podpy("rm", "-a", "-f", check=False)
    yield podpy
    podpy("rm", "-a", "-f", check=False)


def _id(p, name):
    return p("inspect", "--format", "{{.Id}}", name).stdout.strip()


def _status(p, name):
    return p("inspect", "--format", "{{.State.Status}}", name).stdout.strip()


def _fails(res, code, message):
    assert (res.returncode, res.stdout, res.stderr) == (code, "", f"Error: {message}\n"), res


def test_cidfile_filter_and_latest_name_the_containers_of_stop_restart_kill_and_rm(p, tmp_path):
    cidfile = tmp_path / "cid"
    p("create", "--name", "vf1", "--label", "k=a", "busybox", "sleep", "100")
    p("create", "--name", "vf2", "--label", "k=b", "--cidfile", cidfile, "busybox", "sleep", "100")
    p("run", "-d", "--name", "vf3", "--label", "k=b", "busybox", "sleep", "100")
    ids = {n: _id(p, n) for n in ("vf1", "vf2", "vf3")}
    assert cidfile.read_text() == ids["vf2"]
    # --cidfile: the file's id, as written; a file given twice names its container twice
    assert p("restart", "-t", "0", "--cidfile", cidfile).stdout == ids["vf2"] + "\n"
    assert _status(p, "vf2") == "running"
    assert p("kill", "-s", "WINCH", "--cidfile", cidfile, "--cidfile", cidfile).stdout == f"{ids['vf2']}\n" * 2
    # --filter: every match (created, running or exited), by full id in the order of the ids
    assert p("stop", "-t", "0", "--filter", "label=k=b").stdout.split() == sorted([ids["vf2"], ids["vf3"]])
    assert p("restart", "-t", "0", "-f", "name=vf").stdout.split() == sorted(ids.values())
    # --all: the same order and full ids, as podman prints them
    assert p("kill", "-s", "WINCH", "-a").stdout.split() == sorted(ids.values())
    assert p("stop", "--filter", "name=nothing-matches").stdout == ""
    # stop --all: every container, running or not (podman 4.3.1 prints them all)
    assert p("stop", "-t", "0", "-a").stdout.split() == sorted(ids.values())
    # --latest: the container created last, by full id
    assert p("stop", "-t", "0", "-l").stdout == ids["vf3"] + "\n"
    assert _status(p, "vf3") == "exited"
    # rm --cidfile leaves the file, as podman's does; rm -f of a container that is gone is no error
    assert p("rm", "-f", "--cidfile", cidfile).stdout == ids["vf2"] + "\n"
    assert cidfile.exists()
    assert p("rm", "-f", "--cidfile", cidfile).stdout == ""
    _fails(p("rm", "--cidfile", cidfile, check=False), 1,
           f'no container with name or ID "{ids["vf2"]}" found: no such container')
    assert p("rm", "-f", "-l").stdout == ids["vf3"] + "\n"
    assert p("rm", "-f", "--filter", "label=k=a").stdout == ids["vf1"] + "\n"
    _fails(p("rm", "-l", check=False), 1, "no such container")
    _fails(p("stop", "-l", check=False), 125, "no such container")


@INSTALLED
def test_pause_and_unpause_by_latest_cidfile_and_filter(p, tmp_path):
    cidfile = tmp_path / "cid"
    p("run", "-d", "--name", "pz", "--label", "z=1", "--cidfile", cidfile, "busybox", "sleep", "100")
    cid = cidfile.read_text()
    first = p("pause", "-l", check=False)
    if first.returncode != 0 and "cgroup" in first.stderr:
        pytest.skip(f"no cgroup to freeze here: {first.stderr.strip()}")
    assert first.stdout == cid + "\n" and _status(p, "pz") == "paused"
    assert p("unpause", "--cidfile", cidfile).stdout == cid + "\n"
    assert p("pause", "--filter", "label=z=1").stdout == cid + "\n"
    assert p("unpause", "-f", "name=pz").stdout == cid + "\n"
    assert _status(p, "pz") == "running"


@INSTALLED
def test_latest_stands_for_the_one_container_of_the_reading_verbs(p):
    p("create", "--name", "older", "busybox", "true")
    p("run", "-d", "--name", "newest", "busybox", "sh", "-c", "echo hello; echo oops >&2; touch /made; sleep 100")
    cid = _id(p, "newest")
    p("exec", "newest", "sh", "-c", "while [ ! -e /made ]; do sleep 0.05; done")
    assert p("inspect", "-l", "--format", "{{.Name}}").stdout == "newest\n"
    assert p("container", "inspect", "-l", "--format", "{{.Name}}").stdout == "newest\n"
    assert p("exec", "-l", "echo", "from", "exec").stdout == "from exec\n"
    _fails(p("exec", "--detach-keys", "bogus", "newest", "true", check=False), 125,
           "invalid detach keys: Unknown character: 'bogus'")
    assert p("exec", "--detach-keys", "ctrl-a", "newest", "true").returncode == 0
    assert "sleep 100" in p("top", "-l", "args").stdout
    assert "A /made" in p("diff", "-l").stdout.splitlines()
    logs = p("logs", "-l")
    assert (logs.stdout, logs.stderr) == ("hello\n", "oops\n")
    assert p("stats", "-l", "--no-stream", "--format", "{{.Name}}").stdout == "newest\n"
    p("kill", "-l")
    assert p("wait", "-l").stdout == "137\n"
    assert p("start", "-l").stdout == cid + "\n"
    assert _status(p, "newest") == "running"


def _attached(p, name, *flags):
    """`attach` to a container that prints a tick every 0.2 s, once the first tick came through
    (so the attach is in place), and the process."""
    # SIGINT as a terminal's shell leaves it: a test run in the background (as a job of a
    # non-interactive shell) inherits it ignored, and so would the attach
    proc = subprocess.Popen(p.command("attach", *flags, name), env=p.environ(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdout is not None
    assert proc.stdout.readline() == "tick\n"
    return proc


@INSTALLED
def test_attach_passes_signals_on_unless_sig_proxy_is_false(p):
    loop = "trap 'echo got INT; exit 7' INT; while :; do echo tick; sleep 0.2; done"
    p("run", "-d", "--name", "ticks", "busybox", "sh", "-c", loop)
    proc = _attached(p, "ticks")
    proc.send_signal(signal.SIGINT)
    out, _err = proc.communicate(timeout=30)
    assert proc.returncode == 7 and out.endswith("got INT\n")
    p("run", "-d", "--name", "ticks2", "busybox", "sh", "-c", loop)
    proc = _attached(p, "ticks2", "--sig-proxy=false")
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode != 7 and _status(p, "ticks2") == "running"


@INSTALLED
def test_inspect_size_counts_as_podman_counts(p, podman):
    script = "head -c 100000 /dev/zero > /big; mkdir /d; echo hi > /d/f"
    p("run", "--name", "sized", "busybox", "sh", "-c", script)
    podman("run", "--name", "sized", "localhost/busybox", "sh", "-c", script)
    mine = json.loads(p("inspect", "-s", "sized").stdout)[0]
    theirs = json.loads(podman("inspect", "-s", "sized").stdout)[0]
    # podman's writable layer also holds its /etc/mtab symlink (12 bytes): podpy makes none
    assert mine["SizeRw"] == 100003 and theirs["SizeRw"] - 12 == 100003
    assert mine["SizeRootFs"] == theirs["SizeRootFs"] > 0
    keys = list(mine)
    assert keys.index("SizeRw") == keys.index("GraphDriver") + 1 and keys.index("SizeRootFs") == keys.index("SizeRw") + 1
    assert "SizeRw" not in json.loads(p("inspect", "sized").stdout)[0]
    assert p("container", "inspect", "--size", "--format", "{{.SizeRw}}", "sized").stdout == "100003\n"


@INSTALLED
def test_logs_color_and_wait_interval(p):
    for name, text in (("c1", "one"), ("c2", "two")):
        p("run", "--name", name, "busybox", "echo", text)
    out = p("logs", "--color", "-n", "c1", "c2").stdout
    assert out == "\x1b[37mc1 one\x1b[0m\n\x1b[31mc2 two\x1b[0m\n"
    assert p("logs", "--color", "c2").stdout == "\x1b[37mtwo\x1b[0m\n"
    assert p("wait", "-i", "10", "c1").stdout == "0\n"
    assert p("wait", "--interval", "1s", "c1", "c2").stdout == "0\n0\n"


@INSTALLED
def test_rmi_ignore_and_no_prune(p):
    assert p("rmi", "-i", "nothere", "neither").stdout == ""
    p("run", "--name", "b1", "busybox", "sh", "-c", "echo 1 > /one")
    base = p("commit", "-q", "b1", "vf-base").stdout.strip()
    p("run", "--name", "b2", "vf-base", "sh", "-c", "echo 2 > /two")
    top = p("commit", "-q", "b2", "vf-top").stdout.strip()
    p("rm", "b1", "b2")
    p("untag", "vf-base")
    res = p("rmi", "--no-prune", "vf-top")
    assert res.stdout == f"Untagged: localhost/vf-top:latest\nDeleted: {top}\n"
    assert base in p("images", "-a", "-q", "--no-trunc").stdout.replace("sha256:", "")
    p("rmi", base)


@INSTALLED
def test_import_platform_and_commit_flags(p, tmp_path, image_tar):
    iid = p("import", "--arch", "arm64", "--os", "windows", "--variant", "v8", image_tar, "vf-imp").stdout.strip()
    assert p("image", "inspect", "--format", "{{.Architecture}} {{.Os}}", iid).stdout == "arm64 windows\n"
    p("rmi", iid)
    volume_dir = tmp_path / "bound"
    volume_dir.mkdir()
    p("run", "--name", "cm", "-v", "/anon", "-v", "vf-named:/named", "-v", f"{volume_dir}:/bound", "busybox",
      "sh", "-c", "echo y > /y")
    plain = p("commit", "-q", "cm", "vf-plain").stdout.strip()
    assert json.loads(p("image", "inspect", "--format", "{{json .Config.Volumes}}", plain).stdout) == {"/anon": {}}
    withvols = p("commit", "-q", "--include-volumes", "cm", "vf-vols").stdout.strip()
    assert sorted(json.loads(p("image", "inspect", "--format", "{{json .Config.Volumes}}", withvols).stdout)) == [
        "/anon", "/bound", "/named"]
    idfile = tmp_path / "iid"
    squashed = p("commit", "-q", "-s", "--iidfile", idfile, "cm", "vf-squashed").stdout.strip()
    assert idfile.read_text() == squashed
    doc = json.loads(p("image", "inspect", squashed).stdout)[0]
    assert len(doc["RootFS"]["Layers"]) == 1 and len(doc["History"]) == 1
    assert p("run", "--rm", "vf-squashed", "cat", "/y").stdout == "y\n"
    _fails(p("commit", "-f", "bogus", "cm", "x", check=False), 125, 'unrecognized image format "bogus"')
    _fails(p("commit", "-f", "docker", "cm", "x", check=False), 125,
           "podpy commit --format docker: podpy keeps images in the OCI format only")
    made = p("commit", "--iidfile", tmp_path / "no" / "such" / "file", "cm", "vf-kept", check=False)
    assert made.returncode == 125 and "failed to write image ID: open" in made.stderr
    p("rm", "-f", "-v", "cm")
    p("rmi", "vf-plain", "vf-vols", "vf-squashed", "vf-kept")
    p("volume", "rm", "vf-named")


@INSTALLED
def test_network_rm_time_and_the_prunes_filters(p):
    p("network", "create", "vf-n1")
    p("network", "create", "--label", "a=b", "vf-n2")
    p("network", "create", "vf-n3")
    p("run", "-d", "--name", "on-n1", "--network", "vf-n1", "busybox", "sleep", "100")
    assert p("network", "rm", "-f", "-t", "0", "vf-n1").stdout == "vf-n1\n"
    assert p("ps", "-a", "-q", "--filter", "name=on-n1").stdout == ""
    assert p("network", "prune", "-f", "--filter", "label=a=b").stdout == "vf-n2\n"
    assert p("network", "prune", "-f", "--filter", "until=2000-01-01T00:00:00Z").stdout == ""
    assert "vf-n3" in p("network", "prune", "-f", "--filter", "label!=a").stdout.split()
    p("volume", "create", "--label", "vf=1", "vf-vol1")
    p("volume", "create", "vf-vol2")
    assert p("volume", "prune", "-f", "--filter", "label=vf=1").stdout == "vf-vol1\n"
    _fails(p("volume", "prune", "-f", "--filter", "label!=vf", check=False), 125, '"label!" is an invalid volume filter')
    p("volume", "rm", "vf-vol2")
    p("create", "--name", "keep", "busybox", "true")
    p("create", "--name", "drop", "--label", "gone=1", "busybox", "true")
    drop = _id(p, "drop")
    out = p("system", "prune", "-f", "--filter", "label=gone=1").stdout
    assert drop in out.split() and _id(p, "keep") not in out
    assert p("container", "exists", "keep").returncode == 0


@INSTALLED
def test_container_cleanup_flags(p):
    p("run", "--name", "done1", "busybox", "true")
    p("run", "-d", "--name", "busy", "busybox", "sleep", "100")
    busy = _id(p, "busy")
    assert p("container", "cleanup", "done1").stdout == "done1\n"
    _fails(p("container", "cleanup", "busy", check=False), 125,
           f"failed to clean up container {busy}: container {busy} is running or paused, refusing to clean up: "
           "container state improper")
    _fails(p("container", "cleanup", "--exec", "abc", "-a", check=False), 125, "exec and all options conflict")
    for args in (["--exec=foo", "--rmi", "nosuch"], ["--rmi", "--exec=foo", "nosuch"]):   # before any look-up
        _fails(p("container", "cleanup", *args, check=False), 125, "exec and rmi options conflict")
    _fails(p("container", "cleanup", "--exec", "abc", "a", "b", check=False), 125,
           "cannot use exec option when more than one container is given")
    assert p("container", "cleanup", "--rm", "done1").stdout == "done1\n"
    assert p("container", "exists", "done1", check=False).returncode == 1
    assert p("container", "exists", "--external", "busy").returncode == 0


@INSTALLED
def test_unshare_rootless_netns(p):
    res = p("unshare", "--rootless-netns", "ip", "-o", "-4", "addr", "show", "tap0", check=False)
    if res.returncode != 0 and "slirp4netns" in res.stderr:
        pytest.skip(f"no rootless network namespace here: {res.stderr.strip()}")
    assert res.returncode == 0 and "10.0.2.100/24" in res.stdout
    assert p("unshare", "--rootless-netns", "sh", "-c", "exit 3", check=False).returncode == 3


@INSTALLED
def test_pull_all_tags_and_login_verbose(p, tmp_path, image_tar):
    if shutil.which("docker-registry") is None or shutil.which("skopeo") is None:
        pytest.skip("docker-registry and skopeo are needed (installed by packaging/setup.sh test)")
    from registry import LocalRegistry, oci_layout, push, tar_of

    (tmp_path / "registry").mkdir()
    reg = LocalRegistry(tmp_path / "registry")
    try:
        oci_layout(tmp_path / "one", [image_tar.read_bytes()], ["sh"])
        oci_layout(tmp_path / "two", [image_tar.read_bytes(), tar_of({"extra": b"2\n"})], ["sh"])
        push(tmp_path / "one", f"{reg.host}/vf/app:one")
        push(tmp_path / "two", f"{reg.host}/vf/app:two")
        res = p("pull", "-q", "-a", "--tls-verify=false", f"{reg.host}/vf/app:ignored")
        ids = res.stdout.split()
        assert len(ids) == 2 and ids[0] != ids[1]
        names = p("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}", "--no-trunc").stdout
        assert f"{reg.host}/vf/app:one sha256:{ids[0]}" in names and f"{reg.host}/vf/app:two sha256:{ids[1]}" in names
        missing = p("pull", "-a", "--tls-verify=false", f"{reg.host}/vf/nothing", check=False)
        assert missing.returncode == 125 and "repository name not known to registry" in missing.stderr
        authfile = tmp_path / "auth.json"
        out = p("login", "-v", "--tls-verify=false", "--authfile", authfile, "-u", "me", "-p", "pw", reg.host).stdout
        assert out == f"Used:  {authfile}\nLogin Succeeded!\n"
        p("rmi", *ids)
    finally:
        reg.stop()


@INSTALLED
def test_messages_and_exit_codes_as_podmans(p, podman, tmp_path):
    """The same refusals in podpy and podman (TOOL stands for the program's name)."""
    empty = tmp_path / "empty"
    empty.write_text("")
    missing = tmp_path / "missing"
    lines = []
    for tool, image in ((p, "busybox"), (podman, "localhost/busybox")):
        tool("create", "--name", "vfm", image, "true")
        out = []
        for args in (["stop"], ["stop", "-l", "vfm"], ["stop", "--filter", "name=x", "vfm"], ["stop", "-a", "-l"],
                     ["stop", "-a", "--cidfile", empty], ["stop", "--cidfile", empty, "vfm"], ["stop", "-a", "vfm"],
                     ["stop", "--cidfile", missing], ["stop", "--cidfile", empty], ["stop", "--filter", "nokv"],
                     ["stop", "--filter", "bogus=1"], ["rm", "--filter", "name=x", "-a", "vfm"],
                     ["restart", "-l", "vfm"], ["pause", "-a", "--cidfile", empty], ["unpause", "--cidfile", empty, "vfm"],
                     ["kill", "-l", "vfm"], ["rmi", "-i", "nothere"], ["rmi", "-i", "-a", "nothere"],
                     ["wait", "-i", "bogus", "vfm"], ["wait"], ["attach"], ["diff"], ["logs"], ["inspect"],
                     ["inspect", "-l", "vfm"], ["logs", "-l", "vfm"], ["stats", "-l", "vfm"],
                     ["start", "--sig-proxy", "vfm"], ["commit", "-f", "bogus", "vfm", "x"],
                     ["network", "rm", "-t", "0", "nonet"], ["network", "rm", "-f", "-t", "-1", "nonet"],
                     ["network", "prune", "-f", "--filter", "bogus=1"],
                     ["system", "prune", "-f", "--filter", "bogus=1"],
                     ["container", "cleanup", "-l", "vfm"], ["container", "cleanup"]):
            res = tool(*map(str, args), check=False)
            err = res.stderr.strip().splitlines()
            text = err[0] if err else ""
            out.append((args[:3], res.returncode, res.stdout.strip(),
                        text.replace("podman", "TOOL").replace("podpy", "TOOL")))
        lines.append(out)
        tool("rm", "-f", "vfm")
    assert lines[0] == lines[1]
