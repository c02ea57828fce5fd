"""Every exception the library raises on purpose, and the table that maps API codes to them.

Callers branch on the class (``except fm.NotFoundError``); support asks for the code, the
message, the HTTP status and the log id, so ``str()`` always names all four.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple, Type, Union


class FeishuError(Exception):
    """Base of everything feishu_msgres raises on purpose."""


class ConfigError(FeishuError, ValueError):
    """Bad arguments or configuration, refused before any request is sent."""


class DestinationExistsError(FeishuError, FileExistsError):
    """The download target exists and ``overwrite`` was not given."""


class TransportError(FeishuError):
    """The network failed (connect, reset, timeout) and the retries ran out."""


class IntegrityError(FeishuError):
    """A download delivered other bytes than the server declared (size, Content-Range)."""


class APIError(FeishuError):
    """The server refused the request. ``code`` is an int (Feishu), a string (DingTalk,
    object stores), or None when the body was not the API's JSON."""

    def __init__(
        self,
        code: Union[int, str, None],
        msg: str,
        log_id: Optional[str] = None,
        http_status: Optional[int] = None,
        hint: Optional[str] = None,
    ) -> None:
        super().__init__(code, msg, log_id, http_status)
        self.code = code
        self.msg = msg
        self.log_id = log_id
        self.http_status = http_status
        self.hint = hint

    def __str__(self) -> str:
        code = "no API code" if self.code is None else "code %s" % self.code
        text = "%s: %s (HTTP %s, log_id %s)" % (code, self.msg, self.http_status, self.log_id or "-")
        if self.hint:
            text += ". " + self.hint
        return text


class AuthError(APIError):
    """Credentials or token rejected: wrong app id/secret, expired or invalid token."""


class PermissionDeniedError(APIError):
    """Authenticated, but not allowed: missing scope, bot not in the chat, restricted mode."""


class NotFoundError(APIError):
    """The message was deleted or recalled, or the resource is not in that message."""


class RateLimitError(APIError):
    """Throttled (HTTP 429 / code 99991400) and still throttled after the retries."""


class TooLargeError(APIError):
    """The resource is over the API's 100 MB download limit."""


class UnsupportedMessageError(APIError):
    """The API cannot serve resources of this message (merge_forward children, cards)."""


class InvalidRequestError(APIError):
    """The API says a parameter is wrong."""


# code -> (class, hint). The hints restate the seeds' troubleshooting column in one line.
_CODES: Dict[int, Tuple[Type[APIError], str]] = {
    # tokens and credentials (general error codes)
    10003: (AuthError, "Check FEISHU_APP_ID"),
    10014: (AuthError, "Check FEISHU_APP_SECRET"),
    10012: (AuthError, "The store app's app_ticket is invalid: use the latest one Feishu pushed"),
    99991661: (AuthError, "The request carried no access token"),
    99991663: (AuthError, "The access token is invalid or expired"),
    99991668: (AuthError, "The user access token is invalid or expired"),
    99991672: (PermissionDeniedError, "The app lacks an API scope; enable it in the developer console"),
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
    234002: (AuthError, "No access to this chat or the file was deleted; do not retry"),
    234003: (NotFoundError, "The file_key does not belong to this message_id"),
    234004: (PermissionDeniedError, "Add the bot to the chat of this message"),
    234009: (PermissionDeniedError, "Not supported in external chats"),
    234019: (PermissionDeniedError, "The app's permissions could not be read; try again"),
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

# Used when a code is unknown (or absent): the HTTP status still says something.
_STATUSES: Dict[int, Type[APIError]] = {
    400: InvalidRequestError,
    401: AuthError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: TooLargeError,
    429: RateLimitError,
}

TOKEN_INVALID_CODES = frozenset({99991661, 99991663, 99991668})


def api_error(
    code: Optional[int], msg: str, log_id: Optional[str], http_status: Optional[int]
) -> APIError:
    """Build the most specific APIError for a code and an HTTP status."""
    cls: Type[APIError]
    hint: Optional[str] = None
    if code is not None and code in _CODES:
        cls, hint = _CODES[code]
    else:
        cls = _STATUSES.get(http_status or 0, APIError)
    return cls(code, msg, log_id=log_id, http_status=http_status, hint=hint)


def parse_code(value: Any) -> Optional[int]:
    """The API's ``code`` as an int; None when it is missing or not a number."""
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def error_from_body(
    body: Mapping[str, Any], http_status: Optional[int], header_log_id: Optional[str]
) -> APIError:
    """Turn a parsed JSON error body (Feishu's or a gateway's) into an APIError."""
    code = parse_code(body.get("code"))
    msg = body.get("msg") or body.get("message") or ""
    detail = body.get("error")
    log_id = header_log_id
    if isinstance(detail, Mapping) and not log_id:
        log_id = detail.get("log_id")
    log_id = log_id or body.get("log_id") or body.get("traceId") or body.get("requestid")
    return api_error(code, str(msg), str(log_id) if log_id else None, http_status)
