"""An HTTP proxy in front of the tests' registry that breaks what it is told to break.

Each request is forwarded to the registry on a connection of its own, unless a fault matches
it first. A fault is (method, path pattern, kind, times, detail):

    "status"    answer `detail` (e.g. 503, or 429 with a Retry-After of 1 s) instead
    "drop"      send the answer's headers and `detail` bytes of its body, then reset the connection
    "truncate"  the same, but close the connection in order (FIN) instead of a reset
    "stall"     send `detail[0]` bytes of the body, wait `detail[1]` seconds, then the rest
    "norange"   forward without the Range header: the registry answers 200 with the whole body
    "hangup"    read the request (and its body), then close without answering
    "corrupt"   forward, but with the body's byte at offset `detail` changed (same length)

`times` is how many matching requests the fault applies to (None: all of them). Every request
seen is kept in `log` as (method, path, Range header or None, what was done).
"""

from __future__ import annotations

import http.client
import re
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}


class Fault:
    def __init__(self, method: str, path: str, kind: str, times: Optional[int] = 1, detail: Any = None) -> None:
        self.method, self.path, self.kind, self.times, self.detail = method, re.compile(path), kind, times, detail

    def take(self, method: str, path: str) -> bool:
        if self.method not in (method, "*") or not self.path.search(path) or self.times == 0:
            return False
        if self.times is not None:
            self.times -= 1
        return True


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.faults: list[Fault] = []
        self.log: list[tuple[str, str, Optional[str], str]] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                proxy._handle(self)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None   # the faults break sockets on purpose
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def add(self, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self.faults.append(Fault(*args, **kwargs))

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.log.clear()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _fault(self, method: str, path: str) -> Optional[Fault]:
        with self._lock:
            for f in self.faults:
                if f.take(method, path):
                    return f
        return None

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        method, path = h.command, h.path
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        fault = self._fault(method, path)
        kind = fault.kind if fault else "forwarded"
        with self._lock:
            self.log.append((method, path, h.headers.get("Range"), kind))
        if kind == "hangup":
            h.close_connection = True
            _reset(h.connection)
            return
        if kind == "status":
            status, headers = fault.detail if isinstance(fault.detail, tuple) else (fault.detail, {})
            payload = b'{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}'
            h.send_response(status)
            for k, v in {**headers, "Content-Type": "application/json", "Content-Length": str(len(payload))}.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(payload)
            return
        headers = {k: v for k, v in h.headers.items() if k.lower() not in HOP}
        if kind == "norange":
            headers.pop("Range", None)
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            conn.request(method, path, body, headers)
            resp = conn.getresponse()
            h.send_response(resp.status, resp.reason)
            data = resp.read()
            for k, v in resp.getheaders():
                if k.lower() not in HOP and k.lower() != "content-length":
                    h.send_header(k, v)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            if method == "HEAD":
                return
            if kind in ("drop", "truncate"):
                h.wfile.write(data[:fault.detail])
                h.wfile.flush()
                h.close_connection = True
                if kind == "drop":
                    _reset(h.connection)
                else:
                    h.connection.shutdown(socket.SHUT_RDWR)
                return
            if kind == "corrupt":
                data = data[:fault.detail] + bytes([data[fault.detail] ^ 0xFF]) + data[fault.detail + 1:]
            if kind == "stall":
                first, pause = fault.detail
                h.wfile.write(data[:first])
                h.wfile.flush()
                time.sleep(pause)
                data = data[first:]
            h.wfile.write(data)
        finally:
            conn.close()


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a dropped connection looks."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass
