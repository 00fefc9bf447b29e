"""A container's /etc/hosts and /etc/resolv.conf, as podman 4 writes them.

hosts: the --add-host lines, the host's /etc/hosts (or containers.conf's base_hosts_file),
then, for names not in those, localhost, host.containers.internal (the host as the
container reaches it) and the container's addresses with its host name and name.
resolv.conf: --dns-search (else the host's search), the network's name servers (or
--dns), --dns-option (else the host's options), each after containers.conf's dns_searches,
dns_servers and dns_options. A container in another's network namespace (a pod's member)
takes that one's files, with a line for itself in hosts (joined_entry).
"""

from __future__ import annotations

from ..errors import InvalidArgument

DEFAULT_BASE = "/etc/hosts"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


class EtcNet:
    """The network facts the files need."""

    __slots__ = ("ips", "host_gateway", "nameservers", "search", "host_mode", "none")

    def __init__(self, ips: list[str], host_gateway: Optional[str], nameservers: list[str],
                 search: Optional[list[str]] = None, host_mode: bool = False, none: bool = False) -> None:
        self.ips = ips
        self.host_gateway = host_gateway
        self.nameservers = nameservers
        self.search = search or []
        self.host_mode = host_mode
        self.none = none


def _host_file(path: str = DEFAULT_BASE) -> list[tuple[str, list[str]]]:
    """The entries of a hosts file (comments and lines without a name left out). The host's
    /etc/hosts may be missing; a base file named in containers.conf must be there."""
    rows = []
    try:
        with open(path) as f:
            for line in f:
                fields = line.split("#", 1)[0].split()
                if len(fields) >= 2:
                    rows.append((fields[0], fields[1:]))
    except OSError as exc:
        if path != DEFAULT_BASE:
            raise InvalidArgument(f"failed to create new hosts file: open {path}: "
                                  f"{(exc.strerror or str(exc)).lower()}") from None
    return rows


def _free(entries: list[tuple[str, list[str]]], taken: set[str]) -> list[str]:
    """Lines for entries, each with only the names not taken yet (an entry left with none is
    dropped): podman's rule, so that an entry of the user's is never overridden."""
    lines = []
    for ip, names in entries:
        free = [n for n in names if n not in taken]
        if free:
            lines.append(f"{ip}\t{' '.join(free)}")
    return lines


def hosts(hostname: str, name: str, add_hosts: list[list[str]], net: EtcNet, base_file: str = "",
          internal_ip: str = "") -> str:
    """The file: the --add-host lines and the base file's (the host's /etc/hosts unless
    containers.conf's base_hosts_file names another), then, with the names not in those,
    localhost, host.containers.internal (containers.conf's host_containers_internal_ip, else
    the address the container reaches the host at) and the container's addresses with its
    host name and name (both, even when they are the same)."""
    user = [(net.host_gateway if ip == "host-gateway" and net.host_gateway else ip, [host])
            for host, ip in add_hosts]
    user += _host_file(base_file or DEFAULT_BASE)
    lines = [f"{ip}\t{' '.join(names)}" for ip, names in user]
    special = [("127.0.0.1", ["localhost"]), ("::1", ["localhost"])]
    gateway = internal_ip or net.host_gateway
    if gateway:
        special.append((gateway, ["host.containers.internal"]))
    if not net.host_mode:
        special += [(ip, [hostname, name]) for ip in net.ips or ["127.0.0.1"]]
    lines += _free(special, {n for _, names in user for n in names})
    return "\n".join(lines) + "\n"


def joined_entry(hosts_text: str, names: list[str]) -> str:
    """A container that joins another's network namespace: the other's hosts file with a
    `127.0.0.1` line for the names not in it yet (as podman adds it to the shared file)."""
    taken = {n for line in hosts_text.splitlines()
             for n in line.split("#", 1)[0].split()[1:]}
    extra = _free([("127.0.0.1", names)], taken)
    if not extra:
        return hosts_text
    if hosts_text and not hosts_text.endswith("\n"):
        hosts_text += "\n"
    return hosts_text + extra[0] + "\n"


def host_nameservers(host_lines: list[str]) -> list[str]:
    """The host's name servers a container can reach through the network (not loopback ones)."""
    out = []
    for ln in host_lines:
        parts = ln.split()
        if len(parts) >= 2 and parts[0] == "nameserver" and not parts[1].startswith("127.") \
                and parts[1] != "::1":
            out.append(parts[1])
    return out


def resolv(net: EtcNet, dns: dict[str, list[str]], host_lines: list[str],
           conf: Optional[dict[str, list[str]]] = None) -> Optional[str]:
    """The file, or None when the container keeps its image's (no network and no --dns).
    conf: containers.conf's dns_servers, dns_searches and dns_options (as "servers",
    "search", "options"), which come before the container's own, as podman 4.3.1 puts them."""
    if net.host_mode and not dns:
        return "\n".join(host_lines) + "\n"
    if net.none and not dns:
        return None
    if conf:
        dns = {key: list(conf.get(key) or []) + list(dns.get(key) or [])
               for key in ("servers", "search", "options") if conf.get(key) or key in dns}
    host_search: list[str] = []
    host_options: list[str] = []
    for ln in host_lines:
        parts = ln.split()
        if parts and parts[0] in ("search", "domain"):
            host_search += parts[1:]
        elif parts and parts[0] == "options":
            host_options += parts[1:]
    search = dns["search"] if "search" in dns else net.search + [d for d in host_search if d not in net.search]
    servers = dns["servers"] if "servers" in dns else net.nameservers
    options = dns["options"] if "options" in dns else host_options
    lines = []
    if search:
        lines.append("search " + " ".join(search))
    lines += [f"nameserver {s}" for s in servers]
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"
