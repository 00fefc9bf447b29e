"""Pull from and push to transport references: archives, layout directories, the store, registries.

`pull` (and so run, create and build's FROM) hands a `TRANSPORT:...` name here
(storage/transports/refs.py parses it); so does `push` for its destination. Names
follow podman's: a docker-archive image keeps its tags (or only the name asked for),
an oci-archive one the name its index entry carries, an OCI directory's image is
`localhost/` and the directory's path, and a `dir:` image comes unnamed.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Optional

from storage import reference
from storage.images import Image
from storage.transports import refs

from ..errors import InvalidArgument, NoSuchImage, PodpyError, translate
from .context import Runtime

Report = Callable[[str], None]


def parse(name: str) -> Optional[refs.TransportRef]:
    """The transport reference name is (None for a plain image name), as an engine error."""
    try:
        return refs.parse(name)
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc


def display_name(image: Image) -> str:
    """What a container made from a pulled image shows as its image: its first name, else its id."""
    return image.names[0] if image.names else image.id


# ---------------------------------------------------------------- pull --


def registry_name(t: refs.TransportRef) -> str:
    """docker://NAME's registry name: fully qualified (docker.io by default, no search registries)."""
    try:
        return reference.normalize_pull(t.name or "")
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc


def pull(rt: Runtime, t: refs.TransportRef, report: Report,
         keys: Optional[list[Any]] = None) -> tuple[Image, str]:
    """Every image t names (not docker://, which pull.py fetches) into the store: the first,
    and the name a container made from it shows (the first name the source gave it, else its
    first name in the store, else its id). keys: --decryption-key's, for an OCI layout's
    encrypted layers."""
    if t.transport == refs.STORAGE:
        image = in_store(rt, t)
        return image, display_name(image)
    images = read(rt, t, report, keys)
    from ..events import emit

    for image, _names in images:
        emit(rt.cfg.runroot, "image", "pull", image.id, str(t))
    image, names = images[0]
    return image, names[0] if names else display_name(image)


def in_store(rt: Runtime, t: refs.TransportRef) -> Image:
    """containers-storage:NAME: the image of this store (a [spec] must name this store)."""
    from .imagestore import lookup

    return lookup(rt, str(t))


def read(rt: Runtime, t: refs.TransportRef, report: Report,
         keys: Optional[list[Any]] = None) -> list[tuple[Image, list[str]]]:
    """The image(s) t names in an archive or a layout directory, applied into the store, each
    with the names the source gave it."""
    from . import sources
    from .reconcile import reconcile

    want_dir = t.transport in (refs.OCI, refs.DIR)
    if not os.path.exists(t.path):
        raise NoSuchImage(f"{t}: no such {'directory' if want_dir else 'file'}: {t.path}")
    if want_dir != os.path.isdir(t.path):
        raise InvalidArgument(f"{t}: {t.path} is {'not ' if want_dir else ''}a directory")
    reconcile(rt)
    try:
        with sources.Files(os.path.abspath(t.path)) as files:
            if t.transport == refs.DOCKER_ARCHIVE:
                _expect(files, "docker-archive", t)
                todo = sources.docker_archive(files, t.name, t.index)
            elif t.transport == refs.OCI_ARCHIVE:
                _expect(files, "oci-archive", t)
                todo = sources.oci_layout(files, t.name, keys=keys)
            elif t.transport == refs.OCI:
                _expect(files, "oci", t)
                todo = sources.oci_layout(files, t.name, name_as=sources.local_name_for(t.path), keys=keys)
            else:
                _expect(files, "dir", t)
                todo = sources.dir_layout(files)
            return list(zip(sources.apply(rt, todo, report), [f.names for f in todo]))
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc


def _expect(files: Any, kind: str, t: refs.TransportRef) -> None:
    from . import sources

    try:
        found = sources.kind_of(files)
    except InvalidArgument:
        found = None
    if found != kind:
        raise InvalidArgument(f"{t}: {t.path} is no {kind} image" + (f" (it is {found})" if found else ""))
