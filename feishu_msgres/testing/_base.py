"""What both emulators share: a threaded HTTP server on loopback and its life cycle, the
requests it saw, the faults in force, and one answer path (record the request, apply the
faults, let the dialect answer; send bytes, JSON or a Range of a body; hang up)."""
from __future__ import annotations

import json
import re
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional, Tuple, Type, TypeVar
from urllib.parse import parse_qs, urlsplit

from ._faults import Actions, Fault, merge

T = TypeVar("T", bound="LoopbackEmulator")
BLOCK = 64 * 1024  # bytes written at a time
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Request:
    """One request the emulator received (headers as sent, for assertions)."""

    def __init__(self, method: str, path: str, query: Dict[str, str], headers: Dict[str, str], kind: str) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.kind = kind  # what the emulator took it for: "token", "message", "resource" … or "unknown"
        self.time = time.monotonic()
        self.seq = 0  # its place among the requests the emulator saw, from 1 (set as it is recorded)
        self.log_id: Optional[str] = None  # the log id its answer carries, where the dialect has one

    def __repr__(self) -> str:
        return "<Request %s %s %s>" % (self.method, self.path, self.headers.get("Range", ""))


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
    handler: Type[BaseHandler]  # set by subclasses; reaches us as ``emulator``

    def __init__(self, host: str, port: int) -> None:
        self.requests: List[Any] = []
        self.latency = 0.0  # seconds added before every answer (a distant server)
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

    def _add_fault(self, kind: Optional[str], key: Optional[str], times: Optional[int], after: int,
                   actions: Actions) -> None:
        with self._lock:
            self._faults.append(Fault(kind, key, times, after, actions))

    def _actions_for(self, kind: str, key: Optional[str] = None) -> Actions:
        with self._lock:
            return merge(self._faults, kind, key)

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)
            request.seq = len(self.requests)  # under the lock: two requests never share one


class BaseHandler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1, quiet; GET and POST both take the one answer path.

    A dialect says what a request is (``_route``), records it (``_new_request``) and answers
    it (``_answer``) with the senders here."""

    emulator: LoopbackEmulator
    current: Request  # the request being answered (one connection carries several in turn)
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as real servers set it: otherwise a body written after its headers waits
    # for the client's delayed ACK (40 ms on Linux) and every small answer is slow.
    disable_nagle_algorithm = True
    json_type = "application/json; charset=utf-8"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read .requests
        pass

    def do_POST(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        path, query, raw_body = self._read_request()
        kind, key = self._route(path)
        request = self._new_request(path, query, kind, raw_body)
        emu = self.emulator
        emu._record(request)
        self.current = request  # what ``_stamp`` and the dialect's error bodies speak of
        if emu.latency:
            time.sleep(emu.latency)
        actions = emu._actions_for(kind, key)
        if actions.hang_up:
            return self._hang_up(bool(actions.reset))
        self._answer(request, key, raw_body, actions)

    # -- the dialect's part -------------------------------------------------------------------

    def _route(self, path: str) -> Tuple[str, Optional[str]]:  # pragma: no cover - every dialect has its own
        """(kind, key) of this request, the key being what faults can single out."""
        raise NotImplementedError

    def _new_request(self, path: str, query: Dict[str, str], kind: str, raw_body: bytes) -> Request:
        return Request(self.command, path, query, dict(self.headers.items()), kind)

    def _answer(self, request: Request, key: Optional[str], raw_body: bytes,
                actions: Actions) -> None:  # pragma: no cover - every dialect has its own
        raise NotImplementedError

    def _stamp(self) -> Dict[str, str]:
        """Headers the dialect adds after Content-Length to every answer ``_send`` sends."""
        return {}

    # -- sending ------------------------------------------------------------------------------

    def _head(self, status: int, headers: Dict[str, str], length: int) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))

    def _send(self, status: int, headers: Dict[str, str], body: bytes = b"") -> None:
        self._head(status, headers, len(body))
        for name, value in self._stamp().items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, body: Dict[str, Any], headers: Optional[Dict[str, str]] = None) -> None:
        """``body`` as JSON, Content-Type the dialect's JSON type: after ``headers``, or in the
        place they give it."""
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self._send(status, dict(headers or {}, **{"Content-Type": self.json_type}), data)

    def _serve(self, data: bytes, headers: Dict[str, str], actions: Actions) -> None:
        """``data`` whole, or the one range the Range header asks (206, or 416 if it cannot
        be satisfied), as the resource download and OSS do (seeds 000, 002)."""
        status, start, end = 200, 0, len(data)
        wanted = self.headers.get("Range")
        if wanted and not _if_range_holds(self.headers.get("If-Range"), headers):
            wanted = None  # RFC 9110 13.1.5: the representation changed, so all of it, with 200
        if wanted and not actions.ignore_range:
            parsed = None if actions.refuse_range else parse_range(wanted, len(data))
            if parsed is None:
                return self._send(416, {"Content-Range": "bytes */%d" % len(data)})
            start, end = parsed
            if actions.cap is not None:
                end = min(end, start + int(actions.cap))
            status = 206
            shift = int(actions.shift or 0)
            headers["Content-Range"] = "bytes %d-%d/%d" % (start + shift, end - 1 + shift, len(data))
        self._stream(status, headers, data, start, end, actions)

    def _stream(self, status: int, headers: Dict[str, str], data: bytes, start: int, end: int,
                actions: Actions) -> None:
        """``data[start:end]``, broken off after ``drop_after`` bytes, ``trickle``-d."""
        self._head(status, headers, end - start)
        for name, value in self._stamp().items():  # a served body is an answer like any other
            self.send_header(name, value)
        self.end_headers()
        limit = end
        if actions.drop_after is not None:
            limit = min(end, start + int(actions.drop_after))
        delay, block = actions.trickle or (0.0, BLOCK)
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
            self._hang_up(bool(actions.reset))

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


def _if_range_holds(if_range: Optional[str], headers: Dict[str, str]) -> bool:
    """Whether a Range applies: no If-Range, or one that matches the strong ETag or the
    Last-Modified date being served."""
    if not if_range:
        return True
    etag = headers.get("ETag")
    if if_range.startswith(('"', 'W/"')):
        return etag is not None and not etag.startswith("W/") and etag == if_range
    return headers.get("Last-Modified") == if_range


def parse_range(value: str, size: int) -> Optional[Tuple[int, int]]:
    """``bytes=a-b`` (one range) as a half-open ``(start, end)``; None if unsatisfiable."""
    match = _RANGE.match(value.strip())
    if not match or size == 0:
        return None
    first, last = match.group(1), match.group(2)
    if first == "":
        if last == "":
            return None
        return max(0, size - int(last)), size
    start = int(first)
    end = size if last == "" else min(size, int(last) + 1)
    if start >= size or end <= start:
        return None
    return start, end


def text(value: Any) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else str(value)
