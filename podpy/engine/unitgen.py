"""The text of `generate systemd`'s units, from plain inputs (no store, no database).

The units have podman 4.3.1's shape, key for key and line break for line break, with
podpy's own executable in place of podman's: a container unit either starts an existing
container (Type=forking, PIDFile= its monitor's pid file) or, with --new, makes a new one
from the command line that made the original (Type=notify: `run -d --sdnotify=conmon
--cgroups=no-conmon --rm --replace --cidfile=%t/%n.ctr-id`); a pod unit starts the pod's
infra container (or makes the pod anew with `pod create --infra-conmon-pidfile
--pod-id-file`) and wants the units of its members, which are bound to it.

Every word taken from a stored command line is escaped for systemd ($ and % doubled, words
with blanks or quotes quoted as Go's strconv.Quote quotes them, backslashes doubled).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from ..errors import InvalidArgument
from ..formats import go_quote
from .runoptions import FLAG, OPTIONS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

RESTART_POLICIES = ("no", "on-success", "on-failure", "on-abnormal", "on-watchdog", "on-abort", "always")
MIN_STOP_SECONDS = 60      # added to the stop timeout: systemd kills what is left after that
VERSION = "4.3.1"          # the podman release whose units these are


@dataclass
class SystemdOptions:
    """`generate systemd`'s flags."""
    new: bool = False
    name: bool = False
    files: bool = False
    restart_policy: Optional[str] = None
    restart_sec: Optional[int] = None
    start_timeout: Optional[int] = None
    stop_timeout: Optional[int] = None
    container_prefix: str = "container"
    pod_prefix: str = "pod"
    separator: str = "-"
    after: list[str] = field(default_factory=list)
    wants: list[str] = field(default_factory=list)
    requires: list[str] = field(default_factory=list)
    no_header: bool = False
    template: bool = False
    env: list[str] = field(default_factory=list)


@dataclass
class ContainerInput:
    """What a container's unit is made from."""
    id: str
    name: str
    create_command: list[str]
    stop_timeout: int
    env: list[str]                  # the container's environment (for --env NAME in its command line)
    pid_file: str                   # where its monitor's pid is written at each start
    run_root: str


@dataclass
class PodInput:
    id: str
    name: str
    create_command: list[str]
    infra_id: str
    infra_name: str
    stop_timeout: int
    pid_file: str
    run_root: str


@dataclass
class Header:
    """The parts every unit of one invocation shares."""
    executable: str
    timestamp: str = ""


def header(executable: str, no_header: bool, now: Optional[float] = None) -> Header:
    return Header(executable, "" if no_header else time.strftime("%a %b %e %H:%M:%S %Z %Y", time.localtime(now)))


# -- words ------------------------------------------------------------------------------------

def escape(word: str) -> str:
    """One word of a command line, as systemd reads it back: $ and % doubled, quoted when
    it holds a blank or a quote, else its backslashes doubled."""
    word = word.replace("$", "$$").replace("%", "%%")
    if any(c in word for c in " \t\""):
        return go_quote(word)
    return word.replace("\\", "\\\\")


def format_words(words: list[str]) -> str:
    """Words on one logical line, each option (a word starting with '-') on a line of its own."""
    if not words:
        return ""
    out = words[0]
    for word in words[1:]:
        out += (" \\\n\t" if word.startswith("-") else " ") + word
    return out


def format_line(line: str) -> str:
    return format_words(line.split(" "))


def service_name(prefix: str, separator: str, name: str) -> str:
    return f"{prefix}{separator}{name}" if prefix else name


def check_restart_policy(policy: Optional[str]) -> None:
    if policy is not None and policy not in RESTART_POLICIES:
        raise InvalidArgument(f"{policy} is not a valid restart policy")


# -- a stored command line, taken apart ---------------------------------------------------------

_RUN_FLAGS = {flag: o.kind for o in OPTIONS for flag in o.flags}


def _takes_value(word: str) -> bool:
    """Whether option word (no '=' in it) takes the next word as its value. Short flags
    grouped (`-it`) take one when their last letter does; a flag podpy does not know is
    taken to, as podman's flag library takes it."""
    if word.startswith("--"):
        kind = _RUN_FLAGS.get(word)
        return kind is None or kind != FLAG
    letters = word[1:]
    for i, letter in enumerate(letters):
        kind = _RUN_FLAGS.get("-" + letter)
        if kind is None:
            return True
        if kind != FLAG:
            return i == len(letters) - 1   # -eFOO holds its value; -e takes the next word
    return False


def split_options(words: list[str]) -> tuple[list[str], list[str]]:
    """(the options, the image and the command) of the words after `run` or `create`."""
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            return words[:i + 1], words[i + 1:]
        if not word.startswith("-") or word == "-":
            break
        i += 1
        if "=" not in word and _takes_value(word) and i < len(words):
            i += 1
    return words[:i], words[i:]


def _options_of(options: list[str]) -> list[tuple[str, Optional[str], list[str]]]:
    """Each option as (flag, value or None, its words)."""
    out = []
    i = 0
    while i < len(options):
        word = options[i]
        i += 1
        if word == "--":
            out.append((word, None, [word]))
            continue
        flag, eq, value = word.partition("=")
        if eq:
            out.append((flag, value, [word]))
        elif _takes_value(word) and i < len(options):
            out.append((word, options[i], [word, options[i]]))
            i += 1
        else:
            out.append((word, None, [word]))
    return out


# the options of the original a --new unit drops: it gives its own, or they name the original
_DROPPED = {"--rm", "--cgroups", "--cidfile", "--restart"}
_DROPPED_IN_POD = {"--pod", "--pod-id-file", "--infra-conmon-pidfile"}


def _is_false(value: Optional[str]) -> bool:
    return value is not None and value.lower() in ("false", "0", "f", "no")


# -- container units ---------------------------------------------------------------------------

@dataclass
class _Service:
    """A unit's variable parts, before they are laid out."""
    name: str
    template: bool = False
    run_root: str = ""
    bound_to: list[str] = field(default_factory=list)
    extra_env: list[str] = field(default_factory=list)
    restart: str = "on-failure"
    start_limit_burst: str = ""
    exec_start_pre: list[str] = field(default_factory=list)
    exec_start: str = ""
    exec_stop: str = ""
    exec_stop_post: str = ""
    pid_file: str = ""
    type: str = "forking"
    notify_access: str = ""
    timeout_stop: int = 70


def container_unit(ctr: ContainerInput, opts: SystemdOptions, head: Header,
                   pod: Optional[tuple[str, str]] = None) -> tuple[str, str, list[str]]:
    """(service name, unit text, warnings) of one container; pod: (the pod's service name,
    its pod id file) for a member of a pod."""
    check_restart_policy(opts.restart_policy)
    warnings: list[str] = []
    if opts.template:
        opts = replace(opts, new=True)   # a template's instances are new containers
    name_or_id = ctr.name if opts.name else ctr.id
    svc = _Service(service_name(opts.container_prefix, opts.separator, name_or_id), template=opts.template)
    stop = ctr.stop_timeout if opts.stop_timeout is None else opts.stop_timeout
    svc.timeout_stop = MIN_STOP_SECONDS + stop
    if pod is not None:
        svc.bound_to = [pod[0]]
    exe = head.executable
    if not opts.new:
        svc.run_root = ctr.run_root
        svc.pid_file = ctr.pid_file
        svc.exec_start = f"{exe} start {name_or_id}"
        svc.exec_stop = format_line(f"{exe} stop  -t {stop} {name_or_id}")
        svc.exec_stop_post = svc.exec_stop
    else:
        svc.run_root = "%t/containers"
        svc.type, svc.notify_access = "notify", "all"
        svc.exec_start_pre = ["/bin/rm \\\n\t-f %t/%n.ctr-id"]
        svc.exec_start = _new_container_command(ctr, opts, exe, svc, pod)
        svc.exec_stop = f"{exe} stop \\\n\t--ignore -t {stop} \\\n\t--cidfile=%t/%n.ctr-id"
        svc.exec_stop_post = f"{exe} rm \\\n\t-f \\\n\t--ignore -t {stop} \\\n\t--cidfile=%t/%n.ctr-id"
    if opts.restart_policy is not None:
        svc.restart = opts.restart_policy
    return svc.name, _container_text(svc, opts, head, ctr.env), warnings


def _new_container_command(ctr: ContainerInput, opts: SystemdOptions, exe: str, svc: _Service,
                           pod: Optional[tuple[str, str]]) -> str:
    """ExecStart of a --new unit: the original's command line with the unit's own options."""
    words = list(ctr.create_command)
    at = next((i + 1 for i, w in enumerate(words) if w in ("run", "create")), 0)
    if at == 0:
        raise InvalidArgument(f"container's create command is too short or invalid: [{' '.join(words)}]")
    # the original's words are escaped for systemd; the unit's own (with specifiers) are not
    command = [exe] + [escape(w) for w in words[1:at - 1]] + ["run", "--cidfile=%t/%n.ctr-id",
                                                                     "--cgroups=no-conmon", "--rm"]
    options, rest = split_options(words[at:])
    parsed = _options_of(options)
    if pod is not None:
        command += ["--pod-id-file", pod[1]]
    given = {flag for flag, _v, _w in parsed}
    kept: list[str] = []
    envs: list[str] = []
    sdnotify: Optional[str] = None
    detach = replace = False
    restart = ""
    for flag, value, taken in parsed:
        if flag in ("-e", "--env") and value is not None:
            envs.append(value)
        if flag == "--sdnotify":
            sdnotify = value
        if flag == "--restart" and value is not None:
            restart = value
        if flag in ("-d", "--detach"):
            detach = not _is_false(value)
            if _is_false(value):
                continue
        if flag == "--replace":
            replace = not _is_false(value)
            if _is_false(value):
                continue
        if flag in _DROPPED or (pod is not None and flag in _DROPPED_IN_POD):
            continue
        if flag == "--sdnotify" and value == "ignore":
            continue   # a Type=notify unit needs the ready message: conmon's, then
        kept += taken
    if sdnotify is None or sdnotify == "ignore":
        command.append("--sdnotify=conmon")
    if not detach:
        command.append("-d")
    if "--name" in given and not replace:
        command.append("--replace")
    if opts.restart_policy is None and restart:
        policy, _, burst = restart.partition(":")
        if policy == "on-failure" and burst:
            svc.start_limit_burst = burst
        svc.restart = "always" if policy == "unless-stopped" else policy
    for env in envs:
        if "=" not in env:   # taken from podpy's environment at create: the unit sets it
            svc.extra_env += [escape(e) for e in ctr.env if e.partition("=")[0] == env]
    command += [escape(w) for w in kept + rest]
    if opts.template:
        command = _templated_name(command, svc.name)
    return format_words(command)


def _templated_name(words: list[str], service: str) -> list[str]:
    """A template unit's container is named after its instance: NAME-%i."""
    for i, word in enumerate(words):
        if word == "--name" and i + 1 < len(words):
            words[i + 1] += "-%i"
            return words
        if word.startswith("--name="):
            words[i] += "-%i"
            return words
    at = words.index("run")
    return words[:at + 1] + [f"--name={service}-%i"] + words[at + 1:]


def _head(svc: _Service, head: Header, no_header: bool) -> list[str]:
    at = "@" if svc.template else ""
    lines = [f"# {svc.name}{at}.service"]
    if not no_header:
        lines.append(f"# autogenerated by Podman {VERSION}")
        if head.timestamp:
            lines.append(f"# {head.timestamp}")
    lines += ["", "[Unit]", f"Description=Podman {svc.name}.service" + (" for %I" if svc.template else ""),
              "Documentation=man:podman-generate-systemd(1)", "Wants=network-online.target",
              "After=network-online.target", f"RequiresMountsFor={svc.run_root}"]
    return lines


def _user_dependencies(opts: SystemdOptions) -> list[str]:
    lines = []
    if opts.wants or opts.after or opts.requires:
        lines += ["", "# User-defined dependencies"]
    for key, values in (("Wants", opts.wants), ("After", opts.after), ("Requires", opts.requires)):
        if values:
            lines.append(f"{key}={' '.join(values)}")
    return lines


def _container_text(svc: _Service, opts: SystemdOptions, head: Header, ctr_env: list[str]) -> str:
    lines = _head(svc, head, opts.no_header)
    if svc.bound_to:
        lines += [f"BindsTo={' '.join(s + '.service' for s in sorted(svc.bound_to))}",
                  f"After={' '.join(s + '.service' for s in sorted(svc.bound_to))}"]
    lines += _user_dependencies(opts)
    lines += ["", "[Service]", "Environment=PODMAN_SYSTEMD_UNIT=%n" + ("-%i" if svc.template else "")]
    if svc.extra_env:
        lines.append("Environment=" + " ".join(svc.extra_env))
    lines += [f"Environment={escape(e)}" for e in opts.env]
    lines.append(f"Restart={svc.restart}")
    if opts.restart_sec:
        lines.append(f"RestartSec={opts.restart_sec}")
    if svc.start_limit_burst:
        lines.append(f"StartLimitBurst={svc.start_limit_burst}")
    if opts.start_timeout:
        lines.append(f"TimeoutStartSec={opts.start_timeout}")
    lines.append(f"TimeoutStopSec={svc.timeout_stop}")
    lines += [f"ExecStartPre={pre}" for pre in svc.exec_start_pre]
    lines.append(f"ExecStart={svc.exec_start}")
    lines += [f"ExecStop={svc.exec_stop}", f"ExecStopPost={svc.exec_stop_post}"]
    if svc.pid_file:
        lines.append(f"PIDFile={svc.pid_file}")
    lines.append(f"Type={svc.type}")
    if svc.notify_access:
        lines.append(f"NotifyAccess={svc.notify_access}")
    lines += ["", "[Install]", "WantedBy=default.target", ""]
    return "\n".join(lines)


# -- pod units -------------------------------------------------------------------------------------

def pod_unit(pod: PodInput, members: list[str], opts: SystemdOptions, head: Header) -> tuple[str, str]:
    """(service name, unit text) of a pod whose members' units are `members`."""
    check_restart_policy(opts.restart_policy)
    name = service_name(opts.pod_prefix, opts.separator, pod.name if opts.name else pod.id)
    infra = pod.infra_name if opts.name else pod.infra_id
    stop = pod.stop_timeout if opts.stop_timeout is None else opts.stop_timeout
    exe = head.executable
    svc = _Service(name, run_root=pod.run_root, timeout_stop=MIN_STOP_SECONDS + stop,
                   restart=opts.restart_policy or "on-failure")
    if not opts.new:
        svc.pid_file = pod.pid_file
        svc.exec_start = f"{exe} start {infra}"
        svc.exec_stop = format_line(f"{exe} stop  -t {stop} {infra}")
        svc.exec_stop_post = svc.exec_stop
    else:
        pid_file, id_file = f"%t/{name}.pid", f"%t/{name}.pod-id"
        svc.pid_file = pid_file
        root, args = _pod_create_words(pod.create_command)
        root_flags = " ".join(escape(w) for w in root)
        prefix = f"{exe} {root_flags} " if root_flags else f"{exe} "
        command = [exe, *(escape(w) for w in root), "pod", "create", "--infra-conmon-pidfile", pid_file,
                   "--pod-id-file", id_file, *(escape(w) for w in args)]
        svc.exec_start_pre = [format_line(f"/bin/rm -f {pid_file} {id_file}"), format_words(command)]
        svc.exec_start = format_line(f"{prefix}pod start --pod-id-file {id_file}")
        svc.exec_stop = format_line(f"{prefix}pod stop --ignore --pod-id-file {id_file}  -t {stop}")
        svc.exec_stop_post = format_line(f"{prefix}pod rm --ignore -f --pod-id-file {id_file}")
    lines = _head(svc, head, opts.no_header)
    services = " ".join(m + ".service" for m in sorted(members))
    lines += [f"Wants={services}", f"Before={services}", "", "[Service]", "Environment=PODMAN_SYSTEMD_UNIT=%n",
              f"Restart={svc.restart}"]
    if opts.restart_sec:
        lines.append(f"RestartSec={opts.restart_sec}")
    lines.append(f"TimeoutStopSec={svc.timeout_stop}")
    lines += [f"ExecStartPre={pre}" for pre in svc.exec_start_pre]
    lines += [f"ExecStart={svc.exec_start}", f"ExecStop={svc.exec_stop}", f"ExecStopPost={svc.exec_stop_post}",
              f"PIDFile={svc.pid_file}", "Type=forking", "", "[Install]", "WantedBy=default.target", ""]
    return name, "\n".join(lines)


def _pod_create_words(words: list[str]) -> tuple[list[str], list[str]]:
    """(the global flags, the `pod create` options of the unit) from the pod's command line:
    its pod-id and pid files dropped, --exit-policy=stop first (the pod's unit stops when
    its containers have), --replace added to a named pod."""
    at = next((i for i in range(1, len(words)) if words[i - 1] == "pod" and words[i] == "create"), 0)
    if len(words) < 3 or at == 0:
        raise InvalidArgument(f"pod does not appear to be created via `podman pod create`: [{' '.join(words)}]")
    root = words[1:at - 1]
    args: list[str] = ["--exit-policy=stop"]
    named = replace = False
    i = at + 1
    while i < len(words):
        word = words[i]
        i += 1
        flag, eq, value = word.partition("=")
        if flag in _DROPPED_IN_POD:
            if not eq and i < len(words):
                i += 1
            continue
        if flag == "--name":
            named = True
        if flag == "--replace":
            if _is_false(value if eq else None):
                continue
            replace = True
        args.append(word)
    if named and not replace:
        args.append("--replace")
    return root, args
