"""The options of `run` and `create`, declared once, parsed by hand.

`podpy run` is the hot path: importing click and typer costs about 45 ms here,
and even argparse (its import plus a formatter built per option) costs about
10 ms, more than podpy needs for everything else it does before the fork. So
`run` and `create` are parsed from the table below with the rules of podman's
flag library: long flags as `--name VALUE` or `--name=VALUE`, short ones as
`-e VALUE` or `-eVALUE`, booleans grouped (`-it`), `--flag=true|false` for
booleans, no abbreviations, and the options end at the image: everything after
it is the container's command. typer lists them in `podpy --help` and forwards
`podpy container run` to the same code.
"""

from __future__ import annotations

import sys

from ..errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

FLAG, VALUE, MULTI = "flag", "value", "multi"

# (flags, destination, kind, metavar, help)
OPTIONS: tuple[tuple[tuple[str, ...], str, str, str, str], ...] = (
    (("--name",), "name", VALUE, "NAME", "name of the container"),
    (("--rm",), "remove", FLAG, "", "remove the container when it exits"),
    (("-i", "--interactive"), "interactive", FLAG, "", "keep stdin open"),
    (("-t", "--tty"), "tty", FLAG, "", "allocate a pseudo-terminal"),
    (("-e", "--env"), "env", MULTI, "K=V", "set an environment variable (K=V, K, or K* from the host)"),
    (("--env-file",), "env_file", MULTI, "FILE", "read environment variables from a file"),
    (("-v", "--volume"), "volumes", MULTI, "SRC:CTR[:OPTS]", "bind mount a host path, or mount a volume by name"),
    (("--mount",), "mounts", MULTI, "type=...,src=,dst=", "mount a bind, a volume or a tmpfs (docker's syntax)"),
    (("--tmpfs",), "tmpfs", MULTI, "PATH[:OPTS]", "mount a tmpfs"),
    (("--volumes-from",), "volumes_from", MULTI, "CTR[:ro|rw]", "mount the volumes and binds of another container"),
    (("-w", "--workdir"), "workdir", VALUE, "DIR", "working directory inside the container"),
    (("-u", "--user"), "user", VALUE, "USER[:GROUP]", "user and group, names or ids"),
    (("--entrypoint",), "entrypoint", VALUE, "CMD", "override the image's ENTRYPOINT (string or JSON array)"),
    (("-h", "--hostname"), "hostname", VALUE, "NAME", "container host name"),
    (("--network", "--net"), "network", MULTI, "MODE",
     "slirp4netns[:OPTIONS] (default), pasta[:OPTIONS], host, none, container:NAME, ns:PATH or NETWORK[:OPTIONS]"),
    (("-p", "--publish"), "publish", MULTI, "[[IP:]HOST:]CTR[/PROTO]", "publish a container's port on the host"),
    (("-P", "--publish-all"), "publish_all", FLAG, "", "publish every exposed port on a free host port"),
    (("--expose",), "expose", MULTI, "PORT[/PROTO]", "expose a port (or range) without publishing it"),
    (("--network-alias",), "network_aliases", MULTI, "NAME", "another name of the container on its networks"),
    (("--ip",), "ip", VALUE, "ADDRESS", "the container's IPv4 address on its user network"),
    (("--mac-address",), "mac_address", VALUE, "MAC", "the container's MAC address on its user network"),
    (("--add-host",), "add_hosts", MULTI, "NAME:IP", "add a line to /etc/hosts"),
    (("--dns",), "dns", MULTI, "IP", "a DNS server for /etc/resolv.conf"),
    (("--dns-search",), "dns_search", MULTI, "DOMAIN", "a DNS search domain for /etc/resolv.conf"),
    (("--dns-option", "--dns-opt"), "dns_options", MULTI, "OPTION", "a DNS option for /etc/resolv.conf"),
    (("-l", "--label"), "labels", MULTI, "K=V", "set metadata on the container"),
    (("--read-only",), "read_only", FLAG, "", "mount the root file system read-only"),
    (("--cap-add",), "cap_add", MULTI, "CAP", "add a capability"),
    (("--cap-drop",), "cap_drop", MULTI, "CAP", "drop a capability"),
    (("--privileged",), "privileged", FLAG, "", "all capabilities, no masked paths"),
    (("--pull",), "pull", VALUE, "POLICY", "pull the image: missing (default), always, newer or never"),
    (("-d", "--detach"), "detach", FLAG, "", "run in the background and print the container's id"),
    (("--restart",), "restart", VALUE, "POLICY", "no, always, unless-stopped or on-failure[:N]"),
    (("--stop-signal",), "stop_signal", VALUE, "SIGNAL", "signal that stops the container (default: the image's or SIGTERM)"),
    (("--stop-timeout",), "stop_timeout", VALUE, "SECONDS", "seconds to wait after the stop signal before SIGKILL (10)"),
    (("--log-driver",), "log_driver", VALUE, "DRIVER", "k8s-file (default) or none"),
    (("--log-opt",), "log_opts", MULTI, "K=V", "log option: max-size=SIZE (e.g. 10m), path=FILE"),
    (("-m", "--memory"), "memory", VALUE, "SIZE", "memory limit (e.g. 512m)"),
    (("--memory-swap",), "memory_swap", VALUE, "SIZE", "memory plus swap limit (-1: unlimited swap)"),
    (("--cpus",), "cpus", VALUE, "N", "CPUs the container may use (e.g. 1.5)"),
    (("-c", "--cpu-shares"), "cpu_shares", VALUE, "SHARES", "relative CPU weight (2-262144, default 1024)"),
    (("--pids-limit",), "pids_limit", VALUE, "N", "most processes at once (-1: unlimited)"),
    (("--cgroup-parent",), "cgroup_parent", VALUE, "PATH", "cgroup (within the cgroup2 tree) to put the container under"),
    (("--init",), "init", FLAG, "", "run a minimal init (catatonit or tini) as PID 1 that reaps zombies"),
    (("--init-path",), "init_path", VALUE, "PATH", "the init binary to use with --init"),
    (("--read-only-tmpfs",), "read_only_tmpfs", VALUE, "BOOL", "with --read-only: tmpfs on /run, /tmp, /var/tmp (true)"),
    (("--health-cmd",), "health_cmd", VALUE, "CMD", "healthcheck command (a shell string or a JSON array; none)"),
    (("--health-interval",), "health_interval", VALUE, "DURATION", "time between healthchecks (30s)"),
    (("--health-retries",), "health_retries", VALUE, "N", "failures in a row that make the container unhealthy (3)"),
    (("--health-start-period",), "health_start_period", VALUE, "DURATION", "failures then do not count (0s)"),
    (("--health-timeout",), "health_timeout", VALUE, "DURATION", "longest a healthcheck may run (30s)"),
    (("--health-on-failure",), "health_on_failure", VALUE, "ACTION", "when unhealthy: none, kill, restart or stop"),
    (("--no-healthcheck",), "no_healthcheck", FLAG, "", "disable the image's HEALTHCHECK"),
    (("--preserve-fds",), "preserve_fds", VALUE, "N", "pass file descriptors 3 to 3+N-1 on to the container"),
    (("--security-opt",), "security_opts", MULTI, "OPT",
     "seccomp=unconfined|FILE, no-new-privileges, mask=PATHS, unmask=PATHS"),
    (("--userns",), "userns", VALUE, "MODE", "user namespace: host (default), keep-id[:uid=N,gid=N], auto[:size=N]"),
    (("--uidmap",), "uidmap", MULTI, "CTR:HOST:SIZE", "map container uids (HOST counts the user as 0, sub-ids from 1)"),
    (("--gidmap",), "gidmap", MULTI, "CTR:HOST:SIZE", "map container gids (as --uidmap)"),
)

EXEC_OPTIONS: tuple[tuple[tuple[str, ...], str, str, str, str], ...] = (
    (("-i", "--interactive"), "interactive", FLAG, "", "keep stdin open"),
    (("-t", "--tty"), "tty", FLAG, "", "allocate a pseudo-terminal"),
    (("-d", "--detach"), "detach", FLAG, "", "run the command in the background"),
    (("-e", "--env"), "env", MULTI, "K=V", "set an environment variable"),
    (("--env-file",), "env_file", MULTI, "FILE", "read environment variables from a file"),
    (("-u", "--user"), "user", VALUE, "USER[:GROUP]", "user and group, names or ids"),
    (("-w", "--workdir"), "workdir", VALUE, "DIR", "working directory inside the container"),
    (("--privileged",), "privileged", FLAG, "", "all capabilities"),
    (("--preserve-fds",), "preserve_fds", VALUE, "N", "pass file descriptors 3 to 3+N-1 on to the command"),
)

HELP = {"run": "Run a command in a new container.", "create": "Create a container without starting it.",
        "exec": "Run a command in a running container."}
USAGE = {"exec": "CONTAINER COMMAND [ARG...]"}
TABLES = {"exec": EXEC_OPTIONS}
_TRUE = ("true", "1", "t", "yes")
_FALSE = ("false", "0", "f", "no")


def _index(options: tuple[tuple[tuple[str, ...], str, str, str, str], ...]) -> dict[str, tuple[str, str]]:
    """flag -> (destination, kind), `--help` included."""
    table = {flag: (dest, kind) for flags, dest, kind, _, _ in options for flag in flags}
    table["--help"] = ("help", FLAG)
    return table


def help_text(command: str) -> str:
    usage = USAGE.get(command, "IMAGE [COMMAND [ARG...]]")
    lines = [f"Usage: podpy {command} [OPTIONS] {usage}", "", HELP[command], "", "Options:"]
    rows = []
    for flags, _, kind, metavar, text in TABLES.get(command, OPTIONS):
        names = ", ".join(flags)
        rows.append((names + (f" {metavar}" if kind != FLAG else ""), text))
    rows.append(("--help", "show this help and exit"))
    width = max(len(r[0]) for r in rows) + 2
    lines += [f"  {name.ljust(width)}{text}" for name, text in rows]
    return "\n".join(lines) + "\n"


def parse(command: str, args: list[str]) -> Optional[dict[str, Any]]:
    """The parsed options as CreateOptions fields (ExecOptions' for exec), or None after --help."""
    options = TABLES.get(command, OPTIONS)
    table = _index(options)
    fields: dict[str, Any] = {}
    for _, dest, kind, _, _ in options:
        fields[dest] = [] if kind == MULTI else (False if kind == FLAG else None)
    fields["help"] = False

    def store(flag: str, dest: str, kind: str, value: str) -> None:
        if kind == MULTI:
            fields[dest].append(value)
        else:
            fields[dest] = value

    i, image = 0, None
    while i < len(args):
        a = args[i]
        i += 1
        if a == "--":
            if i < len(args):
                image = args[i]
                i += 1
            break
        if not a.startswith("-") or a == "-":
            image = a
            break
        if a.startswith("--"):
            flag, eq, value = a.partition("=")
            if flag not in table:
                raise InvalidArgument(f"unknown flag: {flag}")
            dest, kind = table[flag]
            if kind == FLAG:
                fields[dest] = _boolean(flag, value) if eq else True
                continue
            if not eq:
                if i >= len(args):
                    raise InvalidArgument(f"flag needs an argument: {flag}")
                value = args[i]
                i += 1
            store(flag, dest, kind, value)
            continue
        # A group of short flags: booleans first, the last may take a value (attached or next).
        j = 1
        while j < len(a):
            flag = "-" + a[j]
            if flag not in table:
                raise InvalidArgument(f"unknown shorthand flag: {a[j]!r} in {a}")
            dest, kind = table[flag]
            j += 1
            if kind == FLAG:
                if j < len(a) and a[j] == "=":
                    fields[dest] = _boolean(flag, a[j + 1:])
                    break
                fields[dest] = True
                continue
            value = a[j:]
            if value.startswith("="):
                value = value[1:]
            elif not value:
                if i >= len(args):
                    raise InvalidArgument(f"flag needs an argument: {flag}")
                value = args[i]
                i += 1
            store(flag, dest, kind, value)
            break
    if fields.pop("help"):
        sys.stdout.write(help_text(command))
        return None
    if not image:
        what = "a container name or id" if command == "exec" else "an image name"
        raise InvalidArgument(f"`podpy {command}` requires {what}")
    fields["container" if command == "exec" else "image"] = image
    fields["command"] = args[i:]
    return fields


def _boolean(flag: str, value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InvalidArgument(f"invalid argument {value!r} for {flag}: expected true or false")
