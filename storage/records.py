"""The store's records beside its data, kept saying what the database says.

Each layer and image has files that describe it (sidecar.py), from which `system check
--repair` rebuilds a lost database. An image's record is written inside the transaction
that changes its row and renamed into place just before the commit: a writer killed
between the two would leave a file that says what the database does not. So a change of
image rows runs under `Rewriting`: the writer is noted in its own transaction first and
forgotten after the commit; a note whose writer is dead makes the next command write the
records again from the database (settle_rewrites).
"""

from __future__ import annotations

import os

from . import fastjson as json
from . import sidecar

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .db import Database


def write_layer(root: str, tar_split: Callable[[str], str], layer_id: str, parent: Optional[str], diff_id: str,
                compressed_digest: Optional[str], size: int, created: float) -> None:
    """A layer's record (tar_split: the path of a layer's tar-split file)."""
    sidecar.write_json(sidecar.layer_path(root, layer_id), {
        "id": layer_id, "parent": parent, "diff_id": diff_id, "compressed_digest": compressed_digest,
        "size": size, "created": created, "tar_split": os.path.exists(tar_split(layer_id))})


def write_image(root: str, c: Any, image_id: str) -> None:
    """The image's files as its row (in c's transaction) now is: config, manifest, names."""
    row = c.execute("SELECT * FROM images WHERE id=?", (image_id,)).fetchone()
    if row is None:
        return
    names = sorted(r[0] for r in c.execute("SELECT name FROM image_names WHERE image_id=?", (image_id,)))
    sidecar.write_image(root, image_id, row["config"], row["manifest"], {
        "id": image_id, "layers": json.loads(row["layers"]), "names": names, "digest": row["digest"],
        "size": int(row["size"]), "created": float(row["created"])})


def rewrite(root: str, c: Any, kind: str) -> None:
    """Every record of kind ("images") written again from the rows, in c's transaction."""
    if kind == "images":
        for (image_id,) in c.execute("SELECT id FROM images").fetchall():
            write_image(root, c, image_id)


def write_all(conn: Any, root: str, tar_split: Callable[[str], str]) -> None:
    """Every layer's and image's files from the database (once, for a store made before
    they were kept)."""
    for r in conn.execute("SELECT * FROM layers").fetchall():
        write_layer(root, tar_split, r["id"], r["parent"], r["diff_id"], r["compressed_digest"], int(r["size"]),
                    float(r["created"]))
    for (image_id,) in conn.execute("SELECT id FROM images").fetchall():
        write_image(root, conn, image_id)


def settle_rewrites(db: Database, root: str) -> None:
    """The records that writers killed mid-change may have left saying what the database
    does not, written again from it; their notes removed."""
    with db.write() as c:
        dead = [(token, kind) for token, pid, kind in c.execute("SELECT token, pid, kind FROM record_writers")
                if not sidecar.pid_alive(int(pid))]
        for kind in sorted({kind for _, kind in dead}):
            rewrite(root, c, kind)
        for token, _ in dead:
            c.execute("DELETE FROM record_writers WHERE token=?", (token,))


class Rewriting:
    """For a with block around a change of rows whose records (kind: "images") it rewrites
    in its transaction: the writer noted before, forgotten after. (A class, not contextlib's
    generator: importing contextlib would cost some 0.7 ms of every command.)"""

    __slots__ = ("db", "root", "kind", "token")

    def __init__(self, db: Database, root: str, kind: str) -> None:
        self.db, self.root, self.kind = db, root, kind

    def __enter__(self) -> None:
        import _thread

        self.token = f"{os.getpid()}-{_thread.get_ident()}"
        with self.db.write() as c:
            c.execute("INSERT OR REPLACE INTO record_writers (token, pid, kind) VALUES (?, ?, ?)",
                      (self.token, os.getpid(), self.kind))

    def __exit__(self, kind: Optional[type], exc: Optional[BaseException], tb: Any) -> None:
        settled = kind is None
        if not settled:
            try:   # the transaction rolled back: the records as the database is, now
                with self.db.write() as c:
                    rewrite(self.root, c, self.kind)
                settled = True
            except Exception:  # noqa: BLE001 - the note stays: the next command does it
                pass
        if settled:
            try:
                with self.db.write() as c:
                    c.execute("DELETE FROM record_writers WHERE token=?", (self.token,))
            except Exception:  # noqa: BLE001 - a note left is settled by the next command
                pass
