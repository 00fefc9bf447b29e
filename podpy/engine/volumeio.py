"""A volume's content as a tar: `volume export` and `volume import`.

The files in a volume belong to the containers' ids (the user's subordinate ids), so both
run in the user's user namespace, where those ids are mapped and ours. The content is
the volume's directory, or for a volume bound to a host directory (`-o device=DIR` with
`type=bind` or `o=bind`), that directory.
"""

from __future__ import annotations

import os

from storage.errors import no_space

from ..errors import InvalidArgument, PodpyError, translate
from .context import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional


def _is_tmpfs(vol: dict[str, Any]) -> bool:
    return any(k.lower() == "type" and v.lower() == "tmpfs" for k, v in vol["Options"].items())


def content_dir(rt: Runtime, vol: dict[str, Any]) -> str:
    """Where a volume's files are on the host."""
    opts = {k.lower(): v for k, v in vol["Options"].items() if k in ("type", "device", "o")}
    o = opts.get("o", "").split(",")
    kind = opts.get("type", "").lower()
    if opts.get("device") and (kind == "bind" or (not kind and ("bind" in o or "rbind" in o))):
        return opts["device"]
    return str(vol["Mountpoint"])


def export(rt: Runtime, vol: dict[str, Any], fd: int) -> None:
    """The volume's content, as one tar (PAX), to fd: none for a tmpfs volume, whose
    content lives only in the containers that mount it."""
    try:
        if _is_tmpfs(vol):
            _write(None, fd)
            return
        rt.store.in_userns(_write, content_dir(rt, vol), fd)
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc


def import_(rt: Runtime, vol: dict[str, Any], fd: int) -> None:
    """A tar (gzip, bzip2, xz or zstd compressed, or not) from fd, extracted into the volume:
    paths stay inside it, owners are the tar's (in the containers' ids). A tmpfs volume
    keeps nothing between mounts: the tar is read through, and nothing is kept."""
    try:
        if _is_tmpfs(vol):
            _drain(fd)
            return
        root = content_dir(rt, vol)
        with rt.store.temporary("volume-import") as stage:
            try:
                rt.store.in_userns(_extract_then_move, os.path.join(stage.path, "content"), root, fd)
            except OSError as exc:
                raise no_space(exc, f"importing into volume {vol['Name']}") or exc from None
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc


def _write(root: Optional[str], fd: int) -> None:
    import tarfile

    from storage.export import write_tar

    with os.fdopen(os.dup(fd), "wb") as out:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
            if root is not None:
                write_tar(root, tf)


def _drain(fd: int) -> None:
    import tarfile

    with os.fdopen(os.dup(fd), "rb") as src:
        try:
            with tarfile.open(fileobj=src, mode="r|*") as tf:
                for _ in tf:
                    pass
        except tarfile.TarError as exc:
            raise InvalidArgument(f"reading the tar: {exc}") from exc


def _extract_then_move(staged: str, root: str, fd: int) -> None:
    """The tar is extracted beside the store (a staging directory, removed with whatever it
    holds when this fails or is killed), then moved into the volume by renames: a tar that
    cannot be read whole, or a disk that fills, leaves the volume as it was. A volume on
    another file system (bound to a host directory) gets the tar extracted in place."""
    from storage.archive import ApplyOptions, apply_layer

    options = ApplyOptions(whiteout_format="vfs", chown="ignore_errors")
    with os.fdopen(os.dup(fd), "rb") as src:
        if os.stat(os.path.dirname(staged)).st_dev != os.stat(root).st_dev:
            apply_layer(src, root, options)
            return
        os.mkdir(staged, 0o755)
        apply_layer(src, staged, options)
    _move_into(staged, root)


def _move_into(src: str, dst: str) -> None:
    """Every entry of directory src into directory dst: a directory present in both is
    merged, anything else replaces what dst has under its name."""
    import shutil

    for name in os.listdir(src):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        s_dir = os.path.isdir(s) and not os.path.islink(s)
        if s_dir and os.path.isdir(d) and not os.path.islink(d):
            _move_into(s, d)
            st = os.lstat(s)
            os.chmod(d, st.st_mode & 0o7777)
            continue
        if os.path.isdir(d) and not os.path.islink(d):
            shutil.rmtree(d)
        os.rename(s, d)
