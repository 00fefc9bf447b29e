"""The image verbs' work on the store (import, history, list, remove, prune, tag) and what
pull, push, load, commit and build share (host_arch, apply_options, apply_changes). The
interface that front ends call is ImageEngine (images.py)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shlex
from typing import Any, Callable, Optional

from storage import reference
from storage.images import Image, name_for

from ..formats import rfc3339
from ..errors import InvalidArgument, NoSuchImage, PodpyError, translate
from .context import Runtime
from .entities import ImageRemoveReport, ImageSummary
from .reconcile import reconcile

_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
         "s390x": "s390x", "riscv64": "riscv64", "i686": "386"}


def host_arch() -> str:
    m = platform.machine()
    return _ARCH.get(m, m)


def apply_changes(changes: list[str], cfg: dict[str, Any]) -> None:
    """--change 'CMD ...' and friends, as `podman import -c` takes them."""
    for change in changes:
        text = change.strip()
        # KEY VALUE, or KEY=VALUE as podman takes it too (`CMD=/bin/true`, `ENV=X=1`)
        cut = min((i for i in (text.find(" "), text.find("\t"), text.find("=")) if i >= 0), default=len(text))
        word, rest = text[:cut].upper(), text[cut + 1:].strip()
        if word in ("CMD", "ENTRYPOINT"):
            if rest.startswith("["):
                try:
                    value = json.loads(rest)
                except ValueError as exc:
                    raise InvalidArgument(f"invalid --change {change!r}: {exc}") from exc
            else:
                value = ["/bin/sh", "-c", rest]
            cfg["Cmd" if word == "CMD" else "Entrypoint"] = value
        elif word == "ENV":
            k, eq, v = rest.partition("=")
            if not eq:
                k, _, v = rest.partition(" ")
            if not k:
                raise InvalidArgument(f"invalid --change {change!r}")
            env = [e for e in cfg.get("Env", []) if not e.startswith(k + "=")]
            cfg["Env"] = env + [f"{k}={v.strip()}"]
        elif word == "WORKDIR":
            cfg["WorkingDir"] = rest
        elif word == "USER":
            cfg["User"] = rest
        elif word == "LABEL":
            for item in shlex.split(rest):
                k, _, v = item.partition("=")
                cfg.setdefault("Labels", {})[k] = v
        elif word == "EXPOSE":
            for port in rest.split():
                cfg.setdefault("ExposedPorts", {})[port if "/" in port else port + "/tcp"] = {}
        elif word == "VOLUME":
            vols = json.loads(rest) if rest.startswith("[") else rest.split()
            for v in vols:
                cfg.setdefault("Volumes", {})[v] = {}
        elif word == "STOPSIGNAL":
            cfg["StopSignal"] = rest
        else:
            raise InvalidArgument(f"invalid --change {change!r}: unknown instruction {word}")


def apply_options(rt: Runtime) -> Any:
    """How this store unpacks layers: its driver's whiteouts, and owners as the id map allows."""
    from storage.archive import ApplyOptions

    driver = rt.store.driver
    # without subordinate ids, or with --storage-opt ignore_chown_errors=true, owners that cannot be
    # set are left as they come out (podman's ignore_chown_errors)
    full_map = (not rt.cfg.rootless or not rt.id_mappings.warning) and not rt.cfg.ignore_chown_errors
    return ApplyOptions(
        whiteout_format=driver.whiteout_format(),  # type: ignore[arg-type]
        opaque_xattr=driver.opaque_xattr() or "user.overlay.opaque",
        chown="full" if full_map else "ignore_errors",
        create_devices=not rt.cfg.rootless,
    )


def import_image(rt: Runtime, source: str, name: Optional[str], changes: list[str], message: str,
                 platform: tuple[Optional[str], Optional[str], Optional[str]] = (None, None, None)) -> Image:
    """`import`: a rootfs tarball (file, "-" or an http(s) URL) becomes a one-layer image;
    platform: (os, architecture, variant) its configuration names, each unchecked as podman
    leaves it (this host's os and architecture when not given or empty)."""
    os_, arch, variant = platform
    url = source.startswith(("http://", "https://"))
    if source != "-" and not url and not os.path.isfile(source):
        raise InvalidArgument(f"cannot import {source}: no such file")
    target = reference.normalize_local(name) if name else None
    cfg: dict[str, Any] = {}
    apply_changes(changes, cfg)
    reconcile(rt)
    options = apply_options(rt)
    try:
        layer_id, result = rt.store.apply_layer(_url_opener(source) if url else source, None, options)
        now = rfc3339(_now())
        config = {
            "created": now,
            "architecture": arch or host_arch(),
            **({"variant": variant} if variant else {}),
            "os": os_ or "linux",
            "config": cfg,
            "rootfs": {"type": "layers", "diff_ids": [result.diff_id]},
            "history": [{"created": now, "created_by": f"/bin/sh -c #(nop) ADD file:{result.diff_id[7:]} in / ",
                         **({"comment": message} if message else {})}],
        }
        image = rt.store.create_image(config, [layer_id], [target] if target else [])
        from ..events import emit

        emit(rt.cfg.runroot, "image", "import", image.id, target or "")
        return image
    except PodpyError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc


def _url_opener(url: str) -> Callable[[], Any]:
    """Opens the URL in the process that applies the layer, streaming it."""
    def opener() -> Any:
        import urllib.error
        import urllib.request

        try:
            return urllib.request.urlopen(url, timeout=60)  # noqa: S310 - http(s) only, checked above
        except (urllib.error.URLError, OSError) as exc:
            raise InvalidArgument(f"cannot import {url}: {getattr(exc, 'reason', exc)}") from exc

    return opener


def history(image: Image, layer_sizes: dict[str, int], no_trunc: bool,
            others: Optional[list[Image]] = None) -> list[dict[str, Any]]:
    """`image history`: one row per history entry, newest first, as podman prints them; an entry
    that ends another stored image (a build's step) shows that image's id."""
    from ..formats import ago

    ends: dict[int, str] = {}
    mine = _steps(image)
    for other in others or []:
        theirs = _steps(other)
        if theirs and len(theirs) < len(mine) and mine[:len(theirs)] == theirs \
                and tuple(image.layers[:len(other.layers)]) == tuple(other.layers):
            ends[len(theirs) - 1] = other.id

    entries = list(image.config.get("history") or [])
    diff_ids = list((image.config.get("rootfs") or {}).get("diff_ids") or [])
    sizes = [layer_sizes.get(lid, 0) for lid in image.layers]
    rows, layer = [], 0
    for h in entries:
        size = 0
        if not h.get("empty_layer"):
            size = sizes[layer] if layer < len(sizes) else 0
            layer += 1
        found = ends.get(len(rows))
        rows.append({"created": h.get("created", ""), "CreatedBy": h.get("created_by", ""), "size": size,
                     "comment": h.get("comment", ""), "tags": None,
                     "ID": "<missing>" if found is None else found if no_trunc else found[:12]})
    if not rows:  # no history recorded: one row per layer
        rows = [{"created": "", "CreatedBy": "", "size": sizes[i] if i < len(sizes) else 0, "comment": "",
                 "ID": "<missing>", "tags": None} for i in range(len(diff_ids))]
    rows.reverse()
    if rows:
        rows[0]["ID"] = image.id if no_trunc else image.id[:12]
        rows[0]["tags"] = list(image.names) or None
    for r in rows:
        r["Created"] = ago(_parse_time(r["created"])) if r["created"] else ""
        r["Size"] = _human(r["size"])
        r["Comment"] = r["comment"]
        r["Tags"] = r["tags"]
        r["id"] = r["ID"]
    return rows


def image_history(rt: Runtime, name: str) -> list[dict[str, Any]]:
    """`image history` of a stored image, ids in full."""
    image = lookup(rt, name)
    return history(image, rt.store.layer_sizes(), True, rt.store.images())


def _parse_time(text: str) -> Optional[float]:
    try:
        t = text.rstrip("Z").split(".")[0]
        return _dt.datetime.fromisoformat(t).replace(tzinfo=_dt.timezone.utc).timestamp()
    except ValueError:
        return None


def _human(n: int) -> str:
    from ..formats import human_size

    return human_size(n)


def _steps(image: Image) -> tuple[tuple[str, str], ...]:
    return tuple((str(h.get("created", "")), str(h.get("created_by", "")))
                 for h in image.config.get("history") or [])


def parents(images: list[Image]) -> dict[str, str]:
    """child id -> parent id: the image a build step started from, as podman finds it: the
    parent's layers and history begin the child's, and the child's history is longer (the
    longest such parent)."""
    by_steps: dict[tuple[tuple[str, str], ...], list[Image]] = {}
    steps = {}
    for i in images:
        steps[i.id] = _steps(i)
        if steps[i.id]:
            by_steps.setdefault(steps[i.id], []).append(i)
    out: dict[str, str] = {}
    for child in images:
        cs = steps[child.id]
        for n in range(len(cs) - 1, 0, -1):
            cands = [c for c in by_steps.get(cs[:n], ())
                     if tuple(child.layers[:len(c.layers)]) == tuple(c.layers)]
            if cands:
                out[child.id] = cands[0].id
                break
    return out


def intermediate(images: list[Image]) -> set[str]:
    """Unnamed images that other images were built on (a build's steps): `images` lists them
    only with -a, and `image prune` leaves them while what was built on them is kept."""
    with_children = set(parents(images).values())
    return {i.id for i in images if not i.names and i.id in with_children}


def prune(rt: Runtime, all_: bool, filters: Optional[list[str]] = None,
          also: Optional[Callable[[Image], bool]] = None) -> list[str]:
    """`image prune`: remove dangling images (no name and nothing built on them, over and over, so
    a removed build's steps go too), or with all_ every image no container uses, of those that
    the filters (podman's image filters) match and `also` says yes to (system prune's label and
    time filters); then the layer cache entries of the removed images."""
    from . import imagefilter

    words = list(filters or [])
    for f in words:
        if "=" not in f:
            raise InvalidArgument(f"filter input must be in the form of filter=value: {f} is invalid")
    pairs = imagefilter.parse(words)
    reconcile(rt)
    used = {r.image_id for r in rt.state.all()}
    removed: list[str] = []
    while True:
        images = rt.store.images()
        match = imagefilter.matcher(images, pairs, {i: 1 for i in used}, parents(images),
                                    lambda n: lookup(rt, n))
        keep = intermediate(images) if not all_ else set()
        doomed = [i for i in images if i.id not in used and i.id not in keep and (all_ or not i.names) and match(i)
                  and (also is None or also(i))]
        if not doomed:
            break
        for image in doomed:
            _delete_image(rt, image.id)
            removed.append(image.id)
        if all_:
            break
    _forget_cache(rt)
    return removed


def prune_build_cache(rt: Runtime, all_: bool, filters: Optional[list[str]] = None) -> tuple[list[str], int]:
    """Docker's `builder prune`: the build cache is the unnamed images builds committed for
    their steps (imagebuild/cache.py); remove those no container uses that nothing is built on
    (a removed step's parent step goes too), or with all_ every one of them, as `image prune`
    removes images (the filters: its filters). The ids removed and the bytes their layers
    took that no other image shares."""
    from ..imagebuild.cache import Cache

    before = {layer for i in rt.store.images() for layer in i.layers}
    Cache(rt.db)   # its table made, on a store no build has used yet
    cached = {row[0] for row in rt.db.conn.execute("SELECT image_id FROM build_cache")}
    sizes = {row[0]: int(row[1]) for row in rt.db.conn.execute("SELECT id, size FROM layers")}
    removed = prune(rt, all_, filters, also=lambda i: not i.names and i.id in cached)
    after = {layer for i in rt.store.images() for layer in i.layers}
    return removed, sum(sizes.get(layer, 0) for layer in before - after)


def _delete_image(rt: Runtime, image_id: str) -> list[str]:
    """Remove an image from the store (its names, then what no other image uses), after its
    mount on the host if it has one, whatever the mount's counter (as podman's rmi does)."""
    from .mounttable import IMAGE, any_mount

    if any_mount(rt, IMAGE, image_id):
        from .mounts import release

        release(rt, IMAGE, image_id)
    return rt.store.delete_image(image_id, in_use=False, user=lambda c: _user(c, image_id))


def _user(c: Any, image_id: str) -> Optional[str]:
    row = c.execute("SELECT id FROM containers WHERE image_id=? LIMIT 1", (image_id,)).fetchone()
    return str(row[0]) if row else None


def _forget_cache(rt: Runtime) -> None:
    from ..imagebuild.cache import forget_missing

    forget_missing(rt.db)


def _dangling_parents(rt: Runtime, image: Image, before: list[Image], used: set[str]) -> list[str]:
    """After `rmi` of image: the unnamed images it was built on that nothing else uses, removed
    too (podman removes a build's steps with its image)."""
    removed: list[str] = []
    parent_of = parents(before)
    current = parent_of.get(image.id)
    while current:
        now = rt.store.images()
        found = next((i for i in now if i.id == current), None)
        if found is None or found.names or found.id in used or found.id in set(parents(now).values()):
            break
        _delete_image(rt, found.id)
        removed.append(found.id)
        current = parent_of.get(found.id)
    return removed


def _now() -> float:
    import time

    return time.time()


def own_store(rt: Runtime, t: Any) -> None:
    """A containers-storage [spec] may name only this store."""
    from storage.transports.refs import store_root

    root = store_root(t.store_spec) if t.store_spec is not None else ""
    if root and os.path.abspath(root) != os.path.abspath(rt.cfg.root):
        raise InvalidArgument(f"{t}: podpy uses only its own store ({rt.cfg.root}), not {root}")


def lookup(rt: Runtime, name: str) -> Image:
    """The stored image name (or id) stands for; `containers-storage:[SPEC]NAME` is NAME, as in
    podman, and another transport's reference is refused."""
    name = local_name(rt, name)
    try:
        return rt.store.image(name, rt.cfg.short_names)
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc


def local_name(rt: Runtime, name: str) -> str:
    """name, without a `containers-storage:[SPEC]` in front; another transport is refused."""
    if ":" in name:
        from storage.transports import refs

        transport = refs.transport_of(name)
        if transport == refs.STORAGE:
            try:
                t = refs.parse(name)
            except Exception as exc:  # noqa: BLE001
                raise translate(exc) from exc
            assert t is not None
            own_store(rt, t)
            name = t.name or ""
        elif transport is not None:
            raise InvalidArgument(f'unsupported transport "{transport}" for looking up local images')
    return name


def image_document(rt: Runtime, image: Image) -> dict[str, Any]:
    """`image inspect` of one image."""
    from .reports import image_inspect

    return image_inspect(image, rt.store.driver.name, rt.store.layer_dirs(image))


def summaries(rt: Runtime, name: Optional[str], all_: bool, filters: Optional[list[str]] = None) -> list[ImageSummary]:
    """`images`: every image but a build's intermediate steps (all of them with all_), those
    named like name if given (the reference filter), that the filters (podman's,
    imagefilter.py) match; each with the number of containers that use it."""
    from . import imagefilter
    from .reports import created_time, image_json

    pairs = imagefilter.parse(list(filters or []))
    if not all_:
        pairs.append(("intermediate", "false"))   # as podman's `images` asks without -a
    found = rt.store.images()
    counts: dict[str, int] = {}
    for rec in rt.state.all():
        counts[rec.image_id] = counts.get(rec.image_id, 0) + 1
    if name:   # as podman: the reference filter (no image is an empty list, not an error)
        pairs.append(("reference", name))
    match = imagefilter.matcher(found, pairs, counts, parents(found), lambda n: lookup(rt, n))
    return [ImageSummary(i, counts.get(i.id, 0), created_time(i), image_json(i, counts.get(i.id, 0)))
            for i in found if match(i)]


def remove_images(rt: Runtime, names: list[str], force: bool, ignore: bool = False,
                  no_prune: bool = False) -> list[ImageRemoveReport]:
    """`rmi`: an image used by a container is refused unless force (which removes those containers);
    ignore: a name no image has is passed over without a report; no_prune: the unnamed images
    the removed one was built on stay."""
    from .removal import remove_container as remove

    reconcile(rt)
    reports = []
    for name in names:
        try:
            image = lookup(rt, name)
            given = local_name(rt, name)
            users = [r for r in rt.state.all() if r.image_id == image.id]
            # `rmi name` of an image with several names only untags that name.
            full = None
            if not reference.is_hex_id(given) and len(image.names) > 1:
                full = name_for(image.names, given, rt.cfg.short_names)
            if full is not None:
                rt.store.untag(full)
                reports.append(ImageRemoveReport(name, [full]))
                continue
            if users and not force:
                raise PodpyError(
                    f"image used by {users[0].id}: image is in use by a container: consider listing "
                    "external containers and force-removing image")
            for rec in users:
                remove(rt, rec, force=True)
            before = rt.store.images()
            untagged = _delete_image(rt, image.id)
            used = {r.image_id for r in rt.state.all()}
            reports.append(ImageRemoveReport(name, untagged, deleted=image.id,
                                             also=[] if no_prune else _dangling_parents(rt, image, before, used)))
            _forget_cache(rt)
            from ..events import emit

            emit(rt.cfg.runroot, "image", "remove", image.id, name)
        except NoSuchImage as exc:
            if not ignore:
                reports.append(ImageRemoveReport(name, error=exc))
        except PodpyError as exc:
            reports.append(ImageRemoveReport(name, error=exc))
        except Exception as exc:  # noqa: BLE001
            reports.append(ImageRemoveReport(name, error=translate(exc)))
    return reports


def tag(rt: Runtime, source: str, targets: list[str]) -> None:
    image = lookup(rt, source)
    try:
        names = [reference.normalize_local(t) for t in targets]
    except Exception as exc:  # noqa: BLE001
        raise translate(exc) from exc
    from ..events import emit

    for n in names:
        rt.store.tag(image.id, n)
        emit(rt.cfg.runroot, "image", "tag", image.id, n)


def untag(rt: Runtime, source: str, targets: list[str]) -> list[str]:
    """Take names off an image (all of them without targets); a target is the name podman makes
    of it (a short name is localhost/'s, docker.io/x is docker.io/library/x)."""
    image = lookup(rt, source)
    names = []
    for t in targets:
        try:
            found = reference.normalize_local(t)   # as podman: a short name is localhost/'s
        except Exception as exc:  # noqa: BLE001
            raise translate(exc) from exc
        if found not in image.names:
            raise PodpyError(f"{found}: tag not known")
        names.append(found)
    from ..events import emit

    names = names or list(image.names)
    for n in names:
        rt.store.untag(n)
        emit(rt.cfg.runroot, "image", "untag", image.id, n)
    return names


def exists(rt: Runtime, name: str) -> bool:
    try:
        lookup(rt, name)
        return True
    except NoSuchImage:
        return False
