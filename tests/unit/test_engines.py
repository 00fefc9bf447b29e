"""The engines' reports over a real store in a temporary directory (the vfs driver, no user
namespace, no kernel mounts): a verb over several objects gives one report per object, in
order, and one that fails stops only itself."""

from __future__ import annotations

import os

import pytest

from podpy.config import Config
from podpy.engine.containers import ContainerEngine
from podpy.engine.context import Runtime
from podpy.engine.entities import ContainerPruneOptions, NetworkCreateOptions, PsOptions, VolumeCreateOptions, each
from podpy.engine.images import ImageEngine
from podpy.engine.networks import NetworkEngine
from podpy.engine.system import SystemEngine
from podpy.engine.volumes import VolumeEngine
from podpy.errors import (
    EngineError, InvalidArgument, NoSuchContainer, NoSuchImage, NoSuchNetwork, NoSuchVolume, PodpyError,
)


@pytest.fixture
def rt(tmp_path):
    cfg = Config(rootless=False, root=str(tmp_path / "root"), runroot=str(tmp_path / "run"),
                 config_dir=str(tmp_path / "config"))
    cfg.driver, cfg.driver_source = "vfs", "the test"
    runtime = Runtime(cfg)
    yield runtime
    runtime.db.close()


def _image(rt: Runtime, *names: str, created: str = "2024-01-01T00:00:00Z") -> str:
    config = {"created": created, "architecture": "amd64", "os": "linux", "config": {},
              "rootfs": {"type": "layers", "diff_ids": []}, "history": []}
    return rt.store.create_image(config, [], list(names)).id


# -- images ---------------------------------------------------------------------------------

def test_rmi_of_several_reports_each_and_a_missing_one_fails_alone(rt):
    a = _image(rt, "localhost/a:latest", created="2024-01-01T00:00:01Z")
    b = _image(rt, "localhost/b:latest", created="2024-01-01T00:00:02Z")
    reports = ImageEngine(rt, print).rm(["a", "nope", "b"])
    assert [r.name for r in reports] == ["a", "nope", "b"]
    assert (reports[0].deleted, reports[0].untagged, reports[0].error) == (a, ["localhost/a:latest"], None)
    assert reports[1].deleted is None and isinstance(reports[1].error, NoSuchImage)
    assert reports[2].deleted == b and reports[2].error is None
    assert rt.store.images() == []


def test_rmi_of_one_name_of_several_only_untags(rt):
    image = _image(rt, "localhost/a:latest", "localhost/b:1")
    (report,) = ImageEngine(rt, print).rm(["b:1"])
    assert report.untagged == ["localhost/b:1"] and report.deleted is None and report.error is None
    assert [i.id for i in rt.store.images()] == [image]


def test_rmi_needs_a_name_or_all(rt):
    with pytest.raises(InvalidArgument):
        ImageEngine(rt, print).rm([])
    _image(rt, "localhost/a:latest")
    reports = ImageEngine(rt, print).rm([], all_=True)
    assert len(reports) == 1 and reports[0].error is None and rt.store.images() == []


def test_image_inspect_reports_each_name(rt):
    image = _image(rt, "localhost/a:latest")
    reports = ImageEngine(rt, print).inspect(["a", "nope"])
    assert reports[0].value["Id"] == image and reports[0].error is None
    assert reports[1].value is None and isinstance(reports[1].error, NoSuchImage)


def test_image_list_exists_and_untag(rt):
    engine = ImageEngine(rt, print)
    image = _image(rt, "localhost/a:latest", "localhost/b:1")
    (summary,) = engine.ls()
    assert summary.image.id == image and summary.containers == 0 and summary.data["Id"] == image
    assert engine.exists("a") and not engine.exists("nope")
    with pytest.raises(PodpyError, match="localhost/x:9: tag not known"):
        engine.untag("a", ["b:1", "x:9"])
    assert sorted(rt.store.images()[0].names) == ["localhost/a:latest", "localhost/b:1"]
    assert engine.untag("a", ["b:1"]) == ["localhost/b:1"]
    assert engine.untag("a", []) == ["localhost/a:latest"]
    assert list(rt.store.images()[0].names) == []


# -- volumes --------------------------------------------------------------------------------

def test_volume_rm_of_several_reports_each(rt):
    engine = VolumeEngine(rt, print)
    for name in ("v1", "v2"):
        engine.create(VolumeCreateOptions(name=name))
    reports = engine.rm(["v1", "nope", "v2"])
    assert [(r.name, r.value) for r in reports] == [("v1", "v1"), ("nope", None), ("v2", "v2")]
    assert reports[0].error is None and reports[2].error is None
    assert isinstance(reports[1].error, NoSuchVolume)
    assert engine.ls([]) == [] and not os.path.exists(os.path.join(rt.cfg.root, "volumes", "v1"))


def test_volume_rm_needs_names_unless_all(rt):
    engine = VolumeEngine(rt, print)
    with pytest.raises(InvalidArgument):
        engine.rm([])
    assert engine.rm([], all_=True) == []


def test_volume_create_ls_inspect_and_prune(rt):
    engine = VolumeEngine(rt, print)
    with pytest.raises(InvalidArgument, match="unsupported volume driver"):
        engine.create(VolumeCreateOptions(name="x", driver="nfs"))
    engine.create(VolumeCreateOptions(name="v1", labels={"k": "v"}))
    engine.create(VolumeCreateOptions(name="v2"))
    assert engine.create(VolumeCreateOptions(name="v2", ignore=True)) == "v2"
    assert [v["Name"] for v in engine.ls(["label=k"])] == ["v1"]
    assert [v["Name"] for v in engine.ls(["dangling=true", "name=2"])] == ["v2"]
    with pytest.raises(InvalidArgument, match="invalid filter"):
        engine.ls(["size=1"])
    reports = engine.inspect(["v2", "nope"])
    assert reports[0].value["Name"] == "v2" and isinstance(reports[1].error, NoSuchVolume)
    assert engine.exists("v1") and not engine.exists("nope")
    assert sorted(engine.prune()) == ["v1", "v2"]


# -- networks -------------------------------------------------------------------------------

def test_network_rm_of_several_reports_each(rt):
    engine = NetworkEngine(rt, print)
    engine.create(NetworkCreateOptions(name="n1"))
    engine.create(NetworkCreateOptions(name="n2", subnet="10.99.0.0/24"))
    reports = engine.rm(["n1", "nope", "podman", "n2"])
    assert [(r.name, r.value) for r in reports] == [("n1", "n1"), ("nope", None), ("podman", None), ("n2", "n2")]
    assert isinstance(reports[1].error, NoSuchNetwork)
    assert isinstance(reports[2].error, InvalidArgument) and "default network" in str(reports[2].error)
    assert [s.network["name"] for s in engine.ls([])] == ["podman"]


def test_network_create_ls_inspect_and_prune(rt):
    engine = NetworkEngine(rt, print)
    with pytest.raises(InvalidArgument, match="unsupported network options"):
        engine.create(NetworkCreateOptions(name="n", options=["mtu=1"]))
    net = engine.create(NetworkCreateOptions(name="n1", labels={"a": "b"}))
    assert engine.create(NetworkCreateOptions(name="n1", ignore=True))["id"] == net["id"]
    summaries = engine.ls(["label=a"])
    assert [(s.network["name"], s.containers) for s in summaries] == [("n1", 0)]
    with pytest.raises(InvalidArgument, match="invalid filter"):
        engine.ls(["bogus=1"])
    reports = engine.inspect(["n1", "nope"])
    assert reports[0].value["id"] == net["id"] and isinstance(reports[1].error, NoSuchNetwork)
    assert engine.exists("n1") and not engine.exists("nope")
    assert engine.prune() == ["n1"]


# -- containers -----------------------------------------------------------------------------

def test_container_verbs_report_each_missing_container(rt):
    engine = ContainerEngine(rt, print)
    reports = engine.rm(["nope1", "nope2"], force=False, all_=False, ignore=False)
    assert [r.name for r in reports] == ["nope1", "nope2"]
    assert all(isinstance(r.error, NoSuchContainer) for r in reports)
    assert engine.rm(["nope1"], force=False, all_=False, ignore=True) == []
    (stopped,) = engine.stop(["nope"], None)
    assert isinstance(stopped.error, NoSuchContainer)
    assert engine.stop([], None, all_=True) == [] and engine.unpause([], all_=True) == []
    with pytest.raises(NoSuchContainer, match="no such container"):
        engine.kill([], 9, latest=True)
    (missing,) = engine.rm([], force=False, all_=False, ignore=False, latest=True)
    assert isinstance(missing.error, NoSuchContainer)
    assert engine.stop([], None, filters=["name=x"]) == []
    with pytest.raises(InvalidArgument, match='invalid filter "x"'):
        engine.pause([], filters=["x"])
    with pytest.raises(InvalidArgument, match="bogus is an invalid filter"):
        engine.restart([], None, filters=["bogus=1"])
    with pytest.raises(InvalidArgument, match="unpause --filter exited is not available yet"):
        engine.unpause([], filters=["exited=0"])
    with pytest.raises(InvalidArgument, match="invalid timeout"):
        engine.restart(["x"], -1)
    with pytest.raises(InvalidArgument, match="invalid --condition"):
        engine.wait(["x"], ("never",))


def test_container_reads_over_an_empty_store(rt):
    engine = ContainerEngine(rt, print)
    image = _image(rt, "localhost/a:latest")
    assert engine.ps(PsOptions(all=True)) == [] and not engine.exists("x")
    reports = engine.inspect(["a", "nope"], "all")
    assert reports[0].value["Id"] == image
    assert isinstance(reports[1].error, NoSuchImage) and str(reports[1].error) == 'no such object: "nope"'
    (missing,) = engine.inspect(["a"], "container")
    assert isinstance(missing.error, NoSuchContainer)
    with pytest.raises(InvalidArgument, match="invalid --type"):
        engine.inspect(["a"], "pod")
    with pytest.raises(InvalidArgument, match="invalid filter"):
        engine.ps(PsOptions(filters=["bogus=1"]))
    assert engine.prune(ContainerPruneOptions.from_filters(["label=a=b"])) == []
    with pytest.raises(InvalidArgument, match="invalid filter"):
        ContainerPruneOptions.from_filters(["size=1"])


# -- system and the shared helpers ----------------------------------------------------------

def test_system_prune_reports_what_it_removed(rt):
    VolumeEngine(rt, print).create(VolumeCreateOptions(name="v1"))
    dangling = _image(rt)
    _image(rt, "localhost/kept:latest", created="2024-01-01T00:00:05Z")
    report = SystemEngine(rt, print).prune(volumes=True)
    assert (report.containers, report.images, report.volumes, report.volumes_error) == ([], [dangling], ["v1"], None)
    assert SystemEngine(rt, print).prune().volumes is None


def test_each_turns_any_failure_into_its_report():
    def verb(name: str) -> str:
        if name == "bad":
            raise OSError(5, "Input/output error")
        if name == "gone":
            raise NoSuchVolume("gone")
        return name.upper()

    reports = each(["a", "bad", "gone", "b"], verb)
    assert [r.value for r in reports] == ["A", None, None, "B"]
    assert isinstance(reports[1].error, EngineError) and isinstance(reports[2].error, NoSuchVolume)
