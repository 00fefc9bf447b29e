"""create, start -a, ps (table, json, templates), inspect, rm (several, partial failure, -f)."""

import json
import subprocess
import time

import pytest


def test_create_then_start_attached(podpy, busybox):
    cid = podpy("create", "--network", "none", "--name", "made", busybox, "sh", "-c", "echo started; exit 5").stdout.strip()
    assert len(cid) == 64
    ps = json.loads(podpy("ps", "-a", "--format", "json").stdout)
    row = next(r for r in ps if r["Id"] == cid)
    assert row["State"] == "created" and row["Names"] == ["made"] and row["Status"] == "Created"
    res = podpy("start", "-a", "made", check=False)
    assert res.returncode == 5 and res.stdout == "started\n"
    again = podpy("start", "--attach", cid[:12], check=False)
    assert again.returncode == 5
    podpy("rm", "made")


def test_a_start_that_fails_is_worded_as_podmans(podpy, busybox):
    cid = podpy("create", "--network", "none", "--name", "nostart", busybox, "no-such-command").stdout.strip()
    attached = podpy("start", "-a", "nostart", check=False)
    assert attached.returncode == 125
    assert attached.stderr.startswith(f"Error: unable to start container {cid}: ") and "no-such-command" in attached.stderr
    detached = podpy("start", "nostart", check=False)
    assert detached.returncode == 125 and detached.stdout == ""
    assert detached.stderr.startswith(f'Error: unable to start container "{cid}": ')
    # a run keeps the cause's own code
    assert podpy("run", "--rm", "--network", "none", busybox, "no-such-command", check=False).returncode == 127
    missing = podpy("start", "no-such-container", check=False)
    assert missing.returncode == 125 and missing.stderr.startswith('Error: no container with name or ID "no-such-container"')
    assert podpy("ps", "-a", "--filter", "name=nostart", "--format", "{{.Status}}").stdout.strip() == "Created"
    podpy("rm", "nostart")


def test_an_unknown_user_fails_the_start_not_the_create(podpy, busybox):
    # as podman's (and Docker's): the container is made; its start fails, a run's with 126
    cid = podpy("create", "--network", "none", "--name", "nouser", "-u", "nosuchuser", busybox, "id").stdout.strip()
    res = podpy("start", "nouser", check=False)
    assert res.returncode == 125 and res.stderr == (f'Error: unable to start container "{cid}": unable to find user '
                                                    "nosuchuser: no matching entries in passwd file\n")
    res = podpy("run", "--network", "none", "--name", "nouser2", "-u", "tester:nosuchgroup", busybox, "id",
                check=False)
    assert res.returncode == 126
    assert res.stderr == "Error: unable to find group nosuchgroup: no matching entries in group file\n"
    states = podpy("ps", "-a", "--filter", "name=nouser", "--format", "{{.Names}} {{.Status}}").stdout.split("\n")
    assert sorted(filter(None, states)) == ["nouser Created", "nouser2 Created"]
    before = podpy("ps", "-aq").stdout
    assert podpy("run", "--rm", "--network", "none", "-u", "nosuchuser", busybox, "id", check=False).returncode == 126
    assert podpy("ps", "-aq").stdout == before   # --rm: nothing left
    podpy("rm", "nouser", "nouser2")


def test_ps_formats(podpy, busybox):
    podpy("run", "--network", "none", "--name", "fmt1", "--label", "team=a", busybox, "true")
    out = podpy("ps", "-a", "--format", "{{.ID}} {{.Names}} {{.Status}}").stdout
    line = next(l for l in out.splitlines() if " fmt1 " in l)
    cid, name, status = line.split(" ", 2)
    assert len(cid) == 12 and status.startswith("Exited (0) ")
    table = podpy("ps", "-a", "--format", "table {{.ID}}\t{{.Names}}").stdout.splitlines()
    assert table[0].split() == ["CONTAINER", "ID", "NAMES"]
    default = podpy("ps", "-a").stdout.splitlines()[0]
    for col in ("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"):
        assert col in default
    assert podpy("ps", "-a", "--filter", "label=team=a", "--format", "{{.Names}}").stdout == "fmt1\n"
    assert podpy("ps", "-a", "-q", "--filter", "name=fmt1").stdout.strip() == cid
    assert "fmt1" not in podpy("ps").stdout  # not running
    # as in podman's templates, .State is the status in words and .Exited says whether it exited
    out = podpy("ps", "-a", "--format", "{{json .Labels}} {{upper .Names}} {{if .Exited}}down{{end}} {{.State}}",
                "--filter", "name=fmt1").stdout
    assert out.startswith('{"team":"a"} FMT1 down Exited (0) ') and out.endswith(" ago\n")
    podpy("rm", "fmt1")


def test_inspect_shape_and_templates(podpy, busybox, tmp_path):
    podpy("create", "--name", "insp", "-e", "K=V", "-v", f"{tmp_path}:/data:ro", "-w", "/data",
          busybox, "ls")
    data = json.loads(podpy("inspect", "insp").stdout)[0]
    assert data["Name"] == "insp" and data["State"]["Status"] == "created"
    assert "K=V" in data["Config"]["Env"] and data["Config"]["WorkingDir"] == "/data"
    assert data["Mounts"][0]["Destination"] == "/data" and data["Mounts"][0]["RW"] is False
    assert data["ImageName"] == "localhost/busybox:latest"
    assert podpy("inspect", "--format", "{{.State.Status}} {{.Config.WorkingDir}}", "insp").stdout == "created /data\n"
    assert podpy("container", "inspect", "-f", "{{index .Config.Env 0}}", "insp").stdout.startswith("PATH=")
    podpy("rm", "insp")
    # podman's Path and Args: the command's first word, then the rest (a one-word command repeated)
    podpy("create", "--name", "one", busybox, "true")
    podpy("create", "--name", "two", busybox, "sh", "-c", "echo hi")
    fmt = "{{.Path}}|{{json .Args}}"
    assert podpy("inspect", "--format", fmt, "one", "two").stdout == 'true|["true"]\nsh|["-c","echo hi"]\n'
    podpy("rm", "one", "two")


def test_inspect_names_the_supervisor_and_the_cgroup_manager(podpy, busybox):
    """podman's .State.ConmonPid (its conmon; podpy's monitor for a detached container) while it
    runs, 0 once it is over; .HostConfig.CgroupManager."""
    podpy("run", "-d", "--name", "sup", "--network", "none", busybox, "sleep", "60")
    try:
        out = podpy("inspect", "--format", "{{.State.ConmonPid}} {{.State.Pid}} {{.HostConfig.CgroupManager}}",
                    "sup").stdout.split()
        supervisor, pid = int(out[0]), int(out[1])
        assert supervisor > 0 and supervisor != pid and out[2] == "cgroupfs"
        with open(f"/proc/{supervisor}/cmdline", "rb") as f:
            assert b"podpy" in f.read()
        podpy("stop", "-t", "0", "sup")
        assert podpy("inspect", "--format", "{{.State.ConmonPid}}", "sup").stdout == "0\n"
    finally:
        podpy("rm", "-f", "sup", check=False)


def test_rm_several_with_partial_failure(podpy, busybox):
    """As podman's: every name is looked up first, and one no container has stops the removal
    before anything is removed; a container that cannot be removed (running, without -f)
    fails alone, the others go, and each failure is said."""
    for n in ("r1", "r2"):
        podpy("create", "--name", n, busybox, "true")
    res = podpy("rm", "r1", "no-such-container", "r2", check=False)
    assert res.returncode == 1 and res.stdout == ""
    assert "no-such-container" in res.stderr
    assert sorted(podpy("ps", "-a", "--filter", "name=^r[12]$", "--format", "{{.Names}}").stdout.split()) == ["r1", "r2"]
    podpy("run", "-d", "--name", "rr", "--network", "none", busybox, "sleep", "60")
    try:
        res = podpy("rm", "r1", "rr", "r2", check=False)
        assert res.returncode == 2 and res.stdout.split() == ["r1", "r2"]
        assert "rr" in res.stderr and "running" in res.stderr
        assert podpy("ps", "-a", "--filter", "name=^r[12]$", "-q").stdout == ""
    finally:
        podpy("rm", "-f", "-t", "0", "rr")
    # the other verbs on several containers look them all up first too
    podpy("create", "--name", "s1", busybox, "true")
    try:
        for verb in (["start"], ["stop"], ["kill"], ["wait"], ["restart"], ["pause"]):
            res = podpy(*verb, "s1", "no-such-container", check=False)
            assert res.returncode == 125 and res.stdout == "" and "no-such-container" in res.stderr, (verb, res)
        assert podpy("inspect", "--format", "{{.State.Status}}", "s1").stdout == "created\n"
        assert podpy("wait", "--ignore", "s1", "no-such-container").stdout == "0\n-1\n"
    finally:
        podpy("rm", "s1")


def test_a_missing_container_is_no_error_to_rm_force_or_stop_ignore(podpy, busybox):
    """As podman's: `rm -f` and `stop --ignore` pass over a container that does not exist,
    saying nothing of it; `kill` of one is an error."""
    podpy("create", "--name", "rf1", busybox, "true")
    res = podpy("rm", "-f", "no-such-container", "rf1")
    assert res.stdout == "rf1\n" and res.stderr == ""
    res = podpy("stop", "--ignore", "no-such-container")
    assert res.stdout == "" and res.stderr == ""
    res = podpy("kill", "no-such-container", check=False)
    assert res.returncode == 125 and "no-such-container" in res.stderr


def test_rm_running_needs_force(podpy, busybox):
    proc = subprocess.Popen(podpy.command("run", "--network", "none", "--name", "longrun", busybox, "sleep", "60"),
                            env=podpy.environ(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if podpy("ps", "--format", "{{.Names}}").stdout.strip() == "longrun":
                break
            time.sleep(0.05)
        else:
            pytest.fail("container never showed as running")
        assert podpy("ps", "--format", "{{.Status}}", "--filter", "name=longrun").stdout.startswith("Up ")
        res = podpy("rm", "longrun", check=False)
        assert res.returncode == 2 and "running" in res.stderr
        assert podpy("rm", "-f", "longrun").stdout.strip() == "longrun"
        assert proc.wait(timeout=30) == 137
    finally:
        proc.kill()
        proc.wait()
    assert podpy("container", "exists", "longrun", check=False).returncode == 1


def test_rm_force_with_a_time_stops_the_container_first(podpy, busybox, tmp_path):
    """rm -f -t N sends the stop signal and waits (the container's trap runs); -t 0 and plain
    -f kill at once; a negative time is refused before anything is touched."""
    out = tmp_path / "out"
    out.mkdir(mode=0o777)
    script = "trap 'echo stopped > /out/said; exit 3' TERM; while true; do sleep 0.1; done"
    podpy("run", "-d", "--network", "none", "--name", "graceful", "-v", f"{out}:/out", busybox, "sh", "-c", script)
    bad = podpy("rm", "-f", "-t", "-1", "graceful", check=False)
    assert bad.returncode == 125 and len(bad.stderr.strip().splitlines()) == 1
    assert podpy("container", "exists", "graceful").returncode == 0
    time.sleep(0.3)   # the trap is set
    started = time.monotonic()
    assert podpy("rm", "-f", "-t", "5", "graceful").stdout == "graceful\n"
    assert time.monotonic() - started < 5
    assert (out / "said").read_text() == "stopped\n"
    podpy("run", "-d", "--network", "none", "--name", "abrupt", "-v", f"{out}:/out", busybox, "sh", "-c",
          script.replace("said", "again"))
    time.sleep(0.3)
    assert podpy("rm", "-f", "-t", "0", "abrupt").stdout == "abrupt\n"
    assert not (out / "again").exists()


def test_name_in_use(podpy, busybox):
    podpy("create", "--name", "taken", busybox, "true")
    res = podpy("create", "--name", "taken", busybox, "true", check=False)
    assert res.returncode == 125 and "already in use" in res.stderr
    assert len([l for l in podpy("ps", "-a", "--format", "{{.Names}}").stdout.split() if l == "taken"]) == 1
    podpy("rm", "taken")


def test_inspect_says_stopping_while_a_stop_waits(podpy, busybox):
    """podman: State.Status is `stopping` (and Running false) while `stop` waits for a
    container that ignores its stop signal; ps says Stopping; then exited."""
    podpy("run", "-d", "--network", "none", "--name", "stubborn", busybox, "sh", "-c",
          "trap '' TERM; echo ready; while :; do sleep 0.1; done")
    for _ in range(100):
        if "ready" in podpy("logs", "stubborn").stdout:
            break
        time.sleep(0.05)
    fmt = "{{.State.Status}} {{.State.Running}}"
    assert podpy("inspect", "--format", fmt, "stubborn").stdout == "running true\n"
    stop = subprocess.Popen(podpy.command("stop", "-t", "5", "stubborn"), env=podpy.environ(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = ""
        for _ in range(100):
            seen = podpy("inspect", "--format", fmt, "stubborn").stdout
            if seen != "running true\n":
                break
            time.sleep(0.05)
        assert seen == "stopping false\n"
        row = json.loads(podpy("ps", "--format", "json", "--filter", "name=stubborn").stdout)[0]
        assert row["State"] == "stopping" and row["Status"] == "Stopping"
        out, err = stop.communicate(timeout=30)
        assert stop.returncode == 0 and out == "stubborn\n" and "resorting to SIGKILL" in err
    finally:
        stop.kill()
        stop.wait()
    assert podpy("inspect", "--format", fmt, "stubborn").stdout == "exited false\n"
    podpy("rm", "stubborn")


def test_rm_depend_removes_the_containers_sharing_namespaces_first(podpy, busybox):
    """podman: a container whose namespaces others share is refused (125, nothing removed);
    --depend removes them first, deepest first, printing full ids; rm -a handles the order."""
    base = podpy("create", "--network", "none", "--name", "base", busybox, "sleep", "60").stdout.strip()
    d1 = podpy("create", "--name", "d1", "--network", "container:base", busybox, "true").stdout.strip()
    d2 = podpy("create", "--name", "d2", "--pid", "container:d1", busybox, "true").stdout.strip()
    podpy("create", "--network", "none", "--name", "other", busybox, "true")
    res = podpy("rm", "base", check=False)
    assert res.returncode == 125 and res.stdout == ""
    assert res.stderr.strip().endswith(f"container {base} has dependent containers which must be removed "
                                       f"before it: {d1}: container already exists")
    assert podpy("rm", "-f", "base", check=False).returncode == 125
    assert podpy("container", "exists", "base").returncode == 0
    assert podpy("rm", "--depend", "base").stdout == f"{d2}\n{d1}\n{base}\n"
    names = podpy("ps", "-a", "--format", "{{.Names}}").stdout.split()
    assert "other" in names and not {"base", "d1", "d2"} & set(names)
    # a running one still needs -f; its dependents are removed all the same
    podpy("run", "-d", "--network", "none", "--name", "rb", busybox, "sleep", "60")
    rd = podpy("create", "--name", "rd", "--network", "container:rb", busybox, "true").stdout.strip()
    res = podpy("rm", "--depend", "rb", check=False)
    assert res.returncode == 2 and res.stdout == f"{rd}\n" and "running" in res.stderr
    assert podpy("rm", "-f", "--depend", "rb").stdout.strip() != ""
    assert podpy("rm", "--depend", "nosuch", check=False).returncode == 1
    podpy("create", "--network", "none", "--name", "b2", busybox, "true")
    podpy("create", "--name", "c2", "--uts", "container:b2", busybox, "true")
    podpy("rm", "-a")
    assert podpy("ps", "-aq").stdout == ""


def test_start_all_and_filter(podpy, busybox):
    """podman: --all and --filter start every matching container not running (full ids,
    running ones skipped silently); names with --all, -a with them, and bad filters are
    refused (125) before anything starts."""
    s1 = podpy("create", "--network", "none", "--name", "s1", "--label", "k=v", busybox, "sleep", "60").stdout.strip()
    s2 = podpy("create", "--network", "none", "--name", "s2", busybox, "sleep", "60").stdout.strip()
    s3 = podpy("create", "--network", "none", "--name", "s3", busybox, "true").stdout.strip()
    for bad, message in ((["--all", "s1"], "either start all containers or the container(s) provided"),
                         (["-a", "--all"], "you cannot start and attach all containers at once"),
                         (["--filter", "bogus=1"], "bogus is an invalid filter"),
                         (["--filter", "nosep"], 'invalid filter "nosep"'),
                         ([], "start requires at least one argument")):
        res = podpy("start", *bad, check=False)
        assert res.returncode == 125 and message in res.stderr and res.stdout == "", bad
    assert podpy("ps", "-q").stdout == ""
    assert podpy("start", "--filter", "label=k=v").stdout == f"{s1}\n"
    assert podpy("start", "--filter", "name=zzz").stdout == ""
    out = podpy("start", "--filter", "name=s").stdout.split()
    assert sorted(out) == sorted([s2, s3])   # s1 runs already: not started, not printed
    podpy("wait", "s3")
    assert podpy("start", "--all").stdout == f"{s3}\n"
    podpy("wait", "s3")
    assert podpy("start", "-f", "status=exited", "-f", "id=" + s3[:8]).stdout == f"{s3}\n"
    podpy("wait", "s3")
    # names with --filter: the filter picks among them, as podman's does (full ids printed)
    assert podpy("start", "--filter", "status=exited", "s3", "s1").stdout == f"{s3}\n"
    res = podpy("start", "--filter", "restart-policy=fakepolicy", "s3", check=False)
    assert (res.returncode, res.stderr.strip()) == (125, "Error: fakepolicy invalid restart policy")
    podpy("rm", "-f", "s1", "s2", "s3")
