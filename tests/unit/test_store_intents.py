"""Settling what a killed command's staging directory says: layers it installed for an image
it never recorded are removed, an image removal is finished or undone."""

import json
import os
import sqlite3

from storage import intents, sidecar
from storage.store import rename_dir


def _store(tmp_path, layers, images):
    """A store root with layer directories and record files, and a database with these rows:
    layers {id: parent}, images {id: [layer ids]}."""
    root = tmp_path / "store"
    (root / "layers").mkdir(parents=True)
    (root / "tmp").mkdir()
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.execute("CREATE TABLE layers (id TEXT PRIMARY KEY, parent TEXT)")
    db.execute("CREATE TABLE images (id TEXT PRIMARY KEY, layers TEXT)")
    for lid, parent in layers.items():
        db.execute("INSERT INTO layers VALUES (?, ?)", (lid, parent))
    for iid, lids in images.items():
        db.execute("INSERT INTO images VALUES (?, ?)", (iid, json.dumps(lids)))
    where = intents.Layers(str(root), lambda lid: str(root / "layers" / lid.split(":")[1]),
                           lambda lid: str(root / "layers" / (lid.split(":")[1] + ".tar-split")), rename_dir)
    stage = root / "tmp" / "claim-1"
    stage.mkdir()
    return root, db, where, stage


def _layer_on_disk(root, lid):
    hexid = lid.split(":")[1]
    (root / "layers" / hexid).mkdir()
    (root / "layers" / hexid / "file").write_text("x")
    sidecar.write_json(sidecar.layer_path(str(root), lid), {"id": lid})


def _on_disk(root, lid):
    hexid = lid.split(":")[1]
    return (root / "layers" / hexid).exists(), (root / "layers" / f"{hexid}.json").exists()


A, B, C = "sha256:" + "a" * 64, "sha256:" + "b" * 64, "sha256:" + "c" * 64


def test_a_claimed_layer_without_its_row_is_removed(tmp_path):
    root, db, where, stage = _store(tmp_path, {}, {})
    _layer_on_disk(root, A)   # renamed into place, killed before the commit
    intents.write(str(stage), "claim", [A])
    intents.settle(db, where, str(stage), ())
    assert _on_disk(root, A) == (False, False)
    assert (stage / A.split(":")[1] / "file").exists()   # removed with the staging directory


def test_claimed_layers_no_image_uses_go_top_first_and_used_ones_stay(tmp_path):
    root, db, where, stage = _store(tmp_path, {A: None, B: A, C: None}, {"img": [C]})
    for lid in (A, B, C):
        _layer_on_disk(root, lid)
    intents.write(str(stage), "claim", [A, B, C])
    intents.settle(db, where, str(stage), ())
    assert [r[0] for r in db.execute("SELECT id FROM layers")] == [C]
    assert _on_disk(root, A) == _on_disk(root, B) == (False, False)
    assert _on_disk(root, C) == (True, True)


def test_a_parent_of_another_layer_and_a_live_claim_are_kept(tmp_path):
    root, db, where, stage = _store(tmp_path, {A: None, B: A, C: None}, {})
    for lid in (A, B, C):
        _layer_on_disk(root, lid)
    intents.write(str(stage), "claim", [A, C])   # B (on A) is another command's
    intents.settle(db, where, str(stage), {C})   # ... and C is claimed by one still running
    assert sorted(r[0] for r in db.execute("SELECT id FROM layers")) == [A, B, C]
    assert all(_on_disk(root, lid) == (True, True) for lid in (A, B, C))


def test_a_removal_killed_before_its_commit_is_undone(tmp_path):
    root, db, where, stage = _store(tmp_path, {A: None}, {"img": [A]})
    _layer_on_disk(root, A)
    intents.write(str(stage), "remove", [A], "img")
    rename_dir(str(root / "layers" / A.split(":")[1]), str(stage / A.split(":")[1]))
    intents.settle(db, where, str(stage), ())
    assert _on_disk(root, A) == (True, True)


def test_a_removal_killed_after_its_commit_is_finished(tmp_path):
    root, db, where, stage = _store(tmp_path, {}, {})
    _layer_on_disk(root, A)
    sidecar.write_image(str(root), "img", "{}", None, {"id": "img", "layers": [A], "names": []})
    intents.write(str(stage), "remove", [A], "img")
    intents.settle(db, where, str(stage), ())
    assert _on_disk(root, A) == (False, False)
    assert not os.path.exists(sidecar.image_dir(str(root), "img"))


def test_a_file_written_outside_the_store_is_removed(tmp_path):
    root, db, where, stage = _store(tmp_path, {}, {})
    out = tmp_path / "saved.tar.tmp-123"
    out.write_bytes(b"half an archive")
    intents.write(str(stage), "files", [], files=[str(out)])
    intents.settle(db, where, str(stage), ())
    assert not out.exists()


def test_an_image_whose_row_never_came_has_its_files_removed(tmp_path):
    root, db, where, stage = _store(tmp_path, {A: None}, {"kept": [A]})
    for iid in ("kept", "lost"):
        sidecar.write_image(str(root), iid, "{}", "{}", {"id": iid, "layers": [A], "names": []})
    os.unlink(os.path.join(sidecar.image_dir(str(root), "lost"), sidecar.IMAGE))   # killed before its record
    intents.write(str(stage), "claim", [], images=["kept", "lost"])
    intents.settle(db, where, str(stage), ())
    assert not os.path.exists(sidecar.image_dir(str(root), "lost"))
    assert sidecar.read_image(str(root), "kept") is not None


def test_a_record_a_killed_writer_left_half_written_goes_with_its_layer(tmp_path):
    root, db, where, stage = _store(tmp_path, {}, {})
    _layer_on_disk(root, A)
    half = root / "layers" / (A.split(":")[1] + ".json.tmp-4242")
    half.write_text('{"id": ')
    intents.write(str(stage), "claim", [A])
    intents.settle(db, where, str(stage), ())
    assert not half.exists() and _on_disk(root, A) == (False, False)


def test_threads_of_one_command_claim_into_one_intent_without_losing_any(tmp_path):
    """build --jobs: stages in threads install layers and write images at once, each noting
    it in the command's one claim file."""
    import threading

    from podpy.config import Config
    from podpy.engine.context import Runtime

    cfg = Config(rootless=False, root=str(tmp_path / "root"), runroot=str(tmp_path / "run"),
                 config_dir=str(tmp_path / "config"))
    cfg.driver, cfg.driver_source = "vfs", "the test"
    store = Runtime(cfg).store
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def claim(which: int) -> None:
        start.wait()
        try:
            for n in range(150):
                store._claim(image=f"{which}-{n}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stage = store._claims.path
    rec = intents.read(stage)
    assert sorted(rec["images"]) == sorted(f"{i}-{n}" for i in range(4) for n in range(150))
    assert [n for n in os.listdir(stage) if n != intents.INTENT] == []
    store.release_claims()
    assert not os.path.exists(stage)
