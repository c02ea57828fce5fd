"""What each API call is: method, path with its ids checked and quoted, query and body.

The clients send exactly these, and ``--dry-run`` prints exactly these (secrets masked), so
what a dry run shows is what a real run sends. Bad ids and arguments are refused here,
before any request.
"""
from __future__ import annotations

import datetime
import json
import re
from typing import Any, Dict, Mapping, NamedTuple, Optional, Union
from urllib.parse import quote

from .errors import ConfigError
from .platforms import APP_TOKEN_PATH, STORE_TENANT_TOKEN_PATH, Platform

RESOURCE_TYPES = ("image", "file")
MASK = "***"
Time = Union[None, int, float, datetime.datetime]
# Characters no message id or file key holds, which would change the URL's meaning.
_BAD_ID = re.compile(r"[/\\?#%\s\x00-\x1f\x7f]")


class Hidden:
    """A value of a request body that is a secret: sent, never shown (``Call.shown``)."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value

    def __repr__(self) -> str:
        return MASK

    def reveal(self) -> Any:
        return self._value.reveal() if hasattr(self._value, "reveal") else self._value


class Sealed(bytes):
    """Bytes to send that may hold a secret: they are sent as they are, shown as ``***``."""

    def __repr__(self) -> str:
        return "Sealed(%s)" % MASK

    __str__ = __repr__


class Call(NamedTuple):
    """One API request: ``path`` is relative to the base URL, or a whole URL. (A NamedTuple,
    not an attrs class: it is on the import path, and attrs classes cost a millisecond each.)"""

    method: str
    path: str
    params: Mapping[str, Any] = {}
    headers: Mapping[str, str] = {}
    json: Optional[Mapping[str, Any]] = None  # values may be Hidden

    def body(self) -> Optional["Sealed"]:
        """The JSON body as sent, its secrets revealed only in these bytes, which never show
        themselves: a frame that holds them (a traceback's locals, as error trackers and
        ``pytest --showlocals`` record them) shows ``***``."""
        if self.json is None:
            return None
        plain = {k: v.reveal() if isinstance(v, Hidden) else v for k, v in self.json.items()}
        return Sealed(json.dumps(plain, ensure_ascii=False).encode("utf-8"))

    def masked(self) -> "Call":
        """This call with its secrets and tokens shown as ``***``."""
        json = None if self.json is None else {k: MASK if isinstance(v, Hidden) else v for k, v in self.json.items()}
        return self._replace(json=json)

    def shown(self, base_url: str, auth_header: Optional[str] = None) -> Dict[str, Any]:
        """A JSON-ready line for ``--dry-run``; ``auth_header``: the header the token goes in."""
        url = full_url(base_url, self.path)
        line: Dict[str, Any] = {"method": self.method, "url": url, "query": dict(self.params)}
        headers = dict(self.headers)
        if auth_header:
            headers[auth_header] = ("Bearer " if auth_header == "Authorization" else "") + MASK
        if headers:
            line["headers"] = headers
        if self.json is not None:
            line["body"] = self.masked().json
        return line


def full_url(base_url: str, path: str) -> str:
    """``path`` under ``base_url``, unless it is a whole URL already (a query may hold ``://``)."""
    return path if path.startswith(("http://", "https://")) else base_url + path


def quote_id(what: str, value: Any) -> str:
    """An id checked and quoted for a URL path; bad ids are refused before any request."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("%s must be a non-empty string" % what)
    if _BAD_ID.search(value) or value in (".", ".."):
        raise ConfigError("%s %r holds characters no id has (/, \\, ?, #, %%, spaces)" % (what, value))
    return quote(value, safe="~-._")


def epoch_seconds(value: Union[int, float, datetime.datetime]) -> int:
    """Whole seconds since the epoch, from a datetime (naive: local time) or a number."""
    if isinstance(value, datetime.datetime):
        return int(value.timestamp())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    raise ConfigError("a time is a datetime or epoch seconds, not %r" % (value,))


def documented(platform: Platform, which: str, what: str) -> str:
    path = getattr(platform, which)
    if path is None:
        raise ConfigError(
            "the %s platform documents no endpoint for %s; if your gateway passes Feishu's own "
            "paths through, use platform='feishu' with its base_url" % (platform.name, what))
    return str(path)


# -- Feishu (and Lark, BOSS Hi) ---------------------------------------------------------------


def tenant_token(platform: Platform, app_id: str, app_secret: Any) -> Call:
    return Call("POST", platform.token_path, json={"app_id": app_id, "app_secret": Hidden(app_secret)})


def app_token(app_id: str, app_secret: Any, app_ticket: Any) -> Call:
    return Call("POST", APP_TOKEN_PATH,
                json={"app_id": app_id, "app_secret": Hidden(app_secret), "app_ticket": Hidden(app_ticket)})


def store_tenant_token(app_access_token: str, tenant_key: str) -> Call:
    return Call("POST", STORE_TENANT_TOKEN_PATH,
                json={"app_access_token": Hidden(app_access_token), "tenant_key": tenant_key})


# The OAuth token endpoint (RFC 6749), on open.feishu.cn and open.larksuite.com alike:
# "刷新 user_access_token" https://open.feishu.cn/document/authentication-management/access-token/
# refresh-user-access-token (lark-oapi channel/auth/device_flow.py ``refresh`` posts the same).
OAUTH_TOKEN_PATH = "/open-apis/authen/v2/oauth/token"


def user_token_refresh(app_id: str, app_secret: Any, refresh_token: Any) -> Call:
    """A new user_access_token and refresh_token for ``refresh_token`` (spent by this call)."""
    return Call("POST", OAUTH_TOKEN_PATH, json={"grant_type": "refresh_token", "client_id": app_id,
                                                "client_secret": Hidden(app_secret),
                                                "refresh_token": Hidden(refresh_token)})


def message(platform: Platform, message_id: str, user_id_type: Optional[str] = None) -> Call:
    params = {"user_id_type": user_id_type} if user_id_type else {}
    return Call("GET", platform.message_path % quote_id("message_id", message_id), params)


def resource(platform: Platform, message_id: str, file_key: str, type: str) -> Call:
    if type not in RESOURCE_TYPES:
        raise ConfigError("type must be 'image' or 'file', not %r" % (type,))
    path = documented(platform, "resource_path", "message resources") % (
        quote_id("message_id", message_id), quote_id("file_key", file_key))
    return Call("GET", path, {"type": type})


def messages_page(platform: Platform, container_id: str, start_time: Time = None, end_time: Time = None,
                  sort: str = "asc", page_size: int = 50, container_id_type: str = "chat",
                  user_id_type: Optional[str] = None, page_token: Optional[str] = None) -> Call:
    """A page of a chat's (or a thread's) history: the first, or the one ``page_token`` (an
    earlier page's) names. ``user_id_type``: the ids senders and mentions come in (seed 001)."""
    if container_id_type not in ("chat", "thread"):
        raise ConfigError("container_id_type must be 'chat' or 'thread', not %r" % (container_id_type,))
    if sort not in ("asc", "desc"):
        raise ConfigError("sort must be 'asc' or 'desc', not %r" % (sort,))
    if not 1 <= page_size <= 50:
        raise ConfigError("page_size must be between 1 and 50, not %r" % (page_size,))
    if container_id_type == "thread" and (start_time is not None or end_time is not None):
        raise ConfigError("Feishu does not filter threads by time: leave start_time and end_time out")
    quote_id("container_id", container_id)
    params: Dict[str, Any] = {
        "container_id_type": container_id_type,
        "container_id": container_id,
        "sort_type": "ByCreateTimeAsc" if sort == "asc" else "ByCreateTimeDesc",
        "page_size": page_size,
    }
    if start_time is not None:
        params["start_time"] = str(epoch_seconds(start_time))
    if end_time is not None:
        params["end_time"] = str(epoch_seconds(end_time))
    params.update(_optional(user_id_type=checked_user_id_type(user_id_type), page_token=page_token))
    return Call("GET", documented(platform, "list_path", "chat history"), params)


# The chat list and chat search documents ("获取用户或机器人所在的群列表", GET /open-apis/im/v1/chats;
# "搜索对用户或机器人可见的群列表", GET /open-apis/im/v1/chats/search; lark-oapi's ListChatRequest and
# SearchChatRequest): Feishu's and Lark's paths. BOSS Hi documents neither (seed 003).
CHATS_PATH = "/open-apis/im/v1/chats"
CHAT_SEARCH_PATH = "/open-apis/im/v1/chats/search"
USER_ID_TYPES = ("open_id", "union_id", "user_id")  # seed 001, "查询参数"
MAX_CHAT_PAGE = 100  # both documents: page_size up to 100 (lark-cli's +chat-list, +chat-search: 1-100)
MAX_QUERY = 64  # lark-cli's +chat-search refuses longer keywords ("max 64 chars")


def chats_page(platform: Platform, query: Optional[str] = None, page_size: int = 20,
               user_id_type: Optional[str] = None, page_token: Optional[str] = None) -> Call:
    """A page of the chats the app (or the user) is in, or, with ``query``, of the chats a
    search by name finds among those visible to it (its own and public ones)."""
    if platform.list_path is None:  # the one platform without chat history has no chat list either
        documented(platform, "list_path", "chat lists")
    if not 1 <= page_size <= MAX_CHAT_PAGE:
        raise ConfigError("page_size must be between 1 and %d, not %r" % (MAX_CHAT_PAGE, page_size))
    params: Dict[str, Any] = {"page_size": page_size}
    params.update(_optional(user_id_type=checked_user_id_type(user_id_type), page_token=page_token))
    if query is None:
        return Call("GET", CHATS_PATH, params)
    if not isinstance(query, str) or not query.strip():
        raise ConfigError("query must be a non-empty string (the search document answers an empty one with nothing)")
    if len(query) > MAX_QUERY:
        raise ConfigError("query must be at most %d characters, not %d" % (MAX_QUERY, len(query)))
    return Call("GET", CHAT_SEARCH_PATH, dict(params, query=query))


def checked_user_id_type(value: Optional[str]) -> Optional[str]:
    if value is not None and value not in USER_ID_TYPES:
        raise ConfigError("user_id_type must be one of %s, not %r" % (", ".join(USER_ID_TYPES), value))
    return value


def _optional(**values: Optional[str]) -> Dict[str, str]:
    """The query parameters that have a value (an empty page_token is no token)."""
    return {k: v for k, v in values.items() if v}
