"""The API's errors: a status code and Docker's `{"message": ...}` body.

    ApiError(status, message)
    ├── NotModified (304)    start of a running container, stop of a stopped one
    └── BadParameter (400)   a malformed body, query or path value

Engine errors are mapped to Docker's status codes by `from_engine` (404 no such object,
409 conflict, 400 bad argument, 500 otherwise).
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


def from_engine(exc: BaseException) -> ApiError:
    """The status Docker gives for what the engine raised."""
    from .. import errors as e

    if isinstance(exc, ApiError):
        return exc
    message = str(exc) or type(exc).__name__
    if isinstance(exc, (e.NoSuchContainer, e.NoSuchImage, e.NoSuchVolume, e.NoSuchNetwork, e.NoSuchSecret,
                        e.NoSuchPod)):
        return ApiError(404, message)
    if isinstance(exc, (e.NameInUse, e.InvalidState)):
        return ApiError(409, message)
    if isinstance(exc, (e.InvalidArgument, e.Ambiguous)):
        return ApiError(400, message)
    return ApiError(500, message)
