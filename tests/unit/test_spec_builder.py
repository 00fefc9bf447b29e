"""One spec builder per command: the id mappings read once (for the specs, create's checks and
the store's user namespaces alike), each seccomp filter compiled at most once, and the
/etc files returned as data until the caller writes them."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from podpy.config import Config
from podpy.engine import etcfiles
from podpy.engine import spec as specgen, usernsopts
from podpy.engine.context import Runtime, in_userns_for
from podpy.state import ContainerConfig, ContainerRecord
from rootless import inuserns, seccomp, userns
from rootless.userns import IdMap, IdMappings

MAPPINGS = IdMappings((IdMap(0, 1000, 1), IdMap(1, 100000, 65536)), (IdMap(0, 1000, 1), IdMap(1, 100000, 65536)))
ROOTFS = {"type": "bind", "source": "/store/c/rootfs", "target": "/store/c/merged"}


class Counts:
    def __init__(self) -> None:
        self.mappings = 0
        self.compiled: list[str] = []


@pytest.fixture
def counts(monkeypatch) -> Counts:
    """Count what a command reads and compiles: default_mappings and libseccomp's compilation."""
    c = Counts()

    def default_mappings(uid: object = None, gid: object = None) -> IdMappings:
        c.mappings += 1
        return MAPPINGS

    def compile_bpf(filt: dict, sc: object = None) -> bytes:
        c.compiled.append(str(len(filt["syscalls"])))
        return b"\0" * 8

    monkeypatch.setattr(userns, "default_mappings", default_mappings)
    monkeypatch.setattr(seccomp, "compile_bpf", compile_bpf)
    return c


def _runtime(tmp: Path) -> Runtime:
    """A new command (rootless, whoever runs the test)."""
    return Runtime(Config(True, str(tmp / "root"), str(tmp / "runroot"), str(tmp / "conf")))


def _rec(cid: str, **cfg: object) -> ContainerRecord:
    base: dict[str, object] = {"command": ["true"], "entrypoint": [], "env": ["PATH=/bin"]}
    base.update(cfg)
    return ContainerRecord(id=cid * 64, name=f"c{cid}", image_id="i" * 64, image_name="busybox", created=0.0,
                           state="running", config=ContainerConfig(**base), pid=1)


def test_one_command_reads_the_mappings_once_and_compiles_each_filter_once(tmp_path, counts):
    rt = _runtime(tmp_path)
    specs = specgen.builder(rt)
    assert specgen.builder(rt) is specs and rt.specs is specs

    # create's checks, as `run` makes them before the start
    ns = usernsopts.parse_userns(None, [], [], True, rt.id_mappings)
    usernsopts.check_mapped(0, [0], ns, rt.id_mappings)
    recs = [_rec("a"), _rec("b", tty=True), _rec("c", cap_add=["SYS_ADMIN"])]
    for rec in recs:
        etc = etcfiles.write_etc(str(tmp_path / rec.id), etcfiles.etc_files(rec))
        spec = specs.container(rec, dict(ROOTFS), etc, (24, 80) if rec.config.tty else None)
        assert spec["linux"]["uidMappings"][1] == {"containerID": 1, "hostID": 100000, "size": 65536}
    specs.build_step(recs[0], dict(ROOTFS), {})
    specs.exec_process(recs[0], ["ls"])
    specs.health_process(recs[1], ["CMD-SHELL", "true"])
    assert counts.mappings == 1
    # two distinct filters: the default capabilities, and with SYS_ADMIN (which allows more)
    assert len(counts.compiled) == 2

    # the next command reads the mappings anew and finds both programs compiled
    rt2 = _runtime(tmp_path)
    specgen.builder(rt2).container(recs[2], dict(ROOTFS), {})
    assert specgen.builder(rt2) is not specs
    assert counts.mappings == 2 and len(counts.compiled) == 2


def test_exec_and_healthchecks_read_no_mappings(tmp_path, counts):
    specs = specgen.builder(_runtime(tmp_path))
    process = specs.exec_process(_rec("a"), ["ls"], user=(100, 100, [], "/home/u"), env=["X=1"])
    assert process["user"] == {"uid": 100, "gid": 100, "additionalGids": [], "umask": 0o022}
    assert process["env"] == ["PATH=/bin", "X=1", "HOME=/home/u"]
    assert process["seccomp"]["bpf"].endswith(".bpf")
    specs.health_process(_rec("a"), ["CMD", "/bin/true"])
    assert counts.mappings == 0 and len(counts.compiled) == 1


def test_the_store_takes_the_commands_mappings(tmp_path, counts, monkeypatch):
    seen = []
    monkeypatch.setattr(inuserns, "run_in_userns", lambda fn, *args, mappings=None: seen.append(mappings))
    rt = _runtime(tmp_path)
    run = in_userns_for(True, lambda: rt.userns_mappings)
    run(print, "a")
    run(print, "b")
    assert seen == [MAPPINGS, MAPPINGS] and counts.mappings == 1
    assert in_userns_for(False, lambda: rt.userns_mappings)(lambda x: x * 2, 21) == 42


def test_as_root_no_mappings_are_read(tmp_path, counts):
    rt = Runtime(Config(False, str(tmp_path / "root"), str(tmp_path / "runroot"), str(tmp_path / "conf")))
    spec = specgen.builder(rt).container(_rec("a"), dict(ROOTFS), {})
    assert "uidMappings" not in spec["linux"] and spec["linux"]["namespaces"][0] == {"type": "pid"}
    assert counts.mappings == 0


def test_each_spec_gets_its_own_copy_of_the_filter(tmp_path, counts):
    specs = specgen.builder(_runtime(tmp_path))
    first = specs.container(_rec("a"), dict(ROOTFS), {})
    first["linux"]["seccomp"]["bpf_program"] = b"read by the init"   # as seccomp.preload does
    second = specs.container(_rec("b"), dict(ROOTFS), {})
    assert "bpf_program" not in second["linux"]["seccomp"]
    assert second["linux"]["seccomp"]["bpf"] == first["linux"]["seccomp"]["bpf"]


def test_unconfined_and_privileged_compile_nothing(tmp_path, counts):
    specs = specgen.builder(_runtime(tmp_path))
    assert "seccomp" not in specs.container(_rec("a", seccomp="unconfined"), dict(ROOTFS), {})["linux"]
    assert "seccomp" not in specs.container(_rec("b", privileged=True), dict(ROOTFS), {})["linux"]
    assert "seccomp" not in specs.exec_process(_rec("c"), ["ls"], privileged=True)
    assert counts.compiled == []


def test_build_stages_side_by_side_compile_once(tmp_path, counts):
    rt = _runtime(tmp_path)
    specs: list[object] = []
    errors: list[BaseException] = []

    def stage() -> None:
        try:
            b = specgen.builder(rt)
            specs.append(b)
            b.build_step(_rec("a"), dict(ROOTFS), {})
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=stage) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({id(s) for s in specs}) == 1
    assert len(counts.compiled) == 1


def test_etc_files_are_data_until_written(tmp_path):
    rec = _rec("a", hostname="box")
    files = etcfiles.etc_files(rec)
    assert files["/etc/hostname"] == "box\n" and "10.0.2.100\tbox ca" in files["/etc/hosts"]
    assert not list(tmp_path.iterdir())
    paths = etcfiles.write_etc(str(tmp_path / "run"), files)
    assert paths == {dest: str(tmp_path / "run" / dest.rsplit("/", 1)[1]) for dest in files}
    assert (tmp_path / "run" / "hostname").read_text() == "box\n"


def test_etc_files_are_readable_by_the_containers_users_and_replaced_whole(tmp_path):
    files = {"/etc/hostname": "box\n", "/etc/hosts": "127.0.0.1\tlocalhost\n"}
    old = os.umask(0o077)
    try:
        first = etcfiles.write_etc(str(tmp_path / "run"), files)
        inode = os.stat(first["/etc/hosts"]).st_ino
        again = etcfiles.write_etc(str(tmp_path / "run"), {**files, "/etc/hosts": "10.0.0.1\tother\n"})
    finally:
        os.umask(old)
    assert first == again
    assert sorted(os.listdir(tmp_path / "run")) == ["hostname", "hosts"]   # no temporary file left
    assert {oct(os.stat(p).st_mode & 0o777) for p in again.values()} == {"0o644"}
    assert (tmp_path / "run" / "hosts").read_text() == "10.0.0.1\tother\n"
    assert os.stat(again["/etc/hosts"]).st_ino != inode   # a new file renamed over the old one


def test_file_mount_points_are_the_etc_files_the_spec_binds_onto_the_root(tmp_path, counts):
    """What a stage 1 started ahead may make before the spec comes: every destination it names
    is bound from its etc file by the spec, and no other mount of the spec is at or above it
    but the root's own; none with mounts that could come between or a nested namespace."""
    rt = _runtime(tmp_path)
    rec = _rec("a", hostname="box")
    etc = etcfiles.write_etc(str(tmp_path / "run"), etcfiles.etc_files(rec))
    points = etcfiles.file_mount_points(rec, etc)
    assert set(points) == set(etc) and "/etc/hostname" in points and "/run/.containerenv" in points
    mounts = specgen.builder(rt).container(rec, ROOTFS, etc)["mounts"]
    for point in points:
        assert [m["source"] for m in mounts if m["destination"] == point] == [etc[point]]
        above = [m["destination"] for m in mounts
                 if m["destination"] != point and point.startswith(m["destination"].rstrip("/") + "/")]
        assert above == [], (point, above)
    volume = {"destination": "/etc", "type": "bind", "source": str(tmp_path), "options": ["rbind"]}
    for cfg in ({"mounts": [volume]}, {"read_only_tmpfs": True}, {"systemd": True}, {"chrootdirs": ["/x"]},
                {"idmap": {"uids": [[0, 1, 1]], "gids": [[0, 1, 1]]}},
                {"secrets": [{"name": "s", "id": "i", "type": "mount", "target": "/run/secrets/s"}]}):
        assert etcfiles.file_mount_points(_rec("b", **cfg), etc) == (), cfg
