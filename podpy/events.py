"""The event log: what happened to containers, images and volumes, one JSON line each, in
`$XDG_RUNTIME_DIR/podpy/events.log` (podman's `events_logger = "file"`; it starts afresh
with each boot, as the runtime directory does), or TMPDIR/events/events.log with --tmpdir;
none with `--events-backend none`. Lines are appended with O_APPEND in one
write each, so commands running at once never interleave them; an event that cannot be
written (a full disk) is dropped, never the command.
"""

from __future__ import annotations

import os
import time

from storage import fastjson as json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

FILE = "events.log"
BACKENDS = ("file", "none")
_backend = "file"
_tmpdir: Optional[str] = None


def configure(backend: str, tmpdir: Optional[str] = None) -> None:
    """This process's event log: "file" or "none" (--events-backend; journald has fallen back to
    file before here), in the runroot or, with --tmpdir, in TMPDIR/events as podman keeps it."""
    global _backend, _tmpdir
    if backend not in BACKENDS:
        raise ValueError(f"events backend {backend!r}: one of {', '.join(BACKENDS)}")
    _backend, _tmpdir = backend, tmpdir


def backend() -> str:
    return _backend


def path(runroot: str) -> str:
    if _tmpdir:
        return os.path.join(os.path.abspath(_tmpdir), "events", FILE)
    return os.path.join(runroot, FILE)


def emit(runroot: str, kind: str, status: str, ident: str, name: str = "", image: str = "",
         attributes: Optional[dict[str, Any]] = None) -> None:
    if _backend == "none":
        return
    event = {"Type": kind, "Status": status, "ID": ident, "Name": name, "Image": image,
             "Time": time.time_ns(), "Attributes": attributes or {}}
    line = (json.dumps(event, separators=(",", ":")) + "\n").encode()
    try:
        log = path(runroot)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        try:
            fd = os.open(log, flags, 0o600)
        except FileNotFoundError:   # the first event under this runroot
            os.makedirs(os.path.dirname(log), mode=0o700, exist_ok=True)
            fd = os.open(log, flags, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError:
        pass


def container(runroot: str, status: str, rec: Any, **attributes: Any) -> None:
    """A container's event; its labels are among the attributes, as podman records them (the
    event's own attributes win over a label of the same name)."""
    labels = getattr(getattr(rec, "config", None), "labels", None) or {}
    emit(runroot, "container", status, rec.id, rec.name, rec.image_name, {**labels, **attributes} or None)
