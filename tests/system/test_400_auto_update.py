"""auto-update: containers run by systemd units, restarted on the newer image of their registry
tag or local name, rolled back when the unit does not start on it, and what is left alone.

systemd cannot run as a manager here, so `systemctl` on auto-update's PATH is a stand-in
(systemctl_standin.py) that runs each unit's commands as systemd would, with units.py. The
unit has the shape of podman 4.3.1's `generate systemd --new` units: `run -d --sdnotify=conmon
--replace --rm` with a cid file (removed before each start), Type=notify, and
PODMAN_SYSTEMD_UNIT=%n in its environment.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from registry import oci_layout, push, serving
from units import verify

HERE = Path(__file__).resolve().parent
POLICY = "io.containers.autoupdate"


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("au-registry")) as reg:
        yield reg


class Systemd:
    """The stand-in's directory, unit files written there, and the environment that puts its
    `systemctl` first on PATH."""

    def __init__(self, p, base: Path):
        self.p = p
        self.base = base
        (base / "units").mkdir(parents=True)
        (base / "bin").mkdir()
        tool = base / "bin" / "systemctl"
        tool.write_text(f"#!{sys.executable}\nimport runpy\n"
                        f"runpy.run_path({str(HERE / 'systemctl_standin.py')!r}, run_name='__main__')\n")
        tool.chmod(0o755)
        self.env = {"PATH": f"{base / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}", "STANDIN_DIR": str(base), "STANDIN_CGROUP": "1"}
        self.units: list[str] = []

    def unit(self, container: str, image: str, policy: str) -> str:
        """A unit file in the shape of `generate systemd --new`'s, for podpy; its name."""
        name = f"podpy-au-{uuid.uuid4().hex[:10]}.service"
        podpy = shlex.join(self.p.argv)
        cid = "%t/%n.ctr-id"
        (self.base / "units" / name).write_text(f"""\
[Unit]
Description=podpy container {container}

[Service]
Environment=PODMAN_SYSTEMD_UNIT=%n
Restart=on-failure
TimeoutStopSec=70
ExecStartPre=/bin/rm -f {cid}
ExecStart={podpy} run --cidfile={cid} --cgroups=no-conmon --rm --sdnotify=conmon -d --replace \\
    --name {container} --network none --label {POLICY}={policy} {image}
ExecStop={podpy} stop --ignore -t 10 --cidfile={cid}
ExecStopPost={podpy} rm -f --ignore -t 10 --cidfile={cid}
Type=notify
NotifyAccess=all

[Install]
WantedBy=default.target
""")
        self.units.append(name)
        return name

    def systemctl(self, *args: str, check: bool = True):
        import subprocess

        res = subprocess.run([str(self.base / "bin" / "systemctl"), "--user", *args], capture_output=True,
                             text=True, env=self.p.environ(self.env), timeout=180)
        if check and res.returncode != 0:
            raise AssertionError(f"systemctl {args} exited {res.returncode}: {res.stderr}\n"
                                 + "".join(f.read_text() for f in (self.base / "work").glob("*.out")))
        return res

    def auto_update(self, *args: str, check: bool = True):
        return self.p("auto-update", "--tls-verify=false", *args, env=self.env, check=check, timeout=300)

    def close(self) -> None:
        for name in self.units:
            self.systemctl("stop", name, check=False)


@pytest.fixture
def systemd(podpy, busybox):
    # a short directory: the unit's notify socket is made there (a socket path has 107 bytes at most)
    base = Path(tempfile.mkdtemp(prefix="podpy-au-"))
    s = Systemd(podpy, base / "s")
    yield s
    s.close()
    shutil.rmtree(base, ignore_errors=True)


def _image_id(p, name: str) -> str:
    return p("image", "inspect", "--format", "{{.Id}}", name).stdout.strip()


def _ctr(p, name: str) -> dict:
    return json.loads(p("inspect", name).stdout)[0]


def _layout(tmp_path: Path, image_tar: Path, tag: str, cmd: list[str]) -> Path:
    layout = tmp_path / f"layout-{tag}"
    oci_layout(layout, [image_tar.read_bytes()], cmd)
    return layout


def test_the_unit_shape_is_one_systemd_accepts(systemd, podpy):
    name = systemd.unit("au-verify", "localhost/x:latest", "registry")
    env = dict(os.environ, XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}")
    if not Path(podpy.argv[0]).is_absolute():
        pytest.skip(f"systemd-analyze needs an absolute executable; this variant runs {podpy.argv[0]!r}")
    verify([systemd.base / "units" / name], env)


def test_registry_update_dry_run_and_rollback(systemd, podpy, reg, tmp_path, image_tar):
    p = podpy
    ref = f"{reg.host}/au/app-{p.variant}:latest"
    push(_layout(tmp_path, image_tar, "one", ["sleep", "600"]), ref)
    p("pull", "-q", "--tls-verify=false", ref)
    images = []
    try:
        first = _image_id(p, ref)
        images.append(first)
        unit = systemd.unit("au-reg", ref, "registry")
        systemd.systemctl("start", unit)
        before = _ctr(p, "au-reg")
        assert before["State"]["Status"] == "running" and before["Image"] == first
        assert before["Config"]["Labels"]["PODMAN_SYSTEMD_UNIT"] == unit

        # the same digest in the registry: nothing to do
        rows = json.loads(systemd.auto_update("--format", "json").stdout)
        assert [(r["Unit"], r["ContainerName"], r["Image"], r["Policy"], r["Updated"]) for r in rows] == \
            [(unit, "au-reg", ref, "registry", "false")]
        assert rows[0]["ContainerID"] == before["Id"] and rows[0]["Container"] == f"{before['Id'][:12]} (au-reg)"

        # a new image under the tag: --dry-run says pending and changes nothing
        push(_layout(tmp_path, image_tar, "two", ["sleep", "601"]), ref)
        res = systemd.auto_update("--dry-run", "--format", "{{.ContainerName}} {{.Updated}}")
        assert res.stdout == "au-reg pending\n"
        assert _ctr(p, "au-reg")["Id"] == before["Id"] and _image_id(p, ref) == first
        assert not (systemd.base / "calls.log").read_text().count("restart")

        # the update: pulled, the unit restarted, a new container on the new image
        res = systemd.auto_update()
        lines = res.stdout.splitlines()
        assert lines[0].split() == ["UNIT", "CONTAINER", "IMAGE", "POLICY", "UPDATED"]
        assert lines[1].split() == [unit, before["Id"][:12], "(au-reg)", ref, "registry", "true"]
        second = _image_id(p, ref)
        images.append(second)
        after = _ctr(p, "au-reg")
        assert second != first and after["Image"] == second and after["Id"] != before["Id"]
        assert after["State"]["Status"] == "running" and after["Config"]["Cmd"] == ["sleep", "601"]
        assert f"restart {unit} 0" in (systemd.base / "calls.log").read_text()

        # a broken image (its command does not exist: `run` fails, READY=1 never comes): the
        # restart fails, the tag goes back to the image that ran, and the unit runs on it again
        push(_layout(tmp_path, image_tar, "broken", ["/no/such/command"]), ref)
        res = systemd.auto_update("--format", "{{.Unit}}|{{.Updated}}")
        assert res.stdout == f"{unit}|rolled back\n", res.stderr
        assert _image_id(p, ref) == second
        rolled = _ctr(p, "au-reg")
        assert rolled["Image"] == second and rolled["State"]["Status"] == "running" and rolled["Id"] != after["Id"]
        calls = (systemd.base / "calls.log").read_text().splitlines()
        assert calls[-2:] == [f"restart {unit} 1", f"restart {unit} 0"]

        # without --rollback the failure is reported and the unit is left down
        res = systemd.auto_update("--rollback=false", check=False)
        assert res.returncode == 125
        assert [r.split()[-1] for r in res.stdout.splitlines()[1:]] == ["failed"]
        assert f'restarting systemd unit "{unit}" failed' in res.stderr
        assert p("container", "exists", "au-reg", check=False).returncode == 1
    finally:
        # the store is shared with the other tests of this process: nothing of ours stays in it
        # (its images have busybox's layer, which image tree would show under their tags)
        p("rm", "-f", "au-reg", check=False)
        p("rmi", "-f", ref, *images, check=False)


def test_local_policy_and_containers_left_alone(systemd, podpy, busybox):
    p = podpy
    p("tag", busybox, "localhost/au-local:latest")
    old = _image_id(p, "localhost/au-local:latest")
    unit = systemd.unit("au-local", "localhost/au-local:latest sleep 600", "local")
    systemd.systemctl("start", unit)
    # containers auto-update passes over: no label, the disabled policy, not running
    p("run", "-d", "--name", "au-plain", "--network", "none", busybox, "sleep", "600")
    p("run", "-d", "--name", "au-off", "--network", "none", "--label", f"{POLICY}=disabled", busybox, "sleep", "600")
    p("create", "--name", "au-created", "--label", f"{POLICY}=local", "localhost/au-local:latest", "true")
    try:
        res = systemd.auto_update("--format", "{{.ContainerName}} {{.Policy}} {{.Updated}}")
        assert res.stdout == "au-local local false\n"
        # a newer image under the name, made here
        p("commit", "-q", "-c", "LABEL v=2", "au-plain", "localhost/au-local:latest")
        new = _image_id(p, "localhost/au-local:latest")
        assert new != old
        assert systemd.auto_update("--dry-run", "--format", "{{.Updated}}").stdout == "pending\n"
        assert _ctr(p, "au-local")["Image"] == old
        assert systemd.auto_update("--format", "{{.Updated}}").stdout == "true\n"
        assert _ctr(p, "au-local")["Image"] == new
        assert "restart" not in "".join(line for line in (systemd.base / "calls.log").read_text().splitlines()
                                        if "au-plain" in line or "au-off" in line)
    finally:
        p("rm", "-f", "-t", "0", "au-plain", "au-off", "au-created", check=False)
        systemd.close()
        p("rmi", "-f", "localhost/au-local:latest", check=False)


def test_bad_input(systemd, podpy, busybox):
    p = podpy
    # the registry policy needs a fully qualified name, checked at create as podman does
    res = p("create", "--label", f"{POLICY}=registry", busybox, check=False)
    assert res.returncode == 125
    assert res.stderr.strip() == f'Error: short name: auto updates require fully-qualified image reference: "{busybox}"'
    for fmt in ("{{.Nope}}", "{{.Unit"):
        res = systemd.auto_update("--format", fmt, check=False)
        assert res.returncode == 125 and res.stdout == "" and len(res.stderr.strip().splitlines()) == 1
        assert res.stderr.startswith("Error: invalid --format")
    res = p("auto-update", "now", check=False)
    assert res.returncode == 125 and res.stderr.strip() == "Error: `podpy auto-update` takes no arguments"
    res = p("auto-update", "--authfile", "/no/such/auth.json", check=False)
    assert (res.returncode, res.stderr.strip()) == \
        (125, "Error: checking authfile: stat /no/such/auth.json: no such file or directory")
    # an unknown policy on a running container: nothing is updated, the error is one line
    p("run", "-d", "--name", "au-bogus", "--network", "none", "--label", f"{POLICY}=bogus", busybox, "sleep", "600")
    # a labelled container that no unit runs
    p("run", "-d", "--name", "au-nounit", "--network", "none", "--label", f"{POLICY}=local", busybox, "sleep", "600")
    try:
        res = systemd.auto_update(check=False)
        assert res.returncode == 125 and res.stdout == ""
        errors = res.stderr.strip().splitlines()
        assert 'Error: invalid auto-update policy "bogus": valid policies are ["disabled" "image" "local" ' \
               '"registry"]' in errors
        nounit = _ctr(p, "au-nounit")["Id"]
        assert f'Error: auto-updating container "{nounit}": no PODMAN_SYSTEMD_UNIT label found' in errors
        assert len(errors) == 2
    finally:
        p("rm", "-f", "-t", "0", "au-bogus", "au-nounit", check=False)
