"""Errors raised by rootless/, and their wire form between processes.

    RuntimeFailure
    ├── SyscallError      a system call failed: its op, path and errno (also an OSError)
    ├── IdMapError        newuidmap/newgidmap or /etc/subuid refused the mapping
    ├── ExecError         the container's command could not be executed
    │                     (exit 127 when not found, 126 when not executable)
    ├── NetworkError      slirp4netns/pasta could not be started or configured
    └── SetupError        anything else in the container set-up, with its step (and the
                          status podman gives such a failure: 126 for a denied one, 127 for
                          a missing file, else none)

Errors raised inside a container's set-up process travel to the parent over the
sync socket as a small dict (`to_wire`) and are rebuilt there (`from_wire`), so
the CLI prints one line instead of a child's traceback.
"""

from __future__ import annotations

import errno as _errno
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


# The exit status of a set-up process (stage 1, the init, exec's stage) that failed before exec.
EXIT_SETUP_FAILED = 125


class RuntimeFailure(Exception):
    """Base of every error rootless/ raises on purpose."""

    def to_wire(self) -> dict[str, Any]:
        return {"kind": "setup", "message": str(self)}


class SyscallError(RuntimeFailure, OSError):
    """A system call failed: `op` (the call, "ioctl(TIOCSCTTY)" for an ioctl), the `path` it
    was about ("" when none) and `errno`. `str()` reads like crun's:
    "pivot_root `/x`: Invalid argument". An OSError, so `except OSError` catches it."""

    def __init__(self, op: str, path: str, err: int) -> None:
        OSError.__init__(self, err, os.strerror(err))
        self.op = op
        self.path = path

    @property
    def syscall(self) -> str:
        return self.op

    def __str__(self) -> str:
        where = f" `{self.path}`" if self.path else ""
        return f"{self.op}{where}: {os.strerror(self.errno or 0)}"

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled by run_in_userns's helpers: rebuilt from the fields, not OSError's args
        return (type(self), (self.op, self.path, self.errno))

    def to_wire(self) -> dict[str, Any]:
        return {"kind": "syscall", "op": self.op, "path": self.path, "errno": self.errno}


class IdMapError(RuntimeFailure):
    """The user namespace's id maps could not be written."""

    def to_wire(self) -> dict[str, Any]:
        return {"kind": "idmap", "message": str(self)}


class ExecError(RuntimeFailure):
    """The container's process could not be executed.

    `exit_code` follows podman: 127 when the file is not found, 126 otherwise.
    """

    def __init__(self, command: str, err: int) -> None:
        self.command = command
        self.errno = err
        self.exit_code = 127 if err == _errno.ENOENT else 126
        super().__init__(self._message())

    def _message(self) -> str:
        if self.errno == _errno.ENOENT:
            return f"executable file `{self.command}` not found in $PATH: No such file or directory"
        return f"`{self.command}`: {os.strerror(self.errno)}: permission denied or not executable"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.command, self.errno))

    def to_wire(self) -> dict[str, Any]:
        return {"kind": "exec", "command": self.command, "errno": self.errno}


class NetworkError(RuntimeFailure):
    """Userspace networking could not be set up."""

    def to_wire(self) -> dict[str, Any]:
        return {"kind": "network", "message": str(self)}


class SetupError(RuntimeFailure):
    """A step of the container set-up failed for another reason. status: the exit status
    podman gives the failure, as its runtime's error reads (126 when something was denied,
    127 when a file was missing), or 0 for podpy's own 125."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.status))

    def to_wire(self) -> dict[str, Any]:
        return {"kind": "setup", "message": str(self), "status": self.status}


def from_wire(data: dict[str, Any]) -> RuntimeFailure:
    """Rebuild an error sent by `to_wire` in another process."""
    kind = data.get("kind")
    if kind == "syscall":
        # "syscall": the field's name before it was "op" (a monitor started by an older podpy)
        op = data.get("op", data.get("syscall", "?"))
        return SyscallError(str(op), str(data.get("path") or ""), int(data["errno"]))
    if kind == "exec":
        return ExecError(str(data["command"]), int(data["errno"]))
    if kind == "idmap":
        return IdMapError(str(data["message"]))
    if kind == "network":
        return NetworkError(str(data["message"]))
    return SetupError(str(data.get("message", "container set-up failed")), int(data.get("status") or 0))
