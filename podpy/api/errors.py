"""The API's errors: a status code and Docker's `{"message": ...}` body.

    ApiError(status, message)
    ├── NotModified (304)    start of a running container, stop of a stopped one
    └── BadParameter (400)   a malformed body, query or path value

Engine errors are mapped to Docker's status codes by `from_engine` (404 no such object,
409 conflict, 400 bad argument or a command that cannot be run, 500 otherwise).
"""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class NotModified(ApiError):
    def __init__(self) -> None:
        super().__init__(304, "")


class BadParameter(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(400, message)


def exec_failure(exc: BaseException) -> str:
    """The message of a command that could not be run (ExecFailed) in Docker's daemon's words,
    which the docker CLI reads: `executable file not found` or `no such file or directory` is
    its exit code 127, `permission denied` or `is a directory` 126. podpy's own words for
    anything else (or a command not known)."""
    import os

    command, errno = getattr(exc, "command", None), getattr(exc, "errno", 0)
    if command is None:
        return str(exc)
    if getattr(exc, "exit_code", 0) == 127:
        if "/" in command:
            return f'unable to start container process: exec: "{command}": stat {command}: no such file or directory'
        return f'unable to start container process: exec: "{command}": executable file not found in $PATH'
    reason = os.strerror(errno).lower() if errno else "permission denied"
    return f'unable to start container process: exec: "{command}": {reason}'


def from_engine(exc: BaseException, docker: bool = True) -> ApiError:
    """The status Docker gives for what the engine raised (docker=False: a libpod route's,
    whose client shows podpy's own words)."""
    from .. import errors as e

    if isinstance(exc, ApiError):
        return exc
    if docker and isinstance(exc, e.ExecFailed) and exc.command is not None:
        return ApiError(400, exec_failure(exc))   # Docker's: an invalid configuration
    message = str(exc) or type(exc).__name__
    if isinstance(exc, (e.NoSuchContainer, e.NoSuchImage, e.NoSuchVolume, e.NoSuchNetwork, e.NoSuchSecret,
                        e.NoSuchPod)):
        return ApiError(404, message)
    if isinstance(exc, (e.NameInUse, e.InvalidState)):
        return ApiError(409, message)
    if isinstance(exc, (e.InvalidArgument, e.Ambiguous)):
        return ApiError(400, message)
    return ApiError(500, message)
