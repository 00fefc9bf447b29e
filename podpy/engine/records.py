"""The files that describe containers and volumes beside their data (see storage/sidecar.py
for the layout): what `system check --repair` rebuilds their rows from.

A container's file is written when it is created and when its name, configuration or last
exit changes; a container started with --rm gets none (it is gone when it ends). A detached
container that runs also has `run.json` in its runtime directory (the monitor that owns it,
its pid and cgroup), so that a rebuilt row hands it back to its monitor instead of forgetting
that it runs.

Written on the way of `create` and of a container's exit, a file is renamed into place but
not fsync'd: that fsync costs 3 to 12 ms on a common disk, more than the rest of writing it,
and it would buy nothing the row has: the database commits without an fsync too (WAL with
synchronous=NORMAL), so both survive a killed process and both may lose the last moments
before a machine crash, after which `system check` lists an unreadable file and removes
nothing. A rename and a configuration change (`network connect`) are fsync'd.
"""

from __future__ import annotations

import os

from storage import sidecar

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from ..state import ContainerRecord

RUN_FILE = "run.json"
# What a container's file keeps of its row: what it is, not who drives it right now.
_KEPT = ("id", "name", "image_id", "image_name", "created", "state", "exit_code", "started_at",
         "finished_at", "restarts")


def write_container(root: str, rec: ContainerRecord, durable: bool = True) -> None:
    """The container's file as rec says (durable: fsync'd before its rename; see the module's
    docstring for when it is not)."""
    if rec.config.remove:
        return
    data: dict[str, Any] = {k: getattr(rec, k) for k in _KEPT}
    data["config"] = rec.config.as_dict()
    path = sidecar.container_path(root, rec.id)
    if os.path.isdir(os.path.dirname(path)):
        sidecar.write_json(path, data, durable)


def read_container(root: str, cid: str) -> Optional[dict[str, Any]]:
    data = sidecar.read_json(sidecar.container_path(root, cid))
    if data is None or data.get("id") != cid or not isinstance(data.get("config"), dict):
        return None
    return data


def write_run(run_dir: str, rec: ContainerRecord, monitor: int, monitor_start: Optional[str]) -> None:
    """A detached start handed the container to its monitor (tmpfs, no fsync: it lasts as long
    as the run does)."""
    if rec.config.remove:
        return
    data = {"pid": rec.pid, "monitor": monitor, "monitor_start": monitor_start, "cgroup": rec.cgroup,
            "started_at": rec.started_at}
    try:
        sidecar.write_json(os.path.join(run_dir, RUN_FILE), data, durable=False)
    except OSError:
        pass


def read_run(run_dir: str) -> Optional[dict[str, Any]]:
    return sidecar.read_json(os.path.join(run_dir, RUN_FILE))


def network_path(root: str, name: str) -> str:
    return os.path.join(root, "networks", name + ".json")


def write_network(root: str, name: str, net_id: str, created: float, config: str) -> None:
    """A user network: its row as it is (networks/NAME.json; the addresses its containers hold
    are in their own files)."""
    os.makedirs(os.path.join(root, "networks"), mode=0o700, exist_ok=True)
    sidecar.write_json(network_path(root, name), {"name": name, "id": net_id, "created": created, "config": config})


def read_networks(root: str) -> dict[str, dict[str, Any]]:
    found = {}
    for entry in _listdir(os.path.join(root, "networks")):
        data = sidecar.read_json(os.path.join(root, "networks", entry))
        if entry.endswith(".json") and data is not None and data.get("name") == entry[:-5]:
            found[entry[:-5]] = data
    return found


def secret_path(root: str, sid: str) -> str:
    return os.path.join(root, "secrets", "records", sid + ".json")


def write_secret(root: str, row: dict[str, Any]) -> None:
    """A secret's row (secrets/records/ID.json, beside the data directory: never the data)."""
    os.makedirs(os.path.dirname(secret_path(root, row["id"])), mode=0o700, exist_ok=True)
    sidecar.write_json(secret_path(root, row["id"]), dict(row))


def read_secrets(root: str) -> dict[str, dict[str, Any]]:
    """The secrets whose record and data are both there."""
    data = os.path.join(root, "secrets", "filedriver")
    found = {}
    for entry in _listdir(os.path.join(root, "secrets", "records")):
        sid = entry[:-5]
        rec = sidecar.read_json(secret_path(root, sid)) if entry.endswith(".json") else None
        if rec is not None and rec.get("id") == sid and os.path.exists(os.path.join(data, sid)):
            found[sid] = rec
    return found


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return []


def write_volume(root: str, name: str, created: float, labels: dict[str, str], options: dict[str, str],
                 anonymous: bool) -> None:
    sidecar.write_json(sidecar.volume_path(root, name), {
        "name": name, "created": created, "labels": labels, "options": options, "anonymous": anonymous})


def read_volume(root: str, name: str) -> Optional[dict[str, Any]]:
    data = sidecar.read_json(sidecar.volume_path(root, name))
    if data is None or data.get("name") != name:
        return None
    return data
