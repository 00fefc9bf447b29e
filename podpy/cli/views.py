"""The template views of the engines' listings: what `{{.ID}}`, `{{.Names}}`, `{{.Size}}`...
mean in `ps`, `images` and `network ls --format`, and the plain line of `events` (the engines
give back podman's JSON documents; these add the truncated, human-readable fields)."""

from __future__ import annotations

import shlex

from ..formats import ago, go_time, human_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..engine.entities import ImageSummary, NetworkSummary, PsEntry


def ps_row(entry: PsEntry, no_trunc: bool) -> dict[str, Any]:
    """One container of `ps --format`."""
    from ..network.options import ports_text

    rec = entry.record
    data = dict(entry.data)
    cmd = shlex.join(rec.config.entrypoint + rec.config.command)
    data.update({
        "ID": rec.id if no_trunc else rec.id[:12],
        "Command": cmd if no_trunc or len(cmd) <= 20 else cmd[:17] + "...",
        "CreatedAt": go_time(rec.created),
        "CreatedHuman": ago(rec.created),
        "RunningFor": ago(rec.created),
        "Names": rec.name,
        "Ports": ports_text(rec.config.ports),
        "Mounts": ",".join(data["Mounts"]),
        "Networks": ",".join(data["Networks"]),
        "Labels": rec.config.labels,
        "Size": "",
        "Pod": rec.config.pod if no_trunc else rec.config.pod[:12],
    })
    return data


def image_rows(summary: ImageSummary, no_trunc: bool) -> list[dict[str, Any]]:
    """One image of `images --format`: a row per name (REPOSITORY, TAG), or one <none> row."""
    from storage.reference import split_repo_tag

    image, created = summary.image, summary.created
    base = dict(summary.data)
    base.update({
        "ID": image.id if no_trunc else image.id[:12],
        "CreatedSince": ago(created),
        "CreatedAt": go_time(created),
        "Size": human_size(image.size),
        "ReadOnly": False,
        "Digest": image.digest or "",
    })
    rows = []
    for name in image.names or ("<none>:<none>",):
        repo, tag = ("<none>", "<none>") if name == "<none>:<none>" else split_repo_tag(name)
        rows.append({**base, "Repository": repo, "Tag": tag})
    return rows


def network_row(summary: NetworkSummary, no_trunc: bool) -> dict[str, Any]:
    """One network of `network ls --format`."""
    net = summary.network
    return {"ID": net["id"] if no_trunc else net["id"][:12], "Id": net["id"], "Name": net["name"],
            "Driver": net["driver"], "NetworkInterface": net["network_interface"], "Created": net["created"],
            "Subnets": net["subnets"], "Internal": net["internal"], "DNSEnabled": net["dns_enabled"],
            "Labels": net.get("labels") or {}, "IPv6Enabled": False, "Containers": summary.containers}


def event_line(e: dict[str, Any]) -> str:
    """podman's plain form of an event: TIME TYPE STATUS ID (image=..., name=...)."""
    import datetime as dt

    t = e.get("timeNano", 0) / 1e9
    stamp = dt.datetime.fromtimestamp(t).astimezone().strftime("%Y-%m-%d %H:%M:%S.%f %z")
    attrs = []
    if e.get("Image"):
        attrs.append(f"image={e['Image']}")
    if e.get("Name"):
        attrs.append(f"name={e['Name']}")
    attrs += [f"{k}={v}" for k, v in sorted((e.get("Attributes") or {}).items())]
    return f"{stamp} {e.get('Type')} {e.get('Status')} {e.get('ID')} ({', '.join(attrs)})"
