"""The image engine: one method per image verb, the interface every front end calls.

Like ContainerEngine (containers.py): typed options in (entities.py, pull.py's PullOptions,
push.py's PushOptions), typed results out, warnings and progress through callbacks, no
printing. `rm` returns one report per name, so `rmi a b c` can partly fail and say which.
The work is imagestore.py's (import, list, history, remove, prune, tag), pull.py's,
push.py's and archive_io.py's (save, load). `login` and `logout` are no image verbs: they
change the credentials file, not the store, and stay functions of login.py.
"""

from __future__ import annotations

from ..errors import InvalidArgument, PodpyError, translate
from .context import Runtime
from .entities import Report

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from storage.images import Image

    from .entities import (ImageRemoveReport, ImageSummary, ImportOptions, LoadReport, MountReport,
                           SaveOptions)
    from .pull import Progress, PullOptions
    from .push import PushOptions
    from .search import SearchOptions


def _quiet(_line: str) -> None:
    pass


class ImageEngine:
    """The image verbs over one store (a Runtime: configuration, database, store)."""

    def __init__(self, rt: Runtime, warn: Callable[[str], None],
                 progress: Optional[Callable[[str], None]] = None,
                 layer_progress: Optional[Progress] = None) -> None:
        self.rt = rt
        self.warn = warn                  # one line for the user, not an error
        self.progress = progress or _quiet  # pull's, push's, save's and load's progress lines
        self.layer_progress = layer_progress  # a pull's per-layer byte counts (label, total) -> advance

    # -- registries --------------------------------------------------------------------------

    def pull(self, opts: PullOptions) -> Image:
        """`pull`: the image (the platform of opts, the host's by default) into the store."""
        from .pull import platform_of, pull, with_retries

        where = platform_of(opts.platform, opts.os, opts.arch, opts.variant)
        return with_retries(lambda: pull(self.rt, opts, self.progress, where, self.layer_progress),
                            opts.retry, opts.retry_delay, self.warn)

    def pull_all_tags(self, opts: PullOptions) -> list[Image]:
        """`pull --all-tags`: every tag of the name's repository, in the registry's order."""
        from .pull import platform_of, pull_all_tags, with_retries

        where = platform_of(opts.platform, opts.os, opts.arch, opts.variant)
        return with_retries(lambda: pull_all_tags(self.rt, opts, self.progress, where, self.layer_progress),
                            opts.retry, opts.retry_delay, self.warn)

    def push(self, opts: PushOptions) -> str:
        """`push`: the image to a registry; the manifest's digest (also written to
        opts.digest_file when given)."""
        from .push import push

        digest = push(self.rt, opts, self.progress, self.layer_progress)
        if opts.digest_file:
            with open(opts.digest_file, "w") as f:
                f.write(digest)
        return digest

    def search(self, opts: SearchOptions) -> list[dict[str, Any]]:
        """`search`: the images of the registries (the term's, or the search registries) whose
        names contain the term, one row each; with opts.list_tags, one row per tag of the image."""
        from .search import search

        return search(self.rt, opts, self.warn)

    # -- archives ----------------------------------------------------------------------------

    def save(self, opts: SaveOptions) -> None:
        """`save`: the images as a docker-archive or oci-archive (output None or "-": fd 1), or
        an OCI layout or `dir:` directory."""
        from .archive_io import save

        save(self.rt, opts, self.progress)

    def load(self, source: Optional[str]) -> list[LoadReport]:
        """`load`: every image of a docker-archive or oci-archive (None or "-": fd 0), or of an
        OCI layout or `dir:` directory."""
        from .archive_io import load

        return load(self.rt, source, self.progress)

    def import_(self, opts: ImportOptions) -> Image:
        """`import`: a rootfs tarball as a one-layer image."""
        from .imagestore import import_image

        return import_image(self.rt, opts.source, opts.reference, list(opts.changes), opts.message,
                            (opts.os, opts.arch, opts.variant))

    # -- names -------------------------------------------------------------------------------

    def tag(self, name: str, targets: list[str]) -> None:
        """`tag`: more names for the image."""
        from .imagestore import tag

        tag(self.rt, name, targets)

    def untag(self, name: str, targets: list[str]) -> list[str]:
        """`untag`: take names off the image (every name when targets is empty); the names
        taken off. A target that is no name of the image fails before any is taken off."""
        from .imagestore import untag

        return untag(self.rt, name, targets)

    # -- removal -----------------------------------------------------------------------------

    def rm(self, names: list[str], force: bool = False, all_: bool = False, ignore: bool = False,
           no_prune: bool = False) -> list[ImageRemoveReport]:
        """`rmi`: one report per name (every image with all_); an image a container uses only
        with force, which removes those containers first; ignore: names no image has are passed
        over; no_prune: the unnamed images a removed one was built on are kept."""
        from .imagestore import remove_images

        if all_ and names:
            raise InvalidArgument("when using the --all switch, you may not pass any images names or IDs")
        if all_:
            # (an image gone by the time its turn comes went with one built on it: no error)
            return remove_images(self.rt, [i.id for i in self.rt.store.images()], force, True, no_prune)
        if not names:
            raise InvalidArgument("`podpy rmi` requires at least one image name or id, or --all")
        return remove_images(self.rt, list(names), force, ignore, no_prune)

    def prune(self, all_: bool = False, filters: Optional[list[str]] = None) -> list[str]:
        """`image prune`: the ids of the dangling images removed (every unused one with all_)
        that the filters (KEY=VALUE, podman's image filters) match."""
        from .imagestore import prune

        return prune(self.rt, all_, filters)

    # -- mounts ------------------------------------------------------------------------------

    def mount(self, names: list[str], all_: bool = False) -> list[Report]:
        """`image mount`: each image read-only at a path of the host that the user reads with
        their own tools, owners as in the image (see mounts.py); an image mounted already is
        counted once more. One report per image, its mount point. Every name is looked up
        first: an unknown one fails the call before anything is mounted."""
        from ..events import emit
        from . import mounts
        from .imagestore import lookup

        if all_:
            targets = [(i.id, i) for i in self.rt.store.images()]
        else:
            targets = [(n, lookup(self.rt, n)) for n in names]
        reports = []
        for name, image in targets:
            try:
                path = mounts.mount(self.rt, mounts.IMAGE, image.id, mounts.image_job(self.rt, image))
            except Exception as exc:  # noqa: BLE001 - one report each
                reports.append(Report(name, error=translate(exc)))
                continue
            emit(self.rt.cfg.runroot, "image", "mount", image.id, name)
            reports.append(Report(name, path))
        return reports

    def unmount(self, names: list[str], all_: bool = False, force: bool = False) -> list[Report]:
        """`image unmount`: one report per image, its id (None for one that was not mounted,
        no error, as in podman). A mount goes when its counter comes down to 0, at once with
        force. all_: every mounted image."""
        from ..events import emit
        from . import mounts
        from .imagestore import lookup

        if all_:
            ids = [m.id for m in mounts.mounted(self.rt, mounts.IMAGE)]
            targets = [(i, i) for i in ids]
        elif not names:
            raise InvalidArgument("image name or ID must be specified")
        else:
            targets = [(n, lookup(self.rt, n).id) for n in names]
        reports = []
        for name, image_id in targets:
            try:
                was_mounted = mounts.unmount(self.rt, mounts.IMAGE, image_id, force)
                if was_mounted:
                    emit(self.rt.cfg.runroot, "image", "unmount", image_id, name)
            except Exception as exc:  # noqa: BLE001 - one report each
                reports.append(Report(name, error=translate(exc)))
                continue
            reports.append(Report(name, image_id if was_mounted else None))
        return reports

    def mounted(self) -> list[MountReport]:
        """`image mount` with no names: the mounted images."""
        from . import mounts

        return mounts.mounted(self.rt, mounts.IMAGE)

    # -- reads -------------------------------------------------------------------------------

    def ls(self, name: Optional[str] = None, all_: bool = False,
           filters: Optional[list[str]] = None) -> list[ImageSummary]:
        """`images`: every image but a build's intermediate steps (all with all_), or the one
        that name is, that the filters (KEY=VALUE, podman's keys) match."""
        from .imagestore import summaries

        return summaries(self.rt, name, all_, filters)

    def history(self, name: str) -> list[dict[str, Any]]:
        """`image history`: one entry per step, newest first, ids in full."""
        from .imagestore import image_history

        return image_history(self.rt, name)

    def inspect(self, names: list[str]) -> list[Report]:
        """`image inspect`: one report per name, its inspect document or its error."""
        from .imagestore import image_document, lookup

        reports = []
        for name in names:
            try:
                reports.append(Report(name, image_document(self.rt, lookup(self.rt, name))))
            except PodpyError as exc:
                reports.append(Report(name, error=exc))
        return reports

    def diff(self, name: str, other: Optional[str] = None) -> list[tuple[str, str]]:
        """`image diff`: (A, C or D, path) for what the image's top layer changed against its
        parent layers, or what the image has against the other image."""
        from ..errors import NoSuchImage
        from .imagediff import image_diff
        from .imagestore import lookup

        def find(ref: str) -> Image:
            try:
                return lookup(self.rt, ref)
            except NoSuchImage as exc:
                raise NoSuchImage(f"{ref} not found: {exc}") from None

        return image_diff(self.rt, find(name), find(other) if other is not None else None)

    def tree(self, name: str, whatrequires: bool = False) -> Any:
        """`image tree`: the image's layers (an imagetree.ImageTree), or with whatrequires its top
        layer and the layers and images built on it."""
        from .imagestore import lookup
        from .imagetree import image_tree

        return image_tree(self.rt, lookup(self.rt, name), whatrequires)

    def exists(self, name: str) -> bool:
        from .imagestore import exists

        return exists(self.rt, name)
