"""The one runtime-spec builder: a container's record + its image + this host -> the OCI
runtime spec dict that rootless/ runs (foreground and detached starts, exec, healthchecks
and build steps use it), and the per-container /etc files (hostname, hosts, resolv.conf)."""

from __future__ import annotations

import os

from rootless import capabilities, rootfs
from rootless.userns import IdMappings

from ..errors import InvalidState
from ..state import ContainerRecord
from .context import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from ..network.files import EtcNet
    from ..network.start import NetStart

SLIRP_ADDRESS = "10.0.2.100"
SLIRP_GATEWAY = "10.0.2.2"
SLIRP_DNS = "10.0.2.3"


def own_netns(network: str) -> bool:
    return network != "host"


def etc_files(rec: ContainerRecord, run_dir: str, net: Optional["EtcNet"] = None) -> dict[str, str]:
    """Write hostname, hosts and resolv.conf for the container; returns destination -> file
    (no resolv.conf when the container keeps its image's: --network none without --dns)."""
    from ..network import files as netfiles

    cfg = rec.config
    hostname = cfg.hostname or rec.id[:12]
    if net is None:
        net = netfiles.EtcNet([SLIRP_ADDRESS], None, [SLIRP_DNS])
    os.makedirs(run_dir, mode=0o700, exist_ok=True)
    host_lines = _host_resolv()
    files = {
        "/etc/hostname": hostname + "\n",
        "/etc/hosts": netfiles.hosts(hostname, rec.name, cfg.add_hosts, net),
        "/etc/resolv.conf": netfiles.resolv(net, cfg.dns, host_lines),
        **cfg.etc_entries,   # --userns=keep-id: /etc/passwd and /etc/group with the user's entries
    }
    out = {}
    for dest, content in files.items():
        if content is None:
            continue
        path = os.path.join(run_dir, os.path.basename(dest))
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        out[dest] = path
    return out


def _host_resolv() -> list[str]:
    try:
        with open("/etc/resolv.conf") as f:
            return f.read().splitlines()
    except OSError:
        return []


def compiled_seccomp(runroot: str, seccomp: dict[str, Any]) -> str:
    """The filter's BPF program in a file under runroot, compiled once per distinct filter:
    libseccomp takes some 20 ms to build podman's profile, loading the program well under 1."""
    import hashlib
    import json

    from rootless import seccomp as sec

    key = hashlib.sha256(json.dumps(seccomp, sort_keys=True).encode()).hexdigest()
    directory = os.path.join(runroot, "seccomp")
    path = os.path.join(directory, f"{key}.bpf")
    if not os.path.exists(path):
        program = sec.compile_bpf(seccomp)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(program)
        os.replace(tmp, path)
    return path


def seccomp_for(cfg: Any, caps: list[str]) -> Optional[dict[str, Any]]:
    """The container's seccomp filter (OCI form): podman's default profile unless unconfined,
    privileged, or another profile was given."""
    if cfg.privileged or cfg.seccomp == "unconfined":
        return None
    from rootless import seccomp

    return seccomp.resolve(seccomp.read_profile(cfg.seccomp or None), caps)


def _owned_by_container_root(mounts: list[dict[str, Any]], nested: IdMappings) -> None:
    """The kernel file systems are mounted before the init enters its nested user namespace:
    their ids count in the outer one, so name the outer ids of the container's root (and of
    its tty group) for them to show as root (and tty) inside."""
    def outer(maps: tuple[Any, ...], cid: int) -> Optional[int]:
        return next((m.host_id + cid - m.container_id for m in maps
                     if m.container_id <= cid < m.container_id + m.size), None)

    uid, gid, tty = outer(nested.uids, 0), outer(nested.gids, 0), outer(nested.gids, 5)
    for m in mounts:
        if m["type"] == "tmpfs" and uid is not None and gid is not None:
            m["options"] = [*m["options"], f"uid={uid}", f"gid={gid}"]
        elif m["type"] == "devpts":
            m["options"] = [o for o in m["options"] if not o.startswith("gid=")]
            if tty is not None:
                m["options"].append(f"gid={tty}")


def build(rec: ContainerRecord, rootfs_desc: dict[str, Any], mappings: Optional[IdMappings],
          etc: dict[str, str], console_size: Optional[tuple[int, int]],
          nested: Optional[IdMappings] = None) -> dict[str, Any]:
    cfg = rec.config
    caps = capabilities.resolve(capabilities.DEFAULT, cfg.cap_add, cfg.cap_drop, cfg.privileged)
    process: dict[str, Any] = {
        "terminal": cfg.tty,
        "stdin": cfg.interactive,
        "user": {"uid": cfg.uid, "gid": cfg.gid, "additionalGids": cfg.groups},
        "args": (["/run/podman-init", "--"] if cfg.init_path else []) + cfg.entrypoint + cfg.command,
        "env": cfg.env,
        "cwd": cfg.workdir or "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "noNewPrivileges": cfg.no_new_privileges,
        "preserveFds": cfg.preserve_fds,
    }
    if console_size:
        process["consoleSize"] = {"height": console_size[0], "width": console_size[1]}
    namespaces = [{"type": t} for t in ("pid", "uts", "ipc", "mount")]
    if own_netns(cfg.network):
        namespaces.append({"type": "network"})
    linux: dict[str, Any] = {"namespaces": namespaces}
    tty_gid_mapped = True
    if mappings is not None:
        namespaces.insert(0, {"type": "user"})
        linux.update(mappings.to_spec())
        tty_gid_mapped = any(m.container_id <= 5 < m.container_id + m.size for m in mappings.gids)
    if nested is not None:
        # --userns=keep-id|auto, --uidmap: the container's namespace nests in the default one
        # (the maps count in its ids); see rootless.child.
        linux["nestedIdMappings"] = nested.to_spec()
        tty_gid_mapped = any(m.container_id <= 5 < m.container_id + m.size for m in nested.gids)
    if not cfg.privileged:
        unmask = set(cfg.unmask)
        linux["maskedPaths"] = [p for p in rootfs.DEFAULT_MASKED if "ALL" not in unmask and p not in unmask]
        linux["maskedPaths"] += [p for p in cfg.mask if p not in linux["maskedPaths"]]
        linux["readonlyPaths"] = [p for p in rootfs.DEFAULT_READONLY if "ALL" not in unmask and p not in unmask]
    seccomp = seccomp_for(cfg, caps)
    if seccomp is not None:
        linux["seccomp"] = seccomp
    mounts = rootfs.default_mounts(tty_gid_mapped, own_netns(cfg.network))
    if nested is not None:
        _owned_by_container_root(mounts, nested)
    user_dests = {m["destination"] for m in cfg.mounts}
    for dest, path in etc.items():
        if dest not in user_dests:
            mounts.append({"destination": dest, "type": "bind", "source": path,
                           "options": ["bind", "rprivate"]})
    mounts.extend(cfg.mounts)
    if cfg.read_only_tmpfs:
        for dest in ("/run", "/tmp", "/var/tmp"):
            if dest not in user_dests:
                mounts.append({"destination": dest, "type": "tmpfs", "source": "tmpfs",
                               "options": ["rw", "nosuid", "nodev", "mode=1777" if dest != "/run" else "mode=755"]})
    if cfg.init_path:
        mounts.append({"destination": "/run/podman-init", "type": "bind", "source": cfg.init_path,
                       "options": ["bind", "ro", "nodev", "rprivate"]})
    return {
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": rootfs_desc["target"], "readonly": cfg.read_only},
        "rootfsMount": rootfs_desc,
        "hostname": cfg.hostname or rec.id[:12],
        "mounts": mounts,
        "linux": linux,
        "annotations": dict(cfg.annotations),
    }


# -- the whole spec of a container start ------------------------------------------------


def runtime_spec(rt: Runtime, rec: ContainerRecord, warn: Callable[[str], None],
                 console: Optional[tuple[int, int]], net: Optional["NetStart"] = None) -> dict[str, Any]:
    """The OCI-shaped spec that starts rec (its /etc files written on the way)."""
    from rootless.userns import default_mappings
    from storage import images as img

    image = img.by_id(rt.db.conn, rec.image_id)
    if image is None:
        raise InvalidState(f"the image of container {rec.name} ({rec.image_id[:12]}) is gone")
    desc = rt.store.rootfs_mount(rec.id, image)
    etc = etc_files(rec, rt.container_run_dir(rec.id), net.etc if net is not None else None)
    mappings = None
    if rt.cfg.rootless:
        mappings = default_mappings()
        if mappings.warning:
            warn(mappings.warning)
    nested = None
    if rec.config.idmap:
        nested = nested_mappings(rec.config.idmap)
        desc = idmapped_rootfs(rt, rec.id, desc, rec.config.idmap)
    spec = build(rec, desc, mappings, etc, console, nested)
    if net is not None:
        net.adjust_spec(spec)
    seccomp = spec["linux"].get("seccomp")
    if seccomp:
        seccomp["bpf"] = compiled_seccomp(rt.cfg.runroot, seccomp)
    return spec


def nested_mappings(idmap: dict[str, list[list[int]]]) -> Any:
    """A container's --userns/--uidmap ranges, in the ids of the default user namespace."""
    from rootless.userns import IdMap, IdMappings

    return IdMappings(tuple(IdMap(*r) for r in idmap["uids"]), tuple(IdMap(*r) for r in idmap["gids"]))


def idmapped_rootfs(rt: Runtime, cid: str, desc: dict[str, Any], idmap: dict[str, list[list[int]]]
                    ) -> dict[str, Any]:
    """The root file system seen through fuse-overlayfs with id mapping: image layers keep the
    default mapping's ids, which a container with other mappings must see unchanged (kernel
    overlayfs cannot shift ids in a user namespace)."""
    from rootless.userns import fuse_idmapping

    program = _fuse_overlayfs()
    if program is None:
        raise InvalidState("--userns=keep-id|auto and --uidmap/--gidmap need fuse-overlayfs (to show the "
                           "image's files with their own ids) and /dev/fuse: install fuse-overlayfs")
    desc = dict(desc)
    if desc["type"] == "bind":   # the copying driver: the container's tree is the upper layer
        cdir = rt.store.container_dir(cid)
        for sub in ("idmap-lower", "idmap-work"):
            os.makedirs(os.path.join(cdir, sub), mode=0o700, exist_ok=True)
        desc = {"lower": [os.path.join(cdir, "idmap-lower")], "upper": desc["source"],
                "work": os.path.join(cdir, "idmap-work"), "target": desc["target"]}
    desc.pop("userxattr", None)
    desc.update(type="fuse-overlayfs", program=program, uidmapping=fuse_idmapping(idmap["uids"]),
                gidmapping=fuse_idmapping(idmap["gids"]))
    return desc


def _fuse_overlayfs() -> Optional[str]:
    for d in os.get_exec_path() + ["/usr/bin", "/usr/local/bin"]:
        path = os.path.join(d, "fuse-overlayfs")
        if os.access(path, os.X_OK):
            return path if os.access("/dev/fuse", os.R_OK | os.W_OK) else None
    return None
