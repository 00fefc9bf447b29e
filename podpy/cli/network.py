"""Network commands: network create, ls, inspect, rm, prune, connect, disconnect, exists."""

from __future__ import annotations

from typing import List, Optional

import typer

from . import render
from .app import runtime

COLUMNS = [("NETWORK ID", "ID"), ("NAME", "Name"), ("DRIVER", "Driver")]


def create(
    ctx: typer.Context,
    name: Optional[str] = typer.Argument(None, help="Network name (default: podmanN)."),
    driver: str = typer.Option("bridge", "-d", "--driver", help="Network driver: bridge."),
    subnet: Optional[str] = typer.Option(None, "--subnet", help="IPv4 subnet, e.g. 10.90.0.0/24."),
    gateway: Optional[str] = typer.Option(None, "--gateway", help="Gateway address (default: the first host)."),
    ip_range: Optional[str] = typer.Option(None, "--ip-range", help="Give containers addresses from this range."),
    internal: bool = typer.Option(False, "--internal", help="No way out of the network."),
    label: List[str] = typer.Option([], "-l", "--label", help="Set metadata (K=V)."),
    disable_dns: bool = typer.Option(False, "--disable-dns", help="No DNS responder on the network."),
    ignore: bool = typer.Option(False, "--ignore", help="Do nothing if it exists already."),
    opt: List[str] = typer.Option([], "-o", "--opt", help="Driver options (none are supported)."),
) -> None:
    """Create a user network; print its name."""
    from ..engine import networks
    from ..errors import InvalidArgument
    from ..options import parse_labels

    if opt:
        raise InvalidArgument(f"unsupported network options: {', '.join(opt)}")
    net = networks.create(runtime(ctx), name, driver, subnet, gateway, ip_range, internal, parse_labels(label),
                          ignore=ignore, disable_dns=disable_dns)
    render.out(net["name"])


def ls(
    ctx: typer.Context,
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Print only the names."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json, or a Go template."),
    filters: List[str] = typer.Option([], "-f", "--filter", help="name=, id=, driver=, label=K[=V]."),
    no_trunc: bool = typer.Option(False, "--no-trunc", help="Full network ids."),
    noheading: bool = typer.Option(False, "-n", "--noheading", help="Do not print the header."),
) -> None:
    """List networks."""
    from ..engine import networks
    from ..errors import InvalidArgument

    rt = runtime(ctx)
    nets = networks.all_networks(rt)
    for f in filters:
        key, _, value = f.partition("=")
        if key == "name":
            nets = [n for n in nets if value in n["name"]]
        elif key == "id":
            nets = [n for n in nets if n["id"].startswith(value)]
        elif key == "driver":
            nets = [n for n in nets if n["driver"] == value]
        elif key == "label":
            k, eq, v = value.partition("=")
            nets = [n for n in nets if k in (n.get("labels") or {}) and (not eq or n["labels"][k] == v)]
        else:
            raise InvalidArgument(f"invalid filter {f!r}: use name=, id=, driver= or label=")
    if quiet:
        for n in nets:
            render.out(n["name"])
        return
    rows = []
    for n in nets:
        row = networks.describe(n, len(networks.users(rt, n)))
        if no_trunc:
            row["ID"] = n["id"]
        rows.append(row)
    render.formatted(rows, fmt, COLUMNS, json_rows=nets, header_overrides={"ID": "NETWORK ID"},
                     noheading=noheading)


def inspect(
    ctx: typer.Context,
    names: List[str] = typer.Argument(..., help="Networks."),
    fmt: Optional[str] = typer.Option(None, "-f", "--format", help="json, or a Go template."),
) -> None:
    """Show networks' configuration as JSON."""
    from ..engine import networks

    render.inspect(networks.inspect(runtime(ctx), names), fmt)


def rm(
    ctx: typer.Context,
    names: List[str] = typer.Argument(..., help="Networks to remove."),
    force: bool = typer.Option(False, "-f", "--force", help="Remove the containers that use them too."),
) -> None:
    """Remove networks."""
    from ..engine import networks
    from ..errors import PodpyError

    rt = runtime(ctx)
    code = 0
    for name in names:
        try:
            render.out(networks.remove(rt, name, force))
        except PodpyError as exc:
            render.error(str(exc))
            code = exc.exit_code
    raise typer.Exit(code)


def prune(
    ctx: typer.Context,
    force: bool = typer.Option(False, "-f", "--force", help="Do not ask for confirmation."),
) -> None:
    """Remove every network no container uses (not the default one)."""
    from ..engine import networks

    if not force and not render.confirm(
            "network prune", "WARNING! This will remove all networks not used by at least one container."):
        return
    for name in networks.prune(runtime(ctx)):
        render.out(name)


def connect(
    ctx: typer.Context,
    network: str = typer.Argument(..., help="Network."),
    container: str = typer.Argument(..., help="Container."),
    alias: List[str] = typer.Option([], "--alias", help="Another name of the container on this network."),
    ip: Optional[str] = typer.Option(None, "--ip", help="The container's IPv4 address on the network."),
    mac: Optional[str] = typer.Option(None, "--mac-address", help="The container's MAC address on the network."),
) -> None:
    """Connect a container to a network."""
    from ..engine import networks

    networks.connect(runtime(ctx), container, network, list(alias), ip, mac)


def disconnect(
    ctx: typer.Context,
    network: str = typer.Argument(..., help="Network."),
    container: str = typer.Argument(..., help="Container."),
    force: bool = typer.Option(False, "-f", "--force", help="Even its last network."),
) -> None:
    """Disconnect a container from a network."""
    from ..engine import networks

    networks.disconnect(runtime(ctx), container, network, force)


def exists(ctx: typer.Context, name: str = typer.Argument(..., help="Network name or id.")) -> None:
    """Exit 0 if the network exists, 1 if not."""
    from ..engine import networks
    from ..errors import NoSuchNetwork

    try:
        networks.lookup(runtime(ctx), name)
    except NoSuchNetwork:
        raise typer.Exit(1)


TOP: dict = {}
GROUP = {"create": (create, {}), "ls": (ls, {}), "list": (ls, {"hidden": True}), "inspect": (inspect, {}),
         "rm": (rm, {}), "remove": (rm, {"hidden": True}), "prune": (prune, {}), "connect": (connect, {}),
         "disconnect": (disconnect, {}), "exists": (exists, {})}
