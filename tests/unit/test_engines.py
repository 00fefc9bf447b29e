"""The engines' reports over a real store in a temporary directory (the vfs driver, no user
namespace, no kernel mounts): a verb over several objects gives one report per object, in
order, and one that fails stops only itself."""

from __future__ import annotations

import os

import pytest

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
    with pytest.raises(InvalidArgument, match='"size" is an invalid volume filter'):
        engine.ls(["size=1"])
    reports = engine.inspect(["v2", "nope"])
    assert reports[0].value["Name"] == "v2" and isinstance(reports[1].error, NoSuchVolume)
    assert engine.exists("v1") and not engine.exists("nope")
    assert sorted(engine.prune()) == ["v1", "v2"]


def test_volume_filters_take_podmans_keys(rt):
    engine = VolumeEngine(rt, print)
    engine.create(VolumeCreateOptions(name="lv1", labels={"a": "b", "c": ""}))
    engine.create(VolumeCreateOptions(name="lv2", labels={"a": "x"}))
    engine.create(VolumeCreateOptions(name="tv", options={"type": "tmpfs", "device": "tmpfs", "o": "uid=1000"}))

    def names(*filters: str) -> list[str]:
        return [v["Name"] for v in engine.ls(list(filters))]

    assert names("name=^lv1$") == ["lv1"] and names("name=l.") == ["lv1", "lv2"] and names("name=LV") == []
    assert names("label=a=b") == ["lv1"] and names("label=a") == ["lv1", "lv2"] and names("label=c=") == ["lv1"]
    assert names("label=a=b", "label=a=x") == ["lv1", "lv2"]          # one key: any of its values
    assert names("label=a", "name=2") == ["lv2"]                       # several keys: all of them
    assert names("driver=local") == ["lv1", "lv2", "tv"] and names("driver=LOCAL") == []
    assert names("scope=local") == ["lv1", "lv2", "tv"] and names("scope=global") == []
    assert names("opt=type=tmpfs") == ["tv"] and names("opt=device") == ["tv"] and names("opt=UID=1000") == ["tv"]
    assert names("opt=o=nodev") == []
    assert names("until=1h") == [] and names("until=2999-01-01") == ["lv1", "lv2", "tv"]
    assert names("until=-1h") == ["lv1", "lv2", "tv"]
    assert names("dangling=1") == ["lv1", "lv2", "tv"] and names("dangling=false") == []
    for bad, message in (("label!=a", '"label!" is an invalid volume filter'),
                         ("dangling=maybe", '"maybe" is not a valid value for the "dangling" filter'),
                         ("until=soon", 'failed to parse value as time or duration: "soon"'),
                         ("name", "filter input must be in the form of filter=value: name is invalid")):
        with pytest.raises(InvalidArgument, match=message):
            engine.ls([bad])
    asked: list[list[str]] = []
    assert engine.prune(["label=a"], lambda found: asked.append(found) or False) == []
    assert asked == [["lv1", "lv2"]] and len(engine.ls([])) == 3
    assert engine.prune(["label=a"], lambda found: True) == ["lv1", "lv2"]
    assert names() == ["tv"]


def test_volume_create_options_of_the_local_driver(rt):
    engine = VolumeEngine(rt, print)
    engine.create(VolumeCreateOptions(name="t", options={"type": "tmpfs", "device": "tmpfs",
                                                         "o": "uid=1000,gid=2000,size=2m,noquota"}))
    doc = engine.inspect(["t"])[0].value
    assert doc["Options"] == {"type": "tmpfs", "device": "tmpfs", "UID": "1000", "GID": "2000",
                              "NOQUOTA": "true", "o": "uid=1000,gid=2000,size=2m"}
    assert (doc["UID"], doc["GID"]) == (1000, 2000)
    engine.create(VolumeCreateOptions(name="q", options={"o": "noquota"}))
    assert engine.inspect(["q"])[0].value["Options"] == {"NOQUOTA": "true"}
    assert "UID" not in engine.inspect(["q"])[0].value
    for options, message in (
            ({"foo": "bar"}, "invalid mount option foo for driver 'local': invalid argument"),
            ({"type": "bind", "device": "/no/such/dir"}, "invalid volume option device for driver 'local': "
                                                         "stat /no/such/dir: no such file or directory"),
            ({"o": "size=10m"}, "Filesystem does not support Project Quota"),
            ({"o": "uid=x"}, "cannot convert UID x to integer"),
            ({"o": "gid"}, "gid option must provide a GID")):
        with pytest.raises(InvalidArgument, match=message):
            engine.create(VolumeCreateOptions(name="bad", options=options))
        assert not engine.exists("bad")


def test_volume_owner_options_chown_its_directory(rt, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("giving a directory away needs root")
    engine = VolumeEngine(rt, print)
    engine.create(VolumeCreateOptions(name="u", options={"o": "uid=1234,gid=4321"}))
    engine.create(VolumeCreateOptions(name="top", options={"uid": "77"}))
    st = os.stat(engine.inspect(["u"])[0].value["Mountpoint"])
    assert (st.st_uid, st.st_gid) == (1234, 4321)
    assert os.stat(engine.inspect(["top"])[0].value["Mountpoint"]).st_uid == 77


def test_volume_mounts_follow_the_driver_options(tmp_path):
    from podpy.engine.volumeopts import mount_for

    tm = mount_for("t", "/d", {"type": "tmpfs", "device": "tmpfs", "o": "size=2m,uid=1000"}, "/x", False)
    assert tm == {"destination": "/x", "type": "tmpfs", "source": "tmpfs", "volume": "t",
                  "options": ["rw", "nosuid", "nodev", "size=2m", "uid=1000"]}
    bm = mount_for("b", "/d", {"type": "bind", "device": str(tmp_path)}, "/x", True)
    assert bm["source"] == str(tmp_path) and bm["options"] == ["rbind", "ro", "rprivate"]
    assert mount_for("b", "/d", {"device": str(tmp_path), "o": "bind,noexec"}, "/x", False)["options"] == [
        "bind", "rw", "noexec", "rprivate"]
    assert "permission denied" in mount_for("e", "/d", {"type": "ext4", "device": "/dev/sda1"}, "/x", False)["refused"]
    assert mount_for("n", "/d", {"NOQUOTA": "true"}, "/x", False) is None
    assert mount_for("r", "/d", {"o": "ro,nodev"}, "/x", False)["options"] == ["rbind", "ro", "nodev", "rprivate"]


def test_volume_first_mount_marks_owner_and_copy_up(rt):
    from podpy.engine.volumestore import resolve
    from podpy.options import Volume

    engine = VolumeEngine(rt, print)
    engine.create(VolumeCreateOptions(name="t", options={"type": "tmpfs"}))
    engine.create(VolumeCreateOptions(name="own", options={"o": "uid=5"}))
    assert engine.inspect(["own"])[0].value.get("NeedsChown") is None

    def options(*volumes: Volume, image_mode: str = "bind") -> list[list[str]]:
        return [m["options"] for m in resolve(rt, list(volumes), {"/img": {}}, 7, 8, image_mode)]

    first = options(Volume("v", "/x", (), "volume"), Volume("t", "/y", (), "volume"),
                    Volume("own", "/z", (), "volume"))
    assert first[0][-2:] == ["podpy.firstuse=7:8", "podpy.copyup"]      # a plain volume's first mount
    assert first[1][-2:] == ["podpy.firstuse=7:8", "podpy.copyup"]      # a tmpfs volume's
    assert first[2][-1] == "podpy.copyup" and not any(o.startswith("podpy.firstuse") for o in first[2])
    assert first[3][-2:] == ["podpy.firstuse=7:8", "podpy.copyup"]      # the image's VOLUME
    later = options(Volume("v", "/x", ("nocopy",), "volume"), Volume("t", "/y", (), "volume"))
    assert not any(o.startswith("podpy.") for o in later[0])            # nocopy, and not the first
    assert not any(o.startswith("podpy.") for o in later[1])            # a tmpfs copies only once
    assert options(image_mode="ignore") == []
    (tmpfs,) = options(image_mode="tmpfs")
    assert "podpy.copyup" in tmpfs and "podpy.firstuse=0:0" in tmpfs
    assert engine.inspect(["v"])[0].value.get("NeedsCopyUp") is None


def test_volume_inspect_all_rm_time_export_and_import(rt, tmp_path):
    engine = VolumeEngine(rt, print)
    engine.create(VolumeCreateOptions(name="src"))
    engine.create(VolumeCreateOptions(name="dst"))
    assert [r.name for r in engine.inspect([], all_=True)] == ["src", "dst"]
    for names, all_ in (([], False), (["src"], True)):
        with pytest.raises(InvalidArgument, match="provide one or more volume names or use --all"):
            engine.inspect(names, all_)
    data = engine.inspect(["src"])[0].value["Mountpoint"]
    os.makedirs(os.path.join(data, "d"))
    with open(os.path.join(data, "d", "f"), "w") as f:
        f.write("content\n")
    tar = str(tmp_path / "src.tar")
    engine.export("src", tar)
    engine.import_("dst", tar)
    with open(os.path.join(engine.inspect(["dst"])[0].value["Mountpoint"], "d", "f")) as f:
        assert f.read() == "content\n"
    with pytest.raises(NoSuchVolume, match="no such volume nope"):
        engine.export("nope", str(tmp_path / "nope.tar"))
    assert not os.path.exists(tmp_path / "nope.tar")
    with pytest.raises(InvalidArgument, match="open /no/such.tar: no such file or directory"):
        engine.import_("nope", "/no/such.tar")
    # a tmpfs volume keeps nothing: an empty tar out, a tar read through and dropped
    engine.create(VolumeCreateOptions(name="t", options={"type": "tmpfs"}))
    engine.import_("t", tar)
    assert os.listdir(engine.inspect(["t"])[0].value["Mountpoint"]) == []
    engine.export("t", str(tmp_path / "t.tar"))
    import tarfile
    with tarfile.open(tmp_path / "t.tar") as tf:
        assert tf.getnames() == []
    assert [r.value for r in engine.rm(["src"], timeout=3)] == ["src"]


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
    assert engine.unpause([], filters=["exited=0"]) == []   # every ps key, as podman's
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


def test_import_changes_take_podmans_key_value_form_too() -> None:
    """`import --change` as podman takes it: `KEY VALUE` or `KEY=VALUE`."""
    from podpy.engine.imagestore import apply_changes

    cfg: dict = {}
    apply_changes(["CMD=/bin/true", "ENV=X=1", "LABEL=blue=image", "WORKDIR=/w", "ENTRYPOINT [\"/bin/sh\"]",
                   "ENV Y 2", "EXPOSE 80"], cfg)
    assert cfg == {"Cmd": ["/bin/sh", "-c", "/bin/true"], "Env": ["X=1", "Y=2"], "Labels": {"blue": "image"},
                   "WorkingDir": "/w", "Entrypoint": ["/bin/sh"], "ExposedPorts": {"80/tcp": {}}}
    with pytest.raises(InvalidArgument, match="unknown instruction RUN"):
        apply_changes(["RUN=true"], {})
