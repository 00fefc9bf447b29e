"""The runtime specs podpy builds, compared with a golden file: a container's spec (several
sets of options), an exec's and a healthcheck's process, a build step's spec and the /etc
files. The golden file holds what the code produced before its spec building was gathered
in one builder (engine/spec.py's SpecBuilder); this test keeps it from drifting.

Host-dependent parts are normalized before the comparison: the seccomp filter (which
depends on this machine's architecture and kernel) is checked here against the profile
resolved for the process's capabilities and its compiled program's path, then replaced by
a marker; temporary paths become <tmp>. With PODPY_UPDATE_GOLDEN=1 the file is rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from podpy.config import Config
from podpy.engine import etcfiles
from podpy.engine import spec as specgen
from podpy.engine.context import Runtime
from podpy.network import files as netfiles
from podpy.network.files import EtcNet
from podpy.state import ContainerConfig, ContainerRecord
from rootless import seccomp
from rootless.userns import IdMap, IdMappings

GOLDEN = Path(__file__).with_name("spec_golden.json")
CID = "c0ffee" * 10 + "abcd"
MAPPINGS = IdMappings((IdMap(0, 1000, 1), IdMap(1, 100000, 65536)), (IdMap(0, 1000, 1), IdMap(1, 100000, 65536)))
ROOTFS = {"type": "overlay", "lower": ["/store/l1", "/store/l2"], "upper": "/store/c/diff",
          "work": "/store/c/work", "target": "/store/c/merged", "userxattr": True}
HOST_HOSTS = [("127.0.0.1", ["localhost"]), ("10.1.2.3", ["buildhost"])]
HOST_RESOLV = ["search example.org", "nameserver 192.0.2.53", "nameserver 127.0.0.53", "options ndots:2"]


def _rec(**cfg: object) -> ContainerRecord:
    base: dict[str, object] = {"command": ["sh", "-c", "echo hi"], "entrypoint": [], "env": ["PATH=/bin", "A=1"]}
    base.update(cfg)
    return ContainerRecord(id=CID, name="web", image_id="i" * 64, image_name="busybox", created=0.0,
                           state="running", config=ContainerConfig(**base), pid=4242)


CONTAINERS = {
    "default": ({}, None),
    "options": ({"tty": True, "interactive": True, "init_path": "/usr/libexec/podman/catatonit",
                 "read_only": True, "read_only_tmpfs": True, "hostname": "box", "uid": 100, "gid": 101,
                 "groups": [10, 20], "workdir": "/srv", "cap_add": ["NET_ADMIN"], "cap_drop": ["CHOWN"],
                 "mask": ["/proc/cpuinfo"], "unmask": ["/proc/kcore"], "no_new_privileges": True,
                 "preserve_fds": 2, "annotations": {"a": "b"},
                 "mounts": [{"destination": "/etc/hosts", "type": "bind", "source": "/h/hosts",
                             "options": ["rbind", "ro"]},
                            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["rw"]}]},
                (24, 80)),
    "privileged_host": ({"privileged": True, "network": "host"}, None),
    "unconfined_none": ({"seccomp": "unconfined", "network": "none", "unmask": ["ALL"]}, None),
    "profile_file": ({"seccomp": seccomp.DEFAULT_PROFILE, "cap_drop": ["ALL"]}, None),
    "keep_id": ({"idmap": {"uids": [[0, 1, 1000], [1000, 0, 1], [1001, 1001, 64536]],
                           "gids": [[0, 1, 1000], [1000, 0, 1], [1001, 1001, 64536]]},
                 "userns": "keep-id"}, None),
    "rootful": ({}, None),
}

EXECS = {
    "default": {},
    "options": {"tty": True, "interactive": True, "env": ["A=2", "B=3"], "workdir": "/tmp",
                "preserve_fds": "1", "user": "nobody"},
    "privileged": {"privileged": True, "user": "0"},
}

ETCS = {
    "default": ({}, None),
    "none": ({"network": "none"}, EtcNet(["127.0.0.1"], "10.1.2.3", [], none=True)),
    "none_dns": ({"network": "none", "dns": {"servers": ["9.9.9.9"]}},
                 EtcNet(["127.0.0.1"], "10.1.2.3", [], none=True)),
    "host": ({"network": "host", "hostname": "h"}, EtcNet([], "10.1.2.3", [], host_mode=True)),
    "options": ({"add_hosts": [["gw", "host-gateway"], ["db", "10.9.9.9"]], "hostname": "web",
                 "dns": {"search": ["corp"], "options": ["edns0"]},
                 "etc_entries": {"/etc/passwd": "root:x:0:0::/root:/bin/sh\n", "/etc/group": "root:x:0:\n"}},
                EtcNet(["10.0.2.100"], "10.0.2.2", ["10.0.2.3", "192.0.2.53"])),
}

PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
GROUP = b"root:x:0:\nnobody:x:65534:\nwheel:x:10:nobody\n"


class _FakeState:
    def __init__(self, rec: ContainerRecord) -> None:
        self.rec = rec

    def lookup(self, name: str) -> ContainerRecord:
        return self.rec


def _runtime(tmp: Path, rec: ContainerRecord, rootless: bool = True) -> Runtime:
    """A command's Runtime whose state holds only rec (and no database)."""
    rt = Runtime(Config(rootless, str(tmp / "root"), str(tmp / "runroot"), str(tmp / "conf")))
    rt.__dict__["state"] = _FakeState(rec)
    rt.__dict__["db"] = type("Db", (), {"conn": None})()
    return rt


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Fixed host files and id mappings, a seccomp compiler that only records."""
    from podpy.engine import execute

    compiled: list[str] = []

    def compile_bpf(filt: dict, sc: object = None) -> bytes:
        compiled.append(filt["defaultAction"])
        return b"\0" * 8

    monkeypatch.setattr(seccomp, "compile_bpf", compile_bpf)
    monkeypatch.setattr(netfiles, "_host_file", lambda path="/etc/hosts": list(HOST_HOSTS))
    monkeypatch.setattr("podpy.network.options.host_resolv", lambda: list(HOST_RESOLV))
    monkeypatch.setattr("rootless.userns.default_mappings", lambda *a: MAPPINGS)
    monkeypatch.setattr(execute, "reconcile", lambda rt: None)
    monkeypatch.setattr("storage.images.by_id", lambda conn, image_id: None)   # the files below instead
    monkeypatch.setattr(execute, "_container_file",
                        lambda pid, path, dirs: PASSWD if path == "/etc/passwd" else GROUP)
    return tmp_path


# -- how the code under test makes each kind of spec ------------------------------------------------


def make_container(tmp: Path, rec: ContainerRecord, console: object, rootless: bool) -> dict:
    specs = specgen.builder(_runtime(tmp, rec, rootless))
    etc = etcfiles.write_etc(str(tmp / "run"), etcfiles.etc_files(rec))
    return specs.container(rec, dict(ROOTFS), etc, console)


def make_exec(tmp: Path, rec: ContainerRecord, options: dict) -> dict:
    from podpy.engine.execute import ExecOptions, process_for

    o = ExecOptions(container=rec.name, command=["ls", "-l"], **options)
    return process_for(_runtime(tmp, rec), o, (30, 100) if options.get("tty") else None)[1]


def make_health(tmp: Path, rec: ContainerRecord, test: list[str]) -> dict:
    return specgen.builder(_runtime(tmp, rec)).health_process(rec, test)


def make_build_step(tmp: Path, rec: ContainerRecord) -> dict:
    etc = etcfiles.write_etc(str(tmp / "run"), etcfiles.etc_files(rec))
    return specgen.builder(_runtime(tmp, rec)).build_step(rec, dict(ROOTFS), etc)


def make_etc(tmp: Path, rec: ContainerRecord, net: object) -> dict:
    files = etcfiles.etc_files(rec, net)
    for dest, path in etcfiles.write_etc(str(tmp / "run"), files).items():
        assert os.stat(path).st_mode & 0o777 == 0o644
        with open(path) as f:
            assert f.read() == files[dest]
    return files


# -- normalizing and comparing ------------------------------------------------------------------------


def _check_seccomp(sec: dict, caps: list[str], profile: str, runroot: str) -> str:
    resolved = {k: v for k, v in sec.items() if k != "bpf"}
    assert resolved == seccomp.resolve(seccomp.read_profile(profile or None), caps)
    key = hashlib.blake2b(b"tree:" + json.dumps(resolved, sort_keys=True).encode(), digest_size=32).hexdigest()
    assert sec["bpf"] == os.path.join(runroot, "seccomp", f"{key}.bpf")
    assert os.path.exists(sec["bpf"])
    return "<the profile resolved for the process's capabilities, compiled>"


def _normalize(value: object, tmp: Path, rec: ContainerRecord) -> object:
    value = json.loads(json.dumps(value))
    runroot = str(tmp / "runroot")
    if isinstance(value, dict) and "linux" in value and value["linux"].get("seccomp"):
        value["linux"]["seccomp"] = _check_seccomp(value["linux"]["seccomp"],
                                                   value["process"]["capabilities"]["bounding"],
                                                   rec.config.seccomp, runroot)
    if isinstance(value, dict) and value.get("seccomp"):
        value["seccomp"] = _check_seccomp(value["seccomp"], value["capabilities"]["bounding"],
                                          rec.config.seccomp, runroot)
    text = json.dumps(value, sort_keys=True).replace(str(tmp), "<tmp>")
    return json.loads(text.replace(seccomp.DEFAULT_PROFILE, "<default profile>"))


def _golden() -> dict:
    if os.environ.get("PODPY_UPDATE_GOLDEN"):
        return {}
    return json.loads(GOLDEN.read_text())


_produced: dict[str, object] = {}


def _compare(name: str, value: object) -> None:
    if os.environ.get("PODPY_UPDATE_GOLDEN"):
        _produced[name] = value
        GOLDEN.write_text(json.dumps(dict(sorted({**(json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}),
                                                   **_produced}.items())), indent=1, sort_keys=True) + "\n")
        return
    assert value == _golden()[name]


@pytest.mark.parametrize("case", sorted(CONTAINERS))
def test_container_spec(env, case):
    cfg, console = CONTAINERS[case]
    rec = _rec(**cfg)
    spec = make_container(env, rec, console, rootless=case != "rootful")
    _compare(f"container:{case}", _normalize(spec, env, rec))


@pytest.mark.parametrize("case", sorted(EXECS))
def test_exec_process(env, case):
    rec = _rec(env=["PATH=/bin", "A=1", "HOME=/root"], workdir="/w", cap_add=["SYS_PTRACE"])
    _compare(f"exec:{case}", _normalize(make_exec(env, rec, EXECS[case]), env, rec))


@pytest.mark.parametrize("test", [["CMD-SHELL", "test -e /ok"], ["CMD", "/bin/true", "x"]])
def test_health_process(env, test):
    rec = _rec(healthcheck={"test": test, "interval": 30.0, "timeout": 5.0, "start_period": 0.0, "retries": 3})
    _compare(f"health:{test[0]}", _normalize(make_health(env, rec, test), env, rec))


@pytest.mark.parametrize("privileged", [False, True])
def test_build_step_spec(env, privileged):
    rec = _rec(command=["/bin/sh", "-c", "make"], env=["PATH=/bin", "HOME=/root"], hostname="",
               mounts=[{"destination": "/cache", "type": "bind", "source": "/c", "options": ["rbind", "rw"]}],
               privileged=privileged)
    _compare(f"build:{privileged}", _normalize(make_build_step(env, rec), env, rec))


@pytest.mark.parametrize("case", sorted(ETCS))
def test_etc_files(env, case):
    cfg, net = ETCS[case]
    _compare(f"etc:{case}", make_etc(env, _rec(**cfg), net))
