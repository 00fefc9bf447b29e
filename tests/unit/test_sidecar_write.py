"""A record file is written whole or not at all, and a killed writer's temporary file does not
outlive the next write of the same record."""

import os
import subprocess
import sys

from storage import sidecar


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_write_leaves_the_record_alone(tmp_path):
    path = tmp_path / "image.json"
    sidecar.write_json(str(path), {"names": ["a"]})
    sidecar.write_json(str(path), {"names": ["a", "b"]})
    assert sorted(os.listdir(tmp_path)) == ["image.json"]
    assert sidecar.read_json(str(path)) == {"names": ["a", "b"]}
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_a_killed_writers_temporary_file_goes_with_the_next_write(tmp_path):
    path = tmp_path / "image.json"
    dead = tmp_path / f"image.json.tmp-{_dead_pid()}"
    dead.write_text('{"half')
    live = tmp_path / f"image.json.tmp-{os.getppid()}"   # a writer that still runs keeps its file
    live.write_text("")
    other = tmp_path / "config.tmp-1"                    # another record's file is not this write's
    other.write_text("")
    sidecar.write_json(str(path), {"names": ["a"]})
    assert sorted(os.listdir(tmp_path)) == sorted(["image.json", live.name, other.name])


def test_a_failed_write_leaves_the_old_record(tmp_path, monkeypatch):
    path = tmp_path / "image.json"
    sidecar.write_json(str(path), {"names": ["a"]})

    def full(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    try:
        sidecar.write_json(str(path), {"names": ["b"]})
    except OSError:
        pass
    else:
        raise AssertionError("the write did not fail")
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["image.json"]
    assert sidecar.read_json(str(path)) == {"names": ["a"]}


def test_the_bytes_are_written_to_an_unnamed_file(tmp_path):
    """The file gets a name only once whole: where the file system has O_TMPFILE (ext4, tmpfs,
    xfs, btrfs), no reader and no killed writer ever sees a named half-written file."""
    import pytest

    if not getattr(os, "O_TMPFILE", 0):
        pytest.skip("this platform has no O_TMPFILE")
    try:
        os.close(os.open(str(tmp_path), os.O_TMPFILE | os.O_WRONLY, 0o600))
    except OSError as exc:
        pytest.skip(f"the file system of {tmp_path} has no O_TMPFILE: {exc.strerror}")
    path, tmp = str(tmp_path / "image.json"), str(tmp_path / "image.json.tmp-1")
    assert sidecar._write_unnamed(path, tmp, b"{}", durable=False) is True
    assert sorted(os.listdir(tmp_path)) == ["image.json.tmp-1"]
    assert (tmp_path / "image.json.tmp-1").read_text() == "{}"


def test_an_images_signatures_are_read_back_and_removed_with_it(tmp_path):
    from storage import sidecar

    root, image_id = str(tmp_path), "ab" * 32
    sidecar.write_image(root, image_id, "{}", "{\"schemaVersion\":2}", {"id": image_id, "layers": []})
    assert sidecar.read_image_signatures(root, image_id) is None
    path = os.path.join(sidecar.image_dir(root, image_id), sidecar.IMAGE_SIGNATURES)
    sidecar.write_bytes(path, b'{"signatures":[]}')
    assert sidecar.read_image_signatures(root, image_id) == b'{"signatures":[]}'
    sidecar.remove_image(root, image_id)
    assert not os.path.exists(sidecar.image_dir(root, image_id))
