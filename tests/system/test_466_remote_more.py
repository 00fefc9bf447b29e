"""More remote forms: commit, diff (of a container and of an image), history, untag, top,
rename, init, port, export, secrets and network connect/disconnect, by podpy's client and by
podman 4.3.1's own remote client against podpy's service, each printing what the local command
prints (and import, stats, system df, healthcheck run); and what podman's remote client refuses too is refused in one line saying so."""

from __future__ import annotations

import io
import json
import re
import tarfile

import pytest

from helpers import run_command
from remotes import PODMAN, busybox_registry
from remotes import service  # noqa: F401 - fixtures


@pytest.fixture(scope="module")
def remote(service, podpy):
    url = f"unix://{service.sock}"

    def run(*args, check=True, input=None):
        return podpy("--url", url, *args, check=check, timeout=120, input=input)
    return run


@pytest.fixture(scope="module")
def registry(tmp_path_factory, podpy, busybox):
    """A plain-HTTP registry on 127.0.0.1 holding busybox as rm/busybox:1 and :2."""
    yield from busybox_registry(tmp_path_factory, podpy, "rm/busybox", ("1", "2"))


def _names(tar_bytes: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tf:
        return sorted(m.name for m in tf.getmembers())


def test_commit_diff_history_and_untag(remote, podpy):
    remote("run", "-d", "--name", "rm-c1", "busybox", "sh", "-c", "echo x > /made; rm /bin/tee; sleep 300")
    podpy("exec", "rm-c1", "sh", "-c", "while [ ! -e /made ]; do sleep 0.1; done")
    assert remote("diff", "rm-c1").stdout == podpy("diff", "rm-c1").stdout
    assert "A /made" in remote("diff", "rm-c1").stdout.splitlines()
    assert remote("diff", "--format", "json", "rm-c1").stdout == podpy("diff", "--format", "json", "rm-c1").stdout
    image_id = remote("commit", "-q", "-c", "ENV K=v", "--author", "me", "rm-c1", "localhost/rm-img:1").stdout.strip()
    assert len(image_id) == 64
    assert image_id in podpy("images", "--no-trunc", "--format", "{{.ID}}").stdout.replace("sha256:", "").split()
    assert "K=v" in podpy("image", "inspect", "--format", "{{.Config.Env}}", "rm-img:1").stdout
    fmt = "{{.ID}} {{.CreatedBy}} {{.Size}} {{.Comment}}"
    assert remote("history", "--format", fmt, "rm-img:1").stdout == podpy("history", "--format", fmt, "rm-img:1").stdout
    assert remote("image", "diff", "rm-img:1").stdout == podpy("image", "diff", "rm-img:1").stdout
    assert remote("diff", "rm-img:1").stdout == podpy("diff", "rm-img:1").stdout   # an image's name
    remote("tag", "rm-img:1", "localhost/rm-img:2")
    remote("untag", "rm-img:1", "localhost/rm-img:2")
    names = podpy("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert "localhost/rm-img:1" in names and "localhost/rm-img:2" not in names
    assert remote("import", "/rm-nothing", check=False).stderr == "Error: cannot import /rm-nothing: no such file\n"
    missing = remote("diff", "rm-nothing", check=False)
    assert missing.returncode == 125 and missing.stderr.count("\n") == 1
    remote("rm", "-f", "rm-c1")
    podpy("rmi", "-f", "localhost/rm-img:1")


def test_top_rename_init_port_export_and_import(remote, podpy, service, tmp_path):
    remote("run", "-d", "--name", "rm-c2", "busybox", "sleep", "300")
    top = remote("top", "rm-c2", "pid", "args").stdout.splitlines()
    assert top[0].split() == ["PID", "COMMAND"] and top[1].split() == ["1", "sleep", "300"]
    assert remote("top", "rm-c2").stdout.splitlines()[0].split()[:3] == ["USER", "PID", "PPID"]
    remote("rename", "rm-c2", "rm-c2b")
    assert podpy("inspect", "--format", "{{.Name}}", "rm-c2b").stdout.strip() == "rm-c2b"
    res = remote("port", "rm-c2b")
    assert (res.returncode, res.stdout) == (0, podpy("port", "rm-c2b").stdout)
    remote("create", "--name", "rm-c3", "busybox", "true")
    assert remote("init", "rm-c3").stdout.strip() == "rm-c3"
    assert podpy("inspect", "--format", "{{.State.Status}}", "rm-c3").stdout.strip() == "initialized"
    assert remote("init", "rm-c3").stdout.strip() == "rm-c3"   # set up already: as the local command
    remote("export", "-o", tmp_path / "there.tar", "rm-c3")
    podpy("export", "-o", tmp_path / "here.tar", "rm-c3")
    there, here = ((tmp_path / f"{n}.tar").read_bytes() for n in ("there", "here"))
    assert _names(there) == _names(here) and "bin/sh" in _names(there)
    assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name]
    made = remote("import", "-c", "ENV RM=1", "-m", "from rm-c3", tmp_path / "there.tar", "rm-imported").stdout.strip()
    assert podpy("image", "inspect", "--format", "{{.Id}} {{.Config.Env}} {{.Comment}}", "rm-imported").stdout.strip() \
        == f"{made.removeprefix('sha256:')} [RM=1] from rm-c3"
    piped = run_command(["sh", "-c", f'exec "$@" < {tmp_path / "there.tar"}', "sh",
                         *podpy.command("--url", f"unix://{service.sock}", "import", "-")],
                        env=podpy.environ(), timeout=120).stdout.strip()
    assert piped in podpy("images", "--no-trunc", "--format", "{{.ID}}").stdout.split()
    podpy("rmi", "rm-imported", piped)
    remote("rm", "-f", "rm-c2b", "rm-c3")


def test_stats_and_system_df(remote, podpy, service):
    remote("run", "-d", "--name", "rm-c5", "busybox", "sleep", "300")
    fmt = "{{.ID}} {{.Name}} {{.PIDS}}"
    assert remote("stats", "--no-stream", "--format", fmt).stdout == podpy("stats", "--no-stream", "--format", fmt).stdout
    rows = json.loads(remote("stats", "--no-stream", "--format", "json", "rm-c5").stdout)
    assert [(r["name"], r["pids"]) for r in rows] == [("rm-c5", "1")]
    streamed = run_command(["timeout", "4", *podpy.command("--url", f"unix://{service.sock}", "stats", "-i", "1",
                                                           "--no-reset", "--format", "{{.Name}}", "rm-c5")],
                           env=podpy.environ(), check=False, timeout=60)
    assert streamed.stdout.split()[:2] == ["rm-c5", "rm-c5"]   # a reading a second, until stopped
    remote("create", "--name", "rm-c6", "busybox", "true")
    stopped = remote("stats", "--no-stream", "rm-c6", check=False)
    assert stopped.returncode == 125 and "is not running" in stopped.stderr
    assert remote("system", "df").stdout == podpy("system", "df").stdout
    # (its CREATED column is a time since, which may turn a second between the two commands)
    assert _untimed(remote("system", "df", "-v").stdout) == _untimed(podpy("system", "df", "-v").stdout)
    assert remote("system", "df", "--format", "json").stdout == podpy("system", "df", "--format", "json").stdout
    remote("rm", "-f", "rm-c5", "rm-c6")


def _untimed(text: str) -> str:
    """A table with its times since (`5 seconds`, `About a minute`) blanked, and its columns'
    padding (which they change) collapsed."""
    times = r"(?:\d+|About an?|Less than a) (?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|second)"
    return re.sub(r" +", " ", re.sub(times, "T", text))


def test_healthcheck_run(remote, podpy):
    podpy("run", "-d", "--name", "rm-hc", "--health-cmd", "test -e /ok", "--health-retries", "1", "busybox",
          "sleep", "300")
    failed = remote("healthcheck", "run", "rm-hc", check=False)
    assert (failed.returncode, failed.stdout) == (1, "unhealthy\n")
    podpy("exec", "rm-hc", "touch", "/ok")
    passed = remote("healthcheck", "run", "rm-hc", check=False)
    assert (passed.returncode, passed.stdout) == (0, "")
    assert podpy("inspect", "--format", "{{.State.Health.Status}}", "rm-hc").stdout.strip() == "healthy"
    remote("run", "-d", "--name", "rm-nohc", "busybox", "sleep", "300")
    none = remote("healthcheck", "run", "rm-nohc", check=False)
    assert none.returncode == 125 and none.stderr == "Error: container rm-nohc has no defined healthcheck\n"
    remote("rm", "-f", "rm-hc", "rm-nohc")


def test_cp_between_two_containers(remote, podpy, service):
    remote("run", "-d", "--name", "rm-cpa", "busybox", "sh", "-c",
           "mkdir -p /d/sub; echo one > /d/f; echo two > /d/sub/g; touch /ready; sleep 300")
    remote("run", "-d", "--name", "rm-cpb", "busybox", "sleep", "300")
    podpy("exec", "rm-cpa", "sh", "-c", "while [ ! -e /ready ]; do sleep 0.1; done")
    remote("cp", "rm-cpa:/d/f", "rm-cpb:/tmp/")
    remote("cp", "rm-cpa:/d/f", "rm-cpb:/tmp/renamed")
    remote("cp", "rm-cpa:/d", "rm-cpb:/tmp/")
    remote("cp", "rm-cpa:/d", "rm-cpb:/tmp/dcopy")
    remote("cp", "rm-cpa:/d/.", "rm-cpb:/tmp/dcopy/")
    found = podpy("exec", "rm-cpb", "find", "/tmp").stdout.split()
    assert sorted(found) == ["/tmp", "/tmp/d", "/tmp/d/f", "/tmp/d/sub", "/tmp/d/sub/g", "/tmp/dcopy", "/tmp/dcopy/f",
                             "/tmp/dcopy/sub", "/tmp/dcopy/sub/g", "/tmp/f", "/tmp/renamed"]
    assert podpy("exec", "rm-cpb", "cat", "/tmp/renamed", "/tmp/dcopy/sub/g").stdout == "one\ntwo\n"
    for args in (("rm-cpa:/nope", "rm-cpb:/tmp"), ("rm-cpa:/d", "rm-cpb:/nodir/x"), ("rm-cpa:/d", "rm-cpb:/tmp/f")):
        there, here = remote("cp", *args, check=False), podpy("cp", *args, check=False)
        assert (there.returncode, there.stderr) == (here.returncode, here.stderr) and there.returncode == 125
    if PODMAN is not None:   # podman's client renames with the archive route's rename query
        run_command([PODMAN, "--remote", "--url", f"unix://{service.sock}", "cp", "rm-cpa:/d/f", "rm-cpb:/tmp/pm"],
                    env=podpy.environ(), timeout=120, variant="podman")
        assert podpy("exec", "rm-cpb", "cat", "/tmp/pm").stdout == "one\n"
    remote("rm", "-f", "rm-cpa", "rm-cpb")


def test_search(remote, podpy, registry, service):
    for args in ((f"{registry.host}/",), (f"{registry.host}/rm/busy",), ("--format", "json", f"{registry.host}/"),
                 ("--list-tags", f"{registry.host}/rm/busybox"),
                 ("--list-tags", "--format", "json", f"{registry.host}/rm/busybox")):
        there = remote("search", "--tls-verify=false", *args)
        assert there.stdout == podpy("search", "--tls-verify=false", *args).stdout
    assert f"{registry.host}/rm/busybox" in remote("search", "--tls-verify=false", f"{registry.host}/").stdout
    tags = remote("search", "--tls-verify=false", "--list-tags", f"{registry.host}/rm/busybox").stdout.splitlines()
    assert sorted(line.split()[1] for line in tags[1:]) == ["1", "2"]
    if PODMAN is not None:
        pm = run_command([PODMAN, "--remote", "--url", f"unix://{service.sock}", "search", "--tls-verify=false",
                          "--format", "{{.Name}}", f"{registry.host}/"], env=podpy.environ(), timeout=120,
                         variant="podman")
        assert f"{registry.host}/rm/busybox" in pm.stdout.split()
    refused = remote("search", "--authfile", "/nonexistent", "x", check=False)
    assert refused.returncode == 125 and refused.stderr == "Error: podpy search --authfile: not available with --remote\n"


def test_pull_all_tags(remote, podpy, registry, service):
    ids = remote("pull", "-q", "--all-tags", "--tls-verify=false", f"{registry.host}/rm/busybox").stdout.split()
    assert len(ids) == 2 and len(set(ids)) == 1   # both tags are the one image
    names = podpy("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert {f"{registry.host}/rm/busybox:1", f"{registry.host}/rm/busybox:2"} <= set(names)
    podpy("rmi", f"{registry.host}/rm/busybox:1", f"{registry.host}/rm/busybox:2")
    if PODMAN is not None:
        run_command([PODMAN, "--remote", "--url", f"unix://{service.sock}", "pull", "--all-tags", "--tls-verify=false",
                     f"{registry.host}/rm/busybox"], env=podpy.environ(), timeout=120, variant="podman")
        names = podpy("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
        assert {f"{registry.host}/rm/busybox:1", f"{registry.host}/rm/busybox:2"} <= set(names)
        podpy("rmi", f"{registry.host}/rm/busybox:1", f"{registry.host}/rm/busybox:2")
    missing = remote("pull", "--all-tags", "--tls-verify=false", f"{registry.host}/rm/nothing", check=False)
    assert missing.returncode == 125 and missing.stderr.startswith("Error: ")


@pytest.mark.parametrize("fmt", ["oci-archive", "oci-dir", "docker-dir"])
def test_save_in_every_format(remote, podpy, service, tmp_path, fmt):
    remote("save", "--format", fmt, "-o", tmp_path / "there", "busybox")
    podpy("save", "--format", fmt, "-o", tmp_path / "here", "busybox")
    there, here = tmp_path / "there", tmp_path / "here"
    if fmt.endswith("-dir"):
        listing = lambda d: sorted((str(p.relative_to(d)), p.read_bytes() if p.is_file() else b"")  # noqa: E731
                                   for p in d.rglob("*"))
        assert listing(there) == listing(here) and (there / ("index.json" if fmt == "oci-dir" else "manifest.json")).exists()
    else:
        assert there.read_bytes() == here.read_bytes()
    taken = remote("save", "--format", fmt, "-o", there, "busybox", check=False)
    if fmt.endswith("-dir"):
        assert taken.returncode == 125 and "must not exist yet" in taken.stderr
    if PODMAN is not None:
        run_command([PODMAN, "--remote", "--url", f"unix://{service.sock}", "save", "--format", fmt, "-o",
                     tmp_path / "pm", "localhost/busybox"], env=podpy.environ(), timeout=120, variant="podman")
        assert (tmp_path / "pm").exists()


def test_secrets(remote, podpy, tmp_path):
    data = tmp_path / "data"
    data.write_text("s3cret")
    sid = remote("secret", "create", "--label", "a=b", "rm-s1", data).stdout.strip()
    assert len(sid) == 25
    sid2 = remote("secret", "create", "rm-s2", "-", input="other").stdout.strip()
    assert remote("secret", "ls").stdout == podpy("secret", "ls").stdout
    assert remote("secret", "ls", "--format", "json").stdout == podpy("secret", "ls", "--format", "json").stdout
    assert remote("secret", "inspect", "rm-s1").stdout == podpy("secret", "inspect", "rm-s1").stdout
    assert remote("secret", "inspect", "--pretty", "rm-s1").stdout == podpy("secret", "inspect", "--pretty", "rm-s1").stdout
    out = podpy("run", "--rm", "--secret", "rm-s1", "busybox", "cat", "/run/secrets/rm-s1").stdout
    assert out == "s3cret"
    taken = remote("secret", "create", "rm-s1", data, check=False)
    assert taken.returncode == 125 and "rm-s1: secret name in use" in taken.stderr
    assert remote("secret", "rm", "rm-s1", "rm-s2").stdout.split() == [sid, sid2]
    gone = remote("secret", "rm", "rm-s1", check=False)
    assert gone.returncode == 125 and gone.stderr.strip() == 'Error: no secret with name or id "rm-s1": no such secret'


def test_network_connect_and_disconnect(remote, podpy):
    remote("network", "create", "rm-n1")
    remote("network", "create", "rm-n2")
    remote("run", "-d", "--name", "rm-c4", "--network", "rm-n1", "busybox", "sleep", "300")
    nets = "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}"
    remote("network", "connect", "--alias", "rm-alias", "rm-n2", "rm-c4")
    assert podpy("inspect", "--format", nets, "rm-c4").stdout.split() == ["rm-n1", "rm-n2"]
    aliases = podpy("inspect", "--format", "{{json .NetworkSettings.Networks}}", "rm-c4").stdout
    assert "rm-alias" in aliases
    remote("network", "disconnect", "rm-n2", "rm-c4")
    assert podpy("inspect", "--format", nets, "rm-c4").stdout.split() == ["rm-n1"]
    again = remote("network", "disconnect", "rm-n2", "rm-c4", check=False)
    assert again.returncode == 125 and "is not connected to network rm-n2" in again.stderr
    remote("rm", "-f", "rm-c4")
    remote("network", "rm", "rm-n1", "rm-n2")


def test_podmans_client_drives_these_on_podpys_service(service, podpy, tmp_path):
    if PODMAN is None:
        pytest.skip("podman is not installed: its remote client cannot be tried")

    def pm(*args, check=True, input=None):
        return run_command([PODMAN, "--remote", "--url", f"unix://{service.sock}", *map(str, args)],
                           env=podpy.environ(), check=check, timeout=120, variant="podman", input=input)

    pm("run", "-d", "--name", "rm-pm1", "busybox", "sh", "-c", "touch /pm-made; sleep 300")
    podpy("exec", "rm-pm1", "sh", "-c", "while [ ! -e /pm-made ]; do sleep 0.1; done")
    assert "A /pm-made" in pm("diff", "rm-pm1").stdout.splitlines()
    assert pm("image", "diff", "busybox").stdout == podpy("image", "diff", "busybox").stdout
    image_id = pm("commit", "-q", "rm-pm1", "localhost/rm-pm-img:1").stdout.strip()
    assert image_id in podpy("images", "--no-trunc", "--format", "{{.ID}}").stdout.replace("sha256:", "").split()
    fmt = "{{.ID}} {{.CreatedBy}} {{.Size}}"
    assert pm("history", "--format", fmt, "rm-pm-img:1").stdout == podpy("history", "--format", fmt, "rm-pm-img:1").stdout
    assert pm("top", "rm-pm1", "pid", "args").stdout.splitlines()[0].split() == ["PID", "COMMAND"]
    pm("rename", "rm-pm1", "rm-pm1b")
    hc = pm("healthcheck", "run", "rm-pm1b", check=False)
    assert hc.returncode == 125 and "has no defined healthcheck" in hc.stderr
    assert podpy("inspect", "--format", "{{.Name}}", "rm-pm1b").stdout.strip() == "rm-pm1b"
    pm("untag", "localhost/rm-pm-img:1")
    assert "localhost/rm-pm-img" not in podpy("images", "--format", "{{.Repository}}").stdout.split()
    data = tmp_path / "pm-data"
    data.write_text("pm-secret")
    sid = pm("secret", "create", "rm-pm-s", data).stdout.strip()
    assert pm("secret", "ls", "--format", "{{.ID}} {{.Name}}").stdout.split() == \
        podpy("secret", "ls", "--format", "{{.ID}} {{.Name}}").stdout.split()
    assert f'"ID": "{sid}"' in pm("secret", "inspect", "rm-pm-s").stdout
    assert pm("secret", "rm", "rm-pm-s").stdout.strip() == sid
    pm("network", "create", "rm-pm-n1")
    pm("network", "create", "rm-pm-n2")
    pm("run", "-d", "--name", "rm-pm2", "--network", "rm-pm-n1", "busybox", "sleep", "300")
    pm("network", "connect", "rm-pm-n2", "rm-pm2")
    nets = "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}"
    assert podpy("inspect", "--format", nets, "rm-pm2").stdout.split() == ["rm-pm-n1", "rm-pm-n2"]
    pm("network", "disconnect", "rm-pm-n2", "rm-pm2")
    assert podpy("inspect", "--format", nets, "rm-pm2").stdout.split() == ["rm-pm-n1"]
    pm("rm", "-f", "rm-pm1b", "rm-pm2")
    pm("network", "rm", "rm-pm-n1", "rm-pm-n2")


@pytest.mark.parametrize("args,words", [
    (("volume", "export", "rm-nothing"), "podpy volume export: not available with --remote (podman 4.3.1's remote "
                                         "client refuses it too)"),
    (("container", "clone", "rm-nothing"), "podpy container clone: not available with --remote (podman 4.3.1's "
                                           "remote client refuses it too)"),
    (("generate", "spec", "rm-nothing"), "podpy generate spec: not available with --remote (podman 4.3.1's remote "
                                         "client refuses it too)"),
    (("image", "tree", "busybox"), "podpy image tree: not available with --remote"),
])
def test_what_stays_refused_says_why_in_one_line(remote, args, words):
    res = remote(*args, check=False)
    assert res.returncode == 125 and res.stderr.strip().splitlines() == [f"Error: {words}"], res.stderr
