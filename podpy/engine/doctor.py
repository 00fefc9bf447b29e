"""`system doctor`: every reason of the host's why a container cannot run (or runs worse), each
found by really trying where trying is cheap, named with what it means for the user and the
command that fixes it; and `cause_of`, the one line that an error from such a cause ends with.

Order: the user namespace and its ids first (nothing starts without them), then storage, the
runtime directory, cgroups (and whether a container's first process can be born in its
cgroup), devices and networking, then what degrades (lingering, limits,
space, security modules). As root the rootful set-up is checked instead: no user namespace,
subordinate ids, runtime directory or lingering are involved there.

Cost (measured rootless on a loaded 2-core machine): the cheap checks (files, sysctls, stat,
opening two devices) take about 2 ms; making a user namespace about 25 ms; writing maps
through newuidmap/newgidmap about 55 ms; the overlay probe about 155 ms. `info` runs only the
cheap ones, with the storage driver as recorded and user namespaces judged from their sysctls
(`probe=False`), so it does not get slower; `system doctor` runs all of them (about 0.2 s).
"""

from __future__ import annotations

import os
import pwd
import resource
import shutil

from .context import Runtime, store_overlay_refusal
from .entities import Finding

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional

    from rootless.cgroups import CgroupInfo

OK, WARN, FAIL = "ok", "warn", "fail"
SUBID_SIZE = 65536
SUBID_FILES = {"subuid": "/etc/subuid", "subgid": "/etc/subgid"}
WANTED_CONTROLLERS = ("cpu", "memory", "pids", "io")
DROP_IN = "/etc/systemd/system/user@.service.d/delegate.conf"


def _user() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def free_subid_range(files: dict[str, list[tuple[str, int, int]]], size: int = SUBID_SIZE) -> tuple[int, int]:
    """The first range of `size` ids from 100000 that no entry of any of the files uses (so
    one `usermod` gives the same range in both)."""
    taken = sorted((s, s + c) for entries in files.values() for _, s, c in entries)
    start = 100000
    for lo, hi in taken:
        if lo < start + size and start < hi:
            start = hi
    return start, start + size - 1


def subid_findings(files: dict[str, Optional[list[tuple[str, int, int]]]], errors: dict[str, str], user: str,
                   uid: int) -> list[Finding]:
    """The subuid and subgid checks from the files' entries (None: unreadable, with its error):
    present, at least 65536 ids, sharing no id with another user."""
    from rootless.userns import subid_overlaps

    readable = {k: v for k, v in files.items() if v is not None}
    lo, hi = free_subid_range(readable)
    out = []
    for kind, path in SUBID_FILES.items():
        entries = files.get(kind)
        flag = "--add-subuids" if kind == "subuid" else "--add-subgids"
        what = "user" if kind == "subuid" else "group"
        if entries is None:
            out.append(Finding(kind, FAIL, f"{path} cannot be read ({errors.get(kind, 'unreadable')}): containers "
                                     "cannot start", f"sudo chmod 0644 {path}", True))
            continue
        mine = [(s, c) for o, s, c in entries if o in (user, str(uid))]
        total = sum(c for _, c in mine)
        if not mine:
            out.append(Finding(kind, FAIL, f"no subordinate {what} ids for {user} in {path}: containers run with "
                                     f"one {what} id only: images that chown files will fail",
                               f"sudo usermod {flag} {lo}-{hi} {user}", True))
            continue
        overlaps = subid_overlaps(entries, user, uid)
        spans = ", ".join(f"{s}-{s + c - 1}" for s, c in mine)
        if overlaps:
            (s, c), (other, os_, oc) = overlaps[0]
            out.append(Finding(kind, WARN, f"{path}: your range {s}-{s + c - 1} shares ids with {other}'s "
                                     f"{os_}-{os_ + oc - 1}: their containers' files and processes are yours too",
                               f"sudo usermod --del-{flag[6:]} {s}-{s + c - 1} {flag} {lo}-{hi} {user}", True))
        elif total < SUBID_SIZE:
            out.append(Finding(kind, WARN, f"only {total} subordinate {what} ids ({spans}) in {path}: files of "
                                     f"{what} ids above {total} in an image cannot be stored",
                               f"sudo usermod {flag} {lo}-{hi} {user}", True))
        else:
            out.append(Finding(kind, OK, f"{total} subordinate {what} ids ({spans}) in {path}"))
    return out


def _read_subid_files() -> tuple[dict[str, Optional[list[tuple[str, int, int]]]], dict[str, str]]:
    from rootless.userns import read_subid_entries

    files: dict[str, Optional[list[tuple[str, int, int]]]] = {}
    errors = {}
    for kind, path in SUBID_FILES.items():
        try:
            files[kind] = read_subid_entries(path)
        except OSError as exc:
            files[kind] = None
            errors[kind] = exc.strerror or str(exc)
    return files, errors


def _helpers() -> list[Finding]:
    from rootless.probe import helper_privilege
    from rootless.userns import _which

    out = []
    for helper in ("newuidmap", "newgidmap"):
        path = _which(helper)
        if path is None:
            out.append(Finding(helper, FAIL, f"{helper} is not installed: containers run with one id only",
                               "sudo apt-get install uidmap", True))
            continue
        how = helper_privilege(path)
        if how is None:
            out.append(Finding(helper, FAIL, f"{path} is neither setuid root nor has file capabilities: it cannot "
                                     "write a container's id maps, so containers cannot start",
                               f"sudo chmod u+s {path}" if os.stat(path).st_uid == 0
                               else f"sudo chown root {path} && sudo chmod u+s {path}", True))
        else:
            out.append(Finding(helper, OK, f"{path} ({how})"))
    return out


def _sysctl(name: str) -> Optional[str]:
    try:
        with open("/proc/sys/" + name.replace(".", "/")) as f:
            return f.read().strip()
    except OSError:
        return None


def userns_finding(tried: bool = True) -> Finding:
    """Unprivileged user namespaces: tried for real (tried=False: the sysctls only)."""
    from rootless.probe import userns_refusal

    settings = {k: _sysctl(k) for k in ("user.max_user_namespaces", "kernel.unprivileged_userns_clone",
                                        "kernel.apparmor_restrict_unprivileged_userns")}
    blocker = None
    if settings["user.max_user_namespaces"] == "0":
        blocker = ("user.max_user_namespaces", "15000")
    elif settings["kernel.unprivileged_userns_clone"] == "0":
        blocker = ("kernel.unprivileged_userns_clone", "1")
    elif settings["kernel.apparmor_restrict_unprivileged_userns"] == "1":
        blocker = ("kernel.apparmor_restrict_unprivileged_userns", "0")
    why = userns_refusal() if tried else None
    shown = ", ".join(f"{k}={v}" for k, v in settings.items() if v is not None)
    if why is None and (tried or blocker is None):
        return Finding("userns", OK, f"unprivileged user namespaces work ({shown})" if tried else
                       f"unprivileged user namespaces are allowed ({shown})")
    fix = f"sudo sysctl -w {blocker[0]}={blocker[1]}" if blocker else ""
    cause = f" because {blocker[0]} is {settings[blocker[0]]}" if blocker else ""
    said = f" ({why})" if why else ""
    return Finding("userns", FAIL, f"the kernel refuses this user a user namespace{cause}{said}: no container "
                                   "can start", fix, bool(fix))


def idmap_finding(rt: Runtime) -> Optional[Finding]:
    """newuidmap/newgidmap tried with the user's mappings (only when they have subordinate ids)."""
    from rootless.probe import idmap_refusal

    maps = rt.id_mappings
    if maps.warning:
        return None
    why = idmap_refusal(maps)
    if why is None:
        return Finding("idmap", OK, f"newuidmap and newgidmap map {maps.container_ids()} ids into a user namespace")
    return Finding("idmap", FAIL, f"the id maps cannot be written ({why}): containers cannot start",
                   "check /etc/subuid, /etc/subgid and the newuidmap/newgidmap lines above", True)


def storage_finding(rt: Runtime, probe: bool) -> Finding:
    """The storage driver: chosen (or set) and why; with probe, overlay tried now on the store."""
    from rootless.probe import fuse_refusal

    try:
        choice = rt.driver_choice
    except Exception as exc:  # noqa: BLE001 - the store itself cannot be opened
        return Finding("storage", FAIL, f"the store {rt.cfg.root} cannot be opened: {exc}", "", False)
    refused = None
    if probe:
        try:
            refused = rt.overlay_refusal()
        except Exception as exc:  # noqa: BLE001 - no user namespace to try it in: said above
            return Finding("storage", FAIL if choice.name != "vfs" else WARN,
                           f"{choice.name} for {rt.cfg.root} ({choice.reason}) could not be tried: {exc}")
    fuse_why = fuse_refusal() if choice.name == "fuse-overlayfs" or (refused and choice.name == "vfs") else None
    where = f"{rt.cfg.root}"
    elsewhere = ("put the store on a local file system (ext4, xfs, btrfs): podpy --root DIR, or graphroot in "
                 "storage.conf")
    if choice.name == "overlay":
        if refused:
            return Finding("storage", FAIL, f"overlay is used for {where} but the kernel refuses it there now "
                                            f"({refused}): containers cannot start", elsewhere)
        return Finding("storage", OK, f"overlay for {where}: {choice.reason}")
    if choice.name == "fuse-overlayfs":
        if fuse_why:
            return Finding("storage", FAIL, f"fuse-overlayfs is used for {where} but {fuse_why}: containers "
                                            "cannot start", "sudo chmod 0666 /dev/fuse" if "/dev/fuse" in fuse_why
                           else "sudo apt-get install fuse-overlayfs", True)
        return Finding("storage", WARN, f"fuse-overlayfs for {where}: {choice.reason}; file access goes through a "
                                        "FUSE process, slower than kernel overlay", elsewhere)
    if choice.name == "vfs":
        why = f" (overlay now: {refused})" if refused and refused not in choice.reason else ""
        msg = f"vfs for {where}: {choice.reason}{why}; every container copies its whole image: slow and large"
        if choice.reason.startswith("set by"):   # the user's own choice: nothing to fix
            return Finding("storage", OK, msg)
        if fuse_why and "not installed" in fuse_why:
            return Finding("storage", WARN, msg, "sudo apt-get install fuse-overlayfs", True)
        return Finding("storage", WARN, msg, elsewhere)
    return Finding("storage", OK, f"{choice.name} for {where}: {choice.reason}")


def runtime_dir_finding() -> Finding:
    from ..config import private_dir, usable_runtime_dir

    uid = os.getuid()
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    fallback = f"/tmp/podpy-run-{uid}"
    fix = f"export XDG_RUNTIME_DIR=/run/user/{uid} (made by a systemd login, or: sudo install -d -m 0700 -o " \
          f"{_user()} /run/user/{uid})"
    if xdg and usable_runtime_dir(xdg):
        return Finding("runtime-dir", OK, f"XDG_RUNTIME_DIR={xdg}")
    if xdg:
        try:
            st = os.stat(xdg)
            wrong = (f"belongs to uid {st.st_uid}" if st.st_uid != uid else
                     f"has mode {st.st_mode & 0o7777:04o}: others may write to it" if st.st_mode & 0o022
                     else "is not writable")
        except OSError as exc:
            wrong = f"cannot be used ({exc.strerror})"
        fix = (f"chmod 0700 {xdg}" if wrong.startswith("has mode") else fix)
    why = "XDG_RUNTIME_DIR is not set" if not xdg else f"XDG_RUNTIME_DIR={xdg} {wrong}"
    if os.path.lexists(fallback) and not private_dir(fallback):
        return Finding("runtime-dir", FAIL, f"{why} and {fallback} is not a private directory of yours: no podpy "
                                            "command can run", fix)
    return Finding("runtime-dir", WARN, f"{why}: podpy keeps its runtime files in {fallback} instead, which "
                                        "nothing cleans at logout or reboot", fix)


def _hybrid(mountinfo: str = "/proc/self/mountinfo") -> bool:
    """Whether cgroup v1 hierarchies are mounted too (a hybrid host: v1 owns their controllers)."""
    try:
        with open(mountinfo) as f:
            return any(line.partition(" - ")[2].split(" ", 1)[0] == "cgroup" for line in f)
    except OSError:
        return False


def cgroup_finding(rootless: bool, cg: "CgroupInfo") -> Finding:
    drop_in = (f"sudo mkdir -p {os.path.dirname(DROP_IN)} && printf '[Service]\\nDelegate=yes\\n' | sudo tee "
               f"{DROP_IN} && sudo systemctl daemon-reload (then log in again)")
    if cg.mount is None:
        return Finding("cgroups", WARN, "no cgroup2 file system is mounted: containers run without a cgroup: no "
                                        "--memory, --cpus or --pids-limit, no pause, no stats",
                       "boot with systemd.unified_cgroup_hierarchy=1", True)
    if not cg.writable:
        if not os.path.isdir("/run/systemd/system"):   # no systemd to delegate: a cgroup given by hand
            mine = os.path.join(cg.mount, f"podpy-{_user()}.slice")
            drop_in = (f"sudo mkdir -p {mine} && sudo chown {_user()} {mine} {mine}/cgroup.procs "
                       f"{mine}/cgroup.subtree_control {mine}/cgroup.threads, then in your shell: "
                       f"echo $$ > {mine}/cgroup.procs")
        return Finding("cgroups", WARN, f"cgroup2 at {cg.mount}; {cg.path.rstrip('/') or '/'} is not delegated to "
                                        "you: containers run without a cgroup: no --memory, --cpus or --pids-limit, "
                                        "no pause, no stats", drop_in if rootless else "", rootless)
    missing = [c for c in WANTED_CONTROLLERS if c not in cg.controllers]
    have = ", ".join(cg.controllers) or "none"
    if missing:
        limits = {"cpu": "--cpus", "memory": "--memory", "pids": "--pids-limit", "io": "--blkio-weight"}
        if _hybrid():
            fix = "boot with systemd.unified_cgroup_hierarchy=1 (cgroup v1 holds those controllers on this host)"
        else:
            fix = drop_in.replace("Delegate=yes", "Delegate=" + " ".join(WANTED_CONTROLLERS))
        return Finding("cgroups", WARN, f"cgroup2 at {cg.mount}, {cg.path.rstrip('/') or '/'} delegated, controllers: {have}; without "
                                        f"{', '.join(missing)}, {', '.join(limits[c] for c in missing)} are not "
                                        "applied", fix, True)
    return Finding("cgroups", OK, f"cgroup2 at {cg.mount}, {cg.path.rstrip('/') or '/'} delegated, controllers: {have}")


def cgroup_fork_finding(path: str) -> Finding:
    """Whether a container's first process can be born in its cgroup (clone3 with
    CLONE_INTO_CGROUP, rootless/cgroupfork.py) rather than moved there, which waits for a grace
    period of the kernel's at every start: tried with a child that exits at once, in a scratch
    cgroup where containers' cgroups are made (path, the delegated one)."""
    import _signal

    from rootless import cgroups, syscalls

    scratch = os.path.join(path, f"podpy-doctor-{os.getpid()}")
    try:
        os.mkdir(scratch)
    except OSError as exc:
        return Finding("cgroup-fork", WARN, f"no cgroup can be made in {path} ({exc.strerror}): containers run "
                                            "without one", "")
    slower = "each start moves the container's first process into its cgroup instead, 1 to 10 ms slower"
    why = fix = ""
    try:
        fd = os.open(scratch, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            pid = syscalls.default().fork_into_cgroup(fd, scratch)
        except OSError as exc:
            pid = -1
            why = f"this kernel does not clone into a cgroup ({exc.strerror}; Linux 5.7 and later do)"
        finally:
            os.close(fd)
        if pid == 0:
            os._exit(0)
        if pid > 0:
            _, status = os.waitpid(pid, 0)
            if os.WIFSIGNALED(status) and os.WTERMSIG(status) == _signal.SIGKILL:
                # Linux 6.18: the child is killed when the caller's cgroup's kill count (each
                # cgroup.kill at it or above it) differs from the new cgroup's (0)
                why = (f"this kernel kills a child cloned into a new cgroup when a cgroup.kill has gone "
                       f"through the caller's ({path})")
                session = os.path.join(path, "session")
                fix = (f"start podpy from a cgroup no cgroup.kill went through: log in again, or in your shell: "
                       f"mkdir -p {session} && echo $$ > {session}/cgroup.procs")
    finally:
        cgroups.remove(scratch)
    if why:
        return Finding("cgroup-fork", WARN, f"{why}: {slower}", fix)
    return Finding("cgroup-fork", OK, "a container's first process is born in its cgroup")


def device_finding(name: str, path: str, meaning: str, needed: bool) -> Finding:
    from rootless.probe import device_refusal

    why = device_refusal(path)
    if why is None:
        return Finding(name, OK, f"{path} opens for reading and writing")
    fix = f"sudo chmod 0666 {path}" if os.path.exists(path) else (
        "sudo modprobe tun" if "tun" in path else "sudo modprobe fuse")
    return Finding(name, FAIL if needed else WARN, f"{why}: {meaning}", fix, True)


def network_finding(rt: Runtime) -> Finding:
    from ..network.options import default_rootless_cmd

    try:
        default, source = default_rootless_cmd(rt.cfg.config_dir)
    except Exception as exc:  # noqa: BLE001 - a broken containers.conf
        return Finding("network", FAIL, str(exc), f"fix {rt.cfg.config_dir}/containers.conf")
    found = {name: shutil.which(name) for name in ("slirp4netns", "pasta")}
    have = ", ".join(f"{n} ({p})" for n, p in found.items() if p) or "neither slirp4netns nor pasta"
    package = "slirp4netns" if default == "slirp4netns" else "passt"
    if not found[default]:
        return Finding("network", FAIL, f"{default}, the default network command, is not installed (found: {have}):"
                                        " containers get no network but with --network none",
                       f"sudo apt-get install {package}", True)
    return Finding("network", OK, f"{have}; {default} is the default")


def linger_finding() -> Finding:
    user = _user()
    if not os.path.isdir("/run/systemd/system"):
        return Finding("linger", OK, "systemd does not run this host: nothing ends your containers at logout")
    if os.path.exists(f"/var/lib/systemd/linger/{user}"):
        return Finding("linger", OK, f"lingering is on for {user}: user units and containers outlive your sessions")
    return Finding("linger", WARN, f"lingering is off for {user}: systemd ends your containers and user units "
                                   "when your last session closes", f"sudo loginctl enable-linger {user}", True)


def limit_finding() -> Finding:
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)

    def show(v: int) -> str:
        return "unlimited" if v == resource.RLIM_INFINITY else str(v)

    text = f"open files {show(nofile[0])} (hard {show(nofile[1])}), processes {show(nproc[0])}"
    low = [(n, v) for n, v in (("nofile", nofile[1]), ("nproc", nproc[0]))
           if v != resource.RLIM_INFINITY and v < 4096]
    if low:
        items = " ".join(f"{n}" for n, _ in low)
        return Finding("limits", WARN, f"{text}: a container that opens many files or starts many processes will "
                                       f"hit these", f"raise {items} for {_user()} in /etc/security/limits.conf "
                                       "(then log in again)", True)
    return Finding("limits", OK, text)


def disk_finding(root: str) -> Finding:
    path = root
    while not os.path.exists(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    try:
        st = os.statvfs(path)
    except OSError as exc:
        return Finding("disk", WARN, f"{root}: cannot tell the free space ({exc.strerror})")
    free = st.f_bavail * st.f_frsize
    inodes = st.f_favail if st.f_files else None
    from ..formats import human_size

    text = f"{human_size(free)} free" + (f", {inodes} inodes free" if inodes is not None else "") + f" under {root}"
    fix = "podpy system prune -a, or move the store to a larger file system: podpy --root DIR"
    if free < 100 << 20 or (inodes is not None and inodes < 1000):
        return Finding("disk", FAIL, f"{text}: images and containers will not fit", fix)
    if free < 1 << 30 or (inodes is not None and inodes < 10000):
        return Finding("disk", WARN, f"{text}: large images will not fit", fix)
    return Finding("disk", OK, text)


def security_finding() -> Finding:
    parts = []
    status = OK
    try:
        with open("/sys/fs/selinux/enforce") as f:
            enforcing = f.read().strip() == "1"
        parts.append("SELinux enforcing: podpy sets no SELinux labels, a policy that confines you may deny "
                     "container mounts" if enforcing else "SELinux permissive")
        status = WARN if enforcing else OK
    except OSError:
        parts.append("SELinux absent")
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            parts.append("AppArmor enabled (podpy loads no profile)" if f.read().strip() == "Y"
                         else "AppArmor disabled")
    except OSError:
        parts.append("AppArmor absent")
    return Finding("security", status, "; ".join(parts))


def diagnose(rt: Runtime, probe: bool = True) -> list[Finding]:
    """Every check, in order. probe=False (for `info`) leaves out what needs a user namespace or
    a mount: the user namespace is judged from its sysctls and the driver from the record."""
    from rootless.cgroups import detect

    rootless = rt.cfg.rootless
    out: list[Finding] = []
    if not rootless:
        out.append(Finding("mode", OK, "running as root: checking the rootful set-up (no user namespace, "
                                       "subordinate ids or runtime directory of a user is involved)"))
    else:
        files, errors = _read_subid_files()
        out += subid_findings(files, errors, _user(), os.getuid())
        out += _helpers()
        out.append(userns_finding(tried=probe))
        if probe and all(f.status == OK for f in out):
            found = idmap_finding(rt)
            if found:
                out.append(found)
    # overlay is tried in a user namespace: not when making one fails already
    storage = storage_finding(rt, probe and all(f.status != FAIL for f in out if f.check in ("userns", "idmap",
                                                                                          "newuidmap", "newgidmap")))
    out.append(storage)
    if rootless:
        out.append(runtime_dir_finding())
    cg = detect()
    out.append(cgroup_finding(rootless, cg))
    if probe and cg.writable and cg.path:
        out.append(cgroup_fork_finding(cg.path))
    fuse_needed = storage.message.startswith("fuse-overlayfs")
    out.append(device_finding("fuse", "/dev/fuse", "fuse-overlayfs and `podpy mount` cannot work", fuse_needed))
    if rootless:
        out.append(device_finding("tun", "/dev/net/tun", "slirp4netns and pasta cannot give containers a network: "
                                  "only --network none works", True))
        out.append(network_finding(rt))
        out.append(linger_finding())
    out.append(limit_finding())
    out.append(disk_finding(rt.cfg.root))
    out.append(security_finding())
    return out


# -- the one line an error of a known host cause ends with ----------------------------------

def _chain(exc: BaseException) -> str:
    texts = []
    seen: set[int] = set()
    cur: Optional[BaseException] = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        texts.append(str(cur))
        cur = cur.__cause__ or cur.__context__
    return " | ".join(texts)


def _subids() -> list[Finding]:
    files, errors = _read_subid_files()
    return subid_findings(files, errors, _user(), os.getuid())


# the words of an error -> the checks that can explain it (cheap ones only: nothing is tried)
CAUSES: list[tuple[tuple[str, ...], Callable[[], list[Finding]]]] = [
    (("newuidmap", "newgidmap", "uid_map", "gid_map", "/etc/subuid", "/etc/subgid", "is not mapped",
      "not mapped"), lambda: [*_subids(), *_helpers()]),
    (("unshare", "user namespace"), lambda: [userns_finding(tried=False)]),
    (("/dev/net/tun", "slirp4netns", "pasta"), lambda: [
        device_finding("tun", "/dev/net/tun", "slirp4netns and pasta cannot give containers a network: only "
                       "--network none works", True)]),
    (("/dev/fuse", "fuse-overlayfs", "fusermount"), lambda: [
        device_finding("fuse", "/dev/fuse", "fuse-overlayfs and `podpy mount` cannot work", True)]),
]


def cause_of(exc: BaseException, rootless: bool) -> Optional[str]:
    """When the error's words point at a host cause that a cheap check confirms: one line naming
    it and `podpy system doctor`; else None."""
    if not rootless:
        return None
    text = _chain(exc)
    for words, checks in CAUSES:
        if any(w in text for w in words):
            try:
                found = [f for f in checks() if f.status != OK]
            except Exception:  # noqa: BLE001 - a hint must never hide the error
                found = []
            if found:
                return f"Cause: {found[0].message}; `podpy system doctor` shows the fix"
    import re

    # a container's root file system: "mount `<store>/containers/<id>/merged`: ..."
    found = re.search(r"mount `(/.*?)/containers/[0-9a-f]{64}/merged`", text)
    if found:
        why = store_overlay_refusal(found.group(1), rootless)
        if why:
            return (f"Cause: the kernel refuses overlay mounts on the file system of the store {found.group(1)} "
                    f"({why}); `podpy system doctor` shows the fix")
    return None

