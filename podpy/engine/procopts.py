"""What the container's process and metadata get from the smaller run/create options, as
`create` decides them: the environment (--unsetenv, --unsetenv-all, --env-merge,
--http-proxy), supplementary groups (--group-add, keep-groups), --umask, --oom-score-adj,
--personality, --passwd-entry, labels (--label-file) and annotations (--annotation),
--no-hosts, --chrootdirs (the container's hosts and resolv.conf bound in those too), --seccomp-policy, --requires and the systemd mode (--systemd).

Values are checked as podman 4.3.1 checks them, with its messages where it has one, before
anything is made. `decide` returns ContainerConfig fields; the spec builder (spec.py) turns
them into the process's settings, which the init (rootless/child.py) applies before exec.
"""

from __future__ import annotations

import os

from ..errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from .context import Runtime
    from .runoptions import CreateOptions

# the host's variables --http-proxy (on by default) passes in, as podman's
PROXY_ENV = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "ftp_proxy", "FTP_PROXY",
             "no_proxy", "NO_PROXY")
KEEP_GROUPS = "keep-groups"
KEEP_GROUPS_ANNOTATION = "run.oci.keep_original_groups"
SECCOMP_LABEL = "io.containers.seccomp.profile"
SYSTEMD_COMMANDS = ("/sbin/init", "/usr/sbin/init", "/usr/local/sbin/init")
SYSTEMD_STOP_SIGNAL = "SIGRTMIN+3"
SYSTEMD_TMPFS = ("/run", "/run/lock", "/tmp", "/var/log/journal")
PERSONALITIES = ("LINUX", "LINUX32")


def decide(rt: Runtime, o: CreateOptions, icfg: dict[str, Any]) -> dict[str, Any]:
    """The ContainerConfig fields of the options that need neither the user nor the storage."""
    out: dict[str, Any] = {
        "umask": check_umask(o.umask), "oom_score_adj": check_oom_score_adj(o.oom_score_adj),
        "personality": check_personality(o.personality), "chrootdirs": chrootdirs(o.chrootdirs),
        "requires": requires(rt, o.requires), "no_hosts": o.no_hosts,
    }
    if o.no_hosts and o.add_hosts:
        raise InvalidArgument("--no-hosts and --add-host cannot be set together")
    out["annotations"] = annotations(o.annotations)
    policy = o.seccomp_policy or "default"
    if policy not in ("default", "image"):
        raise InvalidArgument(f'invalid seccomp policy "{policy}": valid policies are ["default" "image"]')
    out["seccomp_policy"] = policy
    return out


def check_umask(value: Optional[str]) -> str:
    if value is None:
        return ""
    if not (1 <= len(value) <= 4 and all(c in "01234567" for c in value)):
        raise InvalidArgument(f"running container create option: invalid umask string {value}: invalid argument")
    return value.rjust(4, "0")


def check_oom_score_adj(value: Optional[str]) -> Optional[int]:
    if value is None:
        return None
    text = value[1:] if value[:1] in "+-" else value
    if not (text.isascii() and text.isdigit()):
        raise InvalidArgument(f'invalid argument "{value}" for "--oom-score-adj" flag: strconv.ParseInt: '
                              f'parsing "{value}": invalid syntax')
    score = int(value)
    if not -1000 <= score <= 1000:
        raise InvalidArgument(f"invalid --oom-score-adj {value}: the kernel takes -1000 to 1000")
    return score


def check_personality(value: Optional[str]) -> str:
    if value is None:
        return ""
    if value not in PERSONALITIES:
        raise InvalidArgument(f"invalid --personality {value!r}: the execution domain is LINUX or LINUX32")
    return value


def chrootdirs(items: list[str]) -> list[str]:
    """--chrootdirs PATH: directories inside the container used as chroots, which get the
    container's /etc/hosts and /etc/resolv.conf too (a relative path counts from /)."""
    return [os.path.normpath("/" + item.lstrip("/")) for item in items if item]


def annotations(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise InvalidArgument("annotations must be formatted KEY=VALUE")
        out[key] = value
    return out


def label_file_items(paths: list[str]) -> list[str]:
    """--label-file: K=V lines (K alone: an empty value); blank lines and # comments skipped.
    They come before --label's, which override them."""
    items: list[str] = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as exc:
            raise InvalidArgument(f"unable to process labels: open {path}: {(exc.strerror or '').lower()}") from None
        items += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return items


def requires(rt: Runtime, names: list[str]) -> list[str]:
    """--requires NAME[,NAME]: the ids of the containers this one depends on."""
    from ..errors import NoSuchContainer

    out: list[str] = []
    for name in (n for item in names for n in item.split(",") if n):
        try:
            other = rt.state.lookup(name)
        except NoSuchContainer as exc:
            raise InvalidArgument(f'"{name}" is not a valid container, cannot be used as a dependency: '
                                  f"{exc}") from None
        if other.id not in out:
            out.append(other.id)
    return out


# -- the environment ---------------------------------------------------------------------------

def conf_env(items: list[str]) -> list[str]:
    """containers.conf's [containers] env as KEY=VALUE items: a bare KEY takes the caller's
    value (left out when the caller has none), as podman reads it."""
    out = []
    for item in items:
        if "=" in item:
            out.append(item)
        elif item and item in os.environ:
            out.append(f"{item}={os.environ[item]}")
    return out


def environment(o: CreateOptions, defaults: list[str], image_env: list[str], given: list[str]) -> list[str]:
    """The container's variables, in podman's order: the defaults (with --env-host the
    caller's whole environment, else with --http-proxy its proxy variables), the image's,
    --env-merge's rewrites of those, --unsetenv/--unsetenv-all taking them away, then the
    variables given (-e, --env-file), which nothing takes away."""
    from ..options import merge_env

    base = list(defaults)
    if o.env_host:
        base = merge_env(base, [f"{k}={v}" for k, v in os.environ.items()])
    elif o.http_proxy:
        base = merge_env(base, [f"{k}={os.environ[k]}" for k in PROXY_ENV if k in os.environ])
    env = dict(item.partition("=")[::2] for item in merge_env(base, image_env))
    for item in o.env_merge:
        name, value = _merged(item, env)
        if name in env:   # only a variable there is rewritten, as podman does
            env[name] = value
    for name in o.unsetenv:
        env.pop(name, None)
    if o.unsetenv_all:
        env = {}
    return merge_env([f"{k}={v}" for k, v in env.items()], given)


def _merged(item: str, env: dict[str, str]) -> tuple[str, str]:
    """--env-merge K=V with the variables expanded (${K}, $K, ${K:-word}...)."""
    from ..imagebuild.words import ExpansionError, expand

    try:
        text = expand(item, env)
    except ExpansionError as exc:
        raise InvalidArgument(f"unable to process variables for --env-merge {item}: {exc}") from None
    name, _, value = text.partition("=")
    return name, value.split("=")[0]


# -- groups and the passwd entry ------------------------------------------------------------

def group_add(items: list[str], group: Optional[bytes]) -> tuple[list[int], bool]:
    """--group-add GROUP (a name in the image's /etc/group or a number): the gids, and whether
    keep-groups (the caller's own supplementary groups, kept) was asked for."""
    if KEEP_GROUPS in items:
        if len(items) > 1:
            raise InvalidArgument("the '--group-add keep-groups' option is not allowed with any other "
                                  "--group-add options")
        return [], True
    table = [line.split(":") for line in (group or b"").decode("utf-8", "replace").splitlines()
             if line and not line.startswith("#")]
    gids: list[int] = []
    for item in items:
        if item.isascii() and item.isdigit():
            gid = int(item)
        else:
            entry = next((e for e in table if e[0] == item and len(e) > 2 and e[2].isdigit()), None)
            if entry is None:
                raise InvalidArgument(f"unable to find group {item}: no matching entries in group file")
            gid = int(entry[2])
        if gid >= 1 << 32:
            raise InvalidArgument(f"invalid --group-add {item}: out of range")
        if gid not in gids:
            gids.append(gid)
    return gids, False


# the line podman adds for a --user its image's /etc/passwd lacks
DEFAULT_PASSWD_ENTRY = "$USERNAME:*:$UID:$GID:$NAME:$HOME:/bin/sh"


def passwd_with_entry(template: str, uid: int, gid: int, home: str, passwd: Optional[bytes]) -> Optional[str]:
    """--passwd-entry: /etc/passwd with the line of the template for a uid it lacks ($USERNAME
    and $UID the uid, $GID, $NAME "container user", $HOME); None when the uid is there."""
    text = (passwd or b"").decode("utf-8", "surrogateescape")
    if any(line.split(":")[2:3] == [str(uid)] for line in text.splitlines()):
        return None
    values = {"USERNAME": str(uid), "UID": str(uid), "GID": str(gid), "NAME": "container user", "HOME": home}
    line = _expand_template(template, values)
    if text and not text.endswith("\n"):
        text += "\n"
    return text + line + "\n"


def group_with_entry(gid: int, user: str, group: bytes) -> Optional[str]:
    """/etc/group with podman's line (`GID:x:GID:USER`) for a --user's numeric group it lacks;
    None when the gid is there."""
    text = group.decode("utf-8", "surrogateescape")
    if any(line.split(":")[2:3] == [str(gid)] for line in text.splitlines()):
        return None
    if text and not text.endswith("\n"):
        text += "\n"
    return f"{text}{gid}:x:{gid}:{user}\n"


def _expand_template(template: str, values: dict[str, str]) -> str:
    """$NAME and ${NAME} replaced (unknown names by nothing), as Go's os.Expand."""
    import re

    return re.sub(r"\$(?:\{(\w+)\}|(\w+))", lambda m: values.get(m.group(1) or m.group(2), ""), template)


def check_rootfs(value: str) -> tuple[str, bool]:
    """--rootfs: the directory given in the image's place, which the container writes in; with
    PATH:O, an overlay's lower layer, the container's writes kept in an upper layer of its
    own (gone with the container), as podman does. (path, whether an overlay)."""
    overlay = value.endswith(":O")
    if overlay:
        value = value[:-2]
    path = os.path.abspath(value)
    if not os.path.exists(path):
        raise InvalidArgument(f"running container create option: stat {path}: no such file or directory")
    if not os.path.isdir(path):
        raise InvalidArgument(f"--rootfs {value}: not a directory")
    return path, overlay


def subid_maps(uidname: Optional[str], gidname: Optional[str], maps: Any) -> tuple[list[str], list[str]]:
    """--subuidname/--subgidname NAME: the container's ids mapped, from 0 up, onto NAME's ranges
    of /etc/subuid and /etc/subgid (one name stands for both when the other is not given), as
    --uidmap/--gidmap values. Rootless, those ranges must be among the caller's own subordinate
    ids (maps: the default user namespace's), the only ones its user namespace has."""
    import pwd

    from rootless.userns import SUBGID, SUBUID, read_subids

    out: list[list[str]] = []
    for name, path, kind, own in ((uidname or gidname, SUBUID, "subuid", maps.uids),
                                  (gidname or uidname, SUBGID, "subgid", maps.gids)):
        try:
            uid = pwd.getpwnam(str(name)).pw_uid
        except KeyError:
            uid = -1
        ranges = read_subids(path, str(name), uid)
        if not ranges:
            raise InvalidArgument(f'no {kind} ranges found for user "{name}" in {path}')
        items: list[str] = []
        inside = 0
        for start, count in ranges:
            where = next((m.container_id + start - m.host_id for m in own
                          if m.host_id <= start and start + count <= m.host_id + m.size), None)
            if where is None:
                raise InvalidArgument(f"--{kind}name {name}: its ids {start}-{start + count - 1} are not among the "
                                      "subordinate ids of the user running podpy, the only ones a rootless "
                                      "container can have")
            items.append(f"{inside}:{where}:{count}")
            inside += count
        out.append(items)
    return out[0], out[1]


# -- --seccomp-policy image ---------------------------------------------------------------------

def image_seccomp(rt: Runtime, labels: dict[str, str]) -> str:
    """--seccomp-policy image: the profile of the image's io.containers.seccomp.profile label, in
    a file of its own (by digest) under the store's root; refused when the image has none."""
    profile = labels.get(SECCOMP_LABEL)
    if not profile:
        raise InvalidArgument("no seccomp policy defined by image")
    import hashlib
    import json

    try:
        json.loads(profile)
    except ValueError as exc:
        raise InvalidArgument(f"the image's seccomp profile ({SECCOMP_LABEL}) is no JSON: {exc}") from None
    directory = os.path.join(rt.cfg.root, "seccomp-images")
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, hashlib.sha256(profile.encode()).hexdigest() + ".json")
    if not os.path.exists(path):
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "w") as f:
            f.write(profile)
        os.replace(tmp, path)
    return path


# -- --systemd ---------------------------------------------------------------------------------

def systemd_mode(value: Optional[str], command: list[str]) -> bool:
    """--systemd true (the default: when the command is systemd or an init), false or always."""
    mode = (value or "true").lower()
    if mode not in ("true", "false", "always"):
        raise InvalidArgument(f'invalid value "{value}" systemd option requires \'true, false, always\'')
    if mode == "always":
        return True
    if mode == "false" or not command:
        return False
    return command[0] in SYSTEMD_COMMANDS or os.path.basename(command[0]) == "systemd"


def systemd_mounts(taken: set[str]) -> list[dict[str, Any]]:
    """The tmpfs a systemd container gets where the user mounted nothing, each with what the
    image has there copied in (tmpcopyup), as podman's."""
    options = ["rw", "rprivate", "nosuid", "nodev", "tmpcopyup"]
    return [{"destination": dest, "type": "tmpfs", "source": "tmpfs",
             "options": options + (["mode=1777"] if dest == "/tmp" else [])}
            for dest in SYSTEMD_TMPFS if dest not in taken]
