"""Network commands: network create, ls, inspect, rm, prune, connect, disconnect, exists (each one
NetworkEngine call)."""

from __future__ import annotations

from typing import List, Optional

import typer

from . import render
from .app import runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

COLUMNS = [("NETWORK ID", "ID"), ("NAME", "Name"), ("DRIVER", "Driver")]


def engine(ctx: typer.Context) -> Any:
    """The network engine over this command's store."""
    from .app import remote_engine

    remote = remote_engine(ctx, "networks", render.warn)
    if remote is not None:
        return remote
    from ..engine.networks import NetworkEngine

    return NetworkEngine(runtime(ctx), render.warn)


def create(
    ctx: typer.Context,
    name: Optional[str] = typer.Argument(None, help="Network name (default: podmanN)."),
    driver: str = typer.Option("bridge", "-d", "--driver", help="Network driver: bridge."),
    subnet: List[str] = typer.Option([], "--subnet", help="Subnet, e.g. 10.90.0.0/24 or fd10::/64 (one of each "
                                                         "IP version)."),
    gateway: List[str] = typer.Option([], "--gateway", help="Gateway address of the --subnet in its place "
                                                           "(default: the first host)."),
    ip_range: List[str] = typer.Option([], "--ip-range", help="Give containers addresses from this range (of the "
                                                              "--subnet in its place)."),
    ipv6: bool = typer.Option(False, "--ipv6/--no-ipv6", show_default=False, help="IPv6 too: a random unique local /64 unless a --subnet is IPv6."),
    internal: bool = typer.Option(False, "--internal/--no-internal", show_default=False, help="No way out of the network."),
    label: List[str] = typer.Option([], "-l", "--label", help="Set metadata (K=V)."),
    disable_dns: bool = typer.Option(False, "--disable-dns/--no-disable-dns", show_default=False,
                                     help="No DNS responder on the network."),
    interface_name: Optional[str] = typer.Option(None, "--interface-name",
                                                 help="The bridge's name (default: podpyN)."),
    dns: List[str] = typer.Option([], "--dns", help="A name server for the network's containers (instead of "
                                                    "the host's)."),
    ignore: bool = typer.Option(False, "--ignore", help="Do nothing if it exists already."),
    opt: List[str] = typer.Option([], "-o", "--opt", help="Driver options (none are supported)."),
    ipam_driver: Optional[str] = typer.Option(None, "--ipam-driver", help="host-local (default) or none "
                                              "(no addresses)."),
) -> None:
    """Create a user network; print its name."""
    from ..engine.entities import NetworkCreateOptions
    from ..options import parse_labels

    net = engine(ctx).create(NetworkCreateOptions(
        name=name, driver=driver, subnet=list(subnet), gateway=list(gateway), ip_range=list(ip_range),
        internal=internal, labels=parse_labels(label), disable_dns=disable_dns, options=list(opt), ignore=ignore,
        ipv6=ipv6, ipam_driver=ipam_driver, interface_name=interface_name, dns=list(dns)))
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
    from .views import network_row

    nets = engine(ctx).ls(list(filters))
    if quiet:
        for n in nets:
            render.out(n.network["name"])
        return
    render.formatted([network_row(n, no_trunc) for n in nets], fmt, COLUMNS, json_rows=[n.network for n in nets],
                     header_overrides={"ID": "NETWORK ID"}, noheading=noheading)


def inspect(
    ctx: typer.Context,
    names: List[str] = typer.Argument(..., help="Networks."),
    fmt: Optional[str] = typer.Option(None, "-f", "--format", help="json, or a Go template."),
) -> None:
    """Show networks' configuration as JSON."""
    reports = engine(ctx).inspect(list(names))
    render.inspect([r.value for r in reports if r.error is None], fmt)
    error = render.inspect_error(reports)
    if error is not None:
        raise error


def rm(
    ctx: typer.Context,
    names: List[str] = typer.Argument(..., help="Networks to remove."),
    force: bool = typer.Option(False, "-f", "--force", help="Remove the containers that use them too."),
    time: Optional[str] = typer.Option(None, "-t", "--time",
                                       help="With -f: seconds to wait for a container to stop before SIGKILL."),
) -> None:
    """Remove networks."""
    from ..errors import InvalidArgument

    seconds = None
    if time is not None:
        if not time.isdigit():
            raise InvalidArgument(f'invalid argument "{time}" for "-t, --time" flag: strconv.ParseUint: parsing '
                                  f'"{time}": invalid syntax')
        seconds = int(time)
    from ..errors import NoSuchNetwork

    code = 0
    for rep in engine(ctx).rm(list(names), force, seconds):
        if rep.error is None:
            render.out(rep.value)
        else:
            render.error(str(rep.error))
            code = 1 if isinstance(rep.error, NoSuchNetwork) else rep.error.exit_code   # podman's exit codes
    raise typer.Exit(code)


def prune(
    ctx: typer.Context,
    force: bool = typer.Option(False, "-f", "--force", help="Do not ask for confirmation."),
    filters: List[str] = typer.Option([], "--filter", help="until=TIME, label=KEY[=VALUE], label!=KEY[=VALUE]."),
) -> None:
    """Remove every network no container uses (not the default one)."""
    from ..engine.entities import PruneFilters

    PruneFilters.parse(list(filters))   # a bad filter fails before the question
    if not force and not render.confirm(
            "network prune", "WARNING! This will remove all networks not used by at least one container."):
        return
    for name in engine(ctx).prune(list(filters)):
        render.out(name)


def connect(
    ctx: typer.Context,
    network: str = typer.Argument(..., help="Network."),
    container: str = typer.Argument(..., help="Container."),
    alias: List[str] = typer.Option([], "--alias", help="Another name of the container on this network."),
    ip: Optional[str] = typer.Option(None, "--ip", help="The container's IPv4 address on the network."),
    ip6: Optional[str] = typer.Option(None, "--ip6", help="The container's IPv6 address on the network."),
    mac: Optional[str] = typer.Option(None, "--mac-address", help="The container's MAC address on the network."),
) -> None:
    """Connect a container to a network."""
    engine(ctx).connect(container, network, list(alias), ip, mac, ip6)


def disconnect(
    ctx: typer.Context,
    network: str = typer.Argument(..., help="Network."),
    container: str = typer.Argument(..., help="Container."),
    force: bool = typer.Option(False, "-f", "--force", help="Force removal of container from network."),
) -> None:
    """Disconnect a container from a network."""
    engine(ctx).disconnect(container, network, force)


def exists(ctx: typer.Context, name: str = typer.Argument(..., help="Network name or id.")) -> None:
    """Exit 0 if the network exists, 1 if not."""
    if not engine(ctx).exists(name):
        raise typer.Exit(1)


def reload(
    ctx: typer.Context,
    containers: Optional[List[str]] = typer.Argument(None, help="Containers."),
    all_: bool = typer.Option(False, "-a", "--all", help="Every running container on user networks."),
    latest: bool = typer.Option(False, "-l", "--latest", help="The latest container."),
) -> None:
    """Make the network interfaces of running containers on user networks again."""
    code = 0
    for rep in engine(ctx).reload(list(containers or []), all_, latest):
        if rep.error is None:
            render.out(str(rep.value))
        else:
            render.error(str(rep.error))
            code = 125
    if code:
        raise typer.Exit(code)


TOP: dict = {}
GROUP = {"create": (create, {}), "ls": (ls, {}), "list": (ls, {"hidden": True}), "inspect": (inspect, {}),
         "rm": (rm, {}), "remove": (rm, {"hidden": True}), "prune": (prune, {}), "connect": (connect, {}),
         "disconnect": (disconnect, {}), "exists": (exists, {}), "reload": (reload, {})}
