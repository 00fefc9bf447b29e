"""The Store: one facade over the database, the driver and the layer directories.

Layout under the store root:
    podpy.db                 the database (shared with the engine's tables): an index, which
                             `system check --repair` rebuilds from the files (sidecar.py)
    driver.json              the driver the store was made with
    layers/<layer id>/       one directory per layer (a diff, or a full tree for vfs)
    layers/<layer id>.json   what the layer is (diff id, parent, size, digests)
    images/<image id>/       an image's config, manifest and record (layers, names)
    containers/<id>/         a container's writable state
    tmp/<name> + <name>.lock work in progress: a staging directory and the lock
                             its writer holds; a directory whose lock nobody
                             holds was left by a killed command and is removed
                             by the next one (`collect_garbage`), after the work
                             its intent file describes is finished or undone
                             (intents.py): the layers a command installed for an
                             image it never recorded, an image's removal.

Work that touches files owned by container ids (applying a layer, copying,
removing) runs through `in_userns`, a callable the engine hands in; storage/
itself never creates namespaces.
"""

from __future__ import annotations

import _thread
import os
import time

from . import fastjson as json
from . import images as img
from . import reference
from .db import STORAGE_SCHEMA, Database
from .drivers.base import LAYER_ROOT_MODE, RECORD as DRIVER_RECORD, Driver
from .errors import DatabaseDamaged, ImageInUseError, ImageUnknownError, LayerError, StorageError, no_space
from .staging import Staging, abandoned

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Callable, Optional, Union

    from . import intents

    InUserns = Callable[..., Any]
    Source = Union[str, Callable[[], BinaryIO]]


def _apply_in_ns(source: Source, dest: str, options: Any, split_path: Optional[str] = None) -> Any:
    """Runs in the user namespace: open the source there and apply it."""
    from .archive import apply_layer

    if callable(source):
        stream = source()  # e.g. a registry blob, fetched by this process itself
    elif source == "-":
        stream = os.fdopen(os.dup(0), "rb", buffering=0)
    else:
        stream = open(source, "rb", buffering=0)
    with stream:
        return apply_layer(stream, dest, options, split_path)


def rename_dir(src: str, dst: str) -> None:
    """Rename directory src to dst in another directory: that rewrites its "..", which needs
    write permission on it, so a root without (an image's 0555 /) is opened for the move."""
    mode = os.stat(src).st_mode & 0o7777
    if mode & 0o200:
        os.rename(src, dst)
        return
    os.chmod(src, mode | 0o200)
    try:
        os.rename(src, dst)
    except OSError:
        os.chmod(src, mode)
        raise
    os.chmod(dst, mode)


def _prepare_container_in_ns(driver: Driver, cdir: str, layer_dirs: list[str]) -> None:
    driver.prepare_container(cdir, layer_dirs)


def _remove_trees(paths: list[str]) -> None:
    from .fsutil import remove_tree

    for p in paths:
        remove_tree(p)


def chain_id(parent_chain: Optional[str], diff_id: str) -> str:
    """The OCI ChainID of a layer: its diff id on top of its parent's chain."""
    if parent_chain is None:
        return diff_id
    import hashlib

    return "sha256:" + hashlib.sha256(f"{parent_chain} {diff_id}".encode()).hexdigest()


_claiming: list[Store] = []   # the stores whose command has claimed layers (in this process)


def release_all_claims() -> None:
    """At the end of a command: every store's claims settled (Store.release_claims)."""
    for store in list(_claiming):
        store.release_claims()


def holds_records(root: str) -> bool:
    """Whether the store has images or volumes described in files (a new database beside them
    means the old one was lost)."""
    for kind in ("images", "volumes"):
        try:
            if any(not n.startswith(".") for n in os.listdir(os.path.join(root, kind))):
                return True
        except OSError:
            continue
    return False


class Store:
    def __init__(self, root: str, driver: Driver, *, rootless: bool, in_userns: InUserns,
                 db: Optional[Database] = None) -> None:
        self.root = root
        self.driver = driver
        self.rootless = rootless
        self.in_userns = in_userns
        self._claims: Optional[Staging] = None
        self._claims_pid = 0
        self._claimed: list[str] = []
        self._claimed_images: list[str] = []
        # One command's threads (build --jobs) claim into one intent file: one writer at a time.
        self._claim_lock = _thread.allocate_lock()
        os.makedirs(root, mode=0o700, exist_ok=True)
        self.db = db or Database(os.path.join(root, "podpy.db"))
        had = self.db.version("storage")
        if had == 0 and holds_records(root):
            # A new database over a store that has images: the old one was deleted or emptied.
            # Nothing is made here (the next command says the same) until `system check --repair`.
            raise DatabaseDamaged(self.db.path, "it is missing or empty, but the store holds images or volumes")
        self.db.migrate("storage", STORAGE_SCHEMA)
        if 0 < had < 2:
            # a store made before the records were kept beside the data
            from . import records

            records.write_all(self.db.conn, self.root, self.tar_split)
        if self.db.conn.execute("SELECT 1 FROM record_writers LIMIT 1").fetchone() is not None:
            from . import records   # the files a killed writer left half rewritten

            records.settle_rewrites(self.db, self.root)
        self._check_driver()

    # -- driver -------------------------------------------------------------
    def _check_driver(self) -> None:
        row = self.db.conn.execute("SELECT value FROM meta WHERE key='driver'").fetchone()
        if row is None:
            with self.db.write() as c:
                c.execute("INSERT OR IGNORE INTO meta VALUES ('driver', ?)", (self.driver.name,))
            row = self.db.conn.execute("SELECT value FROM meta WHERE key='driver'").fetchone()
        stored = row[0]
        if not os.path.exists(os.path.join(self.root, DRIVER_RECORD)):
            from . import sidecar   # imported only to write it: off the way of every other command

            sidecar.write_json(sidecar.driver_path(self.root), {"driver": stored})
        compatible = {stored, self.driver.name} <= {"overlay", "fuse-overlayfs"}
        if stored != self.driver.name and not compatible:
            raise StorageError(
                f"storage driver {self.driver.name!r} does not match the {stored!r} driver this store "
                f"was created with (run `podpy system reset` or use --root for another store)")

    # -- layers -------------------------------------------------------------
    def layer_dir(self, layer_id: str) -> str:
        return os.path.join(self.root, "layers", layer_id.split(":", 1)[-1])

    def tar_split(self, layer_id: str) -> str:
        """Where the layer's tar-split record is kept (see storage.tarsplit), if it has one."""
        return os.path.join(self.root, "tar-split", layer_id.split(":", 1)[-1])

    def layer_diff_id(self, layer_id: str) -> Optional[str]:
        row = self.db.conn.execute("SELECT diff_id FROM layers WHERE id=?", (layer_id,)).fetchone()
        return row[0] if row else None

    def has_layer(self, layer_id: str) -> bool:
        row = self.db.conn.execute("SELECT 1 FROM layers WHERE id=?", (layer_id,)).fetchone()
        return row is not None and os.path.isdir(self.layer_dir(layer_id))

    def apply_layer(self, source: Source, parent: Optional[str], options: Any,
                    expect_diff_id: Optional[str] = None) -> tuple[str, Any]:
        """Apply a tar (a path, "-" for stdin, or a callable that opens a stream in the
        user namespace) on top of layer `parent`; returns (layer id, result).

        The tar is unpacked into a staging directory inside the user namespace,
        then renamed into place; a layer that already exists is reused.
        """
        os.makedirs(os.path.join(self.root, "layers"), mode=0o700, exist_ok=True)
        stage = Staging(self.root, "layer")
        try:
            target = os.path.join(stage.path, "diff")
            split = os.path.join(stage.path, "tar-split")
            parent_dir = self.layer_dir(parent) if parent else None

            def work(src: Source, dest: str, opts: Any, pdir: Optional[str]) -> Any:
                self.driver.prepare_layer(dest, pdir)
                result = _apply_in_ns(src, dest, opts, split)
                # As containers/storage, whose untar skips a tar's entry for the root.
                os.chmod(dest, LAYER_ROOT_MODE)
                return result

            try:
                result = self.in_userns(work, source, target, options, parent_dir)
            except OSError as exc:
                what = f"layer {expect_diff_id.split(':')[-1][:12]}" if expect_diff_id else "a layer"
                raise no_space(exc, f"writing {what} into {self.root}") or exc from None
            if expect_diff_id is not None and result.diff_id != expect_diff_id:
                raise LayerError(f"layer content is {result.diff_id}, but the image config says {expect_diff_id}")
            layer_id = chain_id(parent, result.diff_id)
            self._install(target, layer_id, parent, result.diff_id, result.compressed_digest, result.size,
                          split if os.path.exists(split) else None)
            return layer_id, result
        finally:
            self._discard(stage)

    def adopt_layer(self, directory: str, parent: Optional[str], diff_id: str, size: int) -> str:
        """Make a directory written under tmp/ (a build step's changes, in the driver's layer
        format, whose tar digests to diff_id) the layer on top of parent: renamed into place.
        A layer that exists already is reused, the directory left to the caller's clean-up."""
        layer_id = chain_id(parent, diff_id)
        os.makedirs(os.path.join(self.root, "layers"), mode=0o700, exist_ok=True)
        self._install(directory, layer_id, parent, diff_id, diff_id, size)
        return layer_id

    def _install(self, directory: str, layer_id: str, parent: Optional[str], diff_id: str,
                 compressed_digest: str, size: int, split: Optional[str] = None) -> None:
        """Rename directory into place as layer_id (split: the tar-split record of the tar it
        was unpacked from, kept with it)."""
        from . import records

        final = self.layer_dir(layer_id)
        with self.db.write() as c:
            # Claimed before any of its files is in place: if this command dies before an image
            # uses the layer, whoever finds its staging directory removes them (intents.settle).
            if c.execute("SELECT 1 FROM layers WHERE id=?", (layer_id,)).fetchone() is None:
                self._claim(layer_id)
            if split is not None and not os.path.exists(self.tar_split(layer_id)):
                # Before the layer is in place: a layer never has a record of another tar.
                os.makedirs(os.path.dirname(self.tar_split(layer_id)), mode=0o700, exist_ok=True)
                os.replace(split, self.tar_split(layer_id))
            try:
                rename_dir(directory, final)
            except OSError:
                if not os.path.isdir(final):
                    raise
            now = time.time()
            if c.execute("INSERT OR IGNORE INTO layers (id, parent, diff_id, compressed_digest, size, created)"
                         " VALUES (?, ?, ?, ?, ?, ?)",
                         (layer_id, parent, diff_id, compressed_digest, size, now)).rowcount:
                records.write_layer(self.root, self.tar_split, layer_id, parent, diff_id, compressed_digest, size,
                                    now)

    def hold_image(self, image_id: str) -> bool:
        """Keep the image's layers until this command ends, whatever removes the image meanwhile
        (`rmi -f` of a build's base takes its names and record, and leaves the layers to the
        build: what it makes on them stays whole). False when the image is already gone. The
        layers are claimed as the ones a command installs are (release_claims settles them:
        those no image uses by then go)."""
        with self.db.write() as c:
            image = img.by_id(c, image_id)
            if image is None:
                return False
            fresh = [lid for lid in image.layers if lid not in self._claimed]
            if fresh:
                self._claim(layers=fresh)   # under the write lock: a removal after this sees it
        return True

    def _claim(self, layer_id: Optional[str] = None, image: Optional[str] = None,
               layers: Optional[list[str]] = None) -> None:
        """Note a layer this command installs, or an image whose files it writes, in its claims'
        staging directory (made on the first one, settled when the command ends: release_claims)."""
        from . import intents

        with self._claim_lock:
            if self._claims is None:
                self._claims = Staging(self.root, "claim")
                self._claims_pid = os.getpid()
                _claiming.append(self)
            if layer_id is not None:
                self._claimed.append(layer_id)
            self._claimed.extend(layers or [])
            if image is not None:
                self._claimed_images.append(image)
            intents.write(self._claims.path, "claim", self._claimed, images=self._claimed_images)

    def release_claims(self) -> None:
        """The command's claimed layers that no image uses (it failed before recording its
        image) are removed, and the claims' staging directory with them. Left for the next
        command when this cannot be done now (it then finds the directory's writer gone)."""
        from . import intents

        if self._claims is not None and self._claims_pid != os.getpid():
            self._claims = None   # a forked child's copy: the parent settles them (and may hold the lock)
            return
        with self._claim_lock:
            if self in _claiming:
                _claiming.remove(self)
            stage, self._claims = self._claims, None
            if stage is None or self._claims_pid != os.getpid():
                return
            self._claimed, self._claimed_images = [], []
        try:
            with self.db.write() as c:
                intents.settle(c, self._where(), stage.path, self._live_claims({os.path.basename(stage.path)}))
            self._discard(stage)
        except Exception:  # noqa: BLE001 - the next command settles it
            stage.release()

    def settle(self, stage: Staging) -> None:
        """Finish or undo what stage's intent file says, now (its own command's error path)."""
        from . import intents

        with self.db.write() as c:
            intents.settle(c, self._where(), stage.path, self._live_claims({os.path.basename(stage.path)}))

    def _where(self) -> intents.Layers:
        from . import intents

        return intents.Layers(self.root, self.layer_dir, self.tar_split, rename_dir)

    def _live_claims(self, exclude: set[str]) -> set[str]:
        """The layers claimed by commands still running (their staging directory's lock held)."""
        from . import intents

        return intents.live_claims(os.path.join(self.root, "tmp"), exclude)

    def temporary(self, kind: str) -> _Temporary:
        """A staging directory under tmp/ for the length of a with block, then removed;
        if this process is killed first, the next command removes it (collect_garbage)."""
        return _Temporary(self, kind)

    def _discard(self, stage: Staging) -> None:
        from .fsutil import remove_tree

        try:
            try:
                remove_tree(stage.path)  # files this user wrote: no namespace needed
            except PermissionError:
                self.in_userns(_remove_trees, [stage.path])  # files owned by container ids
        finally:
            stage.release()

    # -- images -------------------------------------------------------------
    def images(self) -> list[img.Image]:
        return img.all_images(self.db.conn)

    def image(self, name: str, short_names: reference.ShortNames) -> img.Image:
        """The image name (short names resolved with short_names), id or id prefix stands for."""
        return img.lookup(self.db.conn, name, short_names)

    def layer_sizes(self) -> dict[str, int]:
        """Every layer's id -> its size in bytes (as applied)."""
        return {r[0]: int(r[1]) for r in self.db.conn.execute("SELECT id, size FROM layers")}

    def create_image(self, config: Union[dict[str, Any], bytes], layers: list[str], names: list[str],
                     manifest: Optional[str] = None, digest: Optional[str] = None,
                     annotations: Optional[dict[str, str]] = None) -> img.Image:
        """Record an image. Its id is the sha256 of the config's bytes: pass the exact
        bytes of a pulled config, or a dict for an image made here (annotations: those of
        the manifest made for it)."""
        from . import records

        import hashlib

        from .shapes import image_config

        raw = config if isinstance(config, bytes) else json.dumps(config, separators=(",", ":")).encode()
        image_config(raw)   # one of the wrong shape is never stored, whichever way it came
        text = raw.decode()
        image_id = hashlib.sha256(raw).hexdigest()
        size = 0
        described = []
        for lid in layers:
            row = self.db.conn.execute("SELECT size, diff_id FROM layers WHERE id=?", (lid,)).fetchone()
            if row is None:
                raise LayerError(f"layer {lid} is not in the store")
            size += int(row[0])
            described.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": row[1],
                              "size": int(row[0])})
        if manifest is None:
            # An image made here (import, load of a bare tarball, commit, build) gets the OCI
            # manifest of its uncompressed layers, as containers-storage records one: its digest
            # is the image's Digest and RepoDigests, as podman shows them.
            doc: dict[str, Any] = {
                "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": f"sha256:{image_id}",
                           "size": len(raw)},
                "layers": described}
            if annotations:
                doc["annotations"] = dict(annotations)
            manifest = json.dumps(doc, separators=(",", ":"))
            digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
        self._claim(image=image_id)   # its files go if this command dies before its row is in
        from . import sidecar

        sidecar.write_image_config(self.root, image_id, text)   # outside the lock: it never changes
        with records.Rewriting(self.db, self.root, "images"), self.db.write() as c:
            losers = self._owners(c, names)
            img.insert(c, image_id, text, layers, size, time.time(), manifest, digest)
            for n in names:
                img.set_name(c, n, image_id)
            for other in {image_id, *losers}:
                records.write_image(self.root, c, other)
        found = img.by_id(self.db.conn, image_id)
        assert found is not None
        return found

    def image_signatures(self, image_id: str) -> Optional[bytes]:
        """The signatures kept with an image (set_image_signatures' data), None when it has none."""
        from . import sidecar

        return sidecar.read_image_signatures(self.root, image_id)

    def set_image_signatures(self, image_id: str, data: bytes) -> None:
        """Keep data (the image's signatures, whole) beside the image, replacing what was there in one
        rename; under the images' write lock, so a removal of the image in between leaves no file."""
        from . import sidecar

        with self.db.write() as c:
            if c.execute("SELECT 1 FROM images WHERE id=?", (image_id,)).fetchone() is None:
                raise ImageUnknownError(f"image {image_id[:12]} is not in the store")
            sidecar.write_bytes(os.path.join(sidecar.image_dir(self.root, image_id), sidecar.IMAGE_SIGNATURES), data)

    @staticmethod
    def _owners(c: Any, names: list[str]) -> set[str]:
        """The images that hold these names now (a name that moves changes two images' files)."""
        found = set()
        for n in names:
            row = c.execute("SELECT image_id FROM image_names WHERE name=?", (n,)).fetchone()
            if row:
                found.add(row[0])
        return found

    def tag(self, image_id: str, name: str) -> None:
        from . import records

        with records.Rewriting(self.db, self.root, "images"), self.db.write() as c:
            losers = self._owners(c, [name])
            img.set_name(c, name, image_id)
            for other in {image_id, *losers}:
                records.write_image(self.root, c, other)

    def untag(self, name: str) -> bool:
        from . import records

        with records.Rewriting(self.db, self.root, "images"), self.db.write() as c:
            owners = self._owners(c, [name])
            gone = c.execute("DELETE FROM image_names WHERE name=?", (name,)).rowcount > 0
            for other in owners:
                records.write_image(self.root, c, other)
            return gone

    def delete_image(self, image_id: str, in_use: bool,
                     user: Optional[Callable[[Any], Optional[str]]] = None) -> list[str]:
        """Remove an image and every layer no other image uses; returns its names.

        The layers' directories are moved into a staging directory in the transaction that
        deletes their rows, with an intent file saying so: a command killed before the commit
        has them moved back by the next one, after it the removal finished (intents.settle).
        """
        from . import intents

        if in_use:
            raise ImageInUseError(f"image {image_id[:12]} is in use by a container")
        stage = Staging(self.root, "remove")
        try:
            with self.db.write() as c:
                image = img.by_id(c, image_id)
                if image is None:
                    return []
                # user(c): a container that has it, asked in this transaction (one created since
                # the caller looked cannot start on a removed image).
                holder = user(c) if user is not None else None
                if holder:
                    raise ImageInUseError(f"image used by {holder}: image is in use by a container: consider "
                                          "listing external containers and force-removing image")
                c.execute("DELETE FROM image_names WHERE image_id=?", (image_id,))
                c.execute("DELETE FROM images WHERE id=?", (image_id,))
                used = self._live_claims(set())
                for r in c.execute("SELECT layers FROM images"):
                    used.update(json.loads(r[0]))
                doomed: list[str] = []
                for lid in reversed(image.layers):   # the top first: its parent may go then too
                    children = {r[0] for r in c.execute("SELECT id FROM layers WHERE parent=?", (lid,))}
                    if lid in used or children - set(doomed):
                        break   # kept, and with it every layer below
                    doomed.append(lid)
                intents.write(stage.path, "remove", doomed, image_id)
                for lid in doomed:
                    c.execute("DELETE FROM layers WHERE id=?", (lid,))
                    d = self.layer_dir(lid)
                    if os.path.lexists(d):
                        rename_dir(d, os.path.join(stage.path, lid.split(":", 1)[-1]))
        finally:
            # Committed: the image's and layers' files go. Rolled back: the layers come back.
            try:
                with self.db.write() as c:
                    intents.settle(c, self._where(), stage.path, ())
            finally:
                self._discard(stage)
        return list(image.names)

    # -- containers ---------------------------------------------------------
    def container_dir(self, cid: str) -> str:
        return os.path.join(self.root, "containers", cid)

    def layer_export_dirs(self, image: img.Image, index: int) -> tuple[str, Optional[str]]:
        """(the directory of the image's layer at index, the tree its tar is the difference to):
        None when the directory is the diff itself."""
        parent = None
        if index > 0 and self.driver.full_tree_layers:
            parent = self.layer_dir(image.layers[index - 1])
        return self.layer_dir(image.layers[index]), parent

    def layer_dirs(self, image: img.Image) -> list[str]:
        return [self.layer_dir(lid) for lid in image.layers]

    def create_container(self, cid: str, image: img.Image) -> dict[str, Any]:
        """Make the container's writable state; returns the runtime's rootfs description."""
        cdir = self.container_dir(cid)
        os.makedirs(os.path.dirname(cdir), mode=0o700, exist_ok=True)
        os.mkdir(cdir, 0o700)
        dirs = self.layer_dirs(image)
        if self.driver.needs_userns_to_prepare():
            self.in_userns(_prepare_container_in_ns, self.driver, cdir, dirs)
        else:
            self.driver.prepare_container(cdir, dirs)
        return self.driver.rootfs_mount(cdir, dirs)

    def rootfs_mount(self, cid: str, image: img.Image) -> dict[str, Any]:
        return self.driver.rootfs_mount(self.container_dir(cid), self.layer_dirs(image))

    def rootfs_view(self, cid: str, image: img.Image, target: str) -> dict[str, Any]:
        """A read-only description of the container's file system, to mount at target in a
        private mount namespace: its writable layer becomes the top lower layer, so it can be
        mounted while the container runs."""
        desc = self.rootfs_mount(cid, image)
        desc["target"] = target
        if desc.get("upper"):
            desc["lower"] = [desc.pop("upper"), *desc["lower"]]
            desc.pop("work", None)
        return desc

    def remove_container(self, cid: str) -> None:
        cdir = self.container_dir(cid)
        if os.path.lexists(cdir):
            self.in_userns(_remove_trees, [cdir])

    # -- garbage --------------------------------------------------------------
    def collect_garbage(self) -> int:
        """Remove staging directories whose writer is gone (after settling what their intent
        files say); returns how many."""
        doomed = abandoned(os.path.join(self.root, "tmp"))
        if not doomed:
            return 0
        from . import intents

        try:
            if any(os.path.exists(os.path.join(d.path, intents.INTENT)) for d in doomed):
                live = self._live_claims({os.path.basename(d.path) for d in doomed})
                with self.db.write() as c:
                    for d in doomed:
                        intents.settle(c, self._where(), d.path, live)
            self.in_userns(_remove_trees, [d.path for d in doomed])
        except Exception:  # noqa: BLE001 - another command's leftovers must not fail this one
            for d in doomed:
                d.keep()
            return 0
        for d in doomed:
            d.drop_lock()
        return len(doomed)


class _Temporary:
    """Store.temporary()'s with block (a class, not contextlib's generator: importing
    contextlib would cost some 0.7 ms of every command)."""

    __slots__ = ("store", "kind", "stage")

    def __init__(self, store: Store, kind: str) -> None:
        self.store, self.kind = store, kind

    def __enter__(self) -> Staging:
        self.stage = Staging(self.store.root, self.kind)
        return self.stage

    def __exit__(self, kind: Optional[type], exc: Optional[BaseException], tb: Any) -> None:
        self.store._discard(self.stage)
