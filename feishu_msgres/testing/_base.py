"""What both emulators share: a threaded HTTP server on loopback, its life cycle, the list
of requests it saw, and faults that take effect for a number of requests."""
from __future__ import annotations

import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple, Type, TypeVar
from urllib.parse import parse_qs, urlsplit

T = TypeVar("T", bound="LoopbackEmulator")


class Fault:
    """An action for the next ``times`` requests of a kind (and key), after ``after`` pass."""

    def __init__(self, kind: Optional[str], key: Optional[str], times: Optional[int], after: int,
                 action: Dict[str, Any]) -> None:
        self.kind = kind
        self.key = key
        self.times = times  # None: for ever
        self.after = after  # matching requests to let through first
        self.action = action

    def take(self, kind: str, key: Optional[str] = None) -> bool:
        if self.times == 0 or (self.kind and self.kind != kind) or (self.key and self.key != key):
            return False
        if self.after > 0:
            self.after -= 1
            return False
        if self.times is not None:
            self.times -= 1
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a test's timeout, a dropped download) is normal here.
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class LoopbackEmulator:
    """A server in a daemon thread on a free loopback port; ``with`` starts and stops it."""

    thread_name = "emulator"
    handler: Type[BaseHTTPRequestHandler]  # set by subclasses; reaches us as ``emulator``

    def __init__(self, host: str, port: int) -> None:
        self.requests: List[Any] = []
        self._faults: List[Fault] = []
        self._lock = threading.Lock()
        handler = type("Handler", (self.handler,), {"emulator": self})
        self._server = _Server((host, port), handler)
        self._thread: Optional[threading.Thread] = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return "http://%s:%d" % (text(host), port)

    def start(self: T) -> T:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name=self.thread_name, daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self: T) -> T:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def count(self, kind: Optional[str] = None) -> int:
        """How many requests (of a kind) arrived."""
        return sum(1 for r in self.requests if kind is None or r.kind == kind)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add_fault(self, kind: Optional[str], key: Optional[str], times: Optional[int], after: int = 0,
                   **action: Any) -> None:
        with self._lock:
            self._faults.append(Fault(kind, key, times, after, action))

    def _faults_for(self, kind: str, key: Optional[str] = None) -> Dict[str, Any]:
        """The actions due for this request; each action from the first fault that has it."""
        merged: Dict[str, Any] = {}
        with self._lock:
            for fault in self._faults:
                if not any(k in merged for k in fault.action) and fault.take(kind, key):
                    merged.update(fault.action)
        return merged

    def _record(self, request: Any) -> None:
        with self._lock:
            self.requests.append(request)


BLOCK = 64 * 1024  # bytes written at a time


class BaseHandler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1, quiet, GET and POST both go to ``_dispatch``."""

    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as real servers set it: otherwise a body written after its headers waits
    # for the client's delayed ACK (40 ms on Linux) and every small answer is slow.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read .requests
        pass

    def do_POST(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:  # pragma: no cover - every emulator has its own
        raise NotImplementedError

    def _stream(self, status: int, headers: Dict[str, str], data: bytes, start: int, end: int,
                faults: Dict[str, Any]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(end - start))
        self.end_headers()
        limit = end
        if "drop_after" in faults:
            limit = min(end, start + int(faults["drop_after"]))
        delay, block = faults.get("trickle", (0.0, BLOCK))
        view = memoryview(data)
        pos = start
        try:
            while pos < limit:
                step = min(block, limit - pos)
                self.wfile.write(view[pos:pos + step])
                pos += step
                if delay:
                    self.wfile.flush()
                    time.sleep(delay)
            self.wfile.flush()
        except OSError:  # the client went away; nothing to tell anyone
            self.close_connection = True
            return
        if limit < end:
            self._hang_up(bool(faults.get("reset")))

    def _hang_up(self, reset: bool) -> None:
        self.close_connection = True
        if reset:  # SO_LINGER 0: close() sends RST, "connection reset by peer"
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            try:
                self.connection.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _read_request(self) -> Tuple[str, Dict[str, str], bytes]:
        """The path, the query (last value of each name) and the body."""
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        return split.path, query, self.rfile.read(length) if length else b""


def text(value: Any) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else str(value)
