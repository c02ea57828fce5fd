"""The Feishu service the emulator plays: its state (app, tenants, tokens, messages, files)
and its wire (routes, endpoints, error shapes) in the Feishu (also Lark) and BOSS Hi
dialects. The endpoints follow the seeds in ``../shared/seeds``: 000 (message resource get),
001 (message get), 002 (lark-cli's Range download), 003 (BOSS Hi)."""
from __future__ import annotations

import json
import re
import time
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote

from .._names import content_disposition
from ._base import BaseHandler, LoopbackEmulator, Request, parse_range
from ._chats import CHAT_SEARCH_PATH, CHATS_PATH, answer_chats, outside
from ._faults import Actions
from ._oauth import DEFAULT_SCOPE, OAUTH_TOKEN_PATH, answer_oauth, issue_pair
from ._tokens import grant_of, issue
from ._users import USER_ID_TYPES, Directory, as_seen

TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
LIST_PATH = "/open-apis/im/v1/messages"
APP_TOKEN_PATH = "/open-apis/auth/v3/app_access_token"  # store (ISV) apps
STORE_TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token"
BOSSHI_TOKEN_PATH = "/open-apis/auth/tenant_access_token/internal"
_BOSSHI_MESSAGE = re.compile(r"^/open-apis/im/messages/([^/]+)$")
_MESSAGE = re.compile(r"^/open-apis/im/v1/messages/([^/]+)$")
_RESOURCE = re.compile(r"^/open-apis/im/v1/messages/([^/]+)/resources/([^/]+)$")
INVALID_PARAM = "Your request contains an invalid request parameter."  # seed 001: 230001
# Seed 000, "使用限制": only resources within 100 MB are served ("仅支持下载 100 MB 以内的资源文件").
MAX_RESOURCE_SIZE = 100 * 1024 * 1024
RESOURCE_TYPES = ("image", "file")  # seed 000, query parameter type: required, one of these
DISPOSITIONS = ("rfc5987", "raw_utf8")  # how Content-Disposition carries a name (see _disposition)


def route(dialect: str, method: str, path: str) -> Tuple[str, Optional[str]]:
    """(kind, key) of a request in this dialect; kind "unknown" if none. The key is the
    message id, or the file key of a resource."""
    if dialect == "bosshi":  # seed 003: only the token and one message
        match = _BOSSHI_MESSAGE.match(path)
        if method == "POST" and path == BOSSHI_TOKEN_PATH:
            return "token", None
        if method == "GET" and match:
            return "message", unquote(match.group(1))
        return "unknown", None
    tokens = {TOKEN_PATH: "token", APP_TOKEN_PATH: "app_token", STORE_TOKEN_PATH: "store_token",
              OAUTH_TOKEN_PATH: "oauth_token"}  # user token pairs: see _oauth
    if method == "POST" and path in tokens:
        return tokens[path], None
    match_res = _RESOURCE.match(path)
    match_msg = _MESSAGE.match(path)
    if method == "GET" and path == LIST_PATH:
        return "list", None
    if method == "GET" and path in (CHATS_PATH, CHAT_SEARCH_PATH):  # see _chats
        return ("chats" if path == CHATS_PATH else "chat_search"), None
    if method == "GET" and match_res:
        return "resource", unquote(match_res.group(2))
    if method == "GET" and match_msg:
        return "message", unquote(match_msg.group(1))
    return "unknown", None


class FeishuService(LoopbackEmulator):
    """The service as its endpoints see it: the app, the tenants that installed it, the
    tokens issued, the messages and their files. ``FeishuEmulator`` adds the public face."""

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
        content_disposition: str = "rfc5987",
    ) -> None:
        if dialect not in ("feishu", "bosshi"):
            raise ValueError("dialect is 'feishu' (also Lark) or 'bosshi'")
        super().__init__(host, port)
        self.content_disposition = content_disposition
        self.dialect = dialect
        self.app_ticket = app_ticket  # what a store app must present (Feishu pushes it hourly)
        self.tenant_keys = set(tenant_keys)  # tenants that installed the store app
        self.app_id = app_id
        self.app_secret = app_secret
        self.user_access_token = user_access_token
        self.token_lifetime = token_lifetime
        self._messages: Dict[str, Dict[str, Any]] = {}
        self._children: Dict[str, List[str]] = {}
        self._resources: Dict[Tuple[str, str], Dict[str, Any]] = {}
        self._chats: Dict[str, Dict[str, Any]] = {}  # added with add_chat (see _chats)
        self._expired_through = 0  # tokens of this serial and older are refused here (expire_tokens)
        self._counter = 0
        self.users = Directory()  # each sender's open_id, union_id and user_id (seed 001)
        self.max_resource_size = MAX_RESOURCE_SIZE
        # Resources of merge_forward children: seed 000 ("usage limits") refuses both the
        # child's id and the container's (234043), the default here. Reports from the live
        # service (NousResearch/hermes-agent PR #66729 downloads a child's images under the
        # container's id) say the container serves them: set True to model that.
        self.forwarded_served_by_container = False

    @property
    def content_disposition(self) -> str:
        """How a resource's name is sent: ``"rfc5987"`` (an ASCII ``filename`` and the exact
        name as ``filename*``) or ``"raw_utf8"`` (the name's UTF-8 bytes in ``filename``)."""
        return self._disposition

    @content_disposition.setter
    def content_disposition(self, value: str) -> None:
        if value not in DISPOSITIONS:
            raise ValueError("content_disposition is one of %s" % (DISPOSITIONS,))
        self._disposition = value

    def _record(self, request: Request) -> None:
        super()._record(request)
        # Every answer carries its own log id: Feishu in the X-Tt-Logid header (lark-oapi
        # core/model/base_response.py get_log_id) and, on errors, as error.log_id in the body
        # (lark-oapi core/model/error.py); BOSS Hi as the body's traceId (seed 003).
        request.log_id = ("emu%08d" if self.dialect == "feishu" else "emu-trace-%d") % request.seq

    def _issue_token(self, prefix: str = "t-", tenant_key: Optional[str] = None) -> str:
        return issue(prefix, self.app_id, self.token_lifetime, tenant_key)

    def issue_user_tokens(self, scope: str = DEFAULT_SCOPE) -> Dict[str, Any]:
        """A user's first pair, as the token endpoint answers a sign-in (see ``_oauth``)."""
        return issue_pair(self.app_id, self.token_lifetime, scope)

    def _token_error(self, authorization: Optional[str]) -> Optional[Tuple[int, int, str]]:
        """(status, code, msg) if ``authorization`` is no valid ``Bearer`` token: Feishu's
        99991661 (none) and 99991663 (invalid or expired), as DESIGN.md §3 lists them."""
        if not authorization or not authorization.startswith("Bearer "):
            return 400, 99991661, "Missing access token for authorization"
        token = authorization[len("Bearer "):]
        if token == self.user_access_token:
            return None
        grant = grant_of(token)  # issued by any emulator of this process: see _tokens
        if (grant is None or grant.app_id != self.app_id or grant.expires < time.time()
                or grant.serial <= self._expired_through):
            return 400, 99991663, "Invalid access token for authorization"
        return None


class FeishuHandler(BaseHandler):
    """The Feishu and BOSS Hi dialects on the wire: routes, endpoints, error shapes."""

    emulator: FeishuService
    server_version = "FeishuEmulator/1"

    # -- what a request is, how an answer looks ----------------------------------------------

    def _route(self, path: str) -> Tuple[str, Optional[str]]:
        return route(self.emulator.dialect, self.command, path)

    def _answer(self, request: Request, key: Optional[str], raw_body: bytes, actions: Actions) -> None:
        emu = self.emulator
        kind = request.kind
        if actions.status is not None:
            return self._fault_answer(actions.status, actions)
        if kind in ("token", "app_token", "store_token"):
            return self._token(kind, raw_body)
        if kind == "oauth_token":
            return answer_oauth(self, raw_body)
        if kind == "unknown":
            return self._error(404, 404, "no such endpoint in the emulator")
        denied = emu._token_error(self.headers.get("Authorization"))  # "Bearer <token>" (seeds 000, 001)
        if denied:
            return self._error(*denied)
        if kind == "message":
            return self._message(key or "", request.query)
        if kind == "list":
            return self._list(request.query)
        if kind in ("chats", "chat_search"):
            return answer_chats(self, kind, request.query)
        match = _RESOURCE.match(request.path)
        assert match is not None
        return self._resource(unquote(match.group(1)), key or "", request.query.get("type"), actions)

    def _stamp(self) -> Dict[str, str]:
        if self.emulator.dialect == "feishu" and self.current.log_id:  # BOSS Hi: traceId in the body (seed 003)
            return {"X-Tt-Logid": self.current.log_id}
        return {}

    def _json(self, status: int, body: Dict[str, Any], headers: Optional[Dict[str, str]] = None) -> None:
        if self.emulator.dialect == "bosshi":  # seed 003's response: success and traceId beside code
            body = dict(body, success=body.get("code") == 0, traceId=self.current.log_id)
        self._send_json(status, body, headers)

    def _error(self, status: int, code: object, msg: str, headers: Optional[Dict[str, str]] = None) -> None:
        """The API's error: HTTP status, ``code`` and ``msg`` (seeds 000, 001), and on Feishu
        an ``error`` object with this answer's own log id, the one its X-Tt-Logid header
        carries, and the troubleshooting link built from it (lark-oapi core/model/error.py:
        ``log_id``, ``troubleshooter``)."""
        body: Dict[str, Any] = {"code": code, "msg": msg}
        if self.emulator.dialect == "feishu":
            log_id = self.current.log_id
            body["error"] = {"log_id": log_id, "troubleshooter": "排查建议查看(Troubleshooting suggestions): "
                             "https://open.feishu.cn/search?from=openapi&log_id=%s&code=%s" % (log_id, code)}
        self._json(status, body, headers)

    def _fault_answer(self, status: int, actions: Actions) -> None:
        headers = actions.headers or {}
        if actions.code is not None:
            return self._error(status, actions.code, actions.message or "", headers)
        body = actions.body
        if body is None:  # what a gateway in front of the API sends
            body = b"<html><body><h1>%d</h1>emulated gateway page</body></html>" % status
        self._send(status, dict(headers, **{"Content-Type": "text/html"}), body)

    # -- endpoints --------------------------------------------------------------------------

    def _token(self, kind: str, raw_body: bytes) -> None:
        emu = self.emulator
        try:
            body = json.loads(raw_body.decode("utf-8"))
        except ValueError:
            body = {}
        if kind == "store_token":  # a store app's tenant token: its app token and the tenant
            if emu._token_error("Bearer " + str(body.get("app_access_token"))):
                # the server error code list: 99991664 "invalid app token"
                return self._error(400, 99991664, "invalid app token")
            if body.get("tenant_key") not in emu.tenant_keys:
                return self._error(400, 10005, "tenant_key is invalid: the app is not installed there")
            return self._json(200, {"code": 0, "msg": "ok", "expire": emu.token_lifetime,
                                    "tenant_access_token": emu._issue_token(tenant_key=body["tenant_key"])})
        if body.get("app_id") != emu.app_id:
            return self._error(400, 10003, "invalid param: app_id")
        if body.get("app_secret") != emu.app_secret:
            return self._error(400, 10014, "app secret invalid")
        if kind == "app_token":
            if body.get("app_ticket") != emu.app_ticket:
                return self._error(400, 10012, "app_ticket is invalid")
            return self._json(200, {"code": 0, "msg": "ok", "app_access_token": emu._issue_token("a-"),
                                    "expire": emu.token_lifetime})
        if emu.dialect == "bosshi":  # the token nested under "data" (DESIGN.md §1)
            return self._json(200, {"code": 0, "data": {"tenant_access_token": emu._issue_token(),
                                                        "expire": emu.token_lifetime - 60}})
        self._json(200, {"code": 0, "msg": "ok", "tenant_access_token": emu._issue_token(),
                         "expire": emu.token_lifetime})

    def _user_id_type(self, query: Dict[str, str]) -> Optional[str]:
        """The ``user_id_type`` asked (seeds 001 and 003: open_id, union_id or user_id; open_id
        when absent); None, after answering 230001 (seed 001's parameter error), if invalid."""
        wanted = query.get("user_id_type", "open_id")
        if wanted in USER_ID_TYPES:
            return wanted
        self._error(400, 230001, INVALID_PARAM)
        return None

    def _message(self, message_id: str, query: Dict[str, str]) -> None:
        """Seed 001: the message in ``items``, a merge_forward's sub-messages after it; seed
        003 (BOSS Hi): the one message directly in ``data``. Senders and mentions by the
        ``user_id_type`` asked."""
        emu = self.emulator
        id_type = self._user_id_type(query)
        if id_type is None:
            return None
        item = emu._messages.get(message_id)
        if item is None:
            # Feishu's "how to resolve error 230001" page: a message_id that names no message
            # is 230001 with "ext=invalid message_id" after the parameter error's words; BOSS
            # Hi documents no error answers (seed 003), so it keeps the plain parameter error
            ext = "" if emu.dialect == "bosshi" else ", ext=invalid message_id"
            return self._error(400, 230001, INVALID_PARAM[:-1] + ext + ".")
        if outside(emu._chats, item.get("chat_id")):  # seed 001: the bot must be in the chat
            return self._error(400, 230002, "The bot can not be outside the group.")
        if emu.dialect == "bosshi":  # as seed 003's example: null ids kept, camelCase sender
            # seed 003: user_id_type chooses the sender's id; mentions are "目前仅支持 open_id"
            item = as_seen(item, id_type, emu.users, mentions=False)
            sender = item.get("sender") or {}
            data = dict(item, chat_id=item.get("chat_id"), upper_message_id=item.get("upper_message_id"), sender={
                "id": sender.get("id"), "idType": sender.get("id_type"), "senderType": sender.get("sender_type"),
                "tenantKey": sender.get("tenant_key")})
            return self._json(200, {"code": 0, "msg": "操作成功", "data": data})
        items = [item] + [emu._messages[child] for child in self._descendants(message_id)]
        items = [as_seen(i, id_type, emu.users) for i in items]
        self._json(200, {"code": 0, "msg": "success", "data": {"items": items}})

    def _descendants(self, message_id: str) -> List[str]:
        """The merge_forward sub-messages under ``message_id``, breadth first."""
        found: List[str] = []
        pending = list(self.emulator._children.get(message_id, []))
        while pending:
            child = pending.pop(0)
            found.append(child)
            pending.extend(self.emulator._children.get(child, []))
        return found

    def _list(self, query: Dict[str, str]) -> None:
        """The history of a chat or a thread: top-level messages only, paged. The list document
        names no ``user_id_type`` (lark-oapi's ListMessageRequestBuilder has none), so open_id
        is what callers get; given, it is honoured as on message get (seed 001), since the
        items are the same message objects whose ids "follow user_id_type"."""
        emu = self.emulator
        kind, container = query.get("container_id_type"), query.get("container_id")
        id_type = self._user_id_type(query)
        if id_type is None:
            return None
        try:
            page_size = int(query.get("page_size", "20"))
            offset = int(query.get("page_token", "pt_0")[3:])
            start = int(query["start_time"]) * 1000 if "start_time" in query else None
            end = int(query["end_time"]) * 1000 + 999 if "end_time" in query else None
        except ValueError:
            return self._error(400, 230001, INVALID_PARAM)
        if kind not in ("chat", "thread") or not container or not 1 <= page_size <= 50 or (
                kind == "thread" and (start is not None or end is not None)):
            return self._error(400, 230001, INVALID_PARAM)
        if kind == "chat" and outside(emu._chats, container):  # seed 001's 230002, as message get
            return self._error(400, 230002, "The bot can not be outside the group.")
        field = "chat_id" if kind == "chat" else "thread_id"
        with emu._lock:
            # A chat lists the message that opened a thread, not the replies in it (a reply
            # holds thread_id and root_id): those come by container_id_type=thread, which is
            # why lark-cli expands threads (shortcuts/im/convert_lib/thread.go).
            items = [m for m in emu._messages.values()
                     if m.get(field) == container and not m.get("upper_message_id")
                     and (kind == "thread" or not (m.get("thread_id") and m.get("root_id")))
                     and (start is None or int(m["create_time"]) >= start)
                     and (end is None or int(m["create_time"]) <= end)]
        # sort() is stable: messages of the same millisecond keep the order they were added in
        items.sort(key=lambda m: int(m["create_time"]), reverse=query.get("sort_type") == "ByCreateTimeDesc")
        page = [as_seen(m, id_type, emu.users) for m in items[offset:offset + page_size]]
        more = offset + page_size < len(items)
        data: Dict[str, Any] = {"has_more": more, "items": page}
        if more:
            data["page_token"] = "pt_%d" % (offset + page_size)
        self._json(200, {"code": 0, "msg": "success", "data": data})

    def _resource(self, message_id: str, file_key: str, type_: Optional[str], actions: Actions) -> None:
        """Seed 000: the bytes of a file in a message, with its error codes; Range as lark-cli
        uses it (seed 002)."""
        emu = self.emulator
        item = emu._messages.get(message_id)
        if type_ not in RESOURCE_TYPES or item is None:
            # seed 000: type is required and "image" or "file" ("查询参数"); a missing or other
            # value, like an unknown message, is 234001 "Invalid request param."
            return self._error(400, 234001, "Invalid request param.")
        if item.get("deleted"):
            return self._error(400, 230110, "Action unavailable as the message has been deleted.")
        if outside(emu._chats, item.get("chat_id")):  # seed 000: 234004, the app is not in the chat
            return self._error(400, 234004, "App not in chat.")
        res = emu._resources.get((message_id, file_key))
        if item.get("msg_type") == "merge_forward" and emu.forwarded_served_by_container:
            res = next((emu._resources[(c, file_key)] for c in self._descendants(message_id)
                        if (c, file_key) in emu._resources), None)
        elif item.get("upper_message_id") or item.get("msg_type") in ("merge_forward", "interactive", "sticker"):
            # seed 000 "使用限制": no resources of forwards, their children or cards (234043), and
            # none of stickers ("暂不支持获取表情包资源"; type file is "表情包除外"): the code
            # for a message type the endpoint does not serve is 234043 "不支持的消息类型"
            return self._error(400, 234043, "Unsupported message type.")
        if res is None or res["type"] != type_:
            # seed 000: 234003 "该资源不属于当前消息" (file_key and message_id must match); a valid
            # type that is not the resource's (image for a file) names no resource of the message
            return self._error(400, 234003, "File not in message.")
        if len(res["data"]) > emu.max_resource_size:
            # seed 000: only resources within 100 MB, 234037 otherwise; the limit is on the
            # resource, so a Range asking for a small part of a larger one is refused too
            return self._error(400, 234037, "Downloaded file size exceeds limit.")
        if actions.limit is not None and self._answer_length(len(res["data"]), actions) > actions.limit:
            # a gateway cap (a fault, not the service): it refuses longer answers, ranges
            # included, with seed 000's 234037 "Downloaded file size exceeds limit"
            return self._error(400, 234037, "Downloaded file size exceeds limit.")
        headers = {"Content-Type": res["content_type"], "Accept-Ranges": "bytes"}
        headers.update(res["validators"])
        if res["filename"]:
            headers["Content-Disposition"] = self._disposition(res["filename"])
        self._serve(res["data"], headers, actions)

    def _disposition(self, name: str) -> str:
        """Content-Disposition for ``name``: RFC 6266 with RFC 5987 ``filename*``, or as the
        live service is reported to send it, the name's UTF-8 bytes raw in a quoted
        ``filename`` and no ``filename*`` (larksuite/openclaw-lark issue #364, openclaw/openclaw
        PR #50435: ``attachment; filename="何不同舟渡_2.txt"``); the official SDK reads that
        form (lark-oapi core/utils/files.py ``Files.parse_file_name`` decodes a plain filename
        as UTF-8). http.server writes headers as latin-1, so the UTF-8 bytes are handed over
        as the latin-1 text that encodes to them."""
        if self.emulator.content_disposition == "raw_utf8":
            quoted = name.replace("\\", "\\\\").replace('"', '\\"')
            return ('attachment; filename="%s"' % quoted).encode("utf-8").decode("latin-1")
        return content_disposition(name)

    def _answer_length(self, size: int, actions: Actions) -> int:
        """How many bytes the answer to this request would hold."""
        wanted = self.headers.get("Range")
        parsed = parse_range(wanted, size) if wanted and not actions.ignore_range else None
        return size if parsed is None else parsed[1] - parsed[0]


FeishuService.handler = FeishuHandler
