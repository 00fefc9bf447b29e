"""`generate spec`: podman's SpecGenerator JSON of an existing container, or the
PodSpecGenerator of a pod, made from the options podpy kept (podmanspec.py writes them).

A container's options are its `run`/`create` command line parsed again (by the front end's
parser, handed in), as `container clone` reads them (clone.py); a pod's are its PodConfig, as
`pod clone` reads them (podclone.py). Either spec is what POST /libpod/containers/create or
/libpod/pods/create takes, on podpy's service or podman's. As podman's, the spec names a new
container or pod (NAME-clone, or the next free NAME-cloneN) unless new_name is false. An option
that cannot be written in a spec is refused in one line rather than dropped.
"""

from __future__ import annotations

from ..errors import NoSuchContainer, NoSuchPod
from .context import Runtime
from .reconcile import reconcile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

WHY = "it was made with this option, which podpy cannot write in a SpecGenerator"


def generate_spec(rt: Runtime, name: str, parse: Callable[[list[str]], dict[str, Any]],
                  new_name: bool = True) -> dict[str, Any]:
    """The SpecGenerator of the container name (a container's name first, as podman looks),
    or else the PodSpecGenerator of the pod name."""
    reconcile(rt)
    try:
        rec = rt.state.lookup(name)
    except NoSuchContainer:
        rec = None
    if rec is not None:
        return _container_spec(rt, rec, parse, new_name)
    from .podstore import PodStore

    try:
        pod = PodStore(rt.db, rt.cfg.namespace or "").lookup(name)
    except NoSuchPod:
        raise NoSuchContainer(f"could not find a pod or container with the id {name}") from None
    return _pod_spec(rt, pod, new_name)


def _container_spec(rt: Runtime, rec: Any, parse: Callable[[list[str]], dict[str, Any]],
                    new_name: bool) -> dict[str, Any]:
    from .clone import clone_name, made_by
    from .podmanspec import spec_generator
    from .runoptions import CreateOptions

    fields = parse(made_by(rec))
    # what acts once, or names the original, is not the new container's
    fields.update(name=None, cidfile=None, replace=False, detach=False)
    opts = CreateOptions(**{k: v for k, v in fields.items() if k in CreateOptions.FIELDS})
    opts.create_command = list(rec.config.create_command)
    spec = spec_generator(opts, "generate spec", WHY)
    spec["name"] = clone_name(rt, rec.name) if new_name else rec.name
    # the image the container was made from, by the name that finds it on any store that has it
    spec["image"] = spec["raw_image_name"] = rec.image_name or rec.image_id
    return {"name": spec.pop("name"), **spec}


def _pod_spec(rt: Runtime, pod: Any, new_name: bool) -> dict[str, Any]:
    from .podclone import clone_create_options, pod_clone_name
    from .podmanspec import pod_spec_generator
    from .podoptions import PodCreateOptions
    from .podstore import PodStore

    name = pod_clone_name(rt, PodStore(rt.db, rt.cfg.namespace or ""), pod.name) if new_name else pod.name
    fields = clone_create_options(rt, pod, "", name, {})
    if fields.get("infra_image", None) is None:
        fields.pop("infra_image", None)
    return pod_spec_generator(PodCreateOptions(**fields), "generate spec", WHY)
