"""Errors the engine raises, and the exit codes the CLI maps them to.

    PodpyError (125)
    ├── InvalidArgument      bad flag values, malformed -v/-e/-u/-p, bad names
    │   ├── UnknownUser      a --user the container's /etc/passwd lacks (its start fails, not its create)
    │   └── UsageError       a command line podman's parser refuses, with its hint line
    ├── NoSuchContainer      unknown name or id prefix  (podman rm: exit 1)
    ├── NoSuchImage          unknown image
    ├── NoSuchNetwork        unknown network (podman network rm: exit 1)
    ├── NoSuchSecret         unknown secret
    ├── NoSuchPod            unknown pod (podman pod rm: exit 1)
    ├── Ambiguous            an id prefix matches several objects
    ├── NameInUse            a container name already taken
    ├── InvalidState         the container's state forbids it (rm of a running one: exit 2)
    │   ├── NetworkInUse     network rm of a network with containers, without -f (exit 2)
    │   └── ExecRefused      an exec refused before it ran anything (exit 255, podman's)
    ├── StartFailed          `start`'s words for a container it could not start
    └── EngineError          anything else, wrapping a storage/ or rootless/ error
        ├── VolumeMountFailed  a volume whose mount a rootless start cannot make (126)
        └── DatabaseUnreadable  the database is damaged or lost: `system check --repair`

Errors from storage/ and rootless/ are wrapped with context at the engine
boundary (`raise EngineError("mounting ...") from exc`) or translated by
`translate()` so the CLI shows one line.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


class PodpyError(Exception):
    exit_code = 125
    # the container a start verb failed to start, where the engine knows it: `podpy start`
    # words such an error as podman's does (StartFailed)
    container_id: "Optional[str]" = None


class InvalidArgument(PodpyError):
    pass


class UnknownUser(InvalidArgument):
    """A user or group the container's /etc/passwd or /etc/group does not name. podman creates
    a container with one all the same and fails its start (a `run`: exit 126), as Docker does."""


class UsageError(InvalidArgument):
    """A command line refused as podman's parser (cobra) refuses it: `Error: MESSAGE`, then
    hint on a line of its own when there is one (`See 'podpy ps --help'`). bare: the message
    without `Error: ` (podman's check of --log-level, which exits 1)."""

    def __init__(self, message: str, hint: str = "", bare: bool = False, exit_code: int = 125) -> None:
        super().__init__(message)
        self.hint, self.bare, self.exit_code = hint, bare, exit_code


class NoSuchContainer(PodpyError):
    pass


class NoSuchImage(PodpyError):
    pass


class NoSuchVolume(PodpyError):
    pass


class NoSuchNetwork(PodpyError):
    pass


class NoSuchSecret(PodpyError):
    pass


class NoSuchPod(PodpyError):
    pass


class Ambiguous(PodpyError):
    pass


class NameInUse(PodpyError):
    pass


class InvalidState(PodpyError):
    pass


class NetworkInUse(InvalidState):
    exit_code = 2


class EngineError(PodpyError):
    pass


class ExecRefused(InvalidState):
    """An `exec` refused before anything ran in the container (it is not running, its user is
    unknown): 255, podman's exit code for an exec that failed on its way, not in its command."""

    exit_code = 255


class StartFailed(PodpyError):
    """`podpy start`'s error for a container that could not be started, in podman's words:
    `unable to start container ID: WHY` (with -a; the id quoted without), exit code 125
    whatever the cause (a `run` keeps the cause's own, 126 or 127 among them)."""

    def __init__(self, cause: PodpyError, quoted: bool) -> None:
        cid = cause.container_id or ""
        shown = f'"{cid}"' if quoted else cid
        super().__init__(f"unable to start container {shown}: {cause}")
        self.container_id = cause.container_id


class VolumeMountFailed(EngineError):
    """A volume's driver options ask for a mount the user may not make (a block device's file
    system, say): the container cannot be started, 126 as podman's run."""

    exit_code = 126


class DatabaseUnreadable(EngineError):
    pass


class ExecFailed(PodpyError):
    """The container's command could not be run: 126 (not executable) or 127 (not found).
    command and errno: what exec(2) was given and its error, when known (the API words the
    error as Docker's daemon does from them)."""

    def __init__(self, message: str, exit_code: int, command: Optional[str] = None, errno: int = 0) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.command, self.errno = command, errno


def translate(exc: BaseException) -> PodpyError:
    """The engine's view of an error from storage/ or rootless/."""
    from rootless.errors import ExecError, RuntimeFailure
    from storage.errors import AmbiguousIdError, ImageUnknownError, ReferenceError_, StorageError

    if isinstance(exc, PodpyError):
        return exc
    from storage.db import damaged, damaged_path

    if damaged(exc):
        from storage.errors import DatabaseDamaged

        return DatabaseUnreadable(str(DatabaseDamaged(damaged_path(), str(exc))))
    import sqlite3

    if isinstance(exc, sqlite3.Error):   # locked, I/O error, disk full: SQLite's words, and which file
        if getattr(exc, "sqlite_errorcode", None) == 13:   # SQLITE_FULL
            return EngineError(f"writing the database {damaged_path()}: no space left on device")
        return EngineError(f"the database {damaged_path()}: {exc}")
    if isinstance(exc, ExecError):
        return ExecFailed(str(exc), exc.exit_code, exc.command, exc.errno)
    if getattr(exc, "status", 0) in (126, 127) and isinstance(exc, RuntimeFailure):
        return ExecFailed(str(exc), exc.status)  # type: ignore[attr-defined]
    if isinstance(exc, ImageUnknownError):
        return NoSuchImage(str(exc))
    if isinstance(exc, AmbiguousIdError):
        return Ambiguous(str(exc))
    if isinstance(exc, ReferenceError_):
        return InvalidArgument(str(exc))
    from storage.errors import DatabaseDamaged

    if isinstance(exc, DatabaseDamaged):
        return DatabaseUnreadable(str(exc))
    if isinstance(exc, (StorageError, RuntimeFailure)):
        return EngineError(str(exc))
    if isinstance(exc, OSError):
        import errno

        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            what = f"writing {exc.filename}" if exc.filename else "writing"
            return EngineError(f"{what}: no space left on device")
        where = f" `{exc.filename}`" if exc.filename else ""
        return EngineError(f"{exc.strerror or exc}{where}")
    return EngineError(f"{type(exc).__name__}: {exc}")
