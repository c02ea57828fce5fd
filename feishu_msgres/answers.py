"""Reading an API's answers: its JSON, or the typed error it stands for (pure of sockets
beyond reading the body; the dialect says where the code, message and log id are)."""
from __future__ import annotations

import json
import time
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urlsplit

import requests

from .errors import BY_STATUS, APIError, Code, TransportError
from .platforms import Dialect
from .transport import BODY_ERRORS, iter_body, log_id_of

ERROR_BODY_LIMIT = 64 * 1024  # of a binary endpoint's error page: enough for any JSON error
# A page of 50 long rich-text messages is a few hundred KiB; nothing the API sends comes near.
JSON_LIMIT = 32 * 1024 * 1024
# A JSON answer read longer than this is broken off: the timeout bounds each socket read, and
# a body that trickles a byte at a time would pass every one of them.
ANSWER_DEADLINE = 120.0
_PIECE = 64 * 1024


def read_json(response: requests.Response, dialect: Dialect) -> Dict[str, Any]:
    """The JSON body of an API call, read whole (``JSON_LIMIT`` at most, within
    ``ANSWER_DEADLINE``), or the APIError it carries."""
    try:
        body = json_body(response, JSON_LIMIT)
    finally:
        response.close()
    if body is None:
        raise non_json_error(response)
    if not dialect.succeeded(response.status_code, body):
        raise error_of(response, body, dialect)
    return body


def raise_for_error(response: requests.Response, dialect: Dialect) -> None:
    """For binary endpoints: raise the APIError of a 4xx/5xx answer; reads at most 64 KiB."""
    if response.status_code < 400:
        return
    try:
        body = json_body(response)
    finally:
        response.close()
    if body is None:
        raise non_json_error(response)
    raise error_of(response, body, dialect)


def json_call(response: requests.Response, **kwargs: Any) -> requests.Response:
    """A response hook that does nothing: on a request, it marks an API call whose streamed
    answer is JSON (not a resource's bytes), so that the token check may read it. (A mark
    on the request: requests runs the auth's hook before the caller's.)"""
    return response


def is_json_call(response: requests.Response) -> bool:
    hooks = getattr(response.request, "hooks", None) or {}
    return json_call in hooks.get("response", ())


def error_of(response: requests.Response, body: Dict[str, Any], dialect: Dialect) -> APIError:
    method, path = _call_of(response)
    return dialect.error(body, response.status_code, log_id_of(response), method, path)


def code_of(response: requests.Response, dialect: Dialect) -> Code:
    """The API code of a JSON answer, or None (used to spot rejected tokens)."""
    body = json_body(response, JSON_LIMIT)
    return None if body is None else dialect.code_of(body)


def non_json_error(response: requests.Response) -> APIError:
    """A body that is not the API's JSON (an HTML 502 page from a gateway, say)."""
    ctype = response.headers.get("Content-Type") or "no Content-Type"
    snippet = " ".join(_read(response, ERROR_BODY_LIMIT)[:1024].decode("utf-8", "replace").split())[:120]
    status = ("%s %s" % (response.status_code, response.reason or "")).strip()
    msg = "HTTP %s with a body that is not the API's JSON (%s)" % (status, ctype)
    if snippet:
        msg += ": %r" % snippet
    method, path = _call_of(response)
    return BY_STATUS.error(None, msg, log_id_of(response), response.status_code, method, path)


def json_body(response: requests.Response, limit: int = ERROR_BODY_LIMIT) -> Optional[Dict[str, Any]]:
    """The body as a JSON object, or None; past ``limit`` bytes it is not read (None)."""
    raw = _read(response, limit)
    if len(raw) > limit:
        return None
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


class _Body:
    """What has been read of a streamed body, kept on the response so that the token check,
    the JSON and the error all see the same bytes, each reading as far as it needs."""

    def __init__(self, response: requests.Response) -> None:
        read = response._content  # bytes once requests has read the body (stream=False)
        self.data = bytearray(read if isinstance(read, bytes) else b"")
        # One socket read at a time where it can (a body that trickles meets the deadline)
        self.pieces = iter_body(response, _PIECE, bytearray(_PIECE))
        self.ended = isinstance(read, bytes)
        self.deadline = time.monotonic() + ANSWER_DEADLINE


def _read(response: requests.Response, limit: int) -> bytes:
    """The body's first ``limit`` bytes and one more, if it has them (so that a caller sees
    it is longer). A body still coming after ``ANSWER_DEADLINE``, or longer than
    ``JSON_LIMIT``, is a TransportError: stopped, not held in memory."""
    body = getattr(response, "_feishu_body", None)
    if body is None:
        body = response._feishu_body = _Body(response)  # type: ignore[attr-defined]
    while not body.ended and len(body.data) <= limit:
        try:
            piece = next(body.pieces, b"")
        except BODY_ERRORS:  # a broken body still leaves the status
            piece = b""
        body.ended = not piece
        body.data += piece
        if not body.ended and time.monotonic() > body.deadline:
            raise _unreadable(response, "still coming after %.0f s" % ANSWER_DEADLINE)
        if len(body.data) > JSON_LIMIT:
            raise _unreadable(response, "over %d MiB" % (JSON_LIMIT >> 20))
    return bytes(body.data[:limit + 1])


def _unreadable(response: requests.Response, why: str) -> TransportError:
    response.close()
    method, path = _call_of(response)
    return TransportError("%s %s: the answer is %s; stopped reading it (HTTP %s)"
                          % (method, path, why, response.status_code))


def _call_of(response: requests.Response) -> Tuple[Optional[str], Optional[str]]:
    request = getattr(response, "request", None)
    if request is None or not request.url:
        return None, None
    return request.method, urlsplit(request.url).path
