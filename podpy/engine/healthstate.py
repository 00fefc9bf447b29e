"""A container's health as its healthchecks left it: `health.json` beside its storage."""

from __future__ import annotations

import json
import os

from ..state import ContainerRecord
from .context import Runtime

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

HEALTH_FILE = "health.json"


def health_path(rt: Runtime, rec: ContainerRecord) -> str:
    """health.json beside the container's storage, or <id>-healthcheck.log in the directory
    --health-log-destination names (as podman 5 names it)."""
    where = (rec.config.healthcheck or {}).get("log_destination")
    if where and where not in ("local", "events_logger"):
        return os.path.join(where, f"{rec.id}-healthcheck.log")
    return os.path.join(rt.store.container_dir(rec.id), HEALTH_FILE)


def startup_marker(rt: Runtime, rec: ContainerRecord) -> str:
    """Present once the startup healthcheck (--health-startup-cmd) has passed since the start."""
    return os.path.join(rt.store.container_dir(rec.id), "health-startup-passed")


def read(rt: Runtime, rec: ContainerRecord) -> Optional[dict[str, Any]]:
    """The container's health as inspect shows it (None without a healthcheck)."""
    if not rec.config.healthcheck:
        return None
    try:
        with open(health_path(rt, rec)) as f:
            health = json.load(f)
    except (OSError, ValueError):
        return {"Status": "starting", "FailingStreak": 0, "Log": []}
    return {k: v for k, v in health.items() if not k.startswith("_")}   # _startup: health.run's own


def reset(rt: Runtime, rec: ContainerRecord) -> None:
    """A (re)started container is `starting` again."""
    if rec.config.healthcheck:
        for path in (health_path(rt, rec), startup_marker(rt, rec)):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
