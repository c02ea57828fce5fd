"""Reading an API's answers: its JSON, or the typed error it stands for (pure of sockets
beyond reading the body; the dialect says where the code, message and log id are)."""
from __future__ import annotations

import json
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urlsplit

import requests

from .errors import BY_STATUS, APIError, Code
from .platforms import Dialect
from .transport import BODY_ERRORS, log_id_of

ERROR_BODY_LIMIT = 64 * 1024


def read_json(response: requests.Response, dialect: Dialect) -> Dict[str, Any]:
    """The JSON body of an API call, or the APIError it carries."""
    body = json_body(response)
    if body is None:
        raise non_json_error(response)
    if not dialect.succeeded(response.status_code, body):
        raise error_of(response, body, dialect)
    return body


def raise_for_error(response: requests.Response, dialect: Dialect) -> None:
    """For binary endpoints: raise the APIError of a 4xx/5xx answer; reads at most 64 KiB."""
    if response.status_code < 400:
        return
    body = json_body(response)
    response.close()
    if body is None:
        raise non_json_error(response)
    raise error_of(response, body, dialect)


def error_of(response: requests.Response, body: Dict[str, Any], dialect: Dialect) -> APIError:
    method, path = _call_of(response)
    return dialect.error(body, response.status_code, log_id_of(response), method, path)


def code_of(response: requests.Response, dialect: Dialect) -> Code:
    """The API code of a JSON answer, or None (used to spot rejected tokens)."""
    body = json_body(response)
    return None if body is None else dialect.code_of(body)


def non_json_error(response: requests.Response) -> APIError:
    """A body that is not the API's JSON (an HTML 502 page from a gateway, say)."""
    ctype = response.headers.get("Content-Type") or "no Content-Type"
    snippet = " ".join(_head(response).decode("utf-8", "replace").split())[:120]
    status = ("%s %s" % (response.status_code, response.reason or "")).strip()
    msg = "HTTP %s with a body that is not the API's JSON (%s)" % (status, ctype)
    if snippet:
        msg += ": %r" % snippet
    method, path = _call_of(response)
    return BY_STATUS.error(None, msg, log_id_of(response), response.status_code, method, path)


def json_body(response: requests.Response) -> Optional[Dict[str, Any]]:
    raw = _head(response)
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _head(response: requests.Response) -> bytes:
    """The body, or its first 64 KiB when it is streamed (error pages can be large); read
    once and kept, so the token check and the error both see it."""
    cached = getattr(response, "_feishu_head", None)
    if cached is not None:
        return bytes(cached)
    try:
        data = next(response.iter_content(ERROR_BODY_LIMIT), b"")
    except BODY_ERRORS:  # a broken body still leaves the status
        data = b""
    response._feishu_head = data  # type: ignore[attr-defined]
    return data


def _call_of(response: requests.Response) -> Tuple[Optional[str], Optional[str]]:
    request = getattr(response, "request", None)
    if request is None or not request.url:
        return None, None
    return request.method, urlsplit(request.url).path
