"""`image tree`: an image's layers, bottom first, or (`--whatrequires`) the layers and images built on
its top layer, as podman 4.3.1 draws them.

The layer graph is read from the images' layer lists (a layer's parent is the one below it in
any image that has it), each layer marked with the names of the images whose top layer it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .context import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from storage.images import Image


@dataclass
class LayerNode:
    id: str
    size: int
    tags: list[str] = field(default_factory=list)      # the names of the images it is the top layer of
    children: list["LayerNode"] = field(default_factory=list)


@dataclass
class ImageTree:
    id: str
    tags: list[str]
    size: int
    layers: list[LayerNode]      # bottom first; with whatrequires, the top layer with what is on it


def image_tree(rt: Runtime, image: Image, whatrequires: bool) -> ImageTree:
    sizes = rt.store.layer_sizes()
    created = {r[0]: float(r[1]) for r in rt.db.conn.execute("SELECT id, created FROM layers")}
    nodes: dict[str, LayerNode] = {}
    parent_of: dict[str, str] = {}

    def node(lid: str) -> LayerNode:
        if lid not in nodes:
            nodes[lid] = LayerNode(lid, sizes.get(lid, 0))
        return nodes[lid]

    for other in rt.store.images():
        for below, lid in zip((None,) + tuple(other.layers), other.layers):
            node(lid)
            if below is not None:
                parent_of.setdefault(lid, below)
        if other.layers:
            node(other.layers[-1]).tags.extend(other.names)
    for lid in sorted(parent_of, key=lambda lid: (created.get(lid, 0.0), lid)):
        nodes[parent_of[lid]].children.append(nodes[lid])
    if not image.layers:
        layers: list[LayerNode] = []
    elif whatrequires:
        layers = [nodes[image.layers[-1]]]
    else:
        layers = [LayerNode(lid, nodes[lid].size, nodes[lid].tags) for lid in image.layers]
    return ImageTree(image.id, list(image.names), image.size, layers)
