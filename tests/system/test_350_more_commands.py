"""Commands and flags of podman 4.3.1 that podpy took on late: `image diff`, `image tree`, `pod stats`,
`pod logs --color`, `pod ps --ns`, pod create's namespace and /etc flags, `run --passwd`, `network
reload`, `volume reload`, `image prune --external`, kube play's pull and container flags, `update`,
`container runlabel`, `container clone` and `pod clone` (compared with podman where it is installed)."""

from __future__ import annotations

import json
import re

import pytest


@pytest.fixture
def p(podpy, busybox):
    yield podpy
    podpy("pod", "rm", "-a", "-f", "-t", "0", check=False)
    podpy("rm", "-a", "-f", check=False)


CHANGE = "echo new > /added && rm /bin/vi && mkdir -p /d/e && echo x > /d/e/f"


def _changed_image(tool, name):
    tool("run", "--name", "changer", "localhost/busybox", "sh", "-c", CHANGE)
    tool("commit", "-q", "changer", name)
    tool("rm", "changer")


def _lines(out):
    """The lines but those of /etc and /run, where the runtimes' mount points of a container
    (hostname, hosts, resolv.conf, .containerenv) end up in a commit differently."""
    return sorted(line for line in out.splitlines() if not re.match(r"[ACD] /(etc|run)(/|$)", line))


def test_image_diff_top_layer_and_two_images_as_podman(p, podman):
    _changed_image(p, "localhost/changed")
    _changed_image(podman, "localhost/changed")
    mine = p("image", "diff", "localhost/changed").stdout
    assert {"A /added", "D /bin/vi", "C /bin", "A /d", "A /d/e", "A /d/e/f"} <= set(mine.splitlines())
    assert _lines(mine) == _lines(podman("image", "diff", "localhost/changed").stdout)
    # two images: the first's changes against the second
    back = p("image", "diff", "localhost/busybox", "localhost/changed").stdout
    assert {"D /added", "A /bin/vi", "C /bin", "D /d"} == set(_lines(back))
    assert _lines(back) == _lines(podman("image", "diff", "localhost/busybox", "localhost/changed").stdout)
    assert p("image", "diff", "localhost/changed", "localhost/changed").stdout == ""
    # the bottom layer: everything added; `diff` takes an image as podman's does
    base = p("diff", "localhost/busybox").stdout.splitlines()
    assert base and all(line.startswith("A /") for line in base) and "A /bin/sh" in base
    doc = json.loads(p("image", "diff", "--format", "json", "localhost/changed").stdout)
    assert set(doc) == {"added", "changed", "deleted"}
    assert "/added" in doc["added"] and doc["deleted"] == ["/bin/vi"] and "/bin" in doc["changed"]
    # podman leaves an empty group out
    assert json.loads(p("image", "diff", "--format", "json", "localhost/busybox").stdout).keys() == {"added"}
    for tool in (p, podman):
        tool("rmi", "localhost/changed")


def test_image_diff_bad_input(p):
    r = p("image", "diff", "nosuchimage", check=False)
    assert r.returncode == 125 and r.stderr == "Error: nosuchimage not found: nosuchimage: image not known\n"
    r = p("image", "diff", check=False)
    assert r.returncode != 0 and r.stdout == ""


def _tree_shape(out):
    """podman's tree with the ids and sizes made neutral (two stores, two sets of ids)."""
    out = re.sub(r"ID: [0-9a-f]{12}", "ID: X", out)
    out = re.sub(r"Size: +[0-9.]+[kMG]?B", "Size: N", out)
    return re.sub(r"Image ID: [0-9a-f]{12}", "Image ID: X", out)


def test_image_tree_and_whatrequires_as_podman(p, podman):
    for tool in (p, podman):
        for base, name in (("localhost/busybox", "ta"), ("localhost/ta", "tb"), ("localhost/busybox", "tc")):
            tool("run", "--name", "layer", base, "touch", f"/{name}")
            tool("commit", "-q", "layer", f"localhost/{name}")
            tool("rm", "layer")
    try:
        out = p("image", "tree", "localhost/tb").stdout
        lines = out.splitlines()
        assert lines[0] == "Image ID: " + p("images", "-q", "localhost/tb").stdout.strip()[:12]
        assert lines[1] == "Tags:     [localhost/tb:latest]" and lines[3] == "Image Layers"
        assert re.fullmatch(r"Size:     [0-9.]+[kM]?B", lines[2])
        assert [re.sub(r"[0-9a-f]{12}", "X", l).split(" Size:")[0] for l in lines[4:7]] == \
            ["├── ID: X", "├── ID: X", "└── ID: X"]
        assert lines[4].endswith("Top Layer of: [localhost/busybox:latest]")
        assert lines[6].endswith("Top Layer of: [localhost/tb:latest]") and out.endswith("\n\n")
        for args in (["localhost/tb"], ["--whatrequires", "localhost/busybox"], ["--whatrequires", "localhost/ta"]):
            assert _tree_shape(p("image", "tree", *args).stdout) == _tree_shape(podman("image", "tree", *args).stdout)
        shape = _tree_shape(p("image", "tree", "--whatrequires", "localhost/busybox").stdout).splitlines()[4:]
        assert shape == ["├── ID: X Size: N Top Layer of: [localhost/busybox:latest]",
                         "├── ID: X Size: N Top Layer of: [localhost/ta:latest]",
                         "│   └── ID: X Size: N Top Layer of: [localhost/tb:latest]",
                         "└── ID: X Size: N Top Layer of: [localhost/tc:latest]", ""]
        r = p("image", "tree", "nosuch", check=False)
        assert r.returncode == 125 and r.stderr == "Error: nosuch: image not known\n"
    finally:
        for tool in (p, podman):
            tool("rmi", "localhost/tb", "localhost/ta", "localhost/tc", check=False)


POD_STATS_HEADER = ["POD", "CID", "NAME", "CPU %", "MEM USAGE/ LIMIT", "MEM %", "NET IO", "BLOCK IO", "PIDS"]


def test_pod_stats_columns_format_json_and_bad_input(p):
    pod = p("pod", "create", "--name", "ps1").stdout.strip()
    ctr = p("run", "-d", "--pod", "ps1", "--name", "ps1-top", "busybox", "sleep", "100").stdout.strip()
    infra = json.loads(p("pod", "inspect", "ps1").stdout)["InfraContainerID"]
    lines = p("pod", "stats", "--no-stream", "ps1").stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == POD_STATS_HEADER
    rows = {re.split(r"\s{2,}", line)[1]: re.split(r"\s{2,}", line) for line in lines[1:]}
    # every running container of the pod, the infra's too
    assert set(rows) == {ctr[:12], infra[:12]}
    mine = rows[ctr[:12]]
    assert mine[0] == pod[:12] and mine[2] == "ps1-top" and mine[8] == "1"
    assert re.fullmatch(r"[0-9.]+[kMG]?B / [0-9.]+[kMGT]?B", mine[4])
    out = p("pod", "stats", "--no-stream", "--format", "{{.Pod}} {{.CID}} {{.Name}} {{.PIDS}}", "ps1").stdout
    assert f"{pod[:12]} {ctr[:12]} ps1-top 1" in out.splitlines()
    docs = json.loads(p("pod", "stats", "--no-stream", "--format", "json", "ps1").stdout)
    assert {d["CID"] for d in docs} == {ctr[:12], infra[:12]}
    assert set(docs[0]) == {"CPU", "MemUsage", "MemUsageBytes", "Mem", "NetIO", "BlockIO", "PIDS", "Pod", "CID",
                            "Name"}
    # without names, every pod; a pod that runs nothing has no rows
    p("pod", "create", "--name", "ps2")
    every = p("pod", "stats", "--no-stream", "-a", "--format", "{{.Pod}}").stdout.split()
    assert set(every) == {pod[:12]}
    assert p("pod", "stats", "--no-stream").stdout.count(ctr[:12]) == 1
    idle = p("pod", "stats", "--no-stream", "ps2").stdout.splitlines()
    assert re.split(r"\s{2,}", idle[1]) == ["--"] * 9
    r = p("pod", "stats", "--no-stream", "-a", "ps1", check=False)
    assert r.returncode == 125 and r.stderr == "Error: --all, --latest and arguments cannot be used together\n"
    r = p("pod", "stats", "--no-stream", "nosuchpod", check=False)
    assert r.returncode == 125 and r.stderr.startswith("Error: ") and "nosuchpod" in r.stderr


def test_pod_logs_color_in_podmans_order(p):
    p("pod", "create", "--name", "lc")
    ids = [p("run", "--pod", "lc", "--name", f"lc-{n}", "busybox", "echo", n).stdout and
           p("inspect", "--format", "{{.Id}}", f"lc-{n}").stdout.strip() for n in ("one", "two")]
    infra = json.loads(p("pod", "inspect", "lc").stdout)["InfraContainerID"]
    colors = ("37", "31", "33", "34")
    # podman gives the colors out over the pod's containers by id, the infra's included
    place = {cid: i for i, cid in enumerate(sorted(ids + [infra]))}
    out = p("pod", "logs", "--color", "lc").stdout.splitlines()
    expect = [f"\x1b[{colors[place[cid]]}m{cid[:12]} {word}\x1b[0m"
              for cid, word in sorted(zip(ids, ("one", "two")))]
    assert out == expect
    # one container: the first color, no prefix
    assert p("pod", "logs", "--color", "-c", "lc-two", "lc").stdout == "\x1b[37mtwo\x1b[0m\n"
    assert "\x1b" not in p("pod", "logs", "lc").stdout


MEMBER_VIEW = ("cat /etc/hosts 2>&1 | head -1; df -k /dev/shm | tail -1 | tr -s ' ' | cut -d' ' -f2; "
               "cat /proc/sys/net/ipv4/ip_forward; grep NoNewPrivs /proc/self/status; ls /dev/mynull; "
               "cat /vol/mark")


def test_pod_create_etc_shm_sysctl_device_volumes_from_as_podman(p, podman):
    flags = ["--no-hosts", "--shm-size", "10m", "--sysctl", "net.ipv4.ip_forward=1", "--security-opt",
             "no-new-privileges", "--device", "/dev/null:/dev/mynull", "--volumes-from", "holder"]
    views = []
    for tool in (p, podman):
        tool("create", "--name", "holder", "-v", "/vol", "localhost/busybox", "sh", "-c", "true")
        tool("run", "--rm", "--volumes-from", "holder", "localhost/busybox", "sh", "-c", "echo kept > /vol/mark")
        tool("pod", "create", "--name", "etcpod", *flags)
        views.append(tool("run", "--rm", "--pod", "etcpod", "localhost/busybox", "sh", "-c", MEMBER_VIEW).stdout)
        tool("pod", "rm", "-f", "etcpod")
        tool("rm", "-f", "holder")
    # the members: no /etc/hosts, the pod's /dev/shm size, its sysctl (in the shared network
    # namespace), its devices and volumes; the security option stays the infra container's
    assert views[0] == views[1]
    assert views[0].splitlines()[1:] == ["10240", "1", "NoNewPrivs:\t0", "/dev/mynull", "kept"]
    assert "No such file" in views[0].splitlines()[0]


def test_pod_create_uts_host_and_bad_input(p):
    import socket

    p("pod", "create", "--name", "utspod", "--uts", "host")
    assert p("run", "--rm", "--pod", "utspod", "busybox", "hostname").stdout.strip() == socket.gethostname()
    doc = json.loads(p("pod", "inspect", "utspod").stdout)
    assert doc["InfraConfig"]["NoManageHosts"] is False
    r = p("pod", "create", "--no-hosts", "--add-host", "a:1.2.3.4", check=False)
    assert r.returncode == 125 and r.stderr == "Error: --no-hosts and --add-host cannot be set together\n"
    r = p("pod", "create", "--infra=false", "--shm-size", "1m", check=False)
    assert r.returncode == 125 and r.stderr.startswith("Error: --shm-size needs an infra container")
    assert "utspod" == p("pod", "ps", "--format", "{{.Name}}").stdout.strip()


def test_pod_ps_ns_columns(p):
    p("pod", "create", "--name", "nspod")
    lines = p("pod", "ps", "--ns").stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == ["POD ID", "NAME", "STATUS", "CREATED", "INFRA ID", "CGROUP",
                                             "NAMESPACES", "# OF CONTAINERS"]
    assert re.split(r"\s{2,}", p("pod", "ps", "--ns", "--ctr-names").stdout.splitlines()[0])[5:] == \
        ["NAMES", "CGROUP", "NAMESPACES"]


PASSWD_VIEW = "grep -c ':1234:' /etc/passwd; tail -1 /etc/passwd"


def test_run_passwd_false_writes_no_entry_as_podman(p, podman):
    for tool in (p, podman):
        with_entry = tool("run", "--rm", "--user", "1234", "localhost/busybox", "sh", "-c", PASSWD_VIEW,
                          check=False).stdout
        without = tool("run", "--rm", "--passwd=false", "--user", "1234", "localhost/busybox", "sh", "-c",
                       PASSWD_VIEW, check=False).stdout
        if tool is p:
            mine = (with_entry, without)
        else:
            theirs = (with_entry, without)
    assert mine == theirs
    assert mine[1].splitlines()[0] == "0"
    # --passwd=false wins over --passwd-entry
    out = p("run", "--rm", "--passwd=false", "--passwd-entry", "x:*:1234:0::/:/bin/sh", "--user", "1234",
            "busybox", "sh", "-c", "grep -c ':1234:' /etc/passwd", check=False).stdout
    assert out == "0\n"


def test_network_reload_remakes_user_network_interfaces(p):
    p("network", "create", "reloadnet")
    try:
        cid = p("run", "-d", "--name", "rl", "--network", "reloadnet", "busybox", "sh", "-c",
                "echo ok > /tmp/i; exec httpd -f -p 8080 -h /tmp").stdout.strip()
        before = p("exec", "rl", "ip", "-o", "-4", "addr", "show", "eth0").stdout.split()[3]
        assert p("network", "reload", "rl").stdout == cid + "\n"
        after = p("exec", "rl", "ip", "-o", "-4", "addr", "show", "eth0").stdout.split()[3]
        assert after == before
        # the new interface carries traffic: another container of the network reaches it
        ip = after.split("/")[0]
        get = f'printf "GET /i HTTP/1.0\\r\\n\\r\\n" | nc {ip} 8080 | tail -1'
        assert p("run", "--rm", "--network", "reloadnet", "busybox", "sh", "-c", get).stdout == "ok\n"
        assert "default via" in p("exec", "rl", "ip", "route").stdout
        # -a: the running containers on user networks; the others are passed over, as podman does
        p("run", "-d", "--name", "rl-slirp", "busybox", "sleep", "100")
        p("create", "--name", "rl-created", "--network", "reloadnet", "busybox", "true")
        assert p("network", "reload", "-a").stdout == cid + "\n"
        r = p("network", "reload", "rl-slirp", check=False)
        assert r.returncode == 125 and r.stderr.startswith('Error: "') and "invalid network mode" in r.stderr
        r = p("network", "reload", "rl-created", check=False)
        assert r.returncode == 125 and r.stderr == ("Error: cannot reload network unless container network has "
                                                    "been configured: container state improper\n")
        r = p("network", "reload", check=False)
        assert r.returncode == 125 and r.stderr == "Error: you must provide at least one name or id\n"
    finally:
        p("rm", "-f", "-t", "0", "rl", "rl-slirp", "rl-created", check=False)
        p("network", "rm", "-f", "reloadnet", check=False)


def test_volume_reload_finds_nothing_as_podman_without_plugins(p, podman):
    p("volume", "create", "stays")
    try:
        mine, theirs = p("volume", "reload"), podman("volume", "reload")
        assert (mine.returncode, mine.stdout, mine.stderr) == (0, "", "") == (theirs.returncode, theirs.stdout,
                                                                               theirs.stderr)
        assert p("volume", "exists", "stays").returncode == 0
    finally:
        p("volume", "rm", "stays")


def test_image_prune_external_prunes_as_plain_prune(p):
    p("run", "--name", "dangle", "busybox", "touch", "/x")
    made = p("commit", "-q", "dangle").stdout.strip()   # an unnamed image: dangling
    p("rm", "dangle")
    out = p("image", "prune", "--external", "-f").stdout.split()
    assert made.replace("sha256:", "") in [i.replace("sha256:", "") for i in out]
    assert p("image", "exists", "busybox").returncode == 0


KUBE_POD = """apiVersion: v1
kind: Pod
metadata:
  name: {name}
  annotations: {annotations}
spec:
  containers:
  - name: main
    image: {image}
    command: [sh, -c, "{script}"]
"""


def _kube(tmp_path, name, image="localhost/busybox", script="sleep 100", annotations="{}"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(KUBE_POD.format(name=name, image=image, script=script, annotations=annotations))
    return path


@pytest.fixture
def plain_registry(tmp_path_factory):
    from registry import LocalRegistry

    reg = LocalRegistry(tmp_path_factory.mktemp("kube-registry"))
    yield reg
    reg.stop()


def test_kube_play_pulls_with_tls_verify_and_creds(p, tmp_path, plain_registry):
    remote = f"{plain_registry.host}/kube/bb:1"
    p("push", "--tls-verify=false", "busybox", remote)
    yaml = _kube(tmp_path, "pulled", image=remote)
    # the registry speaks plain HTTP: a verifying pull fails, and nothing is left
    r = p("kube", "play", str(yaml), check=False)
    last = r.stderr.splitlines()[-1]
    assert r.returncode == 125 and last.startswith("Error: pulling ") and "insecure" in last
    assert p("pod", "exists", "pulled", check=False).returncode == 1
    out = p("kube", "play", "--tls-verify=false", "--creds", "someone:secret", str(yaml)).stdout
    assert out.startswith("Pod:\n")
    assert p("image", "exists", remote).returncode == 0
    assert p("inspect", "--format", "{{.State.Status}}", "pulled-main").stdout.strip() == "running"
    r = p("kube", "play", "--authfile", str(tmp_path / "none.json"), str(_kube(tmp_path, "noauth")), check=False)
    assert r.returncode == 125 and r.stderr == f"Error: stat {tmp_path / 'none.json'}: no such file or directory\n"
    assert p("pod", "exists", "noauth", check=False).returncode == 1


def test_kube_play_no_hosts_annotation_seccomp_root_and_context_dir(p, tmp_path):
    yaml = _kube(tmp_path, "flags", script="ls /etc/hosts 2>&1; grep Seccomp: /proc/self/status; sleep 100")
    p("kube", "play", "--no-hosts", "--annotation", "team=blue", str(yaml))
    doc = json.loads(p("inspect", "flags-main").stdout)[0]
    assert doc["Config"]["Annotations"]["team"] == "blue"
    assert json.loads(p("pod", "inspect", "flags").stdout)["InfraConfig"]["NoManageHosts"] is True
    for _ in range(50):
        logs = p("logs", "flags-main").stdout
        if "Seccomp" in logs:
            break
    assert "No such file" in logs and "Seccomp:\t2" in logs
    # a seccomp annotation's localhost/ profile is looked up below --seccomp-profile-root
    root = tmp_path / "profiles"
    root.mkdir()
    (root / "open.json").write_text('{"defaultAction": "SCMP_ACT_ALLOW"}')
    notes = '{"seccomp.security.alpha.kubernetes.io/pod": "localhost/open.json"}'
    yaml = _kube(tmp_path, "sec", script="grep Seccomp: /proc/self/status; sleep 100", annotations=notes)
    p("kube", "play", "--seccomp-profile-root", str(root), str(yaml))
    opts = json.loads(p("inspect", "sec-main").stdout)[0]["HostConfig"]["SecurityOpt"]
    assert any(str(root / "open.json") in o for o in opts)
    r = p("kube", "play", "--context-dir", str(tmp_path), str(_kube(tmp_path, "ctxdir")), check=False)
    assert r.returncode == 125 and r.stderr == "Error: --build must be specified when using --context-dir option\n"
    assert p("pod", "exists", "ctxdir", check=False).returncode == 1


def test_update_limits_of_a_running_and_a_created_container(p):
    from pathlib import Path

    p("run", "-d", "--name", "upd", "--memory", "64m", "busybox", "sleep", "100")
    state = json.loads(p("inspect", "upd").stdout)[0]
    cid = state["Id"]
    assert p("update", "--memory", "100m", "--cpus", "0.5", "upd").stdout == cid + "\n"
    host = json.loads(p("inspect", "upd").stdout)[0]["HostConfig"]
    assert host["Memory"] == 100 << 20 and host["NanoCpus"] == 500000000
    path = json.loads(p("inspect", "upd").stdout)[0]["State"].get("CgroupPath") or ""
    if path and Path(path, "memory.max").exists():   # the running container's cgroup has them now
        assert Path(path, "memory.max").read_text().strip() == str(100 << 20)
    if path and Path(path, "cpu.max").exists():
        assert Path(path, "cpu.max").read_text().split() == ["50000", "100000"]
    # `container update` is `update`; a created container gets them at its start
    p("create", "--name", "upd2", "busybox", "sleep", "100")
    p("container", "update", "--memory", "80m", "--cpu-shares", "512", "upd2")
    host = json.loads(p("inspect", "upd2").stdout)[0]["HostConfig"]
    assert host["Memory"] == 80 << 20 and host["CpuShares"] > 0
    p("start", "upd2")
    path = json.loads(p("inspect", "upd2").stdout)[0]["State"].get("CgroupPath") or ""
    if path and Path(path, "memory.max").exists():
        assert Path(path, "memory.max").read_text().strip() == str(80 << 20)
    # bad values: refused, nothing changed
    r = p("update", "--memory", "tiny", "upd", check=False)
    assert r.returncode == 125 and r.stderr.startswith("Error: ") and "--memory" in r.stderr
    r = p("update", "--cpus", "1", "--cpu-quota", "50000", "upd", check=False)
    assert r.returncode == 125 and r.stderr == "Error: --cpu-quota and --cpus cannot be set together\n"
    assert json.loads(p("inspect", "upd").stdout)[0]["HostConfig"]["Memory"] == 100 << 20
    r = p("update", "--memory", "100m", "nosuch", check=False)
    assert r.returncode == 125 and "nosuch" in r.stderr


LABELS = """FROM localhost/busybox
LABEL RUN="podman run --rm --name NAME -e N=\\$NAME -e I=\\${IMAGE} IMAGE env"
LABEL INSTALL="echo install IMAGE NAME \\$OPT1 \\$PWD"
"""


def test_container_runlabel_substitutes_displays_and_runs_as_podman(p, podman, tmp_path):
    (tmp_path / "Containerfile").write_text(LABELS)
    for tool in (p, podman):
        tool("build", "-q", "-t", "localhost/lbl", str(tmp_path))
    try:
        mine = p("container", "runlabel", "--display", "RUN", "localhost/lbl").stdout
        theirs = podman("container", "runlabel", "--display", "RUN", "localhost/lbl").stdout
        # podman names itself as it was invoked, podpy too
        assert mine.split()[2:] == theirs.split()[2:] and mine.split()[1].endswith(("podpy", ".pyz"))
        assert mine.split(" ", 2)[2] == ("run --rm --name lbl -e N=lbl -e I=localhost/lbl:latest localhost/lbl:latest "
                                         "env\n")
        assert " run --rm --name web -e N=web " in p("container", "runlabel", "--display", "--name", "web", "RUN",
                                                     "localhost/lbl").stdout
        # the arguments are added; $PWD is the working directory, $OPT1 the environment's
        mine = p("container", "runlabel", "--display", "INSTALL", "localhost/lbl", "a", "b").stdout.split()
        theirs = podman("container", "runlabel", "--display", "INSTALL", "localhost/lbl", "a", "b").stdout.split()
        assert mine[2:] == theirs[2:] and mine[1] == "echo"   # podman shows its own name for any command
        # `podman` in the label runs this podpy on the same store
        lines = p("container", "runlabel", "RUN", "localhost/lbl").stdout.splitlines()
        assert "N=lbl" in lines and "I=localhost/lbl:latest" in lines
        assert p("ps", "-a", "--format", "{{.Names}}").stdout.split().count("lbl") == 0
        out = p("container", "runlabel", "INSTALL", "localhost/lbl", "x", env={"OPT1": "one"}).stdout
        assert out.split()[:4] == ["install", "localhost/lbl:latest", "lbl", "one"] and out.split()[-1] == "x"
        # --opt1 over the environment's $OPT1, and the label's name in any case
        for tool in (p, podman):
            out = tool("container", "runlabel", "--display", "--opt1", "R1", "install", "localhost/lbl").stdout
            assert out.split()[2:5] == ["install", "localhost/lbl:latest", "lbl"] and out.split()[5] == "R1"
        out = p("container", "runlabel", "--display", "--opt1", "R1", "install", "localhost/lbl",
                env={"OPT1": "one"}).stdout
        assert out.split()[5] == "R1"
        # --replace: the container of the command's --name goes first
        p("create", "--name", "web", "busybox", "true")
        assert "N=web" in p("container", "runlabel", "--replace", "--name", "web", "RUN",
                            "localhost/lbl").stdout.splitlines()
        r = p("container", "runlabel", "NOPE", "localhost/lbl", check=False)
        assert r.returncode == 125 and \
            r.stderr == "Error: cannot find the value of label: NOPE in image: localhost/lbl\n"
        assert r.stderr == podman("container", "runlabel", "NOPE", "localhost/lbl", check=False).stderr
    finally:
        for tool in (p, podman):
            tool("rmi", "-f", "localhost/lbl", check=False)


def test_container_clone_names_limits_destroy_and_run(p):
    orig = p("run", "-d", "--name", "orig", "-m", "64m", "-e", "A=1", "-l", "k=v", "busybox", "sleep", "100")
    orig = orig.stdout.strip()
    first = p("container", "clone", "orig").stdout.strip()
    second = p("container", "clone", "orig").stdout.strip()
    names = {first: "orig-clone", second: "orig-clone1"}
    for cid, name in names.items():
        doc = json.loads(p("inspect", cid).stdout)[0]
        assert doc["Name"] == name and doc["State"]["Status"] == "created"
        assert "A=1" in doc["Config"]["Env"] and doc["Config"]["Labels"]["k"] == "v"
        assert doc["Config"]["Cmd"] == ["sleep", "100"] and doc["HostConfig"]["Memory"] == 64 << 20
    # the resource flags change the clone; --run starts it; NAME and IMAGE as arguments
    run = p("container", "clone", "-m", "100m", "--run", "orig", "big").stdout.strip()
    doc = json.loads(p("inspect", run).stdout)[0]
    assert doc["Name"] == "big" and doc["State"]["Running"] is True and doc["HostConfig"]["Memory"] == 100 << 20
    # --destroy: a running original only with -f, and nothing is made without it
    r = p("container", "clone", "--destroy", "orig", "gone", check=False)
    assert r.returncode == 125 and "cannot be removed without force" in r.stderr
    assert p("container", "exists", "gone", check=False).returncode == 1
    p("container", "clone", "--destroy", "-f", "orig", "moved")
    assert p("container", "exists", "orig", check=False).returncode == 1
    assert p("container", "exists", "moved").returncode == 0
    r = p("container", "clone", "nosuch", check=False)
    assert r.returncode == 125 and "nosuch" in r.stderr
    # a container no run or create made (a pod's infra) is refused, saying why
    p("pod", "create", "--name", "clonepod")
    infra = json.loads(p("pod", "inspect", "clonepod").stdout)["InfraContainerID"]
    r = p("container", "clone", infra, check=False)
    assert r.returncode == 125 and "podpy clones only those" in r.stderr


def test_pod_clone_with_its_containers_start_and_destroy(p):
    p("pod", "create", "--name", "pc", "-l", "a=b", "--add-host", "x.example:10.1.2.3")
    p("run", "-d", "--pod", "pc", "--name", "pcm", "busybox", "sleep", "100")
    infra = json.loads(p("pod", "inspect", "pc").stdout)["InfraContainerID"]
    infra_name = json.loads(p("inspect", infra).stdout)[0]["Name"]
    new = p("pod", "clone", "pc").stdout.strip()
    doc = json.loads(p("pod", "inspect", new).stdout)
    assert doc["Name"] == "pc-clone" and doc["State"] == "Created" and doc["Labels"]["a"] == "b"
    names = sorted(c["Name"] for c in doc["Containers"])
    assert names == sorted(["pcm-clone", f"{infra_name}-clone"])
    # --start, a name of its own; the clone's containers run in it; the pod's options are the original's
    p("pod", "clone", "--start", "--name", "pc2", "pc")
    cloned = json.loads(p("pod", "inspect", "pc2").stdout)
    assert cloned["State"] == "Running" and cloned["InfraConfig"]["HostAdd"] == \
        json.loads(p("pod", "inspect", "pc").stdout)["InfraConfig"]["HostAdd"]
    assert p("exec", "pcm-clone1", "hostname").stdout.strip() == "pc2"
    assert json.loads(p("inspect", "pcm-clone1").stdout)[0]["Pod"] == json.loads(
        p("pod", "inspect", "pc2").stdout)["Id"]
    # --destroy: the original goes, running or not
    p("pod", "clone", "--destroy", "pc", "pc3")
    assert p("pod", "exists", "pc", check=False).returncode == 1
    assert p("pod", "exists", "pc3").returncode == 0
    r = p("pod", "clone", "nosuch", check=False)
    assert r.returncode == 125 and r.stderr == "Error: no pod with name or ID nosuch found: no such pod\n"
    # the clone's own limits (the original has none)
    limited = p("pod", "clone", "--memory", "1g", "pc3", "pc4").stdout.strip()
    assert json.loads(p("pod", "inspect", limited).stdout)["memory_limit"] == 1 << 30
    assert "memory_limit" not in json.loads(p("pod", "inspect", "pc3").stdout)
