"""What a staging directory says about the work its command had under way, so that whoever
finds the directory with its writer gone finishes that work or undoes it.

Two kinds, each a file `intent.json` in a staging directory under tmp/ (staging.Staging):

    {"kind": "claim", "layers": [...],     layers this command installed for an image it has
     "images": [...]}                      not recorded yet (pull, load, commit, build, import),
                                           and the images whose files it began to write
    {"kind": "remove", "image": ID,        an image being removed (rmi): the layers it alone
     "layers": [...]}                      used, moved into the staging directory inside the
                                           same transaction that deletes their rows
    {"kind": "files", "files": [...],      files written outside the store (`save -o`'s file
     "layers": []}                         under its temporary name), removed if still there
    {"kind": "restore", "table": T,        a directory moved into the staging directory in the
     "key": K, "value": V,                 transaction that deletes its row (a volume): moved
     "moves": [[name, path]], "layers": []}  back to path when the row is still there

`settle` runs under the database's write lock, so the rows it reads are the truth:
  - claim: an image with no row has its files removed; a listed layer with no row (killed between its rename and its commit), or with a
    row that no image, no other layer (as parent) and no running command's claim uses, is
    removed: moved into the staging directory, its files beside it deleted. Layers an image
    uses stay: the command got as far as recording it.
  - remove: the image's row still there means the transaction never committed: the layers
    are moved back into place. Otherwise the removal is finished: the image's files and the
    layers' files beside them are deleted.
The staging directory itself (with the moved layers in it) is then removed by the caller.
"""

from __future__ import annotations

import fcntl
import os

from . import fastjson as json
from . import sidecar

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Optional

INTENT = "intent.json"


RESTORABLE = {"volumes": "name"}   # the tables a "restore" intent may name, with their key


def write(stage_path: str, kind: str, layers: list[str], image: Optional[str] = None,
          files: Optional[list[str]] = None, **extra: Any) -> None:
    record: dict[str, Any] = {"kind": kind, "layers": layers, **extra}
    if image is not None:
        record["image"] = image
    if files is not None:
        record["files"] = files
    sidecar.write_json(os.path.join(stage_path, INTENT), record)


def read(stage_path: str) -> Optional[dict[str, Any]]:
    rec = sidecar.read_json(os.path.join(stage_path, INTENT))
    if rec is None or not isinstance(rec.get("layers"), list):
        return None
    return rec


def _hex(layer_id: str) -> str:
    return layer_id.split(":", 1)[-1]


class Layers:
    """Where a store keeps a layer: its directory, its tar-split, its record file."""

    def __init__(self, root: str, layer_dir: Callable[[str], str], tar_split: Callable[[str], str],
                 rename_dir: Callable[[str, str], None]) -> None:
        self.root, self.layer_dir, self.tar_split, self.rename_dir = root, layer_dir, tar_split, rename_dir

    def move_out(self, lid: str, stage_path: str) -> None:
        """The layer's directory into the staging directory (removed with it); its files deleted."""
        d = self.layer_dir(lid)
        if os.path.lexists(d):
            self.rename_dir(d, os.path.join(stage_path, _hex(lid)))
        for path in (self.tar_split(lid), sidecar.layer_path(self.root, lid)):
            sidecar.remove_with_temps(path)

    def move_back(self, lid: str, stage_path: str) -> None:
        inside = os.path.join(stage_path, _hex(lid))
        if os.path.lexists(inside) and not os.path.lexists(self.layer_dir(lid)):
            self.rename_dir(inside, self.layer_dir(lid))


def settle(c: Any, where: Layers, stage_path: str, live_claims: Iterable[str]) -> None:
    """Finish or undo what the staging directory's intent says (c: a write transaction)."""
    rec = read(stage_path)
    if rec is None:
        return
    if rec.get("kind") == "files":
        for path in rec.get("files") or []:
            sidecar.remove(str(path))
        return
    if rec.get("kind") == "restore":
        table = str(rec.get("table"))
        if RESTORABLE.get(table) != rec.get("key"):
            return
        if c.execute(f"SELECT 1 FROM {table} WHERE {rec['key']}=?", (rec.get("value"),)).fetchone() is not None:
            for name, path in rec.get("moves") or []:
                inside = os.path.join(stage_path, str(name))
                if os.path.lexists(inside) and not os.path.lexists(str(path)):
                    where.rename_dir(inside, str(path))
        return
    layers = [str(x) for x in rec["layers"]]
    rows = {r[0] for r in c.execute("SELECT id FROM layers")}
    if rec.get("kind") == "remove":
        image = str(rec.get("image") or "")
        if c.execute("SELECT 1 FROM images WHERE id=?", (image,)).fetchone() is not None:
            for lid in layers:
                where.move_back(lid, stage_path)
            return
        sidecar.remove_image(where.root, image)
        for lid in layers:
            if lid in rows:
                where.move_back(lid, stage_path)
            else:
                where.move_out(lid, stage_path)
        return
    for iid in rec.get("images") or []:   # files written, row never committed
        if c.execute("SELECT 1 FROM images WHERE id=?", (str(iid),)).fetchone() is None:
            sidecar.remove_image(where.root, str(iid))
    keep = set(live_claims)
    for r in c.execute("SELECT layers FROM images"):
        keep.update(json.loads(r[0]))
    parents = {r[0] for r in c.execute("SELECT parent FROM layers WHERE parent IS NOT NULL")}
    # The top of a chain first: once it goes, its parent may be unused too.
    for lid in reversed(layers):
        if lid in keep:
            continue
        if lid in rows:
            if lid in parents:
                continue
            c.execute("DELETE FROM layers WHERE id=?", (lid,))
            rows.discard(lid)
            parents = {r[0] for r in c.execute("SELECT parent FROM layers WHERE parent IS NOT NULL")}
        where.move_out(lid, stage_path)


def _lock_free(lock: str) -> bool:
    """Whether nobody holds a staging directory's lock (or it is gone)."""
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def live_claims(tmp: str, exclude: set[str]) -> set[str]:
    """The layers claimed by the claims' staging directories under tmp whose command still runs
    (its lock held), but for those named in exclude."""
    claimed: set[str] = set()
    try:
        names = os.listdir(tmp)
    except FileNotFoundError:
        return claimed
    for name in names:
        if not name.startswith("claim-") or name.endswith(".lock") or name in exclude:
            continue
        if _lock_free(os.path.join(tmp, name + ".lock")):
            continue
        rec = read(os.path.join(tmp, name))
        if rec is not None:
            claimed.update(str(x) for x in rec["layers"])
    return claimed
