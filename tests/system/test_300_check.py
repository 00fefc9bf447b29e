"""A damaged database costs nothing: every command says so in one line, `system check` reports
it, and `system check --repair` rebuilds it from the files beside the data (images with their
names, layers, volumes with their labels and data, stopped and running containers), keeping
the old one aside."""

import json
import os
import shutil
import sqlite3
import tarfile
import time

import pytest

from registry import LocalRegistry

FIX = "run `podpy system check --repair` to rebuild it from the store's files"


def _store(p):
    return p.data_home / "podpy"


def _state(p, name):
    return p("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name).stdout.strip()


@pytest.fixture
def p(new_podpy, image_tar, tmp_path):
    q = new_podpy()
    q("import", image_tar, "busybox")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Containerfile").write_text("FROM busybox\nRUN echo one > /one\nRUN echo two > /two\n")
    q("build", "--network", "none", "-t", "built:1", "-t", "built:latest", str(ctx), timeout=180)
    q("create", "--name", "base", "--network", "none", "busybox", "sh", "-c", "echo committed > /c")
    q("start", "-a", "base")
    q("commit", "base", "committed:1")
    q("tag", "committed:1", "other:2")
    q("volume", "create", "--label", "team=blue", "data")
    q("run", "--rm", "--network", "none", "-v", "data:/srv", "busybox", "sh", "-c", "echo kept > /srv/f")
    q("create", "--name", "stopped", "--network", "none", "-v", "data:/srv", "built:1", "cat", "/srv/f", "/one", "/two")
    res = q("run", "--name", "exited", "--network", "none", "busybox", "sh", "-c", "exit 3", check=False)
    assert res.returncode == 3
    q("run", "-d", "--name", "running", "--network", "none", "-l", "role=server", "committed:1", "sleep", "1000")
    q("network", "create", "--subnet", "10.89.77.0/24", "-l", "tier=db", "backend")
    q("create", "--name", "networked", "--network", "backend", "--ip", "10.89.77.9", "busybox", "true")
    (tmp_path / "token").write_text("s3cret")
    q("secret", "create", "-l", "use=ci", "token", str(tmp_path / "token"))
    yield q
    q("rm", "-f", "-a", check=False, timeout=120)


def _snapshot(p):
    images = sorted(p("images", "-a", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}").stdout.splitlines())
    ctrs = sorted(p("ps", "-a", "--format", "{{.ID}} {{.Names}} {{.Image}} {{.Labels}}").stdout.splitlines())
    vols = json.loads(p("volume", "inspect", "data").stdout)[0]
    net = json.loads(p("network", "inspect", "backend").stdout)[0]
    secret = json.loads(p("secret", "inspect", "token").stdout)[0]
    # the address networked holds (not shown until it runs): another container cannot have it
    res = p("create", "--network", "backend", "--ip", "10.89.77.9", "busybox", "true", check=False)
    taken = (res.returncode, res.stderr)
    return (images, ctrs, (vols["Name"], vols["Labels"], vols["Mountpoint"]), net, secret, taken)


def _damage(p, how):
    db = _store(p) / "podpy.db"
    conn = sqlite3.connect(db)   # the store at rest: what the WAL holds written into the file
    assert conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    conn.close()
    size = db.stat().st_size
    if how == "overwrite":   # every page but the first (the schema survives, no table does)
        with open(db, "r+b") as f:
            f.seek(4096)
            f.write(bytes(range(256)) * ((size - 4096) // 256))
    elif how == "truncate":
        os.truncate(db, size // 3)
    elif how == "delete":
        db.unlink()
    else:
        db.write_bytes(b"this is not a database\n" * 400)


REASONS = {"overwrite": "database disk image is malformed", "truncate": "database disk image is malformed",
           "delete": "it is missing or empty, but the store holds images or volumes",
           "garbage": "file is not a database"}


@pytest.mark.parametrize("how", ["overwrite", "truncate", "delete", "garbage"])
def test_repair_brings_back_everything_from_the_files(p, how, tmp_path):
    before = _snapshot(p)
    ids = {line.split()[0] for line in before[0]}
    layers = [n for n in os.listdir(_store(p) / "layers") if not n.endswith(".json")]
    assert len(ids) == 4 and len(layers) == 4 and len(before[1]) == 5   # busybox, 2 built, 1 committed
    assert before[5] == (125, "Error: IP address 10.89.77.9 is already allocated on network backend\n")
    assert before[3]["labels"] == {"tier": "db"} and before[4]["Spec"]["Labels"] == {"use": "ci"}
    assert _state(p, "running") == "running 0"
    db = _store(p) / "podpy.db"
    # one that ends while the database is damaged: its monitor's clean-up cannot record it
    p("run", "-d", "--name", "short", "--network", "none", "busybox", "sh", "-c", "sleep 2; echo done; exit 7")
    _damage(p, how)
    damaged = db.read_bytes() if db.exists() else None
    time.sleep(4)

    line = f"Error: the database {db} is damaged ({REASONS[how]}): {FIX}\n"
    for args in (["images"], ["ps", "-a"], ["volume", "ls"], ["run", "--rm", "--network", "none", "busybox", "true"],
                 ["start", "stopped"]):
        res = p(*args, check=False)
        assert (res.returncode, res.stdout, res.stderr) == (125, "", line), args
    if how == "delete":   # the commands above made an empty database; it is what gets kept aside
        damaged = db.read_bytes()

    res = p("system", "check", check=False)
    assert res.returncode == 125
    assert res.stderr == "Error: damage detected in local storage\n"
    assert res.stdout.startswith(f"Damaged database {db}:\n\t* ")

    res = p("system", "check", "--repair", check=False)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert f"Rebuilt the database {db} from the store's files: 4 images, 4 layers, 1 volumes, 6 containers" in lines
    kept = [n for n in os.listdir(_store(p)) if n.startswith("podpy.db.damaged-") and not n.endswith(("-wal", "-shm"))]
    assert len(kept) == 1 and f"The old database is kept as {_store(p) / kept[0]}" in lines
    assert (_store(p) / kept[0]).read_bytes() == damaged
    assert not any(line.startswith("Not described") for line in lines)
    assert p("system", "check").stdout == ""

    assert _state(p, "short") == "exited 7" and p("logs", "short").stdout == "done\n"
    p("rm", "short")
    assert _snapshot(p) == before
    assert _state(p, "running") == "running 0" and _state(p, "stopped") == "created 0"
    assert _state(p, "exited") == "exited 3"
    out = p("run", "--rm", "--network", "none", "built:1", "cat", "/one", "/two").stdout
    assert out == "one\ntwo\n"
    assert p("run", "--rm", "--network", "none", "other:2", "cat", "/c").stdout == "committed\n"
    assert p("run", "--rm", "--network", "none", "-v", "data:/srv", "busybox", "cat", "/srv/f").stdout == "kept\n"
    assert p("start", "-a", "stopped").stdout == "kept\none\ntwo\n"
    assert p("start", "-a", "exited", check=False).returncode == 3
    p("stop", "-t", "0", "running")
    assert _state(p, "running") == "exited 137"
    p("start", "running")
    assert _state(p, "running") == "running 0"
    p("save", "-o", tmp_path / "built.tar", "built:1")
    with tarfile.open(tmp_path / "built.tar") as tf:
        manifest = json.load(tf.extractfile("manifest.json"))
    assert manifest[0]["RepoTags"] == ["localhost/built:1"] and len(manifest[0]["Layers"]) == 3
    p("tag", "built:1", "again:1")
    names = p("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.splitlines()
    assert "localhost/again:1" in names and "localhost/built:1" in names
    assert p("system", "check").stdout == ""


def test_a_repaired_store_pushes(p, new_podpy, tmp_path):
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is needed (installed by packaging/setup.sh test)")
    _damage(p, "garbage")
    p("system", "check", "--repair")
    (tmp_path / "reg").mkdir()
    reg = LocalRegistry(tmp_path / "reg")
    try:
        dest = f"{reg.host}/check/built:1"
        p("push", "--tls-verify=false", "built:1", dest)
        fresh = new_podpy()
        fresh("pull", "--tls-verify=false", dest)
        assert fresh("run", "--rm", "--network", "none", dest, "cat", "/one", "/two").stdout == "one\ntwo\n"
    finally:
        reg.stop()


def test_a_lost_layer_is_reported_and_its_image_removed_by_repair(p):
    layer_of = json.loads(p("image", "inspect", "built:1").stdout)[0]["RootFS"]["Layers"]
    assert len(layer_of) == 3
    res = p("system", "check")
    assert (res.returncode, res.stdout) == (0, "")
    top = p("image", "inspect", "--format", "{{.Id}}", "built:1").stdout.strip()
    store = _store(p)
    # the top layer of built:1 (no other image has it): its directory goes
    layers = sorted(n[:-5] for n in os.listdir(store / "layers") if n.endswith(".json"))
    records = {n: json.loads((store / "layers" / f"{n}.json").read_text()) for n in layers}
    (lid,) = [r["id"] for r in records.values() if r["diff_id"] == layer_of[2]]
    p("unshare", "rm", "-rf", str(store / "layers" / lid.split(":")[1]))
    p("rm", "stopped")
    res = p("system", "check", check=False)
    assert res.returncode == 125 and res.stderr == "Error: damage detected in local storage\n"
    assert f"Damaged layer {lid}:\n\t* its directory is missing\n" in res.stdout
    assert f"Damaged image {top}:\n\t* its layer {lid} is missing\n" in res.stdout
    res = p("system", "check", "--repair")
    assert f"Deleted damaged image: {top}\n" in res.stdout
    assert p("image", "exists", "built:1", check=False).returncode == 1
    assert p("run", "--rm", "--network", "none", "other:2", "cat", "/c").stdout == "committed\n"


def test_repair_lists_what_no_record_describes_and_leaves_it(p):
    stray = _store(p) / "layers" / ("ab" * 32)
    stray.mkdir()
    (stray / "keep-me").write_text("mine")
    res = p("system", "check")
    assert res.stdout == f"Not described by any record, left as it is: {stray}\n"
    _damage(p, "garbage")
    res = p("system", "check", "--repair")
    assert f"Not described by any record, left as it is: {stray}\n" in res.stdout
    assert (stray / "keep-me").read_text() == "mine"


def test_check_refuses_another_users_store_and_an_unreadable_one(new_podpy, tmp_path):
    q = new_podpy()
    res = q("--root", "/usr/share", "system", "check", check=False)
    assert (res.returncode, res.stdout, res.stderr) == (
        125, "", "Error: the store /usr/share belongs to another user (uid 0): `system check` checks your own "
                 "store only\n")
    res = q("system", "check", "--max", "soon", check=False)
    assert (res.returncode, res.stdout, res.stderr) == (
        125, "", 'Error: invalid argument "soon" for "-m, --max" flag: time: invalid duration "soon"\n')
    assert q("system", "check", "--quick", "-m", "1h30m").stdout == ""
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o000)
    try:
        res = q("--root", str(closed), "system", "check", check=False)
        assert (res.returncode, res.stdout, res.stderr) == (
            125, "", f"Error: cannot read the store {closed}: Permission denied\n")
    finally:
        closed.chmod(0o700)


def test_reset_works_over_a_damaged_database(new_podpy, image_tar):
    q = new_podpy()
    q("import", image_tar, "busybox")
    q("run", "-d", "--name", "running", "--network", "none", "busybox", "sleep", "1000")
    pid = int(q("inspect", "--format", "{{.State.Pid}}", "running").stdout)
    _damage(q, "garbage")
    res = q("system", "reset", "-f")
    db = _store(q) / "podpy.db"
    # a warning, as podman's logger writes one without a terminal
    assert "level=warning msg=" in res.stderr
    assert res.stderr.endswith(f"the database {db} is damaged (file is not a database): {FIX}; "
                               'removing the store all the same"\n')
    assert not _store(q).exists()
    for _ in range(50):   # its cgroup's processes were killed
        if not os.path.exists(f"/proc/{pid}"):
            break
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{pid}")


def test_the_zipapp_repairs_too(new_podpy, image_tar):
    q = new_podpy(variant="zipapp")
    q("import", image_tar, "busybox")
    q("volume", "create", "-l", "a=b", "data")
    _damage(q, "truncate")
    db = _store(q) / "podpy.db"
    res = q("images", check=False)
    assert (res.returncode, res.stderr) == (125, f"Error: the database {db} is damaged "
                                                 f"(database disk image is malformed): {FIX}\n")
    q("system", "check", "--repair")
    assert q("images", "--format", "{{.Repository}}:{{.Tag}}").stdout == "localhost/busybox:latest\n"
    assert json.loads(q("volume", "inspect", "data").stdout)[0]["Labels"] == {"a": "b"}
