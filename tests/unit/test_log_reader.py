"""A log followed while its container is removed: what was written is still read (the Docker
SDK's `run` follows the log, waits, removes the container, and only then reads the rest)."""

from podpy.engine.logs import Reader


def _line(text: str, stream: str = "stdout") -> bytes:
    return f"2026-12-05T10:00:00.000000000Z {stream} F {text}\n".encode()


def test_a_log_removed_after_it_was_opened_is_read_to_its_end(tmp_path):
    path = tmp_path / "ctr.log"
    path.write_bytes(b"")
    reader = Reader(str(path))
    assert reader.initial() == []          # opened before the container wrote anything
    with open(path, "ab") as f:
        f.write(_line("one shot"))
    path.unlink()                          # the container removed, its log with it
    got = reader.more()
    assert [(e.stream, e.text) for e in got] == [(b"stdout", b"one shot\n")]
    assert reader.more() == []
    reader.close()


def test_a_log_never_opened_and_gone_reads_as_empty(tmp_path):
    reader = Reader(str(tmp_path / "missing.log"))
    assert reader.initial() == [] and reader.more() == []
