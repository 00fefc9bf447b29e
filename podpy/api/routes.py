"""Route registration and matching: (method, path pattern) -> handler, API versions.

Each area module holds a `RouteTable` and declares its handlers on it:

    routes = RouteTable()

    @routes.get("/containers/{id}/json")
    def inspect(req: Request) -> Any: ...

`Router.build(AREAS)` imports the areas and merges their tables. A path may start with
/v1.NN (Docker's version prefix); versions below MIN_VERSION or above API_VERSION are
refused as Docker refuses them, and the version asked for is the request's `version`.
"""

from __future__ import annotations

import re

from .errors import ApiError, BadParameter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Optional

API_VERSION = "1.41"       # what docker 20.10 speaks; newer clients negotiate down to it
MIN_VERSION = "1.24"       # the oldest Docker's own daemon still accepts
LIBPOD_MIN_VERSION = "4.0.0"   # the oldest libpod API podman 4's clients accept from a service
_PREFIX = re.compile(r"^/v(\d+)\.(\d+)(?:\.\d+)?(/.*)$")
_PARAM = re.compile(r"\{(\w+)\}")


def version_tuple(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


def split_version(path: str) -> tuple[Optional[str], str]:
    """(the /v1.NN prefix's version or None, the path without it)."""
    m = _PREFIX.match(path)
    if m is None:
        return None, path
    return f"{int(m.group(1))}.{int(m.group(2))}", m.group(3)


def check_version(version: Optional[str], path: str = "") -> str:
    """The version a request is served at, or Docker's refusal of it (the libpod routes' prefix
    is podman's version, v4.x.y: served as they are)."""
    if path.startswith("/libpod/"):
        return API_VERSION
    if version is None:
        return API_VERSION
    asked = version_tuple(version)
    if asked < version_tuple(MIN_VERSION):
        raise BadParameter(f"client version {version} is too old. Minimum supported API version is "
                           f"{MIN_VERSION}, please upgrade your client to a newer version")
    if asked > version_tuple(API_VERSION):
        raise BadParameter(f"client version {version} is too new. Maximum supported API version is {API_VERSION}")
    return version


class Route:
    __slots__ = ("method", "pattern", "regex", "handler", "stream_body")

    def __init__(self, method: str, pattern: str, handler: Callable[..., Any], stream_body: bool) -> None:
        self.method, self.pattern, self.handler, self.stream_body = method, pattern, handler, stream_body
        # {name} matches one segment; {path*} would be needed by no Docker route (paths go in queries)
        self.regex = re.compile("^" + _PARAM.sub(lambda m: f"(?P<{m.group(1)}>[^/]+)", re.escape(pattern)
                                                 .replace(r"\{", "{").replace(r"\}", "}")) + "$")


class RouteTable:
    """One area's routes, declared with the decorators."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, stream_body: bool = False) -> Callable[[Callable[..., Any]],
                                                                                    Callable[..., Any]]:
        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.routes.append(Route(method, pattern, fn, stream_body))
            return fn
        return register

    def get(self, pattern: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.add("GET", pattern)

    def post(self, pattern: str, stream_body: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.add("POST", pattern, stream_body)

    def put(self, pattern: str, stream_body: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.add("PUT", pattern, stream_body)

    def head(self, pattern: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.add("HEAD", pattern)

    def delete(self, pattern: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return self.add("DELETE", pattern)


class Router:
    """Every area's routes; match() finds a request's handler and its path parameters."""

    def __init__(self, tables: Iterable[RouteTable]) -> None:
        self.routes = [r for t in tables for r in t.routes]

    @classmethod
    def build(cls, areas: Iterable[str]) -> "Router":
        import importlib

        return cls(importlib.import_module(f"{__package__}.{area}").routes for area in areas)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The route of method and path (HEAD falls back to GET's), its parameters unquoted."""
        from urllib.parse import unquote

        found = [(r, m) for r in self.routes for m in (r.regex.match(path),) if m is not None]
        for wanted in (method, "GET" if method == "HEAD" else None):
            for route, m in found:
                if route.method == wanted:
                    return route, {k: unquote(v) for k, v in m.groupdict().items()}
        if found:
            raise ApiError(405, f"method {method} is not allowed for {path}")
        raise ApiError(404, f"page not found: {path}")
