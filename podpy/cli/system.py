"""System commands: info, version, unshare."""

from __future__ import annotations

import os
import platform
import sys
from typing import Any, List, Optional

import typer

from . import render
from .app import runtime


def _yaml(data: Any, indent: int = 0) -> list[str]:
    """podman prints `info` as YAML; this is enough YAML for nested dicts, lists and scalars."""
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(data, dict):
        for k, v in data.items():
            if isinstance(v, dict) and v:
                lines.append(f"{pad}{k}:")
                lines.extend(_yaml(v, indent + 1))
            elif isinstance(v, list) and v:
                lines.append(f"{pad}{k}:")
                for item in v:
                    if isinstance(item, dict):
                        sub = _yaml(item, indent + 2)
                        sub[0] = f"{pad}  - " + sub[0].lstrip()
                        lines.extend(sub)
                    else:
                        lines.append(f"{pad}  - {_scalar(item)}")
            else:
                lines.append(f"{pad}{k}: {_scalar(v)}")
    return lines


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (dict, list)):
        return "{}" if isinstance(v, dict) else "[]"
    return str(v)


def version_data() -> dict[str, Any]:
    from .. import __version__

    return {"Version": __version__, "APIVersion": __version__, "PythonVersion": platform.python_version(),
            "GoVersion": "", "GitCommit": "", "Built": 0, "BuiltTime": "",
            "OsArch": f"{platform.system().lower()}/{_arch()}", "Os": platform.system().lower()}


def _arch() -> str:
    from ..engine.imagestore import host_arch

    return host_arch()


def version(
    fmt: Optional[str] = typer.Option(None, "-f", "--format", help="json, or a Go template."),
) -> None:
    """Print podpy's version."""
    data = version_data()
    if fmt == "json":
        render.out(render.to_json({"Client": data}))
    elif fmt:
        render.inspect([{"Client": data, **data}], fmt)
    else:
        render.out(f"Version:      {data['Version']}")
        render.out(f"API Version:  {data['APIVersion']}")
        render.out(f"Python Version: {data['PythonVersion']}")
        render.out(f"OS/Arch:      {data['OsArch']}")


def info(
    ctx: typer.Context,
    fmt: Optional[str] = typer.Option(None, "-f", "--format", help="json, or a Go template."),
) -> None:
    """Show how podpy is set up on this host: store, driver and why, id mappings, cgroups, network."""
    import shutil

    from rootless.cgroups import detect
    from rootless.userns import default_mappings

    rt = runtime(ctx)
    cfg = rt.cfg
    choice = rt.driver_choice
    rt.store  # records the choice
    recs = rt.state.all()
    mappings = default_mappings() if cfg.rootless else None
    cg = detect()
    uname = os.uname()
    from ..network.options import default_rootless_cmd

    net_default, net_source = default_rootless_cmd(cfg.config_dir)

    def idmap(maps: Any) -> list[dict[str, int]]:
        return [{"container_id": m.container_id, "host_id": m.host_id, "size": m.size} for m in maps]

    data = {
        "host": {
            "arch": _arch(),
            "cgroupManager": "cgroupfs",
            "cgroupVersion": "v2" if cg.mount else "none",
            "cgroupMount": cg.mount or "",
            "cgroupPath": cg.path or "",
            "cgroupDelegated": cg.writable,
            "cgroupControllers": list(cg.controllers),
            "cgroupStatus": cg.reason,
            "cpus": os.cpu_count(),
            "hostname": uname.nodename,
            "idMappings": {"uidmap": idmap(mappings.uids), "gidmap": idmap(mappings.gids)} if mappings else {},
            "idMappingsWarning": mappings.warning if mappings else "",
            "kernel": uname.release,
            "os": "linux",
            "ociRuntime": {"name": "podpy", "path": sys.argv[0], "version": version_data()["Version"]},
            "security": {"rootless": cfg.rootless, "capabilities": "CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER,"
                         "CAP_FSETID,CAP_KILL,CAP_NET_BIND_SERVICE,CAP_SETFCAP,CAP_SETGID,CAP_SETPCAP,"
                         "CAP_SETUID,CAP_SYS_CHROOT"},
            "networkDefault": net_default,
            "networkDefaultSource": net_source,
            "networkBackend": "podpy (rootless network namespace with bridges, veths and a DNS responder)",
            "slirp4netns": {"executable": shutil.which("slirp4netns") or ""},
            "pasta": {"executable": shutil.which("pasta") or ""},
        },
        "registries": {"search": cfg.search_registries},
        "store": {
            "configFile": os.path.join(cfg.config_dir, "storage.conf"),
            "containerStore": {"number": len(recs), "running": sum(r.state == "running" for r in recs),
                               "stopped": sum(r.state != "running" for r in recs), "paused": 0},
            "graphDriverName": choice.name,
            "graphDriverReason": choice.reason,
            "graphRoot": cfg.root,
            "imageStore": {"number": len(rt.store.images())},
            "runRoot": cfg.runroot,
        },
        "version": version_data(),
    }
    if fmt == "json":
        render.out(render.to_json(data))
    elif fmt:
        render.inspect([data], fmt)
    else:
        for line in _yaml(data):
            render.out(line)


def unshare(
    ctx: typer.Context,
    command: Optional[List[str]] = typer.Argument(None, help="Command to run (default: $SHELL)."),
) -> None:
    """Run a command in the user's user namespace (to reach files owned by subordinate ids)."""
    from rootless import syscalls
    from rootless.userns import run_in_userns

    from ..errors import ExecFailed

    rt = runtime(ctx)
    argv = list(command or []) or [os.environ.get("SHELL") or "/bin/sh"]
    env = dict(os.environ, PODPY_GRAPHROOT=rt.cfg.root, PODPY_RUNROOT=rt.cfg.runroot,
               _PODPY_USERNS_CONFIGURED="done")

    import signal

    def do_exec() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        from rootless.child import lookpath

        os.execve(lookpath(argv[0], env.get("PATH")), argv, env)

    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        code = run_in_userns(do_exec, extra_flags=syscalls.CLONE_NEWNS, expect_exec=True)
    except FileNotFoundError:
        raise ExecFailed(f"executable file `{argv[0]}` not found in $PATH: No such file or directory", 127)
    except PermissionError:
        raise ExecFailed(f"`{argv[0]}`: permission denied", 126)
    finally:
        signal.signal(signal.SIGINT, old)
    raise typer.Exit(code)


def df(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Each image and container."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json, or a Go template."),
) -> None:
    """Show the disk space the user's images and containers take."""
    from ..engine import system as sysm
    from ..formats import human_size

    usage = sysm.disk_usage(runtime(ctx))
    rows = []
    for kind, label in (("Images", "Images"), ("Containers", "Containers"), ("Volumes", "Local Volumes")):
        u = usage[kind]
        pct = f"{100 * u['Reclaimable'] / u['Size']:.0f}%" if u["Size"] else "0%"
        rows.append({"Type": label, "Total": u["Total"], "Active": u["Active"], "Size": human_size(u["Size"]),
                     "Reclaimable": f"{human_size(u['Reclaimable'])} ({pct})", "RawSize": u["Size"],
                     "RawReclaimable": u["Reclaimable"]})
    if verbose and fmt is None:
        render.out("Images space usage:\n")
        render.table([{**i, "Id": i["Id"][:12], "Size": human_size(i["Size"]), "Names": ",".join(i["Names"])}
                      for i in usage["ImageList"]],
                     [("IMAGE ID", "Id"), ("REPOSITORY", "Names"), ("SIZE", "Size"), ("CONTAINERS", "Containers")])
        render.out("\nContainers space usage:\n")
        render.table([{**c, "Id": c["Id"][:12], "Size": human_size(c["Size"])} for c in usage["ContainerList"]],
                     [("CONTAINER ID", "Id"), ("IMAGE", "Image"), ("SIZE", "Size"), ("STATUS", "Status"),
                      ("NAMES", "Name")])
        return
    render.formatted(rows, fmt, [("TYPE", "Type"), ("TOTAL", "Total"), ("ACTIVE", "Active"), ("SIZE", "Size"),
                                 ("RECLAIMABLE", "Reclaimable")])


def prune(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "-a", "--all", help="Remove every unused image, not only dangling ones."),
    force: bool = typer.Option(False, "-f", "--force", help="Do not ask for confirmation."),
    volumes: bool = typer.Option(False, "--volumes", help="Remove volumes no container uses too."),
) -> None:
    """Remove stopped containers and dangling (with -a: unused) images."""
    from ..engine import system as sysm

    what = "all images without at least one container" if all_ else "all dangling images"
    extra = "\n\t- all volumes not used by at least one container" if volumes else ""
    if not force and not render.confirm(
            "system prune", f"WARNING! This command removes:\n\t- all stopped containers\n\t- {what}{extra}\n"):
        return
    removed = sysm.prune(runtime(ctx), all_)
    render.out("Deleted Containers")
    for cid in removed["containers"]:
        render.out(cid)
    render.out("Deleted Images")
    for iid in removed["images"]:
        render.out(iid)
    if volumes:
        from ..engine import volumes as vol

        render.out("Deleted Volumes")
        for name in vol.prune(runtime(ctx)):
            render.out(name)


def reset(
    ctx: typer.Context,
    force: bool = typer.Option(False, "-f", "--force", help="Do not ask for confirmation."),
) -> None:
    """Remove every container, image and layer of the user's, and podpy's state."""
    from ..engine import system as sysm

    rt = runtime(ctx)
    if not force and not render.confirm(
            "system reset", f"WARNING! This will remove all containers, images and state in {rt.cfg.root} and "
            f"{rt.cfg.runroot}."):
        return
    sysm.reset(rt, render.warn)


def events(
    ctx: typer.Context,
    since: Optional[str] = typer.Option(None, "--since", help="Events since a time or duration (10m)."),
    until: Optional[str] = typer.Option(None, "--until", help="Events until a time or duration."),
    filters: List[str] = typer.Option([], "-f", "--filter", help="type=, event=, container=, image=, volume=."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json, or a Go template."),
    stream: bool = typer.Option(True, "--stream/--no-stream", help="Keep printing new events (default)."),
) -> None:
    """Show the event log: containers, images and volumes."""
    from ..engine import events_read as ev
    from ..formats import parse_time

    rt = runtime(ctx)
    t_since = parse_time(since, "--since") if since else None
    t_until = parse_time(until, "--until") if until else None
    wanted = ev.parse_filters(list(filters))
    tmpl = None
    if fmt and fmt != "json":
        from . import gotemplate as gt

        tmpl = gt.parse(fmt)
    for e in ev.events(rt, t_since, t_until, wanted, stream):
        if fmt == "json":
            import json

            render.out(json.dumps(ev.report(e), default=str))
        elif tmpl is not None:
            text = tmpl.execute(ev.report(e))
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        else:
            render.out(ev.line(e))
        sys.stdout.flush()


TOP = {"info": (info, {}), "version": (version, {}), "events": (events, {}),
       "unshare": (unshare, {"context_settings": {"allow_interspersed_args": False}})}
GROUP = {"info": (info, {}), "df": (df, {}), "prune": (prune, {}), "reset": (reset, {}), "events": (events, {})}
