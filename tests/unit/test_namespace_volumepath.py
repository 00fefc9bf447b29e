"""The global flags --namespace (libpod namespaces: containers and pods in sets) and
--volumepath (where a new store keeps its volumes, recorded as podman's database does)."""

from __future__ import annotations

import os
import time

import pytest

from podpy.config import Config
from podpy.engine.context import Runtime
from podpy.engine.entities import VolumeCreateOptions
from podpy.engine.podstore import PodConfig, PodRecord, PodStore
from podpy.engine.volumes import VolumeEngine
from podpy.errors import NoSuchContainer, PodpyError
from podpy.state import CREATED, ContainerConfig, ContainerRecord, State


def _runtime(tmp_path, **settings) -> Runtime:
    cfg = Config(rootless=False, root=str(tmp_path / "root"), runroot=str(tmp_path / "run"),
                 config_dir=str(tmp_path / "config"))
    cfg.driver, cfg.driver_source = "vfs", "the test"
    for key, value in settings.items():
        setattr(cfg, key, value)
    return Runtime(cfg)


def _container(state: State, name: str, namespace: str) -> ContainerRecord:
    rec = ContainerRecord(id=os.urandom(32).hex(), name=name, image_id="", image_name="busybox",
                          created=time.time(), state=CREATED,
                          config=ContainerConfig(command=["true"], entrypoint=[], env=[], namespace=namespace))
    state.insert(rec)
    return rec


def test_namespace_hides_and_refuses_the_containers_of_others(tmp_path):
    rt = _runtime(tmp_path)
    everyone = rt.state
    mine = _container(everyone, "mine", "t1")
    _container(everyone, "plain", "")
    assert sorted(r.name for r in everyone.all()) == ["mine", "plain"]   # no --namespace: all of them
    t1 = State(rt.db, "t1")
    assert [r.name for r in t1.all()] == ["mine"]
    assert t1.lookup("mine").id == mine.id
    other = State(rt.db, "other")
    assert other.all() == []
    with pytest.raises(PodpyError) as err:
        other.lookup(mine.id[:12])
    assert str(err.value) == (f'cannot retrieve container {mine.id} as it is part of namespace "t1" and we are '
                              'in namespace "other": target is in a different namespace')
    assert other.get(mine.id) is not None   # the internal reads (the monitor's clean-up) see every row
    with pytest.raises(NoSuchContainer):
        other.lookup("nope")
    rt.db.close()


def test_namespace_separates_pods(tmp_path):
    rt = _runtime(tmp_path)
    rt.state
    pods = PodStore(rt.db)
    pods.insert(PodRecord(id="a" * 64, name="pa", created=1.0, config=PodConfig(namespace="t1")))
    pods.insert(PodRecord(id="b" * 64, name="pb", created=2.0, config=PodConfig()))
    assert [p.name for p in PodStore(rt.db, "t1").all()] == ["pa"]
    assert sorted(p.name for p in pods.all()) == ["pa", "pb"]
    with pytest.raises(PodpyError, match='part of namespace "t1" and we are in namespace "x"'):
        PodStore(rt.db, "x").lookup("pa")
    rt.db.close()


def test_volumepath_of_a_new_store_is_recorded_and_kept(tmp_path):
    rt = _runtime(tmp_path, volume_path=str(tmp_path / "vols"))
    engine = VolumeEngine(rt, print)
    engine.create(VolumeCreateOptions(name="v1"))
    assert rt.volume_path == str(tmp_path / "vols")
    assert os.path.isdir(tmp_path / "vols" / "v1" / "_data")
    assert os.path.isfile(tmp_path / "root" / "volumes" / "v1" / "volume.json")   # its description
    assert engine.inspect(["v1"])[0].value["Mountpoint"] == str(tmp_path / "vols" / "v1" / "_data")
    rt.db.close()
    # a later --volumepath does not move the store's volumes (podman's database wins too)
    later = _runtime(tmp_path, volume_path=str(tmp_path / "elsewhere"))
    VolumeEngine(later, print).create(VolumeCreateOptions(name="v2"))
    assert later.volume_path == str(tmp_path / "vols") and os.path.isdir(tmp_path / "vols" / "v2" / "_data")
    VolumeEngine(later, print).rm(["v1"])
    assert not os.path.exists(tmp_path / "vols" / "v1") and not os.path.exists(tmp_path / "root" / "volumes" / "v1")
    later.db.close()


def test_volume_path_defaults_and_containers_conf(tmp_path):
    rt = _runtime(tmp_path / "a")
    assert rt.volume_path == str(tmp_path / "a" / "root" / "volumes")
    rt.db.close()
    conf = tmp_path / "b" / "config"
    conf.mkdir(parents=True)
    (conf / "containers.conf").write_text(f'[engine]\nvolume_path = "{tmp_path / "confvols"}"\n')
    rt = _runtime(tmp_path / "b")
    assert rt.volume_path == str(tmp_path / "confvols")
    rt.db.close()
