"""`pod create`, `kube play` and `kube down` without typer: their option tables, a parser for the command
lines that need nothing else, and the commands' bodies (which cli/pods.py and cli/kube.py run
for typer too).

Building typer's tree and importing click costs 50-60 ms here, about as much as `pod create`
does once parsed. So a command line of these two is parsed from the tables below when every
word of it is one this parser is sure of: a flag of the table as `--name VALUE`, `--name=VALUE`
or `-n VALUE`, a boolean alone or (the paired ones, as app.py rewrites them for click)
`--infra=false`, and the positional words the command takes. Anything else (an unknown or
refused flag, a missing value, a grouped or attached short flag, `--`, --help) goes to typer,
so errors and help are typer's, word for word. The tables are the typer signatures' twins:
tests/unit/test_fastcmds.py compares every flag, kind and default with the click command typer
builds, and parses sample command lines both ways.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .globalflags import Globals

# how a flag takes its value
FLAG, VALUE, MULTI = "flag", "value", "multi"

# podman spells boolean flags with values (`--tls-verify=false`); click's paired flags
# (`--infra/--no-infra`) take none, so app.py rewrites these spellings before click parses
PAIRED_FLAGS = ("--tls-verify", "--rollback", "--dry-run",
                "--stream", "--layers", "--archive", "--overwrite", "--pause", "--human", "--infra",
                "--share-parent", "--sig-proxy", "--start", "--build", "--service-container",
                "--disable-dns", "--internal", "--ipv6", "--all-tags")

SECCOMP_ROOT = "/var/lib/kubelet/seccomp"   # podman's default --seccomp-profile-root

# (flags, the typer parameter, kind, default); a boolean's `--no-` flag is its second name
POD_CREATE = (
    (("-n", "--name"), "name", VALUE, None),
    (("--infra", "--no-infra"), "infra", FLAG, True),
    (("--infra-image",), "infra_image", VALUE, None),
    (("--infra-command",), "infra_command", VALUE, None),
    (("--infra-name",), "infra_name", VALUE, None),
    (("--infra-conmon-pidfile",), "infra_conmon_pidfile", VALUE, None),
    (("--share",), "share", VALUE, None),
    (("--share-parent", "--no-share-parent"), "share_parent", FLAG, True),
    (("-p", "--publish"), "publish", MULTI, None),
    (("--network", "--net"), "network", MULTI, None),
    (("-h", "--hostname"), "hostname", VALUE, None),
    (("--add-host",), "add_host", MULTI, None),
    (("--dns",), "dns", MULTI, None),
    (("--dns-search",), "dns_search", MULTI, None),
    (("--dns-option", "--dns-opt"), "dns_option", MULTI, None),
    (("-l", "--label"), "label", MULTI, None),
    (("--label-file",), "label_file", MULTI, None),
    (("--userns",), "userns", VALUE, None),
    (("--uidmap",), "uidmap", MULTI, None),
    (("--gidmap",), "gidmap", MULTI, None),
    (("--subuidname",), "subuidname", VALUE, None),
    (("--subgidname",), "subgidname", VALUE, None),
    (("-v", "--volume"), "volume", MULTI, None),
    (("--exit-policy",), "exit_policy", VALUE, "continue"),
    (("--replace",), "replace", FLAG, False),
    (("--network-alias",), "network_alias", MULTI, None),
    (("--ip",), "ip", VALUE, None),
    (("--ip6",), "ip6", VALUE, None),
    (("--mac-address",), "mac_address", VALUE, None),
    (("--pod-id-file",), "pod_id_file", VALUE, None),
    (("--no-hosts",), "no_hosts", FLAG, False),
    (("--shm-size",), "shm_size", VALUE, None),
    (("--sysctl",), "sysctl", MULTI, None),
    (("--uts",), "uts", VALUE, None),
    (("--pid",), "pid", VALUE, None),
    (("--security-opt",), "security_opt", MULTI, None),
    (("--volumes-from",), "volumes_from", MULTI, None),
    (("--device",), "device", MULTI, None),
    (("--cgroup-parent",), "cgroup_parent", VALUE, None),
    (("--cpus",), "cpus", VALUE, None),
    (("-c", "--cpu-shares"), "cpu_shares", VALUE, None),
    (("--cpuset-cpus",), "cpuset_cpus", VALUE, None),
    (("--cpuset-mems",), "cpuset_mems", VALUE, None),
    (("-m", "--memory"), "memory", VALUE, None),
    (("--memory-swap",), "memory_swap", VALUE, None),
    (("--blkio-weight",), "blkio_weight", VALUE, None),
    (("--blkio-weight-device",), "blkio_weight_device", MULTI, None),
    (("--device-read-bps",), "device_read_bps", MULTI, None),
    (("--device-write-bps",), "device_write_bps", MULTI, None),
)

KUBE_PLAY = (
    (("--down",), "down", FLAG, False),
    (("--replace",), "replace", FLAG, False),
    (("--start", "--no-start"), "start", FLAG, True),
    (("--network", "--net"), "network", MULTI, None),
    (("--publish",), "publish", MULTI, None),
    (("--configmap",), "configmap", MULTI, None),
    (("--log-driver",), "log_driver", VALUE, None),
    (("--log-opt",), "log_opt", MULTI, None),
    (("--userns",), "userns", VALUE, None),
    (("--ip",), "ip", VALUE, None),
    (("--mac-address",), "mac_address", VALUE, None),
    (("-q", "--quiet"), "quiet", FLAG, False),
    (("--strict",), "strict", FLAG, False),
    (("--authfile",), "authfile", VALUE, None),
    (("--cert-dir",), "cert_dir", VALUE, None),
    (("--creds",), "creds", VALUE, None),
    (("--tls-verify", "--no-tls-verify"), "tls_verify", FLAG, None),
    (("--no-hosts",), "no_hosts", FLAG, False),
    (("--annotation",), "annotation", MULTI, None),
    (("--build", "--no-build"), "build", FLAG, None),
    (("--context-dir",), "context_dir", VALUE, None),
    (("--seccomp-profile-root",), "seccomp_profile_root", VALUE, SECCOMP_ROOT),
    (("--service-container", "--no-service-container"), "service_container", FLAG, False),
    (("--service-exit-code-propagation",), "exit_propagation", VALUE, None),
    (("--force", "--no-force"), "force", FLAG, False),
)

KUBE_DOWN = ((("--force", "--no-force"), "force", FLAG, False),)

# command path -> (its table, its positional parameters (each one word, required but OPTIONAL_ARGS'))
COMMANDS = {"pod create": (POD_CREATE, ("pod_name",)), "kube play": (KUBE_PLAY, ("file",)),
            "play kube": (KUBE_PLAY, ("file",)), "kube down": (KUBE_DOWN, ("file",))}
OPTIONAL_ARGS = ("pod_name",)   # None when not given, as typer's Argument(None)
_TRUE, _FALSE = ("true", "1"), ("false", "0")


def parse(path: str, words: list[str]) -> Optional[dict[str, Any]]:
    """words (after the command path) as the typer parameters of the command path's function,
    every one of them given (defaults filled in); None when typer must parse them."""
    table, positional = COMMANDS[path]
    index: dict[str, tuple[str, str, bool]] = {}   # flag -> (parameter, kind, its value when a flag)
    params: dict[str, Any] = {}
    for flags, name, kind, default in table:
        params[name] = [] if kind == MULTI else default
        for flag in flags:   # a paired boolean's `--no-` name sets it false
            index[flag] = (name, kind, not (flag.startswith("--no-") and "--" + flag[5:] in flags))
    args: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word == "-" or not word.startswith("-"):
            args.append(word)
            continue
        flag, eq, value = word.partition("=") if word.startswith("--") else (word, "", "")
        row = index.get(flag)
        if row is None:
            return None   # unknown, refused, `--`, --help, grouped or attached short flags
        name, kind, on = row
        if kind == FLAG:
            if eq:   # only the paired flags' first names, as app.py rewrites them
                if flag not in PAIRED_FLAGS or value.lower() not in _TRUE + _FALSE:
                    return None
                on = value.lower() in _TRUE
            params[name] = on
            continue
        if not eq:
            if i >= len(words) or words[i].startswith("-"):
                return None   # no value, or one click might read otherwise
            value = words[i]
            i += 1
        if kind == MULTI:
            params[name].append(value)
        else:
            params[name] = value
    if not len([p for p in positional if p not in OPTIONAL_ARGS]) <= len(args) <= len(positional):
        return None
    params.update({p: None for p in positional if p in OPTIONAL_ARGS})
    params.update(zip(positional, args))
    return params


def run(path: str, params: dict[str, Any], g: Globals) -> int:
    """Run `path` (a key of COMMANDS) with parse()'s parameters on the store g names."""
    from . import render

    remote = g.remote_engine("pods" if path == "pod create" else "kube", path, render.warn) \
        if g.is_remote() else None
    if path == "pod create":
        return pod_create(g.open_runtime, params, remote)
    if path == "kube down":
        text = read_yaml(params["file"])
        print_down((remote or kube_engine(g.open_runtime())).down(text, params["force"]))
        return 0
    return kube_play(g.open_runtime, params, remote)


def pod_create(runtime: Callable[[], Any], p: dict[str, Any], remote: Any = None) -> int:
    """`pod create` from its parameters (typer's, or parse()'s): print the pod's id. runtime
    opens the command's store, once the options are checked (remote: a service's pod engine
    instead)."""
    from ..engine.podoptions import PodCreateOptions
    from ..engine.pods import PodEngine
    from ..errors import InvalidArgument
    from . import render

    if p["pod_name"] is not None and p["name"] is not None:   # podman 4.3's optional NAME
        raise InvalidArgument("cannot specify --name and NAME at the same time")
    opts = PodCreateOptions(
        name=p["name"] if p["pod_name"] is None else p["pod_name"], infra=p["infra"], infra_image=p["infra_image"], infra_command=p["infra_command"],
        infra_name=p["infra_name"], infra_conmon_pidfile=p["infra_conmon_pidfile"], share=p["share"],
        share_parent=p["share_parent"], publish=list(p["publish"]), network=list(p["network"]),
        hostname=p["hostname"], add_host=list(p["add_host"]), dns=list(p["dns"]),
        dns_search=list(p["dns_search"]), dns_option=list(p["dns_option"]), labels=list(p["label"]),
        label_files=list(p["label_file"]), userns=p["userns"], volumes=list(p["volume"]),
        uidmap=list(p["uidmap"]), gidmap=list(p["gidmap"]), subuidname=p["subuidname"],
        subgidname=p["subgidname"], exit_policy=p["exit_policy"], replace=p["replace"],
        network_alias=list(p["network_alias"]), ip=p["ip"], ip6=p["ip6"], mac_address=p["mac_address"],
        pod_id_file=p["pod_id_file"], create_command=["podpy", *sys.argv[1:]], no_hosts=p["no_hosts"],
        shm_size=p["shm_size"], sysctls=list(p["sysctl"]), uts=p["uts"], pid=p["pid"],
        security_opts=list(p["security_opt"]), volumes_from=list(p["volumes_from"]), devices=list(p["device"]),
        cgroup_parent=p["cgroup_parent"], cpus=p["cpus"], cpu_shares=p["cpu_shares"],
        cpuset_cpus=p["cpuset_cpus"], cpuset_mems=p["cpuset_mems"], memory=p["memory"],
        memory_swap=p["memory_swap"], blkio_weight=p["blkio_weight"],
        blkio_weight_device=list(p["blkio_weight_device"]), device_read_bps=list(p["device_read_bps"]),
        device_write_bps=list(p["device_write_bps"]))
    render.out((remote or PodEngine(runtime(), render.warn)).create(opts).id)
    return 0


def kube_engine(rt: Any, quiet: bool = False) -> Any:
    from ..kube.apply import KubeEngine
    from . import render

    return KubeEngine(rt, render.warn, None if quiet else render.err_line)


def read_yaml(path: str) -> str:
    """The text of a YAML file, of stdin for `-`, or of an http(s) URL (as podman fetches it)."""
    from ..errors import InvalidArgument

    if path == "-":
        return sys.stdin.read()
    scheme, sep, _rest = path.partition("://")
    if sep and scheme and scheme.isascii() and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
        return fetch_yaml(path)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise InvalidArgument(f"{path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidArgument(f"{path}: not UTF-8 text") from None


def fetch_yaml(url: str) -> str:
    """The body of a GET of url, whatever the status (podman's: a 404 page is then YAML that
    does not parse); an error that says which URL failed and why, in podman's words."""
    from ..errors import InvalidArgument

    scheme = url.split("://", 1)[0]
    if scheme not in ("http", "https"):
        raise InvalidArgument(f'Get "{url}": unsupported protocol scheme "{scheme}"')
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
    except urllib.error.HTTPError as exc:
        data = exc.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        reason = getattr(reason, "strerror", None) or str(reason)
        raise InvalidArgument(f'Get "{url}": {reason}') from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument(f"{url}: not UTF-8 text") from None


def kube_play(runtime: Callable[[], Any], p: dict[str, Any], remote: Any = None) -> int:
    """`kube play` from its parameters (typer's, or parse()'s): what it made, as podman prints it.
    runtime opens the command's store, once the options and the file are read (remote: a
    service's kube engine instead)."""
    from ..errors import InvalidArgument
    from ..kube.plan import PlayOptions
    from . import render

    exit_propagation, service_container = p["exit_propagation"], p["service_container"]
    if exit_propagation is not None and exit_propagation not in ("none", "all", "any"):
        raise InvalidArgument(f"invalid --service-exit-code-propagation {exit_propagation!r}: none, all or any")
    if exit_propagation not in (None, "none") and not service_container:
        raise InvalidArgument("--service-exit-code-propagation needs --service-container")
    context_dir, build = p["context_dir"], p["build"]
    if context_dir is not None and build is None:   # podman's check: the directory is only for --build
        raise InvalidArgument("--build must be specified when using --context-dir option")
    authfile = p["authfile"]
    if authfile is not None and not os.path.exists(authfile):
        raise InvalidArgument(f"stat {authfile}: no such file or directory")
    from ..kube.plan import MAX_ANNOTATION

    for note in p["annotation"]:
        if "=" not in note:
            raise InvalidArgument(f"annotation {note!r} must be KEY=VALUE")
        value = note.split("=", 1)[1]
        if len(value) > MAX_ANNOTATION:
            raise InvalidArgument(f"annotation exceeds maximum size, {MAX_ANNOTATION}, of kubernetes annotation: "
                                  f"{value}")

    text = read_yaml(p["file"])
    if p["down"]:
        print_down((remote or kube_engine(runtime())).down(text, p["force"]))
        return 0
    maps = [path for item in p["configmap"] for path in item.split(",") if path]
    opts = PlayOptions(network=list(p["network"]), publish=list(p["publish"]), log_driver=p["log_driver"],
                       log_opts=list(p["log_opt"]), userns=p["userns"], ip=p["ip"], mac_address=p["mac_address"],
                       no_hosts=p["no_hosts"], annotations=list(p["annotation"]),
                       seccomp_profile_root=p["seccomp_profile_root"], authfile=authfile,
                       cert_dir=p["cert_dir"], creds=p["creds"], tls_verify=p["tls_verify"])
    if context_dir is not None and not os.path.isdir(context_dir):
        raise InvalidArgument(f"--context-dir {context_dir}: not a directory")
    quiet = p["quiet"]
    report = (remote or kube_engine(runtime(), quiet)).play(text, opts, maps, start=p["start"], replace=p["replace"],
                                         strict=p["strict"], build=build, context_dir=context_dir,
                                         service_container=service_container,
                                         exit_propagation=exit_propagation or "none",
                                         say=(lambda _line: None) if quiet else render.out)
    if report.volumes:
        render.out("Volumes:")
        for name in report.volumes:
            render.out(name)
    for pod in report.pods:
        render.out(f"Pod:\n{pod.id}")
        for title, ids in (("Container", pod.containers), ("Init Container", pod.init)):
            if ids:
                render.out(title + (":" if len(ids) == 1 else "s:"))
                for cid in ids:
                    render.out(cid)
        render.out()
    return 0


def print_down(report: Any) -> None:
    """`kube down`'s report (and `kube play --down`'s), as podman prints it."""
    from . import render

    if report.stopped:
        render.out("Pods stopped:")
        for pid in report.stopped:
            render.out(pid)
    if report.removed:
        render.out("Pods removed:")
        for pid in report.removed:
            render.out(pid)
    if report.claims:
        render.out("Volumes removed:")
        for name in report.claims:
            render.out(name)
