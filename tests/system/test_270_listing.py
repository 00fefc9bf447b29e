"""The listing commands as podman 4.3.1 has them: `ps` (filters, orders, sizes, namespaces,
watch), `images` (filters, orders, digests, history), `image prune --filter`, `history -H`,
and the template fields of `info`, `version`, `events` and `stats`; compared with podman run
as the same user on a private store where podman is installed."""

from __future__ import annotations

import json
import re
import subprocess
import uuid

import pytest

from helpers import own_store_fixtures, settled_state


def _clean(tool):
    tool("rm", "-a", "-f", check=False)
    tool("rmi", "-f", "localhost/other:1", "localhost/labelled:latest", check=False)
    tool("volume", "rm", "-f", "lvol", check=False)


# A store of the module's own: what `images` and `ps` list is these tests' alone, whatever
# the other files leave in the session's store.
podpy, busybox = own_store_fixtures("listing")


@pytest.fixture
def p(podpy, busybox):
    """The session's store with no containers: what these tests list is theirs alone."""
    _clean(podpy)
    yield podpy
    _clean(podpy)


@pytest.fixture
def pm(podman):
    """podman's store (one per module) as this test leaves it for the next."""
    _clean(podman)
    yield podman
    _clean(podman)


def _containers(tool, image):
    """The same four containers: a running one with a label, an exited one (code 3) with a
    restart policy and a volume, a created one, and a running one with a healthcheck."""
    tool("run", "-d", "--network", "none", "--name", "web1", "-l", "team=a", image, "sleep", "120")
    tool("run", "--network", "none", "--name", "web2", "--restart", "no", "-v", "lvol:/data", image,
         "sh", "-c", "exit 3", check=False)
    _cleaned_up(tool, "web2")
    tool("create", "--network", "none", "--name", "db", image, "true")
    tool("run", "-d", "--network", "none", "--name", "hc", "--restart", "always", "--health-cmd", "true",
         image, "sleep", "120")


def _cleaned_up(tool, name):
    """Wait until the exited container's state is "exited" (`--sort status` orders by the
    state's name, and podman's is "stopped" until its cleanup has run)."""
    assert settled_state(tool, name) == "exited", name


PS_CASES = [
    [], ["-a"], ["-n", "2"], ["-l"], ["-n", "0"],
    ["--filter", "name=web"], ["-a", "--filter", "name=web"], ["-a", "--filter", "name=^db$"],
    ["-a", "--filter", "name=web1", "--filter", "name=db"], ["--filter", "status=exited"],
    ["--filter", "status=created"], ["--filter", "status=stopped"], ["-a", "--filter", "exited=3"],
    ["-a", "--filter", "label=team=a"], ["-a", "--filter", "label=team", "--filter", "label=x"],
    ["-a", "--filter", "ancestor=localhost/busybox"], ["-a", "--filter", "ancestor=localhost/busybox:latest"],
    ["-a", "--filter", "ancestor=busybox"], ["-a", "--filter", "before=db"], ["-a", "--filter", "since=web2"],
    ["-a", "--filter", "volume=lvol"], ["-a", "--filter", "volume=lvol:/data"],
    ["-a", "--filter", "restart-policy=always"], ["-a", "--filter", "pod=nopod"],
    ["-a", "--filter", "until=2000-01-01"], ["-a", "--filter", "until=2100-01-01"],
    ["-a", "--filter", "status=exited", "--filter", "name=web"],
    ["-a", "--sort", "names"], ["-a", "--sort", "status"], ["-a", "--sort", "command"],
    ["-a", "--sort", "created"], ["-a", "--sort", "runningfor"],
]
PS_ERRORS = [
    ["--filter", "bogus=1"], ["--filter", "label!=a"], ["--filter", "name"], ["--filter", "status=stopping"],
    ["--filter", "exited=x"], ["--filter", "restart-policy="], ["--filter", "since=nope"],
    ["--filter", "until=soon"], ["--sort", "bogus"], ["-n", "1", "-l"], ["-q", "--ns"], ["--ns", "-s"],
]


def test_ps_filters_orders_and_errors_as_podmans(p, pm):
    """Which containers each filter, -n, -l and --sort give, and podman's errors (one line, 125)."""
    outs = {}
    for name, tool, image in (("podpy", p, "busybox"), ("podman", pm, "localhost/busybox")):
        _containers(tool, image)
        ids = {}
        for line in tool("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}}").stdout.splitlines():
            cid, cname = line.split()
            ids[cid] = cname
        outs[name] = {
            "lists": [(case, tool("ps", *case, "--format", "{{.Names}}").stdout.split()) for case in PS_CASES],
            "by id": tool("ps", "-a", "--filter", "id=" + next(c for c, n in ids.items() if n == "db")[:10],
                          "--format", "{{.Names}}").stdout,
            "errors": [(case, r.returncode, r.stderr.splitlines()[0].replace("podman", "TOOL").replace("podpy", "TOOL"))
                       for case in PS_ERRORS for r in [tool("ps", *case, check=False)]],
        }
    for got, want in zip(outs["podpy"]["lists"], outs["podman"]["lists"]):
        assert got == want
    assert outs["podpy"]["by id"] == outs["podman"]["by id"] == "db\n"
    for got, want in zip(outs["podpy"]["errors"], outs["podman"]["errors"]):
        assert got == want


def test_ps_size_namespaces_and_the_accepted_flags(p):
    """-s: SIZE as `<rw> (virtual <whole>)` and `.Size`; --ns: podman's namespace columns,
    inode numbers for a running container and none for one that does not run; --external
    and --sync are taken; -w prints the listing again and again."""
    _containers(p, "busybox")
    table = p("ps", "-a", "-s").stdout.splitlines()
    assert table[0].split()[-1] == "SIZE"
    assert all(re.search(r"\d+(\.\d+)?[kMG]?B \(virtual \d+(\.\d+)?[kMG]?B\)$", line) for line in table[1:])
    assert re.fullmatch(r"\d+(\.\d+)?[kMG]?B \(virtual [^)]+\)\n", p("ps", "-s", "--filter", "name=web1",
                                                                     "--format", "{{.Size}}").stdout)
    unsized = p("ps", "--filter", "name=web1", "--format", "{{.Names}}:{{.Size}}")
    assert unsized.stdout == "web1:\n" and "Size format requires --size option" in unsized.stderr
    sizes = json.loads(p("ps", "-s", "--format", "json", "--filter", "name=web1").stdout)[0]["Size"]
    assert set(sizes) == {"rootFsSize", "rwSize"} and sizes["rootFsSize"] >= sizes["rwSize"]
    ns = p("ps", "-a", "--ns", "--sort", "names").stdout.splitlines()
    assert ns[0].split() == ["CONTAINER", "ID", "NAMES", "PID", "CGROUPNS", "IPC", "MNT", "NET", "PIDNS", "USERNS",
                             "UTS"]
    running = next(line.split() for line in ns[1:] if line.split()[1] == "web1")
    assert int(running[2]) > 0 and all(re.fullmatch(r"\d{6,}", f) for f in running[3:])
    created = next(line.split() for line in ns[1:] if line.split()[1] == "db")
    assert created[2:] == ["0"]
    doc = json.loads(p("ps", "--ns", "--format", "json", "--filter", "name=web1").stdout)[0]
    assert set(doc["Namespaces"]) == {"Mnt", "Cgroup", "Ipc", "Net", "Pidns", "Uts", "User"}
    assert p("ps", "--ns", "--filter", "name=web1", "--format", "{{.PIDNS}}").stdout.strip() == doc["Namespaces"]["Pidns"]
    assert p("ps", "--external", "--sync", "--format", "{{.Names}}", "--sort", "names").stdout.split() == ["hc", "web1"]
    proc = subprocess.Popen(p.command("ps", "-w", "1", "--format", "{{.Names}}", "--filter", "name=web1"),
                            env=p.environ(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        seen = [proc.stdout.readline() for _ in range(3)]
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert seen == ["web1\n"] * 3


IMAGE_CASES = [
    [], ["--sort", "repository"], ["--sort", "created"],
    ["--filter", "reference=busybox"], ["--filter", "reference=*box"], ["--filter", "reference=local*"],
    ["--filter", "reference=localhost/*"], ["--filter", "reference=other:1"],
    ["--filter", "reference=busybox", "--filter", "reference=labelled"], ["--filter", "label=k=v"],
    ["--filter", "label!=k"], ["--filter", "dangling=false"], ["--filter", "dangling=true"],
    ["--filter", "readonly=false"], ["--filter", "manifest=true"], ["--filter", "intermediate=false"],
    ["-a", "--filter", "intermediate=true"], ["--filter", "containers=true"], ["--filter", "containers=false"],
    ["--filter", "before=labelled"], ["--filter", "since=busybox"], ["--filter", "until=2000-01-01"],
]
IMAGE_ERRORS = [
    ["--filter", "bogus=1"], ["--filter", "digest=sha256:1"], ["--filter", "novalue"],
    ["--filter", "dangling=maybe"], ["--filter", "since=nope"], ["--filter", "intermediate=true"],
    ["--filter", "dangling=true", "--filter", "dangling=false"], ["--sort", "bogus"],
    ["--filter", "until=soon"],
]


def _choices_sorted(message):
    """podman lists the sort keys in no fixed order: compare them as a set."""
    head, sep, choices = message.partition("Choose from: ")
    return head + sep + ", ".join(sorted(choices.split(", "))) if sep else message


def test_images_filters_orders_and_errors_as_podmans(p, pm, tmp_path):
    """Which rows each filter and --sort give (the image of two names twice), and podman's errors."""
    (tmp_path / "Containerfile").write_text("FROM localhost/busybox\nLABEL k=v\n")
    outs = {}
    for name, tool in (("podpy", p), ("podman", pm)):
        tool("tag", "localhost/busybox", "localhost/other:1")
        tool("build", "-q", "-t", "localhost/labelled", tmp_path)
        tool("create", "--network", "none", "--name", "user", "localhost/busybox", "true")
        outs[name] = {
            "lists": [(case, tool("images", *case, "--format", "{{.Repository}}:{{.Tag}}").stdout.split())
                      for case in IMAGE_CASES],
            "errors": [(case, r.returncode, _choices_sorted(r.stderr.splitlines()[0])) for case in IMAGE_ERRORS
                       for r in [tool("images", *case, check=False)]],
            "digests": tool("images", "--digests").stdout.splitlines()[0].split(),
            "history": tool("images", "--history", "--filter", "reference=labelled").stdout.splitlines()[0].split(),
        }
    for got, want in zip(outs["podpy"]["lists"], outs["podman"]["lists"]):
        assert got == want
    for got, want in zip(outs["podpy"]["errors"], outs["podman"]["errors"]):
        assert got == want
    assert outs["podpy"]["digests"] == outs["podman"]["digests"] == [
        "REPOSITORY", "TAG", "DIGEST", "IMAGE", "ID", "CREATED", "SIZE"]
    assert outs["podpy"]["history"] == outs["podman"]["history"] == [
        "REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE", "HISTORY"]
    row = p("images", "--digests", "--filter", "reference=labelled", "--format", "{{.Digest}} {{.History}}").stdout
    assert re.fullmatch(r"sha256:[0-9a-f]{64} localhost/labelled:latest\n", row)


def test_image_prune_filter_and_history_human(p, tmp_path):
    """`image prune --filter` removes only the dangling images that match; `history -H=false`
    gives the times as RFC 3339; bad filters are refused before anything goes."""
    (tmp_path / "Containerfile").write_text("FROM busybox\nLABEL drop=yes\n")
    dropped = p("build", "-q", tmp_path).stdout.strip().split()[-1]
    (tmp_path / "Containerfile").write_text("FROM busybox\nLABEL keep=yes\n")
    kept = p("build", "-q", tmp_path).stdout.strip().split()[-1]
    res = p("image", "prune", "-f", "--filter", "bogus=1", check=False)
    assert res.returncode == 125 and res.stderr == 'Error: unsupported image filter "bogus"\n'
    assert p("image", "prune", "-f", "--filter", "label=drop=yes").stdout.split() == [dropped]
    assert p("images", "-q", "--no-trunc", "--filter", "dangling=true").stdout.split() == [f"sha256:{kept}"]
    p("image", "prune", "-f")
    created = p("history", "--human=false", "--format", "{{.Created}}", "busybox").stdout.split()
    assert created and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", c) for c in created)
    assert p("history", "-H=false", "busybox").stdout.splitlines()[1].split()[1] == created[0]
    assert " ago " in p("history", "-H", "busybox").stdout.splitlines()[1]
    doc = json.loads(p("history", "--format", "json", "busybox").stdout)
    assert len(doc[0]["id"]) == 64 and re.fullmatch(r".*T\d\d:\d\d:\d\dZ", doc[0]["Created"])


def test_info_version_events_and_stats_templates(p, pm):
    """podman's template names work where podman's do, and give values of the same form."""
    for field in ("{{.Host.Arch}}", "{{.Host.Distribution.Distribution}}", "{{.Host.Security.Rootless}}",
                  "{{.Host.OS}}", "{{.Host.EventLogger}}"):
        assert p("info", "--format", field).stdout == pm("info", "--format", field).stdout, field
    for field in ("{{.Store.GraphDriverName}}", "{{.Store.GraphRoot}}", "{{.Store.RunRoot}}", "{{.Store.VolumePath}}", "{{.Host.MemTotal}}",
                  "{{.Host.Uptime}}", "{{.Host.CgroupsVersion}}", "{{.Registries}}", "{{.Version.Version}}",
                  "{{.Plugins.Volume}}", "{{.Host.Security.DefaultCapabilities}}"):
        assert p("info", "--format", field).stdout.strip(), field
    version = p("version", "--format", "{{.Client.Version}}").stdout
    assert p("version", "--format", "{{.Server.Version}}").stdout == version
    assert p("version", "--format", "{{.Version}}").stdout == version
    ev = f"ev{uuid.uuid4().hex[:8]}"   # the event log outlives the store: a name of this run's own
    p("run", "--network", "none", "--name", ev, "busybox", "sh", "-c", "exit 7", check=False)
    fields = "{{.Type}}|{{.Status}}|{{.Name}}|{{.Image}}|{{.ContainerExitCode}}|{{.Network}}|{{.Attributes}}"
    died = p("events", "--stream=false", "--filter", "event=died", "--filter", f"container={ev}",
             "--format", fields).stdout
    assert died == f"container|died|{ev}|localhost/busybox:latest|7||map[]\n"
    when = p("events", "--stream=false", "--filter", f"container={ev}", "--format", "{{.Time}}").stdout.splitlines()
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? [+-]\d{4} \w+", w) for w in when)
    doc = json.loads(p("events", "--stream=false", "--filter", "event=died", "--filter", f"container={ev}",
                       "--format", "json").stdout)
    assert doc["ContainerExitCode"] == 7 and list(doc)[0] == "ContainerExitCode" and "containerExitCode" not in \
        doc["Attributes"]
    plain = p("events", "--stream=false", "--no-trunc=false", "--filter", "event=died").stdout.split()
    assert len(plain[6]) == 12 and plain[4:6] == ["container", "died"]
    p("run", "-d", "--network", "none", "--name", "st", "busybox", "sleep", "120")
    table = p("stats", "--no-stream").stdout.splitlines()
    assert re.split(r"\s{2,}", table[0]) == ["ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET IO",
                                             "BLOCK IO", "PIDS", "CPU TIME", "AVG CPU %"]
    row = p("stats", "--no-stream", "-a", "--no-trunc", "--format",
            "{{.ID}}|{{.Name}}|{{.CPUPerc}}|{{.AVGCPU}}|{{.MemPerc}}|{{.PIDS}}|{{.PIDs}}|{{.UpTime}}", "--no-reset")
    cid = p("inspect", "--format", "{{.Id}}", "st").stdout.strip()
    assert re.fullmatch(rf"{cid}\|st\|\d+\.\d\d%\|\d+\.\d\d%\|(\d+\.\d\d%|--)\|1\|1\|[0-9.]+[µnm]?s\n", row.stdout)
    stats = json.loads(p("stats", "--no-stream", "--format", "json").stdout)
    assert [s["name"] for s in stats] == ["st"] and set(stats[0]) == {
        "id", "name", "cpu_time", "cpu_percent", "avg_cpu", "mem_usage", "mem_percent", "net_io", "block_io", "pids"}
    res = p("stats", "-a", "st", check=False)
    assert res.returncode == 125 and res.stderr == "Error: --all, --latest and containers cannot be used together\n"
