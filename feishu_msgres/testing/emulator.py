"""A Feishu Open Platform emulator: a real HTTP server on loopback, for tests and the demo.

It speaks the endpoints this library uses (tenant token, message get, message resource get
with Range) with the API's error codes, and injects the faults real networks and servers
produce. Standard library only; runs in a background thread on a free port.
"""
from __future__ import annotations

import json
import re
import time
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote

from .._names import content_disposition
from ._base import BaseHandler, LoopbackEmulator

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
LIST_PATH = "/open-apis/im/v1/messages"
APP_TOKEN_PATH = "/open-apis/auth/v3/app_access_token"  # store (ISV) apps
STORE_TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token"
BOSSHI_TOKEN_PATH = "/open-apis/auth/tenant_access_token/internal"
_BOSSHI_MESSAGE = re.compile(r"^/open-apis/im/messages/([^/]+)$")
_MESSAGE = re.compile(r"^/open-apis/im/v1/messages/([^/]+)$")
_RESOURCE = re.compile(r"^/open-apis/im/v1/messages/([^/]+)/resources/([^/]+)$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Request:
    """One request the emulator received (headers as sent, for assertions)."""

    def __init__(self, method: str, path: str, query: Dict[str, str], headers: Dict[str, str], kind: str) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.kind = kind  # "token", "message", "resource" or "unknown"
        self.time = time.monotonic()

    def __repr__(self) -> str:
        return "<Request %s %s %s>" % (self.method, self.path, self.headers.get("Range", ""))


class FeishuEmulator(LoopbackEmulator):
    """``with FeishuEmulator() as emu: client = emu.client()``.

    Add messages with ``add_message`` and their bytes with ``add_resource``; inject faults
    with ``fail``, ``rate_limit``, ``drop_after``, ``ignore_range``, ``wrong_content_range``,
    ``trickle`` and ``expire_tokens`` (each for ``times`` requests, after letting ``after``
    matching ones through); read what arrived in ``requests``.
    """

    def __init__(
        self,
        app_id: str = "cli_emulator",
        app_secret: str = "emulator-secret",
        user_access_token: str = "u-emulator",
        token_lifetime: int = 7200,
        host: str = "127.0.0.1",
        port: int = 0,
        dialect: str = "feishu",
        app_ticket: str = "ticket-emulator",
        tenant_keys: Tuple[str, ...] = ("tk_emulator",),
    ) -> None:
        if dialect not in ("feishu", "bosshi"):
            raise ValueError("dialect is 'feishu' (also Lark) or 'bosshi'")
        super().__init__(host, port)
        self.dialect = dialect
        self.app_ticket = app_ticket  # what a store app must present (Feishu pushes it hourly)
        self.tenant_keys = set(tenant_keys)  # tenants that installed the store app
        self.app_id = app_id
        self.app_secret = app_secret
        self.user_access_token = user_access_token
        self.token_lifetime = token_lifetime
        self.latency = 0.0  # seconds added before every answer (a distant server)
        self._messages: Dict[str, Dict[str, Any]] = {}
        self._children: Dict[str, List[str]] = {}
        self._resources: Dict[Tuple[str, str], Dict[str, Any]] = {}
        self._tokens: Dict[str, float] = {}
        self._counter = 0

    thread_name = "feishu-emulator"

    def client(self, **kwargs: Any) -> Any:
        """A ``feishu_msgres.Client`` for this emulator (app credentials unless overridden)."""
        from ..client import Client

        if "user_access_token" not in kwargs:
            kwargs.setdefault("app_id", self.app_id)
            kwargs.setdefault("app_secret", self.app_secret)
        kwargs.setdefault("platform", self.dialect)
        return Client(base_url=self.url, **kwargs)

    # -- content --------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return "%s_emu%06d" % (prefix, self._counter)

    def add_message(
        self,
        msg_type: str,
        content: Any,
        *,
        message_id: Optional[str] = None,
        chat_id: str = "oc_emulator",
        sender_id: str = "ou_emulator_sender",
        upper_message_id: Optional[str] = None,
        deleted: bool = False,
        create_time: Optional[int] = None,
        **fields: Any,
    ) -> str:
        """Store a message; ``content`` is a dict (serialised as the API does) or a string.

        A message with ``upper_message_id`` is a merge_forward child: it is returned with
        its upper message and refused by the resource endpoint (234043), as Feishu does.
        """
        message_id = message_id or self._next_id("om")
        millis = str(create_time if create_time is not None else int(time.time() * 1000))
        item: Dict[str, Any] = {
            "message_id": message_id,
            "msg_type": msg_type,
            "create_time": millis,
            "update_time": millis,
            "deleted": deleted,
            "updated": False,
            "chat_id": chat_id,
            "sender": {"id": sender_id, "id_type": "open_id", "sender_type": "user", "tenant_key": "tk_emulator"},
            "body": {"content": content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)},
            "mentions": [],
        }
        if upper_message_id:
            item["upper_message_id"] = upper_message_id
            self._children.setdefault(upper_message_id, []).append(message_id)
        if deleted:
            item["body"] = {"content": ""}
        item.update(fields)
        self._messages[message_id] = item
        return message_id

    def add_resource(
        self,
        message_id: str,
        file_key: str,
        data: bytes,
        *,
        type: str = "file",
        content_type: str = "application/octet-stream",
        filename: Optional[str] = None,
    ) -> None:
        """The bytes ``GET …/resources/file_key?type=type`` serves for that message."""
        self._resources[(message_id, file_key)] = {
            "data": data,
            "type": type,
            "content_type": content_type,
            "filename": filename,
        }

    # -- faults ---------------------------------------------------------------------------

    def fail(
        self,
        kind: Optional[str] = None,
        status: int = 503,
        times: Optional[int] = 1,
        code: Optional[int] = None,
        msg: str = "emulated failure",
        headers: Optional[Dict[str, str]] = None,
        body: Optional[bytes] = None,
        key: Optional[str] = None,
        after: int = 0,
    ) -> None:
        """Answer the next ``times`` requests of ``kind`` (token, message, resource; None:
        any) with ``status``; with ``code`` the body is the API's JSON error, with ``body``
        those bytes, else a small HTML page (as a gateway sends)."""
        self._add_fault(kind, key, times, after, status=status, code=code, msg=msg, headers=headers or {}, body=body)

    def rate_limit(self, kind: Optional[str] = None, times: int = 1, reset: float = 1, after: int = 0) -> None:
        """HTTP 429, code 99991400 and ``x-ogw-ratelimit-reset: reset``, as Feishu throttles."""
        self.fail(kind, 429, times, 99991400, "request trigger frequency limit",
                  headers={"x-ogw-ratelimit-reset": str(reset)}, after=after)

    def drop_after(self, file_key: Optional[str], nbytes: int, times: Optional[int] = 1, reset: bool = False,
                   after: int = 0) -> None:
        """Send headers and ``nbytes`` of the body, then close (``reset``: RST, not FIN)."""
        self._add_fault("resource", file_key, times, after, drop_after=nbytes, reset=reset)

    def disconnect(self, kind: Optional[str] = None, times: Optional[int] = 1, reset: bool = False,
                   after: int = 0) -> None:
        """Close the connection without answering (``reset``: RST, not FIN)."""
        self._add_fault(kind, None, times, after, hang_up=True, reset=reset)

    def ignore_range(self, file_key: Optional[str] = None, times: Optional[int] = None, after: int = 0) -> None:
        """Answer 200 with the whole body whatever Range asks (as some proxies do)."""
        self._add_fault("resource", file_key, times, after, ignore_range=True)

    def refuse_range(self, file_key: Optional[str] = None, times: Optional[int] = None, after: int = 0) -> None:
        """Answer 416 to any Range request (a server that cannot do ranges at all)."""
        self._add_fault("resource", file_key, times, after, refuse_range=True)

    def cap_ranges(self, size: int, file_key: Optional[str] = None, times: Optional[int] = None,
                   after: int = 0) -> None:
        """Answer at most ``size`` bytes to a Range request, as some CDNs do (a valid 206)."""
        self._add_fault("resource", file_key, times, after, cap=size)

    def wrong_content_range(self, file_key: Optional[str] = None, times: Optional[int] = 1, shift: int = 1,
                            after: int = 0) -> None:
        """Serve the asked range but declare it ``shift`` bytes further on (a broken server)."""
        self._add_fault("resource", file_key, times, after, shift=shift)

    def trickle(self, file_key: Optional[str] = None, delay: float = 0.05, block: int = 1024,
                times: Optional[int] = None, after: int = 0) -> None:
        """Send the body ``block`` bytes at a time with ``delay`` seconds between them."""
        self._add_fault("resource", file_key, times, after, trickle=(delay, block))

    def expire_tokens(self) -> None:
        """Every token issued so far becomes invalid (code 99991663 on its next use)."""
        with self._lock:
            self._tokens.clear()

    # -- serving (called from the handler) ------------------------------------------------

    def _issue_token(self, prefix: str = "t-") -> str:
        with self._lock:
            self._counter += 1
            token = "%semulator-%06d" % (prefix, self._counter)
            self._tokens[token] = time.time() + self.token_lifetime
        return token

    def _token_error(self, authorization: Optional[str]) -> Optional[Tuple[int, int, str]]:
        if not authorization or not authorization.startswith("Bearer "):
            return 400, 99991661, "Missing access token for authorization"
        token = authorization[len("Bearer "):]
        if token == self.user_access_token:
            return None
        with self._lock:
            expires = self._tokens.get(token)
        if expires is None or expires < time.time():
            return 400, 99991663, "Invalid access token for authorization"
        return None


def _route(dialect: str, method: str, path: str) -> Tuple[str, Optional[str], Any]:
    """(kind, key, resource match) of a request in this dialect; kind "unknown" if none."""
    if dialect == "bosshi":
        match = _BOSSHI_MESSAGE.match(path)
        if method == "POST" and path == BOSSHI_TOKEN_PATH:
            return "token", None, None
        if method == "GET" and match:
            return "message", unquote(match.group(1)), None
        return "unknown", None, None
    tokens = {TOKEN_PATH: "token", APP_TOKEN_PATH: "app_token", STORE_TOKEN_PATH: "store_token"}
    if method == "POST" and path in tokens:
        return tokens[path], None, None
    match_res = _RESOURCE.match(path)
    match_msg = _MESSAGE.match(path)
    if method == "GET" and path == LIST_PATH:
        return "list", None, None
    if method == "GET" and match_res:
        return "resource", unquote(match_res.group(2)), match_res
    if method == "GET" and match_msg:
        return "message", unquote(match_msg.group(1)), None
    return "unknown", None, None


class _Handler(BaseHandler):
    emulator: FeishuEmulator
    server_version = "FeishuEmulator/1"

    # -- plumbing ---------------------------------------------------------------------------

    def _dispatch(self) -> None:
        path, query, raw_body = self._read_request()
        emu = self.emulator
        kind, key, match_res = _route(emu.dialect, self.command, path)
        record = Request(self.command, path, query, dict(self.headers.items()), kind)
        emu._record(record)
        if emu.latency:
            time.sleep(emu.latency)
        faults = emu._faults_for(kind, key)
        if faults.get("hang_up"):
            return self._hang_up(bool(faults.get("reset")))
        if "status" in faults:
            return self._fault_answer(faults)
        if kind in ("token", "app_token", "store_token"):
            return self._token(kind, raw_body)
        if kind == "unknown":
            return self._json(404, {"code": 404, "msg": "no such endpoint in the emulator"})
        denied = emu._token_error(self.headers.get("Authorization"))
        if denied:
            return self._error(*denied)
        if kind == "message":
            return self._message(key or "")
        if kind == "list":
            return self._list(query)
        assert match_res is not None
        return self._resource(unquote(match_res.group(1)), key or "", query.get("type"), faults)

    def _send(self, status: int, headers: Dict[str, str], body: bytes = b"") -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        if self.emulator.dialect == "feishu":  # BOSS Hi puts a traceId in the body instead
            self.send_header("X-Tt-Logid", "emu%08d" % len(self.emulator.requests))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, body: Dict[str, Any], headers: Optional[Dict[str, str]] = None) -> None:
        if self.emulator.dialect == "bosshi":
            body = dict(body, success=body.get("code") == 0, traceId="emu-trace-%d" % len(self.emulator.requests))
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self._send(status, dict(headers or {}, **{"Content-Type": "application/json; charset=utf-8"}), data)

    def _error(self, status: int, code: int, msg: str, headers: Optional[Dict[str, str]] = None) -> None:
        body: Dict[str, Any] = {"code": code, "msg": msg}
        if self.emulator.dialect == "feishu":
            body["error"] = {"log_id": "emu-log-%d" % code}
        self._json(status, body, headers)

    def _fault_answer(self, fault: Dict[str, Any]) -> None:
        if fault.get("code") is not None:
            return self._error(fault["status"], fault["code"], fault["msg"], fault["headers"])
        body = fault.get("body")
        if body is None:
            body = b"<html><body><h1>%d</h1>emulated gateway page</body></html>" % fault["status"]
        self._send(fault["status"], dict(fault["headers"], **{"Content-Type": "text/html"}), body)

    # -- endpoints --------------------------------------------------------------------------

    def _token(self, kind: str, raw_body: bytes) -> None:
        emu = self.emulator
        try:
            body = json.loads(raw_body.decode("utf-8"))
        except ValueError:
            body = {}
        if kind == "store_token":  # a store app's tenant token: its app token and the tenant
            if emu._token_error("Bearer " + str(body.get("app_access_token"))):
                return self._error(400, 99991663, "app access token invalid")
            if body.get("tenant_key") not in emu.tenant_keys:
                return self._error(400, 10005, "tenant_key is invalid: the app is not installed there")
            return self._json(200, {"code": 0, "msg": "ok", "tenant_access_token": emu._issue_token(),
                                    "expire": emu.token_lifetime})
        if body.get("app_id") != emu.app_id:
            return self._error(400, 10003, "invalid param: app_id")
        if body.get("app_secret") != emu.app_secret:
            return self._error(400, 10014, "app secret invalid")
        if kind == "app_token":
            if body.get("app_ticket") != emu.app_ticket:
                return self._error(400, 10012, "app_ticket is invalid")
            return self._json(200, {"code": 0, "msg": "ok", "app_access_token": emu._issue_token("a-"),
                                    "expire": emu.token_lifetime})
        if emu.dialect == "bosshi":  # the token nested under "data"
            return self._json(200, {"code": 0, "data": {"tenant_access_token": emu._issue_token(),
                                                        "expire": emu.token_lifetime - 60}})
        self._json(200, {"code": 0, "msg": "ok", "tenant_access_token": emu._issue_token(),
                         "expire": emu.token_lifetime})

    def _message(self, message_id: str) -> None:
        emu = self.emulator
        item = emu._messages.get(message_id)
        if item is None:
            return self._error(400, 230001, "Your request contains an invalid request parameter.")
        if emu.dialect == "bosshi":  # one message, directly in data; camelCase sender
            sender = item.get("sender") or {}
            data = dict(item, chat_id=item.get("chat_id"), upper_message_id=item.get("upper_message_id"), sender={
                "id": sender.get("id"), "idType": sender.get("id_type"), "senderType": sender.get("sender_type"),
                "tenantKey": sender.get("tenant_key")})
            return self._json(200, {"code": 0, "msg": "操作成功", "data": data})
        items = [item]
        pending = list(emu._children.get(message_id, []))
        while pending:
            child = pending.pop(0)
            items.append(emu._messages[child])
            pending.extend(emu._children.get(child, []))
        self._json(200, {"code": 0, "msg": "success", "data": {"items": items}})

    def _list(self, query: Dict[str, str]) -> None:
        """The history of a chat or a thread: top-level messages only, paged."""
        emu = self.emulator
        kind, container = query.get("container_id_type"), query.get("container_id")
        try:
            page_size = int(query.get("page_size", "20"))
            offset = int(query.get("page_token", "pt_0")[3:])
            start = int(query["start_time"]) * 1000 if "start_time" in query else None
            end = int(query["end_time"]) * 1000 + 999 if "end_time" in query else None
        except ValueError:
            return self._error(400, 230001, "Your request contains an invalid request parameter.")
        if kind not in ("chat", "thread") or not container or not 1 <= page_size <= 50 or (
                kind == "thread" and (start is not None or end is not None)):
            return self._error(400, 230001, "Your request contains an invalid request parameter.")
        field = "chat_id" if kind == "chat" else "thread_id"
        with emu._lock:
            items = [m for m in emu._messages.values()
                     if m.get(field) == container and not m.get("upper_message_id")
                     and (start is None or int(m["create_time"]) >= start)
                     and (end is None or int(m["create_time"]) <= end)]
        # sort() is stable: messages of the same millisecond keep the order they were added in
        items.sort(key=lambda m: int(m["create_time"]), reverse=query.get("sort_type") == "ByCreateTimeDesc")
        page = items[offset:offset + page_size]
        more = offset + page_size < len(items)
        data: Dict[str, Any] = {"has_more": more, "items": page}
        if more:
            data["page_token"] = "pt_%d" % (offset + page_size)
        self._json(200, {"code": 0, "msg": "success", "data": data})

    def _resource(self, message_id: str, file_key: str, type_: Optional[str], faults: Dict[str, Any]) -> None:
        emu = self.emulator
        item = emu._messages.get(message_id)
        if item is None:
            return self._error(400, 234001, "Invalid request param.")
        if item.get("deleted"):
            return self._error(400, 230110, "Action unavailable as the message has been deleted.")
        if item.get("upper_message_id") or item.get("msg_type") in ("merge_forward", "interactive"):
            return self._error(400, 234043, "Unsupported message type.")
        res = emu._resources.get((message_id, file_key))
        if res is None or res["type"] != type_:
            return self._error(400, 234003, "File not in message.")
        data: bytes = res["data"]
        headers = {"Content-Type": res["content_type"], "Accept-Ranges": "bytes"}
        if res["filename"]:
            headers["Content-Disposition"] = content_disposition(res["filename"])
        status, start, end = 200, 0, len(data)
        wanted = self.headers.get("Range")
        if wanted and not faults.get("ignore_range"):
            parsed = None if faults.get("refuse_range") else _parse_range(wanted, len(data))
            if parsed is None:
                return self._send(416, {"Content-Range": "bytes */%d" % len(data)})
            start, end = parsed
            if "cap" in faults:
                end = min(end, start + int(faults["cap"]))
            status = 206
            shift = int(faults.get("shift", 0))
            headers["Content-Range"] = "bytes %d-%d/%d" % (start + shift, end - 1 + shift, len(data))
        self._stream(status, headers, data, start, end, faults)


def _parse_range(value: str, size: int) -> Optional[Tuple[int, int]]:
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


FeishuEmulator.handler = _Handler
