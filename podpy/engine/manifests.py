"""The manifest engine: one method per `manifest` verb (create, add, annotate, remove, inspect,
exists, rm, push), the interface every front end calls.

The lists themselves are manifeststore.py's (a list is an image row holding the list), what
a reference adds manifestadd.py's, and pushing manifestpush.py's.
"""

from __future__ import annotations

from ..errors import InvalidArgument, NoSuchImage, PodpyError
from .context import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .entities import ImageRemoveReport
    from .manifestadd import AddOptions
    from .manifestpush import ManifestPushOptions


def _quiet(_line: str) -> None:
    pass


class ManifestEngine:
    """The manifest-list verbs over one store."""

    def __init__(self, rt: Runtime, progress: Optional[Callable[[str], None]] = None) -> None:
        self.rt = rt
        self.progress = progress or _quiet

    def create(self, name: str, images: list[str], opts: AddOptions, amend: bool = False) -> str:
        """`manifest create`: a list under name holding the images given (every instance of a
        registry list among them with opts.all); its id. Nothing is stored unless every image
        could be added."""
        from . import manifeststore as store
        from .manifestadd import instances

        ml = store.ManifestList()
        for ref in images:
            found = instances(self.rt, ref, opts)
            for e in found.entries:
                ml.put(e, found.sources.get(e["digest"]))
        return store.create(self.rt, name, ml, amend)

    def add(self, name: str, ref: str, opts: AddOptions) -> str:
        """`manifest add`: the instances ref names added to the list (replacing one with the
        same digest); the list's id."""
        from . import manifeststore as store
        from .manifestadd import instances

        image, ml = store.load(self.rt, name)
        found = instances(self.rt, ref, opts)
        for e in found.entries:
            ml.put(e, found.sources.get(e["digest"]))
        store.save(self.rt, image.id, ml)
        return image.id

    def annotate(self, name: str, digest: str, opts: AddOptions) -> str:
        """`manifest annotate`: platform fields and annotations of the instance digest."""
        from . import manifeststore as store
        from .manifestadd import override

        image, ml = store.load(self.rt, name)
        i = ml.find(store.check_digest(digest))
        if i < 0:
            raise PodpyError(f"no instance matching digest \"{digest}\" found in manifest list")
        ml.entries[i] = override(ml.entries[i], opts)
        store.save(self.rt, image.id, ml)
        return image.id

    def remove(self, name: str, digest: str) -> str:
        """`manifest remove`: the instance digest taken out of the list."""
        from . import manifeststore as store

        image, ml = store.load(self.rt, name)
        if ml.find(store.check_digest(digest)) < 0:
            raise PodpyError(f"removing from manifest list {name}: no instance matching digest \"{digest}\" "
                             "found in manifest list")
        ml.drop(digest)
        store.save(self.rt, image.id, ml)
        return image.id

    def inspect(self, name: str, tls_verify: Optional[bool] = None) -> dict[str, Any]:
        """`manifest inspect`: a local list's document; for any other name, the manifest a
        registry serves for it (a list, or one image's manifest)."""
        from . import manifeststore as store

        try:
            _image, ml = store.load(self.rt, name)
            return ml.document()
        except (NoSuchImage, InvalidArgument):
            pass
        return _remote_manifest(self.rt, name, tls_verify)

    def exists(self, name: str) -> bool:
        """`manifest exists`: whether name is a local list (an image that is not one is an error)."""
        from . import manifeststore as store

        try:
            store.load(self.rt, name)
        except NoSuchImage:
            return False
        return True

    def rm(self, names: list[str]) -> list[ImageRemoveReport]:
        """`manifest rm`: each list removed (its images stay); one report per name."""
        from . import manifeststore as store
        from .entities import ImageRemoveReport
        from .imagestore import remove_images

        reports = []
        for name in names:
            try:
                store.load(self.rt, name)
            except PodpyError as exc:
                reports.append(ImageRemoveReport(name, error=exc))
                continue
            reports.extend(remove_images(self.rt, [name], False))
        return reports

    def push(self, name: str, opts: ManifestPushOptions) -> str:
        """`manifest push`: the list (with opts.all its images first) to a registry; the
        pushed list's digest."""
        from .manifestpush import push_list

        return push_list(self.rt, name, opts, self.progress)


def _remote_manifest(rt: Runtime, name: str, tls_verify: Optional[bool]) -> dict[str, Any]:
    import json

    from storage import reference
    from storage.transports.registry import RegistryError

    from ..errors import translate
    from ..registry.conf import load
    from .pull import PullOptions, _client, endpoints

    if name.startswith("docker://"):
        name = name[len("docker://"):]
    conf = load(rt.cfg.config_dir)
    popts = PullOptions(name=name, tls_verify=tls_verify)
    errors = []
    try:
        cands = reference.pull_candidates(name, conf.short_names())
    except Exception as exc:  # noqa: BLE001
        raise NoSuchImage(f"{name}: image not known") from exc
    for ref in cands:
        ep = endpoints(ref, conf)[-1]
        try:
            with _client(ep, popts) as client:
                raw, _type, _digest = client.get_manifest(ep.repository, ref.digest or ref.tag or "latest")
            return dict(json.loads(raw))
        except RegistryError as exc:
            errors.append(str(exc))
        except ValueError as exc:
            raise translate(exc) from exc
    raise NoSuchImage(f"reading image {name!r}: " + "; ".join(errors))
