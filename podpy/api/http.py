"""HTTP/1.1 on one connection: requests in, JSON, streamed or hijacked responses out (h11).

The choice of library, measured on this machine (Debian 12, Python 3.11, 2 cores shared
with other work: load average about 30 while measuring, so only the ratios mean much):

                     import (3 runs)    /_ping, kept alive    process PSS, idle -> 10 idle
                                        (median of 2000)      clients holding a stream
    h11 0.16         18-59 ms           0.165 ms              20.1 -> 22.3 MB (the whole
                                                              podpy service, threads)
    aiohttp 3.14     390-620 ms         0.183 ms              31.2 -> 31.1 MB (a bare app
                     (aiohttp.web)                            of two routes, asyncio)

h11 is sans-IO and pure Python (one small wheel in the zipapp, no compiled parts): this
module owns the socket, so a streamed response is a generator of chunks, and hijacking a
connection (Docker's attach and exec start) is writing our own status line and handing the
socket over. A thread serves each connection (service.py), which is what the engine's
blocking calls (SQLite with its busy timeout, the monitor's channel) want; aiohttp would
have needed them pushed to an executor anyway.

Request bodies are read whole, up to MAX_BODY (413 beyond it), except for the routes
declared with stream_body (archive uploads), whose handler reads them as they come.
"""

from __future__ import annotations

import json
import select
import socket
import sys

import h11

from .. import LIBPOD_API_VERSION
from .errors import ApiError, BadParameter, from_engine
from .routes import API_VERSION, check_version, split_version

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterator, Optional

    from .routes import Router

MAX_BODY = 8 << 20          # a container's create body is a few KB; images come streamed
MAX_HEAD = 64 << 10         # request line and headers
_RECV = 65536
REASONS = {200: "OK", 201: "Created", 204: "No Content", 101: "UPGRADED", 304: "Not Modified",
           400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 409: "Conflict", 413: "Request Entity Too Large",
           500: "Internal Server Error", 501: "Not Implemented"}


class Response:
    """A whole response: JSON (the default), text or nothing."""

    def __init__(self, status: int = 200, body: bytes = b"", content_type: Optional[str] = "application/json",
                 headers: Optional[list[tuple[str, str]]] = None) -> None:
        self.status, self.body, self.content_type = status, body, content_type
        self.headers = list(headers or [])


def json_response(data: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(data).encode() + b"\n")


def error_response(status: int, message: str, libpod: bool = False) -> Response:
    """Docker's `{"message": ...}`; the libpod routes' error also names its cause and status, as
    podman's service does (podman's client matches causes in the message)."""
    if status == 304:
        return Response(304, b"", None)
    if libpod:
        cause = message.rsplit(": ", 1)[-1] if ": " in message else message
        return json_response({"cause": cause, "message": message, "response": status}, status)
    return json_response({"message": message}, status)


class Streamed:
    """A response sent as its chunks come (chunked encoding); the generator is closed when the
    client goes away, so its `finally` tidies up."""

    def __init__(self, chunks: Iterator[bytes], content_type: str = "application/json", status: int = 200,
                 headers: Optional[list[tuple[str, str]]] = None) -> None:
        self.chunks, self.content_type, self.status = chunks, content_type, status
        self.headers = list(headers or [])


class Hijack:
    """The connection handed over after the status line: run(sock, already_read) streams in both
    directions (Docker's attach and exec start). `101 UPGRADED` when the client asked for an
    upgrade, `200 OK` otherwise, as Docker answers."""

    def __init__(self, run: Callable[[socket.socket, bytes], None],
                 content_type: str = "application/vnd.docker.raw-stream") -> None:
        self.run, self.content_type = run, content_type


class Request:
    """One request: its method, path (without the version prefix), query, headers, body."""

    def __init__(self, conn: "Connection", method: str, target: str, headers: list[tuple[bytes, bytes]]) -> None:
        from urllib.parse import parse_qs, urlsplit

        self.conn = conn
        self.method = method
        parts = urlsplit(target)
        version, self.path = split_version(parts.path or "/")
        self.asked_version = version
        self.version = API_VERSION
        self.query: dict[str, list[str]] = parse_qs(parts.query, keep_blank_values=True)
        self.headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers}
        self.params: dict[str, str] = {}
        self.body = b""
        self.streaming = False
        self._rt: Any = None

    # -- the query ----------------------------------------------------------------------------

    def arg(self, name: str, default: Optional[str] = None) -> Optional[str]:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query value as Docker reads them: 1/true/True yes, 0/false/no/"" no."""
        value = self.arg(name)
        if value is None:
            return default
        low = value.strip().lower()
        if low in ("1", "true", "yes", "t", "y"):
            return True
        if low in ("0", "false", "no", "f", "n", ""):
            return False
        raise BadParameter(f"invalid value for {name}: {value!r} is not a boolean")

    def int_arg(self, name: str, default: Optional[int] = None) -> Optional[int]:
        value = self.arg(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise BadParameter(f"invalid value for {name}: {value!r} is not an integer") from None

    def filters(self) -> dict[str, list[str]]:
        """Docker's `filters` query: {"key": ["v", ...]} or the older {"key": {"v": true}}."""
        text = self.arg("filters")
        if not text:
            return {}
        try:
            data = json.loads(text)
        except ValueError:
            raise BadParameter(f"invalid filters: {text!r} is not JSON") from None
        if not isinstance(data, dict):
            raise BadParameter("invalid filters: expected a JSON object")
        out: dict[str, list[str]] = {}
        for key, values in data.items():
            if isinstance(values, dict):
                out[str(key)] = [str(v) for v, on in values.items() if on]
            elif isinstance(values, list):
                out[str(key)] = [str(v) for v in values]
            else:
                raise BadParameter(f"invalid filters: the values of {key!r} are not a list")
        return out

    def json(self, default: Any = None) -> Any:
        """The body as JSON (default when empty); 400 when it is not JSON."""
        if not self.body.strip():
            return default
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadParameter(f"malformed JSON body: {exc}") from None

    def stream(self) -> Iterator[bytes]:
        """The body as it arrives (routes declared with stream_body)."""
        return self.conn.body_chunks()

    def runtime(self) -> Any:
        """The engine's Runtime for this request (opened once, on first use)."""
        if self._rt is None:
            self._rt = self.conn.app.open_runtime()
        return self._rt

    def close(self) -> None:
        """The request's Runtime let go once it is answered (streams and hijacked connections
        included): its claims in the store settled now, not at exit, and its database
        connection closed."""
        rt, self._rt = self._rt, None
        if rt is not None:
            close_runtime(rt)

    def gone(self) -> bool:
        """Whether the client has closed its side (checked by streams that wait)."""
        return self.conn.peer_gone()


def close_runtime(rt: Any) -> None:
    """A Runtime that a request (or a thread working for one) opened, closed when done; a
    failure to settle its claims is left to the next command."""
    try:
        rt.close()
    except Exception:  # noqa: BLE001
        pass


# --cors: what podman 4.3.1's service sends with the allowed origin
CORS_HEADERS = (("Access-Control-Allow-Headers", "Origin, X-Requested-With, Content-Type, Accept, X-Registry-Auth, "
                                                 "Connection, Upgrade, X-Registry-Config"),
                ("Access-Control-Allow-Methods", "HEAD, GET, POST, DELETE, PUT, OPTIONS"))


class App:
    """What every connection shares: the routes, how a request opens the engine's Runtime (one
    per request: a SQLite connection belongs to one thread), where errors are logged, and the
    origin the CORS headers allow (--cors; None: no CORS headers)."""

    def __init__(self, router: Router, open_runtime: Callable[[], Any], log: Callable[[str], None],
                 cors: Optional[str] = None) -> None:
        self.router, self.open_runtime, self.log = router, open_runtime, log
        self.socket_path: Optional[str] = None   # the unix socket served (libpod info's remoteSocket)
        self.cors = [("Access-Control-Allow-Origin", cors), *CORS_HEADERS] if cors is not None else []


class Connection:
    """One client's connection: requests served in turn until either side closes it."""

    def __init__(self, sock: socket.socket, app: App) -> None:
        self.sock = sock
        self.app = app
        self.router = app.router
        self.log = app.log
        self.cors = app.cors
        self.h = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)

    def _next(self) -> Any:
        while True:
            event = self.h.next_event()
            if event is not h11.NEED_DATA:
                return event
            try:
                data = self.sock.recv(_RECV)
            except (ConnectionError, TimeoutError, OSError):
                data = b""
            self.h.receive_data(data)

    def peer_gone(self) -> bool:
        try:
            ready, _, _ = select.select([self.sock], [], [], 0)
            if not ready:
                return False
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def body_chunks(self) -> Iterator[bytes]:
        while True:
            event = self._next()
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                return
            else:
                raise BadParameter("the request body ended early")

    def _read_body(self, req: Request) -> None:
        length = req.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY:
            raise ApiError(413, f"request body of {length} bytes is larger than {MAX_BODY} bytes")
        parts, size = [], 0
        for chunk in self.body_chunks():
            size += len(chunk)
            if size > MAX_BODY:
                raise ApiError(413, f"request body is larger than {MAX_BODY} bytes")
            parts.append(chunk)
        req.body = b"".join(parts)

    def serve(self) -> None:
        try:
            while self._serve_one():
                self.h.start_next_cycle()
        except (ConnectionError, BrokenPipeError, h11.LocalProtocolError, OSError):
            pass
        finally:
            try:
                self.sock.close()
            except OSError:
                pass

    def _serve_one(self) -> bool:
        """Serve the next request; whether the connection stays open for another."""
        try:
            event = self._next()
        except h11.RemoteProtocolError as exc:
            self._send(error_response(exc.error_status_hint, f"bad request: {exc}"), head=False)
            return False
        if isinstance(event, h11.ConnectionClosed) or not isinstance(event, h11.Request):
            return False
        req = Request(self, event.method.decode("ascii", "replace"), event.target.decode("latin-1"),
                      list(event.headers))
        try:
            return self._answer(req)
        finally:
            req.close()

    def _answer(self, req: Request) -> bool:
        try:
            result = self._dispatch(req)
        except h11.RemoteProtocolError as exc:
            self._send(error_response(400, f"bad request: {exc}"), head=False)
            return False
        if isinstance(result, Hijack):
            self._hijack(req, result)
            return False
        if self.h.their_state is h11.SEND_BODY:
            # a handler that answered before reading a streamed body: the rest is unread
            self._send(result, head=req.method == "HEAD", close=True)
            return False
        self._send(result, head=req.method == "HEAD")
        return self.h.our_state is h11.DONE and self.h.their_state is h11.DONE

    def _drain(self) -> None:
        """The rest of a small body that a refused request came with, so the connection can
        serve the next one (a body too large stays unread: the connection is then closed)."""
        if self.h.their_state is h11.SEND_BODY:
            try:
                self._read_body(Request(self, "GET", "/", []))
            except (ApiError, h11.RemoteProtocolError):
                pass

    def _dispatch(self, req: Request) -> Any:
        try:
            if self.cors and req.method == "OPTIONS":
                # a browser's preflight: answered for every path with the CORS headers, as Docker's
                # daemon does (podman 4.3.1's answer, 405, fails every preflight)
                self._read_body(req)
                return Response(200, b"", None)
            req.version = check_version(req.asked_version, req.path)
            route, req.params = self.router.match(req.method, req.path)
            if route.stream_body:
                req.streaming = True
            else:
                self._read_body(req)
            result = route.handler(req)
        except h11.RemoteProtocolError:
            raise
        except ApiError as exc:
            if exc.status != 413 and not req.streaming:
                self._drain()
            return error_response(exc.status, exc.message, req.path.startswith("/libpod/"))
        except Exception as exc:  # noqa: BLE001 - every failure is the client's answer, not a traceback
            if not req.streaming:
                self._drain()
            err = from_engine(exc, docker=not req.path.startswith("/libpod/"))
            if err.status == 500 and not _is_engine_error(exc):
                self.log(f"{req.method} {req.path}: {type(exc).__name__}: {exc}")
            return error_response(err.status, err.message, req.path.startswith("/libpod/"))
        if result is None:
            return Response(204, b"", None)
        if isinstance(result, (Response, Streamed, Hijack)):
            return result
        return json_response(result)

    def _headers(self, content_type: Optional[str], extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
        from .. import __version__

        headers = [("Api-Version", API_VERSION), ("Libpod-Api-Version", LIBPOD_API_VERSION),
                   ("Docker-Experimental", "false"), ("Ostype", "linux"),
                   ("Server", f"Podpy/{__version__} (linux)")]
        if content_type:
            headers.append(("Content-Type", content_type))
        return headers + self.cors + extra

    def _send(self, result: Any, head: bool, close: bool = False) -> None:
        if self.h.our_state is not h11.SEND_RESPONSE:
            if self.h.our_state is h11.IDLE and isinstance(result, Response):
                # a request line h11 could not parse: it has no response to give, we do
                reason = REASONS.get(result.status, "")
                self.sock.sendall(f"HTTP/1.1 {result.status} {reason}\r\nContent-Type: application/json\r\n"
                                  f"Content-Length: {len(result.body)}\r\nConnection: close\r\n\r\n"
                                  .encode() + result.body)
            return
        extra = [("Connection", "close")] if close else []
        if isinstance(result, Streamed):
            self._send_streamed(result, head, extra)
            return
        headers = self._headers(result.content_type, result.headers + extra)
        if result.status not in (204, 304):
            headers.append(("Content-Length", str(len(result.body))))
        self.sock.sendall(self.h.send(h11.Response(status_code=result.status, headers=headers,
                                                   reason=REASONS.get(result.status, ""))))
        if result.body and not head and result.status not in (204, 304):
            self.sock.sendall(self.h.send(h11.Data(data=result.body)))
        self.sock.sendall(self.h.send(h11.EndOfMessage()))

    def _send_streamed(self, result: Streamed, head: bool, extra: list[tuple[str, str]]) -> None:
        chunks = result.chunks
        try:
            # the first chunk before the headers: a handler's error is still a status of its own
            first = next(chunks, None)
        except Exception as exc:  # noqa: BLE001
            err = from_engine(exc)
            self._send(error_response(err.status, err.message), head)
            return
        headers = self._headers(result.content_type, result.headers + extra)
        self.sock.sendall(self.h.send(h11.Response(status_code=result.status, headers=headers,
                                                   reason=REASONS.get(result.status, ""))))
        try:
            if not head:
                if first:
                    self.sock.sendall(self.h.send(h11.Data(data=first)))
                for chunk in chunks:
                    if chunk:
                        self.sock.sendall(self.h.send(h11.Data(data=chunk)))
        except (ConnectionError, BrokenPipeError, OSError):
            raise
        except Exception as exc:  # noqa: BLE001 - the headers are out: end the stream, say why in the log
            self.log(f"stream ended: {type(exc).__name__}: {exc}")
        finally:
            chunks_close = getattr(chunks, "close", None)
            if chunks_close is not None:
                chunks_close()
        self.sock.sendall(self.h.send(h11.EndOfMessage()))

    def _hijack(self, req: Request, result: Hijack) -> None:
        upgrade = "upgrade" in req.headers.get("connection", "").lower() and "upgrade" in req.headers
        if upgrade:
            head = (f"HTTP/1.1 101 UPGRADED\r\nContent-Type: {result.content_type}\r\n"
                    "Connection: Upgrade\r\nUpgrade: tcp\r\n")
        else:
            head = f"HTTP/1.1 200 OK\r\nContent-Type: {result.content_type}\r\n"
        head += f"Api-Version: {API_VERSION}\r\n\r\n"
        already, _closed = self.h.trailing_data
        self.sock.sendall(head.encode("latin-1"))
        result.run(self.sock, bytes(already))


def _is_engine_error(exc: BaseException) -> bool:
    from ..errors import PodpyError

    return isinstance(exc, PodpyError)


def log_to_stderr(line: str) -> None:
    try:
        sys.stderr.write(f"podpy system service: {line}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
