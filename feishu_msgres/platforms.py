"""The systems this client speaks to: where each one's endpoints are and how it answers.

A ``Dialect`` says how an API answers: what success is, where the code, message and log id
of an error are, which codes mean "this token is no longer valid", and its ``ErrorTable``.
Feishu and Lark are one API on two hosts. The BOSS Hi gateway (seed 003) moves the paths,
nests the token under ``data``, returns one message object directly in ``data`` and puts a
``traceId`` in its bodies; it documents no endpoint for message resources or chat history,
so none is guessed here. DingTalk's dialect lives with its client (``dingtalk.py``).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, FrozenSet, Mapping, NamedTuple, Optional, Sequence

from .errors import (
    APIError,
    AuthError,
    Code,
    ConfigError,
    Detail,
    Entry,
    ErrorTable,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    TooLargeError,
    UnsupportedMessageError,
    parse_code,
)


class Dialect:
    """How one API answers (see the module's docstring)."""

    def __init__(self, name: str, errors: ErrorTable, rejected_token_codes: Sequence[Any],
                 msg_keys: Sequence[str] = ("msg",), log_id_keys: Sequence[str] = ("log_id",),
                 parse: Callable[[Any], Code] = parse_code, body_log_id_first: bool = False,
                 rejected_token_statuses: Sequence[int] = (), rejected_app_token_codes: Sequence[Any] = (),
                 retry_later_codes: Sequence[Any] = ()) -> None:
        self.name = name
        self.errors = errors
        self.rejected_token_codes: FrozenSet[Any] = frozenset(rejected_token_codes)
        self.rejected_token_statuses = frozenset(rejected_token_statuses)
        self.rejected_app_token_codes: FrozenSet[Any] = frozenset(rejected_app_token_codes)
        self.retry_later_codes: FrozenSet[Any] = frozenset(retry_later_codes)
        self.msg_keys = tuple(msg_keys)
        self.log_id_keys = tuple(log_id_keys)
        self.parse = parse
        self.body_log_id_first = body_log_id_first  # DingTalk's requestid beats any header

    def __repr__(self) -> str:
        return "<Dialect %s>" % self.name

    def code_of(self, body: Mapping[str, Any]) -> Code:
        return self.parse(body.get("code"))

    def succeeded(self, http_status: int, body: Mapping[str, Any]) -> bool:
        """HTTP 2xx with ``code`` 0 (or no ``code`` at all, as DingTalk answers)."""
        return http_status < 400 and body.get("code", 0) in (0, "0", None)

    def token_rejected(self, http_status: int, code: Code) -> bool:
        """The token this request carried is invalid or expired: drop it, fetch, resend once."""
        return code in self.rejected_token_codes or http_status in self.rejected_token_statuses

    def app_token_rejected(self, code: Code) -> bool:
        """A store app's app_access_token is no longer valid: drop it and fetch it anew."""
        return code in self.rejected_app_token_codes

    def retry_later(self, code: Code) -> bool:
        """An answer whose code says "try again" (whatever its HTTP status)."""
        return code in self.retry_later_codes

    def error(self, body: Mapping[str, Any], http_status: int, header_log_id: Optional[str],
              method: Optional[str] = None, path: Optional[str] = None) -> APIError:
        """The APIError a parsed error body stands for."""
        msg = next((str(body[k]) for k in self.msg_keys if body.get(k)), "")
        log_id = self._body_log_id(body)
        log_id = (log_id or header_log_id) if self.body_log_id_first else (header_log_id or log_id)
        return self.errors.error(self.code_of(body), msg, log_id, http_status, method, path)

    def _body_log_id(self, body: Mapping[str, Any]) -> Optional[str]:
        detail = body.get("error")
        if isinstance(detail, Mapping) and detail.get("log_id"):
            return str(detail["log_id"])
        value = next((body[k] for k in self.log_id_keys if body.get(k)), None)
        return str(value) if value else None


# code -> (class, hint). The hints restate the seeds' troubleshooting column in one line.
FEISHU_CODES: Dict[int, Entry] = {
    # tokens and credentials (general error codes)
    10003: (AuthError, "Check FEISHU_APP_ID"),
    10014: (AuthError, "Check FEISHU_APP_SECRET"),
    10012: (AuthError, "The store app's app_ticket is invalid: use the latest one Feishu pushed"),
    # (the server error code list: these come on HTTP 400 too, and are AuthError all the same)
    99991661: (AuthError, "The request carried no access token"),
    99991663: (AuthError, "The access token is invalid or expired"),
    99991664: (AuthError, "The app access token is invalid"),
    99991665: (AuthError, "The tenant access token is invalid"),
    99991668: (AuthError, "The user access token is invalid or expired"),
    99991671: (AuthError, "The token is malformed: it must start with t- or u-"),
    99991677: (AuthError, "The token has expired; refresh it"),
    99991672: (PermissionDeniedError, "The app lacks an API scope; enable it in the developer console"),
    99991676: (PermissionDeniedError, "The token lacks the permission this API needs"),
    99991679: (PermissionDeniedError, "The user has not granted the scope this API needs"),
    99991400: (RateLimitError, "Rate limited; slow down (see x-ogw-ratelimit-reset)"),
    # message get (seed 001)
    230001: (InvalidRequestError, "A request parameter is invalid"),
    230002: (PermissionDeniedError, "Add the bot to the chat of this message"),
    230006: (PermissionDeniedError, "Enable the bot ability of the app"),
    230013: (PermissionDeniedError, "The user is outside the app's availability range"),
    230027: (PermissionDeniedError, "Missing permission or user authorization for this operation"),
    230050: (PermissionDeniedError, "The message is invisible to the operator"),
    230110: (NotFoundError, "The message was deleted or recalled"),
    # message resource get (seed 000)
    234001: (InvalidRequestError, "A request parameter is invalid"),
    # seed 000 lists it as 401 "Unauthorized", but it is no credential problem: lark-cli's
    # troubleshooting (seed 002) says "No permission, not missing API scope: no access to this
    # chat or file was deleted, do not retry". A new token would change nothing.
    234002: (PermissionDeniedError, "No access to this chat, or the file was deleted; do not retry"),
    234003: (NotFoundError, "The file_key does not belong to this message_id"),
    234004: (PermissionDeniedError, "Add the bot to the chat of this message"),
    234009: (PermissionDeniedError, "Not supported in external chats"),
    234019: (PermissionDeniedError, "The app's permissions could not be read; retried, still failing"),
    234037: (TooLargeError, "The API serves resources up to 100 MB only"),
    234038: (PermissionDeniedError, "The message or chat is in restricted (anti-leak) mode"),
    234040: (PermissionDeniedError, "The message is invisible to the operator (history hidden from new members?)"),
    234041: (APIError, "The tenant's encryption key was deleted; ask the tenant administrator"),
    234042: (APIError, "The tenant's storage failed (full?); ask the tenant administrator"),
    234043: (
        UnsupportedMessageError,
        "Resources of merge_forward messages, their children and cards cannot be downloaded",
    ),
}

# 230001 is any invalid parameter (seed 001); Feishu's "how to resolve error 230001" page
# (open.feishu.cn trouble-shooting/how-to-resolve-error-230001) says which by the msg's
# "ext=": "ext=invalid message_id" means "message_id 无效，请检查 message_id 是否真实有效",
# an id that names no message, as a nonexistent one does. (The BOSS Hi gateway documents
# no error answers: it keeps 230001 as a parameter error.)
FEISHU_DETAILS: Sequence[Detail] = (
    (230001, "ext=invalid message_id", NotFoundError, "No message has this message_id (check where it came from)"),
)

# Tokens the server calls invalid (the server error code list): dropped, fetched anew, and
# the call sent once more.
FEISHU_REJECTED_TOKENS = (99991661, 99991663, 99991665, 99991668, 99991671, 99991677)
# A store app's app_access_token gone stale, as the official SDKs drop it (oapi-sdk-java's
# INVALID_ACCESS_TOKEN_CODES; oapi-sdk-go the same three).
FEISHU_REJECTED_APP_TOKENS = (99991663, 99991664, 99991671)
# Answers that say "try again", retried with backoff whatever their status: 99991400, the
# rate limit (Feishu sends it on HTTP 400 as well as 429; the SDKs' flow-control codes),
# and 234019 (seed 000: "未获取到应用的权限信息，请重试").
FEISHU_RETRY_LATER = (99991400, 234019)
# The resource API's refusals of a forwarded message's own id: 234043 (seed 000, "usage
# limits": no resources of merge_forward children) and, as field reports show, 234003.
FORWARDED_REFUSALS = frozenset((234043, 234003))

FEISHU = Dialect("feishu", ErrorTable(FEISHU_CODES, details=FEISHU_DETAILS), FEISHU_REJECTED_TOKENS,
                 msg_keys=("msg", "message"), rejected_app_token_codes=FEISHU_REJECTED_APP_TOKENS,
                 retry_later_codes=FEISHU_RETRY_LATER)
BOSSHI = Dialect("bosshi", ErrorTable(FEISHU_CODES), FEISHU_REJECTED_TOKENS,
                 rejected_app_token_codes=FEISHU_REJECTED_APP_TOKENS, retry_later_codes=FEISHU_RETRY_LATER,
                 msg_keys=("msg", "message"), log_id_keys=("log_id", "traceId"))


class Platform(NamedTuple):
    name: str
    base_url: str
    token_path: str  # tenant_access_token of an internal app
    message_path: str  # % message_id
    list_path: Optional[str] = None  # chat history; None: not documented there
    resource_path: Optional[str] = None  # % (message_id, file_key); None: not documented there
    token_in_data: bool = False  # the token answer nests its fields under "data"
    store_apps: bool = False  # app_access_token + tenant_key (ISV apps)
    dialect: Dialect = FEISHU


_FEISHU_PATHS = dict(
    token_path="/open-apis/auth/v3/tenant_access_token/internal",
    message_path="/open-apis/im/v1/messages/%s",
    list_path="/open-apis/im/v1/messages",
    resource_path="/open-apis/im/v1/messages/%s/resources/%s",
    store_apps=True,
)

PLATFORMS: Dict[str, Platform] = {
    "feishu": Platform("feishu", "https://open.feishu.cn", **_FEISHU_PATHS),  # type: ignore[arg-type]
    "lark": Platform("lark", "https://open.larksuite.com", **_FEISHU_PATHS),  # type: ignore[arg-type]
    "bosshi": Platform(
        "bosshi",
        "https://hi-gw.weizhipin.com",
        token_path="/open-apis/auth/tenant_access_token/internal",
        message_path="/open-apis/im/messages/%s",
        token_in_data=True,
        dialect=BOSSHI,
    ),
}

# Store (ISV) apps: an app_access_token from the pushed app_ticket, then a tenant's token.
APP_TOKEN_PATH = "/open-apis/auth/v3/app_access_token"
STORE_TENANT_TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token"


def platform_named(name: str) -> Platform:
    """The platform called ``name``, or a ConfigError that lists them."""
    if name not in PLATFORMS:
        raise ConfigError("unknown platform %r (choose one of: %s)" % (name, ", ".join(sorted(PLATFORMS))))
    return PLATFORMS[name]
