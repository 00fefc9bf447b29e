"""A container's /etc files (hostname, hosts, resolv.conf; keep-id's passwd and group, --tz's
localtime) and /run/.containerenv, as data: `etc_files` says what they hold, the caller writes
them into the container's runtime directory (`write_etc`) and the spec binds them there
(spec.py); `file_mount_points` names those a stage 1 started ahead may make the mount points
of before the spec comes."""

from __future__ import annotations

import os

from ..config import ContainerDefaults

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from ..network.files import EtcNet
    from ..state import ContainerRecord

# the default network's (slirp4netns's) addresses, for a container's /etc files
SLIRP_ADDRESS = "10.0.2.100"
SLIRP_DNS = "10.0.2.3"


def etc_files(rec: ContainerRecord, net: Optional["EtcNet"] = None, uts_hostname: str = "",
              defaults: Optional[ContainerDefaults] = None,
              joined: Optional[dict[str, Optional[str]]] = None) -> dict[str, Any]:
    """The container's hostname, hosts and resolv.conf (and keep-id's passwd and group, and
    --tz's localtime, bytes): destination -> content. No resolv.conf when the container keeps
    its image's (--network none without --dns). net: the network's facts (the default
    network's when None); uts_hostname: the host name of the UTS namespace it shares;
    defaults: containers.conf's (its DNS settings, base hosts file and host address);
    joined: for a container in another's network namespace (--network container:, a pod's
    member), that container's hosts and resolv.conf (None: it has none), which it takes."""
    from ..network import files as netfiles
    from ..network.options import host_resolv

    cfg = rec.config
    hostname = uts_hostname or cfg.hostname or rec.id[:12]
    if net is None:
        net = netfiles.EtcNet([SLIRP_ADDRESS], None, [SLIRP_DNS])
    conf = defaults or ContainerDefaults()
    if joined is not None:
        other_hosts = joined.get("/etc/hosts")
        hosts = (None if cfg.no_hosts or other_hosts is None
                 else netfiles.joined_entry(other_hosts, [hostname, rec.name]))
        resolv = joined.get("/etc/resolv.conf")
    else:
        hosts = None if cfg.no_hosts else netfiles.hosts(hostname, rec.name, cfg.add_hosts, net,
                                                         conf.base_hosts_file, conf.host_containers_internal_ip)
        resolv = netfiles.resolv(net, cfg.dns, host_resolv(), {"servers": conf.dns_servers,
                                                               "search": conf.dns_searches,
                                                               "options": conf.dns_options})
    files = {
        "/etc/hostname": hostname + "\n",
        "/etc/hosts": hosts,
        "/etc/resolv.conf": resolv,
        **cfg.etc_entries,   # --userns=keep-id: /etc/passwd and /etc/group with the user's entries
    }
    files["/run/.containerenv"] = containerenv(rec)
    if cfg.timezone:
        from .runfiles import localtime

        files["/etc/localtime"] = localtime(cfg.timezone)
    return {dest: content for dest, content in files.items() if content is not None}


def containerenv(rec: ContainerRecord) -> str:
    """/run/.containerenv as podman 4.3 writes it: empty, but for a privileged container the
    engine, the container's name and id, its image and image id (and rootless=1)."""
    if not rec.config.privileged:
        return ""
    from .. import __version__

    return (f'engine="podpy-{__version__}"\nname="{rec.name}"\nid="{rec.id}"\n'
            f'image="{rec.image_name}"\nimageid="{rec.image_id.removeprefix("sha256:")}"\n'
            + ("rootless=1\n" if os.geteuid() else ""))


def file_mount_points(rec: ContainerRecord, etc: dict[str, str]) -> tuple[str, ...]:
    """The destinations that the spec binds etc's files onto, in the root file system itself:
    mount points a stage 1 started ahead can make before the spec comes (rootless/ahead.py's
    mount_points). None where another of the spec's mounts could come between (the user's
    mounts and secrets, --read-only's tmpfs on /run, systemd's mounts, --chrootdirs) or a
    nested user namespace gives the files to its own root."""
    cfg = rec.config
    if cfg.mounts or cfg.secrets or cfg.read_only_tmpfs or cfg.systemd or cfg.chrootdirs or cfg.idmap:
        return ()
    return tuple(etc)


def write_etc(run_dir: str, files: dict[str, Any]) -> dict[str, str]:
    """Write etc_files' files into the container's runtime directory; destination -> the
    file, to bind there. A file already there (a restart's, one `network connect` updates) is
    replaced whole, through a temporary file renamed over it; in a directory made here, for
    this start, each is written in place."""
    try:
        os.mkdir(run_dir, 0o700)
        fresh = True
    except FileNotFoundError:
        os.makedirs(run_dir, mode=0o700, exist_ok=True)
        fresh = True
    except FileExistsError:
        fresh = False
    out = {}
    for dest, content in files.items():
        path = os.path.join(run_dir, os.path.basename(dest))
        target = path if fresh else path + ".tmp"
        data = content if isinstance(content, bytes) else content.encode()
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            os.fchmod(fd, 0o644)   # whatever the umask: the container's users read them
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        if not fresh:
            os.replace(target, path)
        out[dest] = path
    return out
