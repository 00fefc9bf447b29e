"""What the remote engines share: the refusal of what they lack, errors mapped to the local
engine's, one report per name."""

from __future__ import annotations

from ..engine.entities import Report
from ..errors import InvalidArgument, InvalidState, NoSuchContainer, PodpyError
from .client import ServiceError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Optional

    from .client import Client


class Remote:
    """The base of the remote engines: the client, and the command's words for refusals."""

    def __init__(self, client: Client, command: str, warn: Callable[[str], None] = lambda _line: None) -> None:
        self.client, self.command, self.warn = client, command, warn

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        from .refusals import refusal

        raise InvalidArgument(refusal(self.command))


def engine_error(exc: ServiceError, missing: type[PodpyError] = NoSuchContainer) -> PodpyError:
    """The service's error as the local engine's (404: no such object, 409: its state)."""
    if exc.status == 404:
        return missing(str(exc))
    if exc.status == 409:
        return InvalidState(str(exc))
    return PodpyError(str(exc))


def _each(names: list[str], verb: Callable[[str], Any], missing: type[PodpyError] = NoSuchContainer) -> list[Report]:
    out = []
    for name in names:
        try:
            out.append(Report(name, verb(name)))
        except ServiceError as exc:
            out.append(Report(name, error=engine_error(exc, missing)))
        except PodpyError as exc:
            out.append(Report(name, error=exc))
    return out

def exists(client: Client, kind: str, name: str) -> bool:
    """libpod's `GET /KIND/NAME/exists`: 204 when it does, 404 when not."""
    try:
        client.call("GET", f"/{kind}/{_q(name)}/exists")
    except ServiceError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def _q(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


def latest_or(eng: Any, name: Optional[str], latest: bool) -> str:
    """The container a verb names, or the latest one with --latest."""
    if latest:
        return eng.latest()
    if not name:
        raise InvalidArgument("you must provide a container name or id")
    return name
