"""The files beside the data that describe it: what a lost database is rebuilt from.

The database is an index; these files are the truth. Each one is written atomically
(temporary file, fsync, rename) in the same step as its row, and removed with its data:

    driver.json                    the storage driver the store was made with (and why)
    layers/<hex>.json              a layer: id, parent, diff id, compressed digest, size, created
    images/<hex>/image.json        an image: id, layer ids, names, digest, size, created
    images/<hex>/config            its config, byte for byte (its sha256 is the image id)
    images/<hex>/manifest          its manifest, byte for byte (its sha256 is its digest)
    images/<hex>/signatures        signatures of that manifest made with the image (build --sign-by)
    volumes/<name>/volume.json     a volume: name, created, labels, options, anonymous
    containers/<id>/container.json a container: its record (name, image, config, last exit)

A reader takes a file that is missing or cannot be parsed as "no record" (None): the checker
reports it, it never guesses.
"""

from __future__ import annotations

import os

from . import fastjson as json
from .drivers.base import RECORD as DRIVER

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

IMAGE = "image.json"
IMAGE_CONFIG = "config"
IMAGE_MANIFEST = "manifest"
IMAGE_SIGNATURES = "signatures"
VOLUME = "volume.json"
CONTAINER = "container.json"


def _hex(ident: str) -> str:
    return ident.split(":", 1)[-1]


def write_bytes(path: str, data: bytes, durable: bool = True) -> None:
    """path holds data, whole or not at all (durable: fsync'd before the rename, as
    storage.fsutil.atomic_file). The bytes go to an unnamed file that gets its temporary
    name only once whole, just before the rename: a writer killed while writing leaves
    nothing. Temporary files of writers killed in that last step are removed here, before
    the write."""
    tmp = f"{path}.tmp-{os.getpid()}"
    _remove_dead_temps(path)   # first: the rename is the last step, as close to the caller's commit as can be
    try:
        if not _write_unnamed(path, tmp, data, durable):
            _write_named(tmp, data, durable)
        os.replace(tmp, path)
    except BaseException:
        _remove_file(tmp)
        raise


def _write_unnamed(path: str, tmp: str, data: bytes, durable: bool) -> bool:
    """data in an unnamed file (O_TMPFILE) linked as tmp; False where the file system has none."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag:
        return False
    try:
        dfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        try:
            fd = os.open(".", flag | os.O_WRONLY | os.O_CLOEXEC, 0o600, dir_fd=dfd)
        except OSError:
            return False
        try:
            _write_all(fd, data, durable)
            _remove_file(tmp)
            try:   # linkat(AT_SYMLINK_FOLLOW) of the open file: given dir fds, Python calls linkat
                os.link(f"/proc/self/fd/{fd}", os.path.basename(tmp), dst_dir_fd=dfd, follow_symlinks=True)
            except OSError:
                return False
        finally:
            os.close(fd)
    finally:
        os.close(dfd)
    return True


def _write_named(tmp: str, data: bytes, durable: bool) -> None:
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        _write_all(fd, data, durable)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes, durable: bool) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    if durable:
        os.fsync(fd)


def _remove_file(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _remove_dead_temps(path: str) -> None:
    """The temporary files of path (path.tmp-PID) whose writer no longer runs."""
    directory, base = os.path.split(path)
    prefix = base + ".tmp-"
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return
    for name in names:
        if name.startswith(prefix) and name[len(prefix):].isdigit() and not pid_alive(int(name[len(prefix):])):
            _remove_file(os.path.join(directory, name))


def pid_alive(pid: int) -> bool:
    """Whether a process of this pid runs (one we may not signal counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def write_json(path: str, data: dict[str, Any], durable: bool = True) -> None:
    write_bytes(path, json.dumps(data, separators=(",", ":"), sort_keys=True).encode(), durable)


def read_json(path: str) -> Optional[dict[str, Any]]:
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_text(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as f:
            return f.read().decode()
    except (OSError, UnicodeDecodeError):
        return None


def remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def remove_with_temps(path: str) -> None:
    """path, and the temporary files (path.tmp-PID) of writers of it that were killed: for a
    record whose object is being removed under the database's write lock, which every writer
    of a record holds."""
    import glob

    remove(path)
    for tmp in glob.glob(glob.escape(path) + ".tmp-*"):
        remove(tmp)


# -- the paths ------------------------------------------------------------------------------

def driver_path(root: str) -> str:
    return os.path.join(root, DRIVER)


def layer_path(root: str, layer_id: str) -> str:
    return os.path.join(root, "layers", _hex(layer_id) + ".json")


def image_dir(root: str, image_id: str) -> str:
    return os.path.join(root, "images", _hex(image_id))


def volume_path(root: str, name: str) -> str:
    return os.path.join(root, "volumes", name, VOLUME)


def container_path(root: str, cid: str) -> str:
    return os.path.join(root, "containers", cid, CONTAINER)


# -- images -------------------------------------------------------------------------------

def write_image_config(root: str, image_id: str, config: str) -> None:
    """An image's config, which never changes (its digest is the image's id): written once,
    before the write lock is taken."""
    d = image_dir(root, image_id)
    os.makedirs(os.path.dirname(d), mode=0o700, exist_ok=True)
    os.makedirs(d, mode=0o700, exist_ok=True)
    if read_text(os.path.join(d, IMAGE_CONFIG)) != config:
        write_bytes(os.path.join(d, IMAGE_CONFIG), config.encode())


def write_image(root: str, image_id: str, config: str, manifest: Optional[str], record: dict[str, Any]) -> None:
    """An image's config and manifest (exact bytes) and its record; the record last, so that a
    record on disk always has its config beside it. A file that holds its bytes already is not
    written again (a tag rewrites the record alone)."""
    write_image_config(root, image_id, config)
    d = image_dir(root, image_id)
    if manifest is not None and read_text(os.path.join(d, IMAGE_MANIFEST)) != manifest:
        write_bytes(os.path.join(d, IMAGE_MANIFEST), manifest.encode())
    write_json(os.path.join(d, IMAGE), record)


def read_image(root: str, image_id: str) -> Optional[dict[str, Any]]:
    """The image's record with "config" and "manifest" texts added; None when any is unusable."""
    d = image_dir(root, image_id)
    record = read_json(os.path.join(d, IMAGE))
    config = read_text(os.path.join(d, IMAGE_CONFIG))
    if record is None or config is None or not isinstance(record.get("layers"), list):
        return None
    record["config"] = config
    record["manifest"] = read_text(os.path.join(d, IMAGE_MANIFEST))
    return record


def read_image_signatures(root: str, image_id: str) -> Optional[bytes]:
    try:
        with open(os.path.join(image_dir(root, image_id), IMAGE_SIGNATURES), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def remove_image(root: str, image_id: str) -> None:
    d = image_dir(root, image_id)
    for name in (IMAGE, IMAGE_SIGNATURES, IMAGE_CONFIG, IMAGE_MANIFEST):   # the record first: no record without config
        remove_with_temps(os.path.join(d, name))
    try:
        os.rmdir(d)
    except OSError:
        pass
