"""Every exception the library raises on purpose, and how an API's answer picks one.

Callers branch on the class (``except fm.NotFoundError``); support asks for the code, the
message, the HTTP status, the log id and the call, so ``str()`` names all of them. Each
dialect (Feishu's, DingTalk's) brings an ``ErrorTable``: the class comes from the API's code
first, from the HTTP status second.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Type, Union

Code = Union[int, str, None]


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


class ResourceChangedError(IntegrityError):
    """The resource changed during the download (its ETag or Last-Modified did), and what was
    received could not be started over (a stream, a file object that cannot be rewound, or
    too many changes): nothing of two versions is ever kept as one."""


class APIError(FeishuError):
    """The server refused the request. ``code`` is an int (Feishu), a string (DingTalk,
    object stores), or None when the body was not the API's JSON. ``method`` and ``path``
    name the call (never its query: presigned URLs carry signatures there)."""

    def __init__(
        self,
        code: Code,
        msg: str,
        log_id: Optional[str] = None,
        http_status: Optional[int] = None,
        hint: Optional[str] = None,
        method: Optional[str] = None,
        path: Optional[str] = None,
    ) -> None:
        super().__init__(code, msg, log_id, http_status)
        self.code = code
        self.msg = msg
        self.log_id = log_id
        self.http_status = http_status
        self.hint = hint
        self.method = method
        self.path = path

    def __str__(self) -> str:
        code = "no API code" if self.code is None else "code %s" % self.code
        call = "%s %s, " % (self.method, self.path) if self.method and self.path else ""
        text = "%s: %s (%sHTTP %s, log_id %s)" % (code, self.msg, call, self.http_status, self.log_id or "-")
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


Entry = Tuple[Type[APIError], Optional[str]]  # (class, one-line hint)
Rule = Tuple[Callable[[str], bool], Type[APIError], str]  # for codes that are families of strings
# (code, words its msg holds, class, hint): one code the service gives for several causes,
# told apart by the words its documents say the msg carries (Feishu's "ext=...").
Detail = Tuple[Any, str, Type[APIError], str]

# What an HTTP status says when the code says nothing known (or there is no code).
STATUSES: Dict[int, Entry] = {
    400: (InvalidRequestError, None),
    401: (AuthError, None),
    403: (PermissionDeniedError, None),
    404: (NotFoundError, None),
    413: (TooLargeError, None),
    429: (RateLimitError, None),
}


class ErrorTable:
    """One dialect's codes: a code with telling words in its msg (``details``), exact codes,
    then rules over string codes, then the status."""

    def __init__(self, codes: Mapping[Any, Entry], rules: Sequence[Rule] = (),
                 statuses: Optional[Mapping[int, Entry]] = None, default: Entry = (APIError, None),
                 details: Sequence[Detail] = ()) -> None:
        self.codes: Dict[Any, Entry] = dict(codes)
        self.rules = tuple(rules)
        self.statuses = dict(STATUSES if statuses is None else statuses)
        self.default = default  # when neither the code nor the status says more
        self.details = tuple(details)

    def with_statuses(self, changes: Mapping[int, Entry]) -> "ErrorTable":
        """The same codes, with other meanings for some statuses."""
        return ErrorTable(self.codes, self.rules, {**self.statuses, **changes}, self.default, self.details)

    def classify(self, code: Code, http_status: Optional[int], msg: str = "") -> Entry:
        if code is not None:
            text = msg.lower()
            for detail_code, words, detail_cls, detail_hint in self.details:
                if code == detail_code and words.lower() in text:
                    return detail_cls, detail_hint
        if code is not None and code in self.codes:
            return self.codes[code]
        if isinstance(code, str):
            for matches, cls, hint in self.rules:
                if matches(code):
                    return cls, hint
        return self.statuses.get(http_status or 0, self.default)

    def error(self, code: Code, msg: str, log_id: Optional[str] = None, http_status: Optional[int] = None,
              method: Optional[str] = None, path: Optional[str] = None) -> APIError:
        """The most specific APIError for this code and status."""
        cls, hint = self.classify(code, http_status, msg)
        return cls(code, msg, log_id=log_id, http_status=http_status, hint=hint, method=method, path=path)


# Statuses alone: for answers that are not an API's JSON (a gateway's HTML, an object store).
BY_STATUS = ErrorTable({})


def parse_code(value: Any) -> Optional[int]:
    """An API's numeric ``code`` as an int; None when it is missing or not a number."""
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
