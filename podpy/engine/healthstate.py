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
    return os.path.join(rt.store.container_dir(rec.id), HEALTH_FILE)


def read(rt: Runtime, rec: ContainerRecord) -> Optional[dict[str, Any]]:
    """The container's health as inspect shows it (None without a healthcheck)."""
    if not rec.config.healthcheck:
        return None
    try:
        with open(health_path(rt, rec)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {"Status": "starting", "FailingStreak": 0, "Log": []}


def reset(rt: Runtime, rec: ContainerRecord) -> None:
    """A (re)started container is `starting` again."""
    if rec.config.healthcheck:
        try:
            os.unlink(health_path(rt, rec))
        except FileNotFoundError:
            pass
