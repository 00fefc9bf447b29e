"""The container verbs over a service: the local ContainerEngine's method names, options and
reports (so the CLI renders them unchanged), each made of libpod API calls.

A verb the service route set has no call for here is refused in one line by Remote's
__getattr__: "podpy CMD: not available with --remote".
"""

from __future__ import annotations

from ..engine.entities import Report
from ..errors import InvalidArgument, NoSuchContainer, NoSuchImage
from .base import Remote, _each, _q, engine_error, exists
from .client import ServiceError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterator, Optional



class Config:
    """The part of a container's configuration `ps`'s columns read."""

    __slots__ = ("entrypoint", "command", "ports", "labels", "pod")

    def __init__(self, entry: dict[str, Any]) -> None:
        self.entrypoint: list[str] = []
        self.command = list(entry.get("Command") or [])
        self.labels = dict(entry.get("Labels") or {})
        self.pod = entry.get("Pod") or ""
        self.ports = [{"host_ip": p.get("host_ip") or "", "host_port": int(p.get("host_port") or 0) + i,
                       "container_port": int(p.get("container_port") or 0) + i, "protocol": proto}
                      for p in entry.get("Ports") or [] for proto in (p.get("protocol") or "tcp").split(",")
                      for i in range(int(p.get("range") or 1))]


class Record:
    """A container as a service lists it, with the attributes of the local record `ps` reads."""

    def __init__(self, entry: dict[str, Any]) -> None:
        from ..formats import parse_rfc3339

        self.id = str(entry.get("Id") or "")
        self.short_id = self.id[:12]
        self.name = (entry.get("Names") or [""])[0]
        self.image_id = str(entry.get("ImageID") or "")
        created = entry.get("Created")
        self.created = float(created) if isinstance(created, (int, float)) else (parse_rfc3339(str(created)) or 0.0)
        self.state = str(entry.get("State") or "")
        self.config = Config(entry)


def _status(entry: dict[str, Any], created: float) -> str:
    """podman's STATUS words, which its client makes from the list entry."""
    import time

    from ..formats import ago, human_duration

    state = entry.get("State") or ""
    if state == "running":
        started = entry.get("StartedAt") or created
        text = f"Up {human_duration(time.time() - started)} ago"
    elif state in ("exited", "stopped"):
        text = f"Exited ({entry.get('ExitCode', 0)}) {ago(entry.get('ExitedAt') or 0)}"
    elif state in ("created", "configured"):
        text = "Created"
    else:
        text = state.capitalize()
    return f"{text} ({entry['Status']})" if entry.get("Status") else text


def ps_entry(entry: dict[str, Any]) -> Any:
    """A service's list entry as the local engine's PsEntry (`ps --format json`'s shape)."""
    from ..engine.entities import PsEntry
    from ..formats import ago

    rec = Record(entry)
    data = dict(entry, Created=int(rec.created), CreatedAt=ago(rec.created), Status=_status(entry, rec.created))
    return PsEntry(record=rec, data=data, health=entry.get("Status") or None)


class RemoteContainerEngine(Remote):
    """ContainerEngine's verbs, over a service."""

    def _list(self, all_: bool = True, filters: Optional[list[str]] = None, last: int = -1,
              size: bool = False) -> list[dict[str, Any]]:
        grouped: dict[str, list[str]] = {}
        for f in filters or []:
            key, _, value = f.partition("=")
            grouped.setdefault(key, []).append(value)
        import json

        return self.client.call("GET", "/containers/json", {"all": all_, "filters": json.dumps(grouped),
                                                            "last": last, "size": size}) or []

    def ps(self, opts: Any) -> list[Any]:
        if opts.sort not in ("created", ""):
            raise InvalidArgument(f"podpy ps --sort {opts.sort}: not available with --remote")
        entries = self._list(opts.all or opts.latest or opts.last > 0, opts.filters,
                             1 if opts.latest else opts.last, opts.size)
        return [ps_entry(e) for e in entries]

    def latest(self) -> str:
        entries = self._list(True, None, 1)
        if not entries:
            raise NoSuchContainer("no containers to act on: no such container")
        return str(entries[0]["Id"])

    def exists(self, name: str) -> bool:
        return exists(self.client, "containers", name)

    def inspect(self, names: list[str], kind: str = "container", size: bool = False) -> list[Report]:
        from .objects import RemoteImageEngine

        def one(name: str) -> Any:
            try:
                return self.client.call("GET", f"/containers/{_q(name)}/json", {"size": size})
            except ServiceError as exc:
                if exc.status != 404 or kind == "container":
                    raise
            try:
                return self.client.call("GET", f"/images/{_q(name)}/json")
            except ServiceError as exc:
                if exc.status != 404:
                    raise
                missing = NoSuchImage if kind == "image" else NoSuchContainer
                raise missing(f"no such object: \"{name}\"") from None

        if kind == "image":
            return RemoteImageEngine(self.client, self.command).inspect(names)
        return _each(names, one)

    def _names(self, names: list[str], all_: bool, latest: bool, filters: Optional[list[str]],
               running: Optional[bool]) -> list[str]:
        if latest:
            return [self.latest()]
        if all_ or filters:
            states = ("running", "paused")
            return [e["Id"] for e in self._list(True, filters)
                    if running is None or (e.get("State") in states) == running]
        return names

    def start(self, names: list[str], all_: bool = False, filters: Optional[list[str]] = None) -> list[Report]:
        def one(name: str) -> str:
            try:
                self.client.call("POST", f"/containers/{_q(name)}/start")
            except ServiceError as exc:
                if exc.status != 304:
                    raise
            return name
        return _each(self._names(names, all_, False, filters, False), one)

    def stop(self, names: list[str], timeout: Optional[int], all_: bool = False, latest: bool = False,
             filters: Optional[list[str]] = None, ignore: bool = False) -> list[Report]:
        def one(name: str) -> str:
            try:
                self.client.call("POST", f"/containers/{_q(name)}/stop", {"timeout": timeout},
                                 timeout=None)
            except ServiceError as exc:
                if exc.status != 304:
                    raise
            return name
        return _each(self._names(names, all_, latest, filters, True), one)

    def kill(self, names: list[str], sig: int, all_: bool = False, latest: bool = False) -> list[Report]:
        return _each(self._names(names, all_, latest, None, True),
                     lambda n: (self.client.call("POST", f"/containers/{_q(n)}/kill", {"signal": sig}), n)[1])

    def restart(self, names: list[str], timeout: Optional[int], all_: bool = False, running: bool = False,
                latest: bool = False, filters: Optional[list[str]] = None) -> list[Report]:
        return _each(self._names(names, all_, latest, filters, True if running else None),
                     lambda n: (self.client.call("POST", f"/containers/{_q(n)}/restart", {"t": timeout},
                                                 timeout=None), n)[1])

    def pause(self, names: list[str], all_: bool = False, latest: bool = False,
              filters: Optional[list[str]] = None) -> list[Report]:
        return _each(self._names(names, all_, latest, filters, True),
                     lambda n: (self.client.call("POST", f"/containers/{_q(n)}/pause"), n)[1])

    def unpause(self, names: list[str], all_: bool = False, latest: bool = False,
                filters: Optional[list[str]] = None) -> list[Report]:
        return _each(self._names(names, all_, latest, filters, True),
                     lambda n: (self.client.call("POST", f"/containers/{_q(n)}/unpause"), n)[1])

    def wait(self, names: list[str], conditions: tuple[str, ...] = ("stopped",),
             interval: Optional[float] = None, ignore: bool = False) -> list[Report]:
        return _each(names, lambda n: int(self.client.call("POST", f"/containers/{_q(n)}/wait",
                                                           {"condition": list(conditions)}, timeout=None)))

    def rm(self, names: list[str], force: bool, all_: bool, ignore: bool, volumes: bool = False,
           timeout: Optional[int] = None, depend: bool = False, latest: bool = False,
           filters: Optional[list[str]] = None) -> list[Report]:
        if depend:
            raise InvalidArgument(f"podpy {self.command} --depend: not available with --remote")
        if not names and not (all_ or latest or filters):
            raise InvalidArgument("`podpy rm` requires at least one argument, or --all")

        def one(name: str) -> str:
            self.client.call("DELETE", f"/containers/{_q(name)}",
                             {"force": force, "volumes": volumes, "timeout": timeout}, timeout=None)
            return name
        reports = _each(self._names(names, all_, latest, filters, None), one)
        # as the local engine: with --force or --ignore, a container that is not there is not reported
        return [r for r in reports if not (isinstance(r.error, NoSuchContainer) and (ignore or force))]

    def prune(self, opts: Any) -> list[Any]:
        from .prune import containers

        return containers(self.client, opts)

    def cp(self, src: str, dst: str, archive: bool = True, overwrite: bool = False, pause: bool = True) -> None:
        from .cp import cp

        cp(self, src, dst, archive, overwrite, pause)

    def logs(self, names: list[str], opts: Any) -> Iterator[tuple[Any, Any]]:
        from .streams import logs

        return logs(self.client, names, opts)

    def create(self, opts: Any, on_replaced: Optional[Callable[[str], None]] = None) -> Any:
        from .run import create

        return create(self, opts, "create")

    def run(self, opts: Any, on_detached: Optional[Callable[[str], None]] = None,
            on_replaced: Optional[Callable[[str], None]] = None) -> int:
        from .run import run

        return run(self, opts, on_detached)

    def start_attached(self, name: str, interactive: bool, sig_proxy: bool = True,
                       detach_keys: Optional[str] = None) -> int:
        from .run import attached

        return attached(self, name, interactive)



    # -- changes, processes, ports ------------------------------------------------------------

    def commit(self, opts: Any) -> Any:
        """libpod's `POST /commit`: the new image, with the id the service made."""
        from storage.images import Image

        if opts.include_volumes:
            raise InvalidArgument(f"podpy {self.command} --include-volumes: not available with --remote")
        repo, tag = (opts.image or ""), ""
        if ":" in repo.rpartition("/")[2]:   # the tag is after the last slash (a port is before it)
            repo, _, tag = repo.rpartition(":")
        query = {"container": opts.container, "repo": repo, "tag": tag, "comment": opts.message,
                 "author": opts.author, "pause": opts.pause, "squash": opts.squash, "format": "oci",
                 "changes": list(opts.changes)}
        try:
            made = self.client.call("POST", "/commit", query, timeout=None)
        except ServiceError as exc:
            raise engine_error(exc) from None
        image_id = str((made or {}).get("Id") or "").removeprefix("sha256:")
        return Image(image_id, (), {}, (), 0, 0.0, None, None)

    def diff(self, name: str) -> list[tuple[str, str]]:
        """libpod's changes of a container: (A, C or D, path), as the local engine gives them."""
        if not self.exists(name):   # podman's service says "layer not known" (500) otherwise
            raise NoSuchContainer(f"no container with name or ID \"{name}\" found: no such container")
        try:
            changes = self.client.call("GET", f"/containers/{_q(name)}/changes") or []
        except ServiceError as exc:
            raise engine_error(exc) from None
        return [("CAD"[int(c.get("Kind") or 0)] if int(c.get("Kind") or 0) in (0, 1, 2) else "C", str(c["Path"]))
                for c in changes]

    def top(self, name: str, descriptors: list[str]) -> list[list[str]]:
        try:
            doc = self.client.call("GET", f"/containers/{_q(name)}/top",
                                   {"ps_args": ",".join(descriptors) if descriptors else None, "stream": False})
        except ServiceError as exc:
            raise engine_error(exc) from None
        return [list(doc.get("Titles") or [])] + [list(p) for p in doc.get("Processes") or []]

    def rename(self, name: str, new: str) -> None:
        try:
            self.client.call("POST", f"/containers/{_q(name)}/rename", {"name": new})
        except ServiceError as exc:
            raise engine_error(exc) from None

    def init(self, names: list[str], all_: bool = False, latest: bool = False) -> list[Report]:
        if all_ and names:
            raise InvalidArgument("no arguments are needed with --all")
        if not (all_ or latest or names):
            raise InvalidArgument("you must provide at least one name or id")

        def one(name: str) -> str:
            try:
                self.client.call("POST", f"/containers/{_q(name)}/init")
            except ServiceError as exc:
                if exc.status != 304:
                    raise
            return name
        if all_:
            names = [e["Id"] for e in self._list(True) if e.get("State") in ("created", "configured", "exited",
                                                                                "stopped")]
        return _each(self._names(names, False, latest, None, None), one)

    def port(self, name: Optional[str], private: Optional[str] = None, all_: bool = False,
             latest: bool = False) -> list[Any]:
        """The published ports of the service's list entries (podman's client reads them there)."""
        from ..engine.entities import PortReport
        from ..network.options import port_lines

        def ports(entry: dict[str, Any]) -> list[dict[str, Any]]:
            found = Config(entry).ports
            if private is None:
                return found
            port_lines(found, private)   # checks PORT[/PROTOCOL]
            num, _, proto = private.partition("/")
            return [p for p in found if p["container_port"] == int(num) and p["protocol"] == (proto or "tcp")]

        if all_ or latest:
            running = [e for e in self._list(False)]
            return [PortReport(e["Id"], ports(e)) for e in (running[:1] if latest else running)]
        if name is None:
            raise InvalidArgument("`podpy port` requires a container name or id, --all or --latest")
        try:
            full = str(self.client.call("GET", f"/containers/{_q(name)}/json")["Id"])
        except ServiceError as exc:
            raise engine_error(exc) from None
        entries = [e for e in self._list(True, [f"id={full}"]) if e.get("Id") == full]
        if not entries or entries[0].get("State") != "running":
            return []
        found = ports(entries[0])
        if private is not None and not found:
            raise InvalidArgument(f"failed to find published port \"{private}\"")
        return [PortReport(full, found)]

    def export(self, name: str, output: Optional[str]) -> None:
        """The container's file system as the service's tar, to output (None or "-": fd 1)."""
        from .objects import copy_out

        try:
            resp = self.client.open("GET", f"/containers/{_q(name)}/export", timeout=None)
        except ServiceError as exc:
            raise engine_error(exc) from None
        copy_out(resp, output)

    def healthcheck_run(self, name: str) -> tuple[str, int]:
        """libpod's healthcheck: the run's status, and 0 when it passed, else 1."""
        try:
            doc = self.client.call("GET", f"/containers/{_q(name)}/healthcheck", timeout=None) or {}
        except ServiceError as exc:
            raise engine_error(exc) from None
        status = str(doc.get("Status") or "")
        return status, 0 if status == "healthy" else 1

    def stats(self, names: list[str], interval: int = 5, stream: bool = True,
              all_: bool = False) -> Iterator[list[dict[str, object]]]:
        """libpod's stats: podman's ContainerStats, one list per interval (--all adds no
        figures: a container that does not run has none, as locally)."""
        query = {"containers": list(names), "stream": stream, "interval": interval}
        try:
            if not stream:
                doc = self.client.call("GET", "/containers/stats", query, timeout=None) or {}
                docs: Any = iter([doc])
            else:
                docs = self.client.lines("GET", "/containers/stats", query)
                first = next(docs, None)   # the service's refusal (a container that is not running) now
                docs = iter([]) if first is None else _chain(first, docs)
        except ServiceError as exc:
            raise engine_error(exc) from None
        return _readings(docs)


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def _readings(docs: Iterator[Any]) -> Iterator[list[dict[str, object]]]:
    from ..errors import PodpyError

    for doc in docs:
        if doc.get("Error"):
            raise PodpyError(str(doc["Error"]))
        yield [dict(s) for s in doc.get("Stats") or []]
