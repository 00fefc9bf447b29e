"""System commands: info, version, events, unshare, system df/prune/reset/doctor (each one
SystemEngine call)."""

from __future__ import annotations

import os
import sys
from typing import Any, List, Optional

import typer

from . import render
from .app import runtime


def engine(ctx: typer.Context) -> Any:
    """The system engine over this command's store."""
    from .app import remote_engine

    remote = remote_engine(ctx, "system", render.warn)
    if remote is not None:
        return remote
    from ..engine.system import SystemEngine

    return SystemEngine(runtime(ctx), render.warn)


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


def version(
    ctx: typer.Context,
    fmt: Optional[str] = typer.Option(None, "-f", "--format", help="json, or a Go template."),
) -> None:
    """Print podpy's version (and the service's, with --remote)."""
    from ..engine.system import SystemEngine
    from .app import remote_engine

    data = SystemEngine.version()
    service = remote_engine(ctx, "system")
    if service is not None:
        _remote_version(data, service.server_version(), fmt)
        return
    if fmt == "json":
        render.out(render.to_json({"Client": data}))
    elif fmt:
        from . import gotemplate as gt

        # podman's: the template over {Client}, and when that fails, as an older podman's
        # template over the version itself (`.Server.` and `.Client.` read as `.`)
        try:
            text = gt.parse(gt.split_table(fmt)[1]).execute({"Client": data})
        except gt.TemplateError:
            body = gt.split_table(fmt)[1].replace(".Server.", ".").replace(".Client.", ".")
            text = gt.parse(body).execute(data)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        render.out(f"Version:      {data['Version']}")
        render.out(f"API Version:  {data['APIVersion']}")
        render.out(f"Python Version: {data['PythonVersion']}")
        render.out(f"OS/Arch:      {data['OsArch']}")


def _remote_version(client: dict, doc: dict, fmt: Optional[str]) -> None:
    """`--remote version`: podpy's, then the service's (podman's Server part)."""
    details = ((doc.get("Components") or [{}])[0] or {}).get("Details") or {}
    server = {"Name": ((doc.get("Components") or [{}])[0] or {}).get("Name", ""), "Version": doc.get("Version", ""),
              "APIVersion": details.get("APIVersion", ""), "GoVersion": doc.get("GoVersion", ""),
              "OsArch": f"{doc.get('Os', '')}/{doc.get('Arch', '')}", "Os": doc.get("Os", "")}
    both = {"Client": client, "Server": server}
    if fmt == "json":
        render.out(render.to_json(both))
    elif fmt:
        from . import gotemplate as gt

        text = gt.parse(gt.split_table(fmt)[1]).execute(both)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        for line in ("Client:       podpy", f"Version:      {client['Version']}",
                     f"API Version:  {client['APIVersion']}", f"OS/Arch:      {client['OsArch']}", "",
                     f"Server:       {server['Name']}", f"Version:      {server['Version']}",
                     f"API Version:  {server['APIVersion']}", f"Go Version:   {server['GoVersion']}",
                     f"OS/Arch:      {server['OsArch']}"):
            render.out(line)


def info(
    ctx: typer.Context,
    fmt: Optional[str] = typer.Option(None, "-f", "--format", help="json, or a Go template."),
) -> None:
    """Show how podpy is set up on this host: store, driver and why, id mappings, cgroups, network."""
    from .views import info_view

    data = engine(ctx).info()
    if fmt == "json":
        render.out(render.to_json(data))
    elif fmt:
        render.inspect([info_view(data)], fmt)
    else:
        for line in _yaml(data):
            render.out(line)


def unshare(
    ctx: typer.Context,
    command: Optional[List[str]] = typer.Argument(None, help="Command to run (default: $SHELL)."),
    rootless_netns: bool = typer.Option(False, "--rootless-netns",
                                        help="In the network namespace of the user networks' bridges too."),
) -> None:
    """Run a command in the user's user namespace (to reach files owned by subordinate ids)."""
    raise typer.Exit(engine(ctx).unshare(list(command or []), rootless_netns))


def df(
    ctx: typer.Context,
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Each image and container."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json, or a Go template."),
) -> None:
    """Show the disk space the user's images and containers take."""
    from ..formats import human_size

    usage = engine(ctx).df()
    rows = []
    for kind, label in (("Images", "Images"), ("Containers", "Containers"), ("Volumes", "Local Volumes")):
        u = usage[kind]
        pct = f"{100 * u['Reclaimable'] / u['Size']:.0f}%" if u["Size"] else "0%"
        rows.append({"Type": label, "Total": u["Total"], "Active": u["Active"], "Size": human_size(u["Size"]),
                     "Reclaimable": f"{human_size(u['Reclaimable'])} ({pct})", "RawSize": u["Size"],
                     "RawReclaimable": u["Reclaimable"]})
    if verbose and fmt is None:
        _df_verbose(usage)
        return
    render.formatted(rows, fmt, [("TYPE", "Type"), ("TOTAL", "Total"), ("ACTIVE", "Active"), ("SIZE", "Size"),
                                 ("RECLAIMABLE", "Reclaimable")])


def _df_verbose(usage: dict[str, Any]) -> None:
    """`system df -v` as podman 4.3.1 lays it out: images (by repository and tag), containers
    and volumes, sizes as Docker's units.HumanSize (four digits, no space), times since."""
    import time

    from ..formats import human_duration, human_size
    from storage.reference import split_repo_tag

    def size(n: int) -> str:
        return human_size(n, sep="", digits=4)

    def since(ts: float) -> str:
        return human_duration(time.time() - ts) if ts else ""

    images = []
    for i in usage["ImageList"]:
        repo, tag = split_repo_tag(i["Names"][0]) if i["Names"] else ("<none>", "<none>")
        images.append({"Repository": repo, "Tag": tag, "Id": i["Id"][:12], "Created": since(i["Created"]),
                       "Size": size(i["Size"]), "SharedSize": size(i["SharedSize"]),
                       "UniqueSize": size(i["UniqueSize"]), "Containers": i["Containers"]})
    render.out("Images space usage:\n")
    render.table(images, [("REPOSITORY", "Repository"), ("TAG", "Tag"), ("IMAGE ID", "Id"), ("CREATED", "Created"),
                          ("SIZE", "Size"), ("SHARED SIZE", "SharedSize"), ("UNIQUE SIZE", "UniqueSize"),
                          ("CONTAINERS", "Containers")])
    ids = {name: i["Id"][:12] for i in usage["ImageList"] for name in i["Names"]}   # (podman shows the image's id)
    containers = [{"Id": c["Id"][:12], "Image": ids.get(c["Image"], c["Image"]), "Command": " ".join(c["Command"]),
                   "LocalVolumes": c["LocalVolumes"], "Size": size(c["Size"]), "Created": since(c["Created"]),
                   "Status": c["Status"], "Name": c["Name"]} for c in usage["ContainerList"]]
    render.out("\nContainers space usage:\n")
    render.table(containers, [("CONTAINER ID", "Id"), ("IMAGE", "Image"), ("COMMAND", "Command"),
                              ("LOCAL VOLUMES", "LocalVolumes"), ("SIZE", "Size"), ("CREATED", "Created"),
                              ("STATUS", "Status"), ("NAMES", "Name")])
    render.out("\nLocal Volumes space usage:\n")
    render.table([{**v, "Size": size(v["Size"])} for v in usage["VolumeList"]],
                 [("VOLUME NAME", "Name"), ("LINKS", "Links"), ("SIZE", "Size")])


def prune(
    ctx: typer.Context,
    all_: bool = typer.Option(False, "-a", "--all", help="Remove every unused image, not only dangling ones."),
    force: bool = typer.Option(False, "-f", "--force", help="Do not ask for confirmation."),
    volumes: bool = typer.Option(False, "--volumes", help="Remove volumes no container uses too."),
    filters: List[str] = typer.Option([], "--filter",
                                      help="Only what matches: until=TIME, label=KEY[=VALUE], label!=KEY[=VALUE]."),
) -> None:
    """Remove stopped containers and dangling (with -a: unused) images."""
    from ..engine.entities import PruneFilters

    PruneFilters.parse(list(filters), "{key} is an invalid filter")   # a bad filter fails before the question
    what = "all images without at least one container" if all_ else "all dangling images"
    extra = "\n\t- all volumes not used by at least one container" if volumes else ""
    if not force and not render.confirm(
            "system prune", f"WARNING! This command removes:\n\t- all stopped containers\n\t- {what}{extra}\n"):
        return
    from ..formats import human_size

    removed = engine(ctx).prune(all_, volumes, list(filters))
    # podman's words: a heading over what was removed of each kind, then the space it held
    for heading, names in (("Deleted Containers", removed.containers), ("Deleted Volumes", removed.volumes or []),
                           ("Deleted Networks", removed.networks), ("Deleted Images", removed.images)):
        if names:
            render.out(heading)
            for name in names:
                render.out(name)
    render.out(f"Total reclaimed space: {human_size(removed.reclaimed, '', 4)}")
    if removed.volumes_error is not None:
        raise removed.volumes_error


def reset(
    ctx: typer.Context,
    force: bool = typer.Option(False, "-f", "--force", help="Do not ask for confirmation."),
) -> None:
    """Remove every container, image and layer of the user's, and podpy's state."""
    eng = engine(ctx)
    if not force and not render.confirm(
            "system reset", f"WARNING! This will remove all containers, images and state in {eng.rt.cfg.root} and "
            f"{eng.rt.cfg.runroot}."):
        return
    eng.reset()


def check(
    ctx: typer.Context,
    repair: bool = typer.Option(False, "-r", "--repair", help="Rebuild the database from the store's files and "
                                "remove damaged images no container uses."),
    force: bool = typer.Option(False, "-f", "--force", help="Repair, and remove the containers of damaged "
                               "images too."),
    quick: bool = typer.Option(False, "-q", "--quick", help="Skip the time-consuming checks (SQLite's full "
                               "integrity check)."),
    max_age: Optional[str] = typer.Option(None, "-m", "--max", metavar="DURATION",
                                          help="Maximum allowed age of layers no image uses (default 24h)."),
) -> None:
    """Check the store's database against its files; with --repair, rebuild it from them (podpy
    only: podman 4.3.1 has no such command; podman 5's, with its flags and report)."""
    from ..engine.entities import SystemCheckOptions
    from ..errors import PodpyError

    opts = SystemCheckOptions(repair=repair or force, force=force, quick=quick,
                              max_age=_duration(max_age) if max_age is not None else 86400.0)
    eng = engine(ctx)
    report = eng.check(opts)
    if report.database:
        render.out(f"Damaged database {os.path.join(eng.rt.cfg.root, 'podpy.db')}:")
        render.out(f"\t* {report.database}")
    for kind, word in (("layers", "layer"), ("images", "image"), ("containers", "container"),
                       ("volumes", "volume")):
        for ident, problems in sorted(getattr(report, kind).items()):
            render.out(f"Damaged {word} {ident}:")
            for p in problems:
                render.out(f"\t* {p}")
    for kind, word in (("removed_layers", "layer"), ("removed_images", "image"),
                       ("removed_containers", "container")):
        for ident in getattr(report, kind):
            render.out(f"Deleted damaged {word}: {ident}")
    if report.restored:
        n = report.restored
        render.out(f"Rebuilt the database {os.path.join(eng.rt.cfg.root, 'podpy.db')} from the store's files: "
                   f"{n['images']} images, {n['layers']} layers, {n['volumes']} volumes, {n['containers']} containers")
        if report.moved_aside:
            render.out(f"The old database is kept as {report.moved_aside}")
    for path in report.unknown:
        render.out(f"Not described by any record, left as it is: {path}")
    if report.errors and not report.repaired:
        raise PodpyError("damage detected in local storage")
    if report.repaired and report.left:
        raise PodpyError("damage in local storage still present after repair attempt")


def _duration(text: str) -> float:
    """--max: a Go duration (1h30m, 90s, 24h) in seconds, as podman takes it ("0" too)."""
    from ..errors import InvalidArgument
    from ..formats import go_duration

    seconds = 0.0 if text == "0" else go_duration(text)
    if seconds is None:
        raise InvalidArgument(f'invalid argument "{text}" for "-m, --max" flag: time: invalid duration "{text}"')
    return seconds


def events(
    ctx: typer.Context,
    since: Optional[str] = typer.Option(None, "--since", help="Events since a time or duration (10m)."),
    until: Optional[str] = typer.Option(None, "--until", help="Events until a time or duration."),
    filters: List[str] = typer.Option([], "-f", "--filter", help="type=, event=, container=, image=, volume=."),
    fmt: Optional[str] = typer.Option(None, "--format", help="json, or a Go template."),
    stream: bool = typer.Option(True, "--stream/--no-stream", help="Keep printing new events (default)."),
    no_trunc: bool = typer.Option(True, "--no-trunc/--trunc",
                                  help="Full ids in the plain lines (--no-trunc=false: 12 characters)."),
) -> None:
    """Show the event log: containers, images and volumes."""
    import json

    from ..engine.entities import EventsOptions
    from ..formats import parse_time
    from .views import event_line, event_row

    eng = engine(ctx)
    opts = EventsOptions(since=parse_time(since, "--since") if since else None,
                         until=parse_time(until, "--until", ahead=True) if until else None, filters=list(filters),
                         stream=stream)
    found = eng.events(opts)
    tmpl = None
    as_json = bool(fmt) and render.is_json(str(fmt))   # `{{json .}}` too, as podman takes it
    if fmt and not as_json:
        from . import gotemplate as gt

        tmpl = gt.parse(gt.split_table(fmt)[1])
    for e in found:
        if as_json:
            render.out(json.dumps(e, separators=(",", ":"), default=str))
        elif tmpl is not None:
            text = tmpl.execute(event_row(e))
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        else:
            render.out(event_line(e, truncate=not no_trunc))
        sys.stdout.flush()


def doctor(
    ctx: typer.Context,
    fmt: Optional[str] = typer.Option(None, "-f", "--format", help="json, or a Go template per check."),
) -> None:
    """Check what this host lets you run (podpy only: podman 4.3.1 has no such command): one line
    per check, ok, warn or fail, what it means and the command that fixes it. Exits 1 when a
    check fails, else 0."""
    findings = engine(ctx).doctor()
    rows = [{"Check": f.check, "Status": f.status, "Message": f.message, "Fix": f.fix, "Admin": f.admin}
            for f in findings]
    if fmt:
        render.formatted(rows, fmt, [("STATUS", "Status"), ("CHECK", "Check"), ("MESSAGE", "Message"),
                                     ("FIX", "Fix")])
    else:
        for f in findings:
            fix = f"; fix{' (administrator)' if f.admin else ''}: {f.fix}" if f.fix and f.status != "ok" else ""
            render.out(f"{f.status:<4}  {f.check:<11}  {f.message}{fix}")
    if any(f.status == "fail" for f in findings):
        raise typer.Exit(1)


TOP = {"info": (info, {}), "version": (version, {}), "events": (events, {}),
       "unshare": (unshare, {"context_settings": {"allow_interspersed_args": False}})}
from .service import service  # noqa: E402 - its own module: the API's command

GROUP = {"info": (info, {}), "df": (df, {}), "service": (service, {}), "prune": (prune, {}), "reset": (reset, {}), "events": (events, {}),
         "doctor": (doctor, {}), "check": (check, {})}

from .connections import connection as _connection  # noqa: E402 - `system connection add|list|...`

GROUP["connection"] = (_connection, {})
