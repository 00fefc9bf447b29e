"""A container's /etc/hosts and /etc/resolv.conf, as podman 4 writes them.

hosts: the --add-host lines, the host's /etc/hosts, host.containers.internal (the host as
the container reaches it), then the container's addresses with its host name and name.
resolv.conf: --dns-search (else the host's search), the network's name servers (or
--dns), --dns-option (else the host's options).
"""

from __future__ import annotations

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


def _host_file(path: str = "/etc/hosts") -> list[tuple[str, list[str]]]:
    rows = []
    try:
        with open(path) as f:
            for line in f:
                fields = line.split("#", 1)[0].split()
                if len(fields) >= 2:
                    rows.append((fields[0], fields[1:]))
    except OSError:
        pass
    return rows


def hosts(hostname: str, name: str, add_hosts: list[list[str]], net: EtcNet) -> str:
    lines = []
    for host, ip in add_hosts:
        lines.append(f"{net.host_gateway if ip == 'host-gateway' and net.host_gateway else ip}\t{host}")
    base = _host_file()
    if not any("localhost" in names for _, names in base):
        base = [("127.0.0.1", ["localhost"]), ("::1", ["localhost"])] + base
    lines += [f"{ip}\t{' '.join(names)}" for ip, names in base]
    if net.host_gateway:
        lines.append(f"{net.host_gateway}\thost.containers.internal")
    names = hostname if hostname == name else f"{hostname} {name}"
    if not net.host_mode:
        for ip in net.ips or ["127.0.0.1"]:
            lines.append(f"{ip}\t{names}")
    return "\n".join(lines) + "\n"


def host_nameservers(host_lines: list[str]) -> list[str]:
    """The host's name servers a container can reach through the network (not loopback ones)."""
    out = []
    for ln in host_lines:
        parts = ln.split()
        if len(parts) >= 2 and parts[0] == "nameserver" and not parts[1].startswith("127.") \
                and parts[1] != "::1":
            out.append(parts[1])
    return out


def resolv(net: EtcNet, dns: dict[str, list[str]], host_lines: list[str]) -> Optional[str]:
    """The file, or None when the container keeps its image's (no network and no --dns)."""
    if net.host_mode and not dns:
        return "\n".join(host_lines) + "\n"
    if net.none and not dns:
        return None
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
