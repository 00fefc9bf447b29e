"""`system check` over a real store in a temporary directory (the vfs driver, no user
namespace): the files written beside each image, layer, volume and container, the one-line
error a damaged or lost database gives, and the database rebuilt from the files."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tarfile
import time

import pytest

from podpy.config import Config
from podpy.engine.check import check
from podpy.engine.container import Container
from podpy.engine.context import Runtime
from podpy.engine.entities import SystemCheckOptions, VolumeCreateOptions
from podpy.engine.imagestore import apply_options
from podpy.engine.volumes import VolumeEngine
from podpy.errors import PodpyError
from podpy.state import CONFIGURED, ContainerConfig, ContainerRecord
from storage import sidecar


def _config(tmp_path) -> Config:
    cfg = Config(rootless=False, root=str(tmp_path / "root"), runroot=str(tmp_path / "run"),
                 config_dir=str(tmp_path / "config"))
    cfg.driver, cfg.driver_source = "vfs", "the test"
    return cfg


@pytest.fixture
def rt(tmp_path):
    runtime = Runtime(_config(tmp_path))
    yield runtime
    if "db" in runtime.__dict__:
        runtime.db.close()


def _json(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def _bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _fresh(rt: Runtime) -> Runtime:
    """Another command over the same store."""
    if "db" in rt.__dict__:
        rt.db.close()
    return Runtime(rt.cfg)


def _tar(tmp_path, name: str, files: dict[str, bytes]) -> str:
    path = str(tmp_path / f"{name}.tar")
    with tarfile.open(path, "w") as tf:
        for fname, data in files.items():
            info = tarfile.TarInfo(fname)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def _image(rt: Runtime, tmp_path, names: list[str], layers: list[dict[str, bytes]]) -> str:
    parent = None
    ids = []
    diff_ids = []
    for i, files in enumerate(layers):
        parent, result = rt.store.apply_layer(_tar(tmp_path, f"l{len(os.listdir(tmp_path))}-{i}", files), parent,
                                              apply_options(rt))
        ids.append(parent)
        diff_ids.append(result.diff_id)
    config = {"created": "2024-01-01T00:00:00Z", "architecture": "amd64", "os": "linux",
              "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": []}
    return rt.store.create_image(config, ids, names).id


def _container(rt: Runtime, image_id: str, name: str) -> str:
    image = rt.store.image(image_id, None)  # type: ignore[arg-type]
    cid = os.urandom(32).hex()
    rec = ContainerRecord(id=cid, name=name, image_id=image.id, image_name=image.names[0], created=time.time(),
                          state=CONFIGURED, config=ContainerConfig(command=["sh"], entrypoint=[], env=["A=1"],
                                                                   labels={"k": "v"}))
    ctr = Container.insert(rt, rec)
    rt.store.create_container(cid, image)
    ctr.created(keep=False)
    return cid


def _populate(rt: Runtime, tmp_path) -> dict[str, str]:
    base = _image(rt, tmp_path, ["localhost/base:latest"], [{"etc/a": b"a"}])
    two = _image(rt, tmp_path, ["localhost/two:1", "localhost/two:latest"], [{"etc/a": b"a"}, {"etc/b": b"b"}])
    VolumeEngine(rt, print).create(VolumeCreateOptions(name="data", labels={"team": "blue"}))
    cid = _container(rt, two, "keeper")
    return {"base": base, "two": two, "container": cid}


def _snapshot(rt: Runtime) -> dict[str, object]:
    return {
        "images": sorted((i.id, i.names, i.layers, i.digest, json.dumps(i.config, sort_keys=True))
                         for i in rt.store.images()),
        "layers": sorted(tuple(r) for r in rt.store.db.conn.execute(
            "SELECT id, parent, diff_id, compressed_digest, size FROM layers").fetchall()),
        "volumes": sorted((v["Name"], json.dumps(v["Labels"]), json.dumps(v["Options"]))
                          for v in VolumeEngine(rt, print).ls([])),
        "containers": sorted((r.id, r.name, r.image_id, r.state, r.config.to_json()) for r in rt.state.all()),
    }


def test_every_object_is_described_by_files_beside_it(rt, tmp_path):
    made = _populate(rt, tmp_path)
    root = rt.cfg.root
    record = _json(os.path.join(sidecar.image_dir(root, made["two"]), "image.json"))
    assert record["names"] == ["localhost/two:1", "localhost/two:latest"]
    assert sidecar.read_text(os.path.join(sidecar.image_dir(root, made["two"]), "config")) == \
        rt.db.conn.execute("SELECT config FROM images WHERE id=?", (made["two"],)).fetchone()[0]
    for lid in record["layers"]:
        layer = _json(sidecar.layer_path(root, lid))
        assert layer["id"] == lid and layer["diff_id"].startswith("sha256:") and layer["tar_split"] is True
    vol = _json(sidecar.volume_path(root, "data"))
    assert (vol["labels"], vol["options"], vol["anonymous"]) == ({"team": "blue"}, {}, False)
    ctr = _json(sidecar.container_path(root, made["container"]))
    assert (ctr["name"], ctr["image_id"], ctr["state"], ctr["config"]["labels"]) == \
        ("keeper", made["two"], "created", {"k": "v"})
    assert _json(sidecar.driver_path(root)) == {"driver": "vfs"}


def test_tag_untag_rename_and_rm_keep_the_files_in_step(rt, tmp_path):
    made = _populate(rt, tmp_path)
    root = rt.cfg.root
    rt.store.tag(made["base"], "localhost/two:latest")   # the name moves: both images' files change
    assert sidecar.read_image(root, made["base"])["names"] == ["localhost/base:latest", "localhost/two:latest"]
    assert sidecar.read_image(root, made["two"])["names"] == ["localhost/two:1"]
    rt.store.untag("localhost/base:latest")
    assert sidecar.read_image(root, made["base"])["names"] == ["localhost/two:latest"]
    Container(rt, rt.state.get(made["container"])).rename("renamed")
    assert _json(sidecar.container_path(root, made["container"]))["name"] == "renamed"
    layers = sidecar.read_image(root, made["base"])["layers"]
    rt.store.delete_image(made["base"], in_use=False)
    assert not os.path.exists(sidecar.image_dir(root, made["base"]))
    shared = set(sidecar.read_image(root, made["two"])["layers"])
    for lid in layers:
        assert os.path.exists(sidecar.layer_path(root, lid)) == (lid in shared)


def test_a_healthy_store_checks_clean(rt, tmp_path):
    _populate(rt, tmp_path)
    report = check(_fresh(rt), SystemCheckOptions())
    assert (report.errors, report.database, report.unknown) == (False, None, [])


@pytest.mark.parametrize("damage", ["overwrite", "truncate", "delete", "garbage"])
def test_repair_rebuilds_a_damaged_database_from_the_files(rt, tmp_path, damage):
    _populate(rt, tmp_path)
    before = _snapshot(rt)
    rt.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    rt = _fresh(rt)
    path = os.path.join(rt.cfg.root, "podpy.db")
    size = os.path.getsize(path)
    if damage == "overwrite":
        with open(path, "r+b") as f:
            f.seek(4096)
            f.write(os.urandom(size - 8192))
    elif damage == "truncate":
        os.truncate(path, size // 3)
    elif damage == "delete":
        os.unlink(path)
    else:
        with open(path, "wb") as f:
            f.write(b"not a database\n" * 300)
    damaged_bytes = _bytes(path) if os.path.exists(path) else None

    with pytest.raises(PodpyError) as err:
        rt.store.images()
    message = str(err.value)
    assert message.startswith(f"the database {path} is damaged (")
    assert message.endswith("run `podpy system check --repair` to rebuild it from the store's files")
    assert "\n" not in message and "Error" not in message

    rt = _fresh(rt)
    report = check(rt, SystemCheckOptions())
    assert report.errors and report.database and not report.repaired

    rt = _fresh(rt)
    report = check(rt, SystemCheckOptions(repair=True))
    assert (report.repaired, report.left, report.unknown) == (True, False, [])
    assert report.restored == {"images": 2, "layers": 2, "volumes": 1, "containers": 1}   # one layer shared
    if damaged_bytes is not None:
        assert report.moved_aside and _bytes(report.moved_aside) == damaged_bytes
    else:   # deleted: nothing to keep, or the empty file a command made meanwhile
        assert report.moved_aside is None or os.path.getsize(report.moved_aside) <= 4096
    rt = _fresh(rt)
    assert _snapshot(rt) == before
    assert check(_fresh(rt), SystemCheckOptions()).errors is False


def test_rows_without_files_are_written_back_and_unknown_paths_only_listed(rt, tmp_path):
    made = _populate(rt, tmp_path)
    root = rt.cfg.root
    before = _snapshot(rt)
    os.unlink(sidecar.volume_path(root, "data"))                       # an older store's volume
    os.unlink(os.path.join(sidecar.image_dir(root, made["base"]), "image.json"))
    stray = os.path.join(root, "layers", "f" * 64)                     # nobody's directory
    os.mkdir(stray)
    rt = _fresh(rt)
    report = check(rt, SystemCheckOptions())
    assert report.volumes == {"data": ["no file describes it (the database does)"]}
    assert report.images == {made["base"]: ["its files are missing or unreadable (the database describes it)"]}
    assert report.unknown == [stray]
    report = check(_fresh(rt), SystemCheckOptions(repair=True))
    assert report.left is False and os.path.isdir(stray)
    assert sidecar.read_json(sidecar.volume_path(root, "data"))["labels"] == {"team": "blue"}
    assert sidecar.read_image(root, made["base"])["names"] == ["localhost/base:latest"]
    assert _snapshot(_fresh(rt)) == before


def test_an_image_whose_layer_is_gone_is_removed_unless_a_container_uses_it(rt, tmp_path):
    made = _populate(rt, tmp_path)
    root = rt.cfg.root
    top_of_two = sidecar.read_image(root, made["two"])["layers"][-1]
    base_layer = sidecar.read_image(root, made["base"])["layers"][0]
    extra = _image(rt, tmp_path, ["localhost/extra:latest"], [{"x": b"x"}])
    extra_layer = sidecar.read_image(root, extra)["layers"][0]
    import shutil

    shutil.rmtree(rt.store.layer_dir(top_of_two))
    shutil.rmtree(rt.store.layer_dir(extra_layer))
    rt = _fresh(rt)
    report = check(rt, SystemCheckOptions())
    assert report.layers == {top_of_two: ["its directory is missing"], extra_layer: ["its directory is missing"]}
    assert report.images == {made["two"]: [f"its layer {top_of_two} is missing"],
                             extra: [f"its layer {extra_layer} is missing"]}
    assert report.containers == {made["container"]: [f"its image {made['two'][:12]} has lost layers"]}
    report = check(_fresh(rt), SystemCheckOptions(repair=True))
    assert report.removed_images == [extra] and report.removed_containers == []
    assert report.left is True                      # the container's image is still damaged
    report = check(_fresh(rt), SystemCheckOptions(repair=True, force=True))
    assert report.removed_containers == [made["container"]] and report.removed_images == [made["two"]]
    assert report.left is False
    rt = _fresh(rt)
    assert [i.id for i in rt.store.images()] == [made["base"]]
    assert os.path.isdir(rt.store.layer_dir(base_layer))


def test_a_running_detached_container_goes_back_to_its_monitor(rt, tmp_path):
    made = _populate(rt, tmp_path)
    cid = made["container"]
    rt.state.update(cid, state="running", pid=os.getpid(), detached=1, owner_pid=os.getpid(),
                    owner_start="x", cgroup="/sys/fs/cgroup/nowhere")
    from podpy.engine.records import write_run

    rec = rt.state.get(cid)
    rec.started_at = 123.0
    os.makedirs(rt.container_run_dir(cid))
    write_run(rt.container_run_dir(cid), rec, 4242, "99")
    rt.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    rt = _fresh(rt)
    os.unlink(os.path.join(rt.cfg.root, "podpy.db"))
    report = check(rt, SystemCheckOptions(repair=True))
    assert report.left is False
    row = sqlite3.connect(os.path.join(rt.cfg.root, "podpy.db")).execute(
        "SELECT state, pid, owner_pid, owner_start, cgroup, detached, started_at FROM containers WHERE id=?",
        (cid,)).fetchone()
    assert row == ("running", os.getpid(), 4242, "99", "/sys/fs/cgroup/nowhere", 1, 123.0)


def test_check_refuses_another_users_store(tmp_path):
    cfg = _config(tmp_path)
    os.makedirs(cfg.root)
    os.chown(cfg.root, 12345, 12345)
    with pytest.raises(PodpyError) as err:
        check(Runtime(cfg), SystemCheckOptions())
    assert str(err.value) == (f"the store {cfg.root} belongs to another user (uid 12345): "
                              "`system check` checks your own store only")


def test_a_store_made_before_the_files_gets_them_when_opened(rt, tmp_path):
    made = _populate(rt, tmp_path)
    root = rt.cfg.root
    for path in (sidecar.volume_path(root, "data"), sidecar.container_path(root, made["container"]),
                 *(sidecar.layer_path(root, lid) for lid in sidecar.read_image(root, made["two"])["layers"])):
        os.unlink(path)
    import shutil

    shutil.rmtree(os.path.join(root, "images"))
    with rt.db.write() as c:   # as an older podpy left it
        c.execute("UPDATE schema_versions SET version=1 WHERE component='storage'")
        c.execute("UPDATE schema_versions SET version=3 WHERE component='containers'")
        c.execute("UPDATE schema_versions SET version=2 WHERE component='volumes'")
    rt = _fresh(rt)
    VolumeEngine(rt, print).ls([])
    assert check(_fresh(rt), SystemCheckOptions()).errors is False
    assert sidecar.read_image(root, made["two"])["names"] == ["localhost/two:1", "localhost/two:latest"]


def test_a_grown_wal_is_checkpointed_and_truncated_when_the_command_is_done(tmp_path):
    from storage.db import WAL_TIDY_BYTES, Database, tidy_all

    db = Database(str(tmp_path / "podpy.db"))
    try:
        with db.write() as c:
            c.execute("CREATE TABLE t (x TEXT)")
        with db.write() as c:
            c.execute("INSERT INTO t VALUES (?)", ("x" * 1000,))
        small = os.path.getsize(db.path + "-wal")
        tidy_all()
        assert 0 < small <= WAL_TIDY_BYTES and os.path.getsize(db.path + "-wal") == small   # left alone
        while os.path.getsize(db.path + "-wal") <= WAL_TIDY_BYTES:
            with db.write() as c:
                c.executemany("INSERT INTO t VALUES (?)", [("y" * 1000,)] * 200)
        assert os.path.getsize(db.path + "-wal") > WAL_TIDY_BYTES
        tidy_all()
        assert os.path.getsize(db.path + "-wal") == 0
        assert db.conn.execute("SELECT count(*) FROM t").fetchone()[0] % 200 == 1
    finally:
        db.close()


def test_networks_and_secrets_come_back_with_the_addresses_their_containers_hold(rt, tmp_path):
    from podpy.engine.entities import NetworkCreateOptions
    from podpy.engine.networks import NetworkEngine
    from podpy.engine.secrets import SecretEngine
    from podpy.network.table import allocate_addresses

    made = _populate(rt, tmp_path)
    net = NetworkEngine(rt, print).create(NetworkCreateOptions(name="backend", labels={"tier": "db"}))
    sid = SecretEngine(rt).create("token", b"s3cret", labels={"use": "ci"})
    rec = rt.state.get(made["container"])
    rec.config.network = "bridge"
    rec.config.networks = {"backend": {"id": net["id"]}}
    allocate_addresses(rt, rec.id, rec.config.networks)
    Container(rt, rec).save_config()
    before = (NetworkEngine(rt, print).inspect(["backend"])[0].value,
              SecretEngine(rt).inspect(["token"])[0].value,
              rt.db.conn.execute("SELECT network, ip, container FROM network_addresses").fetchall())
    assert before[2][0][2] == rec.id
    rt.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    rt = _fresh(rt)
    os.unlink(os.path.join(rt.cfg.root, "podpy.db"))
    assert check(rt, SystemCheckOptions(repair=True)).left is False
    rt = _fresh(rt)
    after = (NetworkEngine(rt, print).inspect(["backend"])[0].value,
             SecretEngine(rt).inspect(["token"])[0].value,
             rt.db.conn.execute("SELECT network, ip, container FROM network_addresses").fetchall())
    assert (after[0], after[1], [tuple(r) for r in after[2]]) == (before[0], before[1], [tuple(r) for r in before[2]])
    assert SecretEngine(rt).inspect([sid])[0].value["Spec"]["Labels"] == {"use": "ci"}


def test_a_container_run_with_rm_needs_no_file(rt, tmp_path):
    made = _populate(rt, tmp_path)
    image = rt.store.image(made["base"], None)  # type: ignore[arg-type]
    rec = ContainerRecord(id="e" * 64, name="passing", image_id=image.id, image_name=image.names[0],
                          created=time.time(), state=CONFIGURED,
                          config=ContainerConfig(command=["true"], entrypoint=[], env=[], remove=True))
    ctr = Container.insert(rt, rec)
    rt.store.create_container(rec.id, image)
    ctr.created(keep=True)   # as `run --rm` leaves it until it starts
    assert not os.path.exists(sidecar.container_path(rt.cfg.root, rec.id))
    rt.state.update(rec.id, state="running")
    report = check(_fresh(rt), SystemCheckOptions())
    assert (report.errors, report.unknown) == (False, [])


def test_other_database_errors_name_the_file_not_a_class():
    from podpy.errors import translate
    from storage.db import damaged_path

    error = sqlite3.OperationalError("disk I/O error")
    assert str(translate(error)) == f"the database {damaged_path()}: disk I/O error"
    assert "Error" not in str(translate(sqlite3.DatabaseError("database disk image is malformed")))


def test_an_image_whose_making_was_killed_is_removed_by_repair(rt, tmp_path):
    import hashlib

    _populate(rt, tmp_path)
    config = '{"killed":"before its row"}'
    iid = hashlib.sha256(config.encode()).hexdigest()
    sidecar.write_image_config(rt.cfg.root, iid, config)   # what create_image writes before the lock
    assert check(_fresh(rt), SystemCheckOptions()).errors is False   # as if being made right now
    old = time.time() - 90000
    os.utime(os.path.join(sidecar.image_dir(rt.cfg.root, iid), "config"), (old, old))
    report = check(_fresh(rt), SystemCheckOptions())
    assert report.images == {iid: ["its making did not finish (a config and no record)"]}
    report = check(_fresh(rt), SystemCheckOptions(repair=True))
    assert (report.removed_images, report.left) == ([iid], False)
    assert not os.path.exists(sidecar.image_dir(rt.cfg.root, iid))


def test_a_name_two_images_files_claim_stays_with_the_newer(rt, tmp_path):
    made = _populate(rt, tmp_path)
    root = rt.cfg.root
    path = os.path.join(sidecar.image_dir(root, made["base"]), "image.json")
    record = _json(path)
    record["names"].append("localhost/two:1")    # as if a tag was killed between its two files
    record["created"] = 0.0
    sidecar.write_json(path, record)
    report = check(_fresh(rt), SystemCheckOptions())
    assert report.images == {made["base"]: [
        "its names in the database (localhost/base:latest) are not those of its files (localhost/base:latest, "
        "localhost/two:1)",
        f"its name localhost/two:1 is also given to image {made['two'][:12]}, which keeps it"]}
    assert check(_fresh(rt), SystemCheckOptions(repair=True)).left is False
    assert sidecar.read_image(root, made["base"])["names"] == ["localhost/base:latest"]
    assert sorted(_fresh(rt).store.image("localhost/two:1", None).names) == [  # type: ignore[arg-type]
        "localhost/two:1", "localhost/two:latest"]


def test_a_tag_killed_between_its_record_and_its_commit_is_settled_by_the_next_command(rt, tmp_path):
    """The record of the image is renamed into place just before the transaction commits: a
    `tag` killed right then leaves a file naming what the database does not. The next command
    writes the records again from the database, and `system check` finds nothing."""
    base = _image(rt, tmp_path, ["localhost/base:latest"], [{"etc/a": b"a"}])
    root = rt.cfg.root
    pid = os.fork()
    if pid == 0:   # the killed `tag`: gone the moment its record is in place
        try:
            real = sidecar.write_image

            def then_killed(*args, **kwargs):
                real(*args, **kwargs)
                os._exit(9)

            sidecar.write_image = then_killed
            _fresh(rt).store.tag(base, "localhost/killed:1")
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 9
    assert sidecar.read_image(root, base)["names"] == ["localhost/base:latest", "localhost/killed:1"]
    after = _fresh(rt)
    assert [list(i.names) for i in after.store.images()] == [["localhost/base:latest"]]
    assert sidecar.read_image(root, base)["names"] == ["localhost/base:latest"]
    assert after.store.db.conn.execute("SELECT COUNT(*) FROM record_writers").fetchone()[0] == 0
    assert check(_fresh(after), SystemCheckOptions()).errors is False


@pytest.fixture(params=["claim", "rename"])
def killed_at(request):
    return request.param


def test_a_layer_install_killed_on_the_way_leaves_nothing_behind(rt, tmp_path, killed_at):
    """The tar-split record goes into place after the layer is claimed: an `apply_layer` killed
    as it claims the layer leaves nothing, and one killed as it renames the layer's directory
    leaves a claim, which the next command settles: the tar-split goes with the rest."""
    import storage.store

    tar = _tar(tmp_path, "killed", {"etc/k": b"k"})
    root = rt.cfg.root
    pid = os.fork()
    if pid == 0:   # the killed `load`
        try:
            def killed(*args, **kwargs):
                os._exit(9)

            if killed_at == "claim":
                storage.store.Store._claim = killed
            else:
                storage.store.rename_dir = killed
            _fresh(rt).store.apply_layer(tar, None, apply_options(rt))
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 9
    after = _fresh(rt)
    after.store.collect_garbage()   # what the next command that reads state does first
    splits = os.path.join(root, "tar-split")
    assert (os.listdir(splits) if os.path.exists(splits) else []) == []
    assert after.store.db.conn.execute("SELECT COUNT(*) FROM layers").fetchone()[0] == 0
    assert check(_fresh(rt), SystemCheckOptions()).errors is False


def test_a_tar_split_left_alone_is_reported_and_removed_by_repair(rt, tmp_path):
    _populate(rt, tmp_path)
    root = rt.cfg.root
    kept = sorted(os.listdir(os.path.join(root, "tar-split")))
    stray = os.path.join(root, "tar-split", "ab" * 32)
    with open(stray, "wb") as f:
        f.write(b"left by an older podpy")
    assert check(_fresh(rt), SystemCheckOptions()).errors is False   # as if being installed now
    old = time.time() - 90000
    os.utime(stray, (old, old))
    report = check(_fresh(rt), SystemCheckOptions())
    assert report.layers == {"sha256:" + "ab" * 32: ["a tar-split record is left of it, and nothing else"]}
    report = check(_fresh(rt), SystemCheckOptions(repair=True))
    assert report.left is False
    assert not os.path.exists(stray)
    assert sorted(os.listdir(os.path.join(root, "tar-split"))) == kept   # the layers' own stay
