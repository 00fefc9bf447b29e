"""The event log: what happened to containers, images and volumes, one JSON line each, in
`$XDG_RUNTIME_DIR/podpy/events.log` (podman's `events_logger = "file"`; it starts afresh
with each boot, as the runtime directory does). Lines are appended with O_APPEND in one
write each, so commands running at once never interleave them; an event that cannot be
written (a full disk) is dropped, never the command.
"""

from __future__ import annotations

import json
import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

FILE = "events.log"


def path(runroot: str) -> str:
    return os.path.join(runroot, FILE)


def emit(runroot: str, kind: str, status: str, ident: str, name: str = "", image: str = "",
         attributes: Optional[dict[str, Any]] = None) -> None:
    event = {"Type": kind, "Status": status, "ID": ident, "Name": name, "Image": image,
             "Time": time.time_ns(), "Attributes": attributes or {}}
    line = (json.dumps(event, separators=(",", ":")) + "\n").encode()
    try:
        os.makedirs(runroot, mode=0o700, exist_ok=True)
        fd = os.open(path(runroot), os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError:
        pass


def container(runroot: str, status: str, rec: Any, **attributes: Any) -> None:
    emit(runroot, "container", status, rec.id, rec.name, rec.image_name, attributes or None)
