"""The template views of the engines' listings: what `{{.ID}}`, `{{.Names}}`, `{{.Size}}`...
mean in `ps`, `images` and `network ls --format`, and the plain line of `events` (the engines
give back podman's JSON documents; these add the truncated, human-readable fields)."""

from __future__ import annotations

from ..formats import ago, go_time, human_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..engine.entities import ImageSummary, NetworkSummary, PsEntry


# `ps --format 'table ...'`: the headers podman gives fields whose names are not their headers
PS_HEADERS = {"ID": "CONTAINER ID", "CreatedHuman": "CREATED", "Pod": "POD ID", "PodName": "PODNAME",
              "Cgroup": "CGROUPNS", "User": "USERNS"}


def ps_row(entry: PsEntry, no_trunc: bool, size: bool = False) -> dict[str, Any]:
    """One container of `ps --format`: podman's fields (`.State` is the status in words, as in
    podman's templates; `.Size` only with --size; the namespaces' fields only with --ns)."""
    from ..network.options import ports_from_json, ports_text

    rec = entry.record
    data = dict(entry.data)
    cmd = " ".join(rec.config.entrypoint + rec.config.command)   # podman joins the words, unquoted
    namespaces = data.get("Namespaces") or {}
    by_field = {"MNT": "Mnt", "Cgroup": "Cgroup", "IPC": "Ipc", "NET": "Net", "PIDNS": "Pidns", "UTS": "Uts",
                "User": "User"}
    ns_fields = {f: namespaces.get(k, "") for f, k in by_field.items()}
    data.update({
        "ID": rec.id if no_trunc else rec.id[:12],
        "ImageID": rec.image_id if no_trunc else rec.image_id[:12],
        "Command": cmd if no_trunc or len(cmd) <= 20 else cmd[:17] + "...",
        "Created": go_time(rec.created),
        "CreatedAt": go_time(rec.created),
        "CreatedHuman": ago(rec.created),
        "RunningFor": ago(rec.created),
        "State": data["Status"],
        "Names": rec.name,
        "Ports": ports_text(ports_from_json(data.get("Ports"))),   # a pod's members show their infra's
        "Networks": ",".join(data["Networks"]),
        "Labels": rec.config.labels,
        "Size": _ps_size(data["Size"]) if size and data.get("Size") else "",
        "Namespaces": {"MNT": ns_fields["MNT"], "Cgroup": ns_fields["Cgroup"], "IPC": ns_fields["IPC"],
                       "NET": ns_fields["NET"], "PIDNS": ns_fields["PIDNS"], "UTS": ns_fields["UTS"],
                       "User": ns_fields["User"]},
        **ns_fields, "CGROUPNS": ns_fields["Cgroup"], "USERNS": ns_fields["User"],
        "Pod": rec.config.pod if no_trunc else rec.config.pod[:12],
    })
    return data


def _ps_size(size: dict[str, int]) -> str:
    """`ps --size`: the writable layer, then the whole file system, as podman words them."""
    return f"{human_size(size['rwSize'], '')} (virtual {human_size(size['rootFsSize'], '')})"


def image_rows(summary: ImageSummary, no_trunc: bool) -> list[dict[str, Any]]:
    """One image of `images --format`: a row per name (REPOSITORY, TAG), or one <none> row."""
    from storage.reference import split_repo_tag

    image, created = summary.image, summary.created
    base = dict(summary.data)
    base.update({
        "ID": f"sha256:{image.id}" if no_trunc else image.id[:12],
        "Created": ago(created),   # as podman's template has it (json keeps the seconds)
        "CreatedSince": ago(created),
        "CreatedAt": go_time(int(created)),   # whole seconds, as an image's Created is
        "CreatedTime": go_time(int(created)),
        "Size": human_size(image.size),
        "ReadOnly": False,
        "IsReadOnly": False,
        "Dangling": not image.names,
        "Labels": summary.data.get("Labels") or {},
        "Digest": image.digest or "",
        "History": ", ".join(summary.data.get("History") or []),
        "_created": created,
    })
    rows = []
    for name in image.names or ("<none>:<none>",):
        repo, tag = ("<none>", "<none>") if name == "<none>:<none>" else split_repo_tag(name)
        rows.append({**base, "Repository": repo, "Tag": tag})
    return rows


def sort_image_rows(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """`images --sort`: newest first (created), or ascending by id, repository, size or tag;
    ties in the order of the images' ids."""
    rows = sorted(rows, key=lambda r: r["Id"])
    if key == "created":
        return sorted(rows, key=lambda r: -r["_created"])
    field = {"id": "Id", "repository": "Repository", "size": "VirtualSize", "tag": "Tag"}[key]
    return sorted(rows, key=lambda r: r[field])


def network_row(summary: NetworkSummary, no_trunc: bool) -> dict[str, Any]:
    """One network of `network ls --format`."""
    net = summary.network
    return {"ID": net["id"] if no_trunc else net["id"][:12], "Id": net["id"], "Name": net["name"],
            "Driver": net["driver"], "NetworkInterface": net["network_interface"], "Created": net["created"],
            "Subnets": net["subnets"], "Internal": net["internal"], "DNSEnabled": net["dns_enabled"],
            "Labels": net.get("labels") or {}, "IPv6Enabled": False, "Containers": summary.containers}


# `stats`: podman's columns (CPU TIME is the CPU time used, AVG CPU % over the container's life)
STATS_COLUMNS = [("ID", "ID"), ("NAME", "Name"), ("CPU %", "CPUPerc"), ("MEM USAGE / LIMIT", "MemUsage"),
                 ("MEM %", "MemPerc"), ("NET IO", "NetIO"), ("BLOCK IO", "BlockIO"), ("PIDS", "PIDS"),
                 ("CPU TIME", "UpTime"), ("AVG CPU %", "AVGCPU")]


def stats_row(stats: dict[str, Any], no_trunc: bool) -> dict[str, Any]:
    """One container of `stats --format`: podman's ContainerStats fields, with the words of
    its table (`.CPUPerc`, `.MemUsage`, `.MemPerc`, `.PIDS` as text; `.CPU`, `.PIDs`,
    `.MemLimit` and the other raw fields as numbers)."""
    from ..formats import binary_size, go_duration_text

    def size(n: Any) -> str:
        return "--" if n is None else human_size(n, "")

    def io(a: Any, b: Any) -> str:
        return "-- / --" if a is None and b is None else f"{size(a)} / {size(b)}"

    row = dict(stats)
    mem, limit = stats["MemUsage"], stats["MemLimit"]
    row.update({
        "ID": stats["ContainerID"] if no_trunc else stats["ContainerID"][:12],
        "CPUPerc": f"{stats['CPU']:.2f}%", "AVGCPU": f"{stats['AvgCPU']:.2f}%",
        "MemUsage": io(mem, limit),
        "MemUsageBytes": "-- / --" if mem is None else f"{binary_size(mem)} / {binary_size(limit or 0)}",
        "MemPerc": "--" if stats["MemPerc"] is None else f"{stats['MemPerc']:.2f}%",
        "NetIO": io(stats["NetInput"], stats["NetOutput"]),
        "BlockIO": io(stats["BlockInput"], stats["BlockOutput"]),
        "PIDS": str(stats["PIDs"]), "UpTime": go_duration_text(stats["UpTime"]),
        "Up": go_duration_text(stats["UpTime"]),
    })
    for field in ("MemLimit", "BlockInput", "BlockOutput", "NetInput", "NetOutput"):
        row[field] = row[field] or 0   # podman's numbers are never nil
    return row


# `pod stats`: podman's columns and its report's fields, in its order
POD_STATS_COLUMNS = [("POD", "Pod"), ("CID", "CID"), ("NAME", "Name"), ("CPU %", "CPU"),
                     ("MEM USAGE/ LIMIT", "MemUsage"), ("MEM %", "Mem"), ("NET IO", "NetIO"), ("BLOCK IO", "BlockIO"),
                     ("PIDS", "PIDS")]


def pod_stats_row(pod_id: str, stats: dict[str, Any]) -> dict[str, str]:
    """One container of `pod stats` (podstats.stats_row: the API's rows are the same)."""
    from ..engine.podstats import stats_row

    return stats_row(pod_id, stats)


def stats_json(row: dict[str, Any]) -> dict[str, str]:
    """`stats --format json`: podman's entry for one container, every figure as its text."""
    return {"id": row["ID"], "name": row["Name"], "cpu_time": row["Up"], "cpu_percent": row["CPUPerc"],
            "avg_cpu": row["AVGCPU"], "mem_usage": row["MemUsage"], "mem_percent": row["MemPerc"],
            "net_io": row["NetIO"], "block_io": row["BlockIO"], "pids": row["PIDS"]}


def info_view(doc: dict[str, Any]) -> dict[str, Any]:
    """`info --format TEMPLATE`: the document with the Go names podman's templates use where
    they differ from the JSON keys by more than case (`.Host.CgroupsVersion`,
    `.Host.Security.DefaultCapabilities`)."""
    from ._gotemplate_funcs import GoNames

    host = dict(doc.get("host") or {})
    host["security"] = GoNames(host.get("security") or {}, {"DefaultCapabilities": "capabilities"})
    return {**doc, "host": GoNames(host, {"CgroupsVersion": "cgroupVersion"})}


def inspect_view(doc: Any) -> Any:
    """An inspected object as templates see it: a container's `.State.Healthcheck` is its
    `.State.Health`, as podman keeps the older name for templates; an image's `.Config` has
    every field of Go's image config, those the document leaves out as their zero values
    (`{{json .Config.Volumes}}` is `null`, `{{.Config.Cmd}}` is `[]`)."""
    if isinstance(doc, dict) and "RootFS" in doc and isinstance(doc.get("Config"), dict):
        from ._gotemplate_funcs import NilSlice

        config = {"User": "", "ExposedPorts": None, "Env": NilSlice(), "Entrypoint": NilSlice(),
                  "Cmd": NilSlice(), "Volumes": None, "WorkingDir": "", "Labels": None, "StopSignal": "",
                  "ArgsEscaped": False}
        config.update((k, v) for k, v in doc["Config"].items() if v is not None or k not in config)
        return {**doc, "Config": config}
    state = doc.get("State") if isinstance(doc, dict) else None
    if isinstance(state, dict) and "Health" in state:
        from ._gotemplate_funcs import GoNames

        return {**doc, "State": GoNames(state, {"Healthcheck": "Health"})}
    return doc


def event_time(text: str) -> str:
    """An event's RFC 3339 time as Go prints a time: `2024-01-02 15:04:05.123456789 +0000 UTC`."""
    import re
    import time

    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}:\d{2})", text or "")
    if not m:
        return text
    date, clock, zone = m.groups()
    offset = "+0000" if zone == "Z" else zone.replace(":", "")
    name = "UTC" if zone == "Z" else time.strftime("%Z")
    return f"{date} {clock} {offset} {name}"


def event_row(e: dict[str, Any]) -> dict[str, Any]:
    """One event of `events --format`: podman's fields, empty where the event has none, the
    time as Go prints it."""
    row = {"ContainerExitCode": 0, "ID": "", "Image": "", "Name": "", "Network": "", "PodID": "",
           "HealthStatus": "", **e}
    row["Time"] = event_time(e.get("Time", ""))
    row["Details"] = {"PodID": "", "Attributes": e.get("Attributes")}
    return row


def event_line(e: dict[str, Any], truncate: bool = False) -> str:
    """podman's plain form of an event, by the kind of object: a container's with its image,
    name and attributes; an image's with its name; a volume's by name; a network's with the
    network's name (ids cut to 12 characters with truncate)."""
    when, kind, status = event_time(e.get("Time", "")), e.get("Type"), e.get("Status")
    ident = str(e.get("ID") or "")
    if truncate:
        ident = ident[:12]
    if kind == "container":
        attrs = [f"image={e.get('Image', '')}", f"name={e.get('Name', '')}"]
        attrs += [f"{k}={v}" for k, v in sorted((e.get("Attributes") or {}).items())]
        return f"{when} {kind} {status} {ident} ({', '.join(attrs)})"
    if kind == "image":
        return f"{when} {kind} {status} {ident} {e.get('Name', '')}"
    if kind == "volume":
        return f"{when} {kind} {status} {e.get('Name', '')}"
    if kind == "network":
        return f"{when} {kind} {status} {ident} (name={e.get('Network', '')})"
    return f"{when} {kind} {status}"
