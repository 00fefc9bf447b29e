"""`create`'s network decisions: the mode, published ports, user networks with their
addresses, and what goes into /etc/hosts and /etc/resolv.conf."""

from __future__ import annotations

import os

from . import options as netopts
from ..errors import InvalidArgument, NoSuchContainer
from ..engine.context import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..engine.runoptions import CreateOptions

DISCARDED = ("Port mappings have been discarded as one of the Host, Container, Pod, and None network modes "
             "are in use")


def resolve(rt: Runtime, o: CreateOptions, icfg: dict[str, Any]) -> dict[str, Any]:
    """The ContainerConfig fields for the network, validated (nothing is made here)."""
    default_cmd, _ = netopts.default_rootless_cmd(rt.cfg.config_dir)
    choice = netopts.parse_network(list(o.network), default_cmd)
    mode, options = choice.mode, dict(choice.options)
    if mode == "container":
        try:
            other = rt.state.lookup(options["container"])
        except NoSuchContainer as exc:
            raise InvalidArgument(f"looking up container to share net namespace with: {exc}") from None
        mode, options = f"container:{other.id}", {}
    elif mode == "ns":
        if not os.path.exists(options["path"]):
            raise InvalidArgument(f"network namespace {options['path']} does not exist")
        mode, options = f"ns:{options['path']}", {}
    elif mode == "pasta" and not _installed("pasta"):
        raise InvalidArgument("--network pasta needs pasta, which is not installed (Debian: apt-get install passt)")
    exposed = netopts.image_exposed(icfg)
    for item in o.expose:
        exposed += [e for e in netopts.parse_expose(item) if e not in exposed]
    ports: list[dict[str, Any]] = []
    for item in o.publish:
        ports += netopts.parse_publish(item)
    if (ports or o.publish_all) and (mode in ("host", "none") or mode.startswith(("container:", "ns:"))):
        rt.cfg.warnings.append(DISCARDED)
        ports, publish_all = [], []
    else:
        publish_all = exposed if o.publish_all else []
    ports = netopts.settle_ports(ports, publish_all)
    if len(ports) > netopts.MAX_PUBLISHED:
        raise InvalidArgument(f"at most {netopts.MAX_PUBLISHED} published ports ({len(ports)} asked for)")
    networks: dict[str, dict[str, Any]] = {}
    if mode == "bridge":
        from .table import check_attach

        networks = check_attach(rt, choice.networks, list(o.network_aliases), o.ip, o.mac_address, o.ip6)
    elif o.ip or o.ip6 or o.mac_address or o.network_aliases:
        raise InvalidArgument("--ip, --ip6, --mac-address and --network-alias need a user network "
                              "(--network NAME): the network mode is " + mode.partition(":")[0])
    if (o.dns or o.dns_search or o.dns_options) and o.network and (mode == "none" or mode.startswith("container:")):
        # no resolv.conf of its own to write them in (podman's words)
        raise InvalidArgument(f"conflicting options: dns and the network mode: {mode.partition(':')[0]}")
    if o.add_hosts and o.network and mode.startswith("container:"):
        # its /etc/hosts is the other container's (with a line for itself): podman's words
        raise InvalidArgument("invalid config provided: cannot set extra host entries when the container is "
                              "joined to another containers network namespace: invalid configuration")
    add_hosts = [list(netopts.parse_add_host(h)) for h in o.add_hosts]
    dns = netopts.parse_dns(list(o.dns), list(o.dns_search), list(o.dns_options))
    return {"network": mode, "network_options": options, "ports": ports,
            "exposed": [list(e) for e in exposed], "networks": networks, "dns": dns, "add_hosts": add_hosts}


def _installed(name: str) -> bool:
    for d in os.get_exec_path():
        if os.access(os.path.join(d, name), os.X_OK):
            return True
    return False


def allocate(rt: Runtime, cid: str, fields: dict[str, Any]) -> None:
    """Give the container its addresses on its user networks (before its row is made)."""
    if fields["networks"]:
        from .table import allocate_addresses

        allocate_addresses(rt, cid, fields["networks"])


def release(rt: Runtime, cid: str, fields: dict[str, Any]) -> None:
    """Undo allocate() for a container that was not made after all."""
    if fields["networks"]:
        from .table import release_addresses

        release_addresses(rt, cid)
