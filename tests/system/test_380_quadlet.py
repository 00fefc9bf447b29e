"""`podpy quadlet`: the units it generates from a realistic set of Quadlet files pass
`systemd-analyze verify --user`, and run as systemd would run them (tests/system/units.py),
as the test user: a web server with its network and volume, a pod with a member container,
a Kubernetes YAML, and a file with a misspelt key that fails at start saying so."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from helpers import own_store_fixtures
from units import UnitFailed, UnitRunner, delegated_cgroup, load, verify

REPO = Path(__file__).resolve().parents[2]

FILES = {
    "web.container": """
        [Unit]
        Description=A web server with its data on a volume, on a network of its own

        [Container]
        Image=localhost/busybox:latest
        Network=app.network
        Volume=data.volume:/data
        Exec=httpd -f -p 8080 -h /data
        Label=role=web
        Environment=GREETING=hello

        [Service]
        TimeoutStartSec=60

        [Install]
        WantedBy=default.target
        """,
    "app.network": """
        [Network]
        Subnet=10.89.41.0/24
        """,
    "data.volume": """
        [Volume]
        Label=app=web
        """,
    "group.pod": """
        [Pod]
        PodName=quadlet-group
        """,
    "member.container": """
        [Container]
        Image=localhost/busybox:latest
        Pod=group.pod
        Exec=sleep 1000
        """,
    "play.kube": """
        [Kube]
        Yaml=play.yaml
        """,
    "worker@.container": """
        [Container]
        Image=base.image
        Exec=sleep %i

        [Install]
        WantedBy=default.target
        DefaultInstance=100
        """,
    "base.image": """
        [Image]
        Image=localhost/busybox:latest
        """,
    "tool.build": """
        [Build]
        ImageTag=localhost/tool:latest
        File=Containerfile
        SetWorkingDirectory=unit
        """,
    "typo.container": """
        [Container]
        Image=localhost/busybox:latest
        Exec=sleep 1000
        Memroy=64m
        """,
}

YAML = """
apiVersion: v1
kind: Pod
metadata:
  name: quadlet-kube
spec:
  containers:
  - name: main
    image: localhost/busybox:latest
    command: [sleep, "1000"]
"""


# the units' containers are supervised by a monitor of their runtime directory, which must not
# be one that other tests running as the same user start, stop and kill: a store of our own
podpy, busybox = own_store_fixtures("quadlet")


@pytest.fixture
def generated(podpy, busybox, tmp_path):
    """The Quadlet files in a directory, and the units podpy generated from them (user mode)."""
    source = tmp_path / "quadlet"
    source.mkdir()
    for name, text in FILES.items():
        (source / name).write_text(textwrap.dedent(text).lstrip())
    (source / "play.yaml").write_text(YAML.lstrip())
    (source / "worker@200.container").symlink_to("worker@.container")
    (source / "Containerfile").write_text("FROM localhost/busybox:latest\n")
    out = tmp_path / "units"
    result = podpy("quadlet", "-user", "-no-kmsg-log", out, env={"QUADLET_UNIT_DIRS": str(source)}, check=False)
    assert result.returncode == 1, result.stderr        # typo.container has a problem
    assert "unknown key Memroy= in [Container] of typo.container, line 4 (did you mean Memory=?)" in result.stderr
    return out


def _env(podpy) -> dict[str, str]:
    """What the user's service manager would give the units: the user's environment (here the
    store of this podpy)."""
    return podpy.environ()


def _runner(podpy, units: Path, name: str, workdir: Path) -> UnitRunner:
    return UnitRunner(load(units / name), _env(podpy), workdir, cgroup_parent=delegated_cgroup())


def test_every_generated_unit_passes_systemd_analyze_verify(podpy, generated):
    names = sorted(p.name for p in generated.glob("*.service"))
    assert names == ["app-network.service", "base-image.service", "data-volume.service", "group-pod.service",
                     "member.service", "play.service", "tool-build.service", "typo.service", "web.service",
                     "worker@.service", "worker@200.service"]
    wants = generated / "default.target.wants"
    assert sorted(os.listdir(wants)) == ["web.service", "worker@100.service", "worker@200.service"]
    assert os.readlink(wants / "worker@100.service") == "../worker@.service"
    names.remove("worker@.service")      # a template is checked through its instances
    wait = REPO / "packaging" / "systemd" / "podpy-user-wait-network-online.service"
    verify([*(generated / n for n in names), wants / "worker@100.service", wait], _env(podpy))
    exec_start = load(generated / "web.service").get("Service", "ExecStart")
    assert exec_start.startswith(f"{os.path.realpath(podpy.argv[-1])} run --name=systemd-%N --cidfile=%t/%N.cid "
                                 "--replace --rm --cgroups=split --network systemd-app --sdnotify=conmon -d ")


def test_system_units_pass_verify_too(podpy, busybox, tmp_path):
    """The same files as the system's units (the generator run as root would make them)."""
    source = tmp_path / "quadlet"
    source.mkdir()
    for name in ("web.container", "app.network", "data.volume", "group.pod", "member.container"):
        (source / name).write_text(textwrap.dedent(FILES[name]).lstrip())
    out = tmp_path / "units"
    podpy("quadlet", "-no-kmsg-log", out, env={"QUADLET_UNIT_DIRS": str(source)})
    web = load(out / "web.service")
    assert web.values("Unit", "Wants")[0] == "network-online.target"
    verify(sorted(out.glob("*.service")), _env(podpy), user=False)


def test_container_with_its_network_and_volume_runs_and_stops_clean(podpy, generated, tmp_path):
    # systemd starts what web.service requires first: the network's and the volume's oneshot units
    deps = [_runner(podpy, generated, n, tmp_path) for n in ("app-network.service", "data-volume.service")]
    web = _runner(podpy, generated, "web.service", tmp_path)
    try:
        for dep in deps:
            dep.start(timeout=60)
        assert "systemd-app" in podpy("network", "ls", "--format", "{{.Name}}").stdout.split()
        assert "systemd-data" in podpy("volume", "ls", "--format", "{{.Name}}").stdout.split()
        web.start(timeout=60)
        assert web.notify is not None and web.notify.value("READY") == "1"
        assert web.main_alive() and web.main_pid != web.main.pid     # MAINPID: the container's monitor
        inspect = podpy("inspect", "--format", "{{.State.Status}} {{index .Config.Labels \"role\"}}",
                        "systemd-web").stdout.split()
        assert inspect == ["running", "web"]
        cid = (Path(web.spec["t"]) / "web.cid").read_text().strip()
        assert podpy("inspect", "--format", "{{.Id}}", "systemd-web").stdout.strip() == cid
        env = podpy("exec", "systemd-web", "sh", "-c", "echo $GREETING").stdout.strip()
        assert env == "hello"
        assert web.main_pid in web.cgroup_pids()                   # the monitor runs in the unit's cgroup
        web.stop(timeout=60)
        assert not web.main_alive()
        assert podpy("ps", "-a", "--filter", "name=systemd-web", "--format", "{{.Names}}").stdout.strip() == ""
        assert web.cgroup_pids() == [], web.output()
        assert not (Path(web.spec["t"]) / "web.cid").exists()
        # and it starts again (systemctl restart): the same commands, the same names
        web.close()
        again = _runner(podpy, generated, "web.service", tmp_path)
        try:
            again.start(timeout=60)
            assert podpy("inspect", "--format", "{{.State.Status}}", "systemd-web").stdout.strip() == "running"
            again.stop(timeout=60)
            assert again.cgroup_pids() == []
        finally:
            again.close()
    finally:
        web.close()
        for dep in deps:
            dep.close()
        podpy("rm", "-f", "-i", "systemd-web", check=False)
        podpy("volume", "rm", "-f", "systemd-data", check=False)
        podpy("network", "rm", "-f", "systemd-app", check=False)


def test_pod_with_a_member_container(podpy, generated, tmp_path):
    pod = _runner(podpy, generated, "group-pod.service", tmp_path)
    member = _runner(podpy, generated, "member.service", tmp_path)
    try:
        pod.start(timeout=60)          # Type=forking: PIDFile= is the infra container's monitor
        assert pod.main_alive(), pod.output()
        member.start(timeout=60)
        ps = podpy("ps", "--pod", "--format", "{{.Names}} {{.PodName}}").stdout.splitlines()
        assert "systemd-member quadlet-group" in ps
        member.stop(timeout=60)
        pod.stop(timeout=60)
        assert podpy("pod", "ps", "-q", "--filter", "name=quadlet-group").stdout.strip() == ""
        assert podpy("ps", "-aq", "--filter", "name=systemd-member").stdout.strip() == ""
        assert member.cgroup_pids() == [] and pod.cgroup_pids() == []
    finally:
        member.close()
        pod.close()
        podpy("pod", "rm", "-f", "-i", "quadlet-group", check=False)


def test_kube_unit_plays_and_tears_down(podpy, generated, tmp_path):
    kube = _runner(podpy, generated, "play.service", tmp_path)
    try:
        kube.start(timeout=60)
        assert podpy("pod", "ps", "--format", "{{.Name}}").stdout.split().count("quadlet-kube") == 1
        kube.stop(timeout=60)
        assert "quadlet-kube" not in podpy("pod", "ps", "--format", "{{.Name}}").stdout.split()
        assert kube.cgroup_pids() == []
    finally:
        kube.close()
        podpy("kube", "down", generated.parent / "quadlet" / "play.yaml", check=False)


def test_unit_with_an_unknown_key_fails_at_start_with_the_reason(podpy, generated, tmp_path):
    typo = _runner(podpy, generated, "typo.service", tmp_path)
    try:
        with pytest.raises(UnitFailed) as failed:
            typo.start(timeout=30)
        assert "unknown key Memroy= in [Container] of typo.container, line 4 (did you mean Memory=?)" in str(failed.value)
        assert podpy("ps", "-aq", "--filter", "name=systemd-typo").stdout.strip() == ""
    finally:
        typo.close()


def test_two_container_units_each_have_their_own_main_process_and_cgroup(podpy, busybox, tmp_path):
    """What systemd needs of two container units running at once: each unit's MAINPID in its own
    cgroup, and stopping one leaves the other running."""
    source = tmp_path / "quadlet"
    source.mkdir()
    for name in ("one", "two"):
        (source / f"{name}.container").write_text("[Container]\nImage=localhost/busybox:latest\nExec=sleep 1000\n")
    out = tmp_path / "units"
    podpy("quadlet", "-user", "-no-kmsg-log", out, env={"QUADLET_UNIT_DIRS": str(source)})
    one = _runner(podpy, out, "one.service", tmp_path)
    two = _runner(podpy, out, "two.service", tmp_path)
    try:
        one.start(timeout=60)
        two.start(timeout=60)
        print(f"MAINPID one={one.main_pid} two={two.main_pid}; cgroup one={one.cgroup_pids()} two={two.cgroup_pids()}")
        assert one.main_pid != two.main_pid
        assert two.main_pid in two.cgroup_pids() and two.main_pid not in one.cgroup_pids()
        one.stop(timeout=60)
        status = podpy("inspect", "--format", "{{.State.Status}}", "systemd-two").stdout.strip()
        assert status == "running" and two.main_alive()
        two.stop(timeout=60)
        assert one.cgroup_pids() == [] and two.cgroup_pids() == []
    finally:
        one.close()
        two.close()
        podpy("rm", "-f", "-i", "systemd-one", "systemd-two", check=False)


def test_user_wait_for_the_network_is_bounded(podpy, tmp_path):
    """podpy-user-wait-network-online.service ends at once when the system is not bringing
    network-online.target up (here no systemd runs at all), and never fails."""
    import time

    wait = UnitRunner(load(REPO / "packaging" / "systemd" / "podpy-user-wait-network-online.service"),
                      _env(podpy), tmp_path)
    try:
        started = time.monotonic()
        wait.start(timeout=40)
        took = time.monotonic() - started
        print(f"podpy-user-wait-network-online.service took {took:.2f} s")
        assert took < 10 and [status for _key, _argv, status in wait.log] == [0]
    finally:
        wait.close()


def test_kube_play_under_systemd_waits_only_for_its_service_container(podpy, busybox, tmp_path):
    """Under a Type=notify unit, the pod's containers ignore $NOTIFY_SOCKET (unless an
    io.containers.sdnotify annotation asks otherwise): `kube play` returns, and the one READY=1
    comes from the service container."""
    from units import NotifySocket

    yaml = tmp_path / "p.yaml"
    yaml.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: sdn}\nspec:\n  terminationGracePeriodSeconds: 0\n"
                    "  containers:\n  - {name: c, image: busybox, command: [sleep, '300']}\n")
    sock = NotifySocket(tmp_path / "notify")
    try:
        podpy("kube", "play", "--replace", "--service-container=true", yaml, timeout=60,
              env={"NOTIFY_SOCKET": sock.path, "INVOCATION_ID": "0" * 32})
        ready = sock.wait_for("READY", "1", timeout=10)
        assert ready is not None and "MAINPID" in ready
        assert [m for _, m in sock.messages if "READY" in m] == [ready]
    finally:
        sock.close()
        podpy("kube", "down", yaml, check=False)
