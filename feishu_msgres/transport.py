"""The HTTP layer: one pooled session, retries in a urllib3 ``Retry`` on its adapter, and the
reading of API responses into JSON or typed errors. The only module that knows urllib3.
"""
from __future__ import annotations

import json
import logging
import random
import time
from typing import Any, Dict, Optional, TypeVar, Union

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import __version__
from .errors import APIError, TransportError, api_error, error_from_body, parse_code
from .ratelimit import pause

# Debug lines for every request: method, path (never the query: presigned URLs carry
# signatures there), status, log id, duration; and every retry. Never a token or a secret.
log = logging.getLogger("feishu_msgres")

# Statuses worth another try: timeouts, throttling, and a gateway or server in trouble.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Every call this library makes is safe to repeat, the token POST included
# (asking twice for a token returns the same one, or a fresh one).
RETRY_METHODS = frozenset({"GET", "HEAD", "POST"})
# What reading a streamed body can raise: requests wraps urllib3's errors since 2.28, but
# older releases (still allowed) let some through, e.g. an SSLError in the middle of a body.
BODY_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError)
LOG_ID_HEADERS = ("X-Tt-Logid", "x-tt-logid", "X-Request-Id")
ERROR_BODY_LIMIT = 64 * 1024


class FeishuRetry(Retry):
    """urllib3's Retry that also obeys Feishu's ``x-ogw-ratelimit-reset`` and caps any wait.

    Feishu throttles with HTTP 429 and ``x-ogw-ratelimit-reset: <seconds>`` rather than
    ``Retry-After``. A server asking for a longer wait than ``max_wait`` gets at most that,
    so a cron job never sleeps for an hour on one header. Backoff gets jitter so that many
    workers that failed together do not come back together.
    """

    max_wait = 60.0
    limiter: Any = None  # a Client's RateLimiter: every retry takes a slot too

    def new(self, **kw: Any) -> "FeishuRetry":
        new = super().new(**kw)  # urllib3 makes a new Retry for every try: keep the limiter
        new.limiter = self.limiter
        return new

    def sleep_for_retry(self, response: Any = None) -> bool:
        wait = self.get_retry_after(response) if response is not None else None
        if not wait:
            return False
        pause(wait)
        return True

    def _sleep_backoff(self) -> None:
        pause(self.get_backoff_time())

    def sleep(self, response: Any = None) -> None:
        super().sleep(response)
        if self.limiter is not None:
            self.limiter.acquire()

    def get_retry_after(self, response: Any) -> Optional[float]:
        reset = response.headers.get("x-ogw-ratelimit-reset")
        wait: Optional[float] = None
        if reset is not None:
            try:
                wait = max(0.0, float(reset))
            except ValueError:
                wait = None
        if wait is None:
            wait = super().get_retry_after(response)
        return None if wait is None else min(wait, self.max_wait)

    def increment(self, method: Optional[str] = None, url: Optional[str] = None, response: Any = None,
                  error: Any = None, _pool: Any = None, _stacktrace: Any = None) -> "FeishuRetry":
        # raises when the tries are spent
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        cause = ("HTTP %s" % response.status) if response is not None else type(error).__name__
        log.debug("retry %s %s after %s (tries left: %s)", method, _path(url or ""), cause, new.total)
        return new

    def get_backoff_time(self) -> float:
        base = float(super().get_backoff_time())
        return base / 2 + random.uniform(0, base / 2) if base > 0 else 0.0


def retry_wait(response: requests.Response, default: float) -> float:
    """The wait a throttled answer asks for (``x-ogw-ratelimit-reset``, ``Retry-After``)."""
    wait = FeishuRetry().get_retry_after(response.raw) if response.raw is not None else None
    return default if wait is None else wait


def make_retry(total: int = 3, backoff_factor: float = 0.5) -> Retry:
    """The default policy: ``total`` tries more for connection errors, 408/429/5xx."""
    return FeishuRetry(
        total=total,
        connect=total,
        read=total,
        status=total,
        other=0,
        backoff_factor=backoff_factor,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=RETRY_METHODS,
        # The last response comes back as it is, so its API code reaches the caller.
        raise_on_status=False,
        respect_retry_after_header=True,
    )


S = TypeVar("S", bound="SessionOwner")


class SessionOwner:
    """A context manager that closes its session, when it made it (a session passed in
    stays its owner's)."""

    session: requests.Session
    _own_session: bool

    def __enter__(self: S) -> S:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the session (only one this client made: a session passed in stays yours)."""
        if self._own_session:
            self.session.close()


def make_session(retries: Union[int, Retry, None] = 3, pool_maxsize: int = 10) -> requests.Session:
    """A session with the retry policy mounted for http and https."""
    if retries is None:
        retries = 0
    retry = retries if isinstance(retries, Retry) else make_retry(total=retries)
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=pool_maxsize)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = "feishu-msgres/%s %s" % (
        __version__,
        _text(session.headers.get("User-Agent", "python-requests")),
    )
    return session


def environment_for(session: requests.Session, url: str) -> Dict[str, Any]:
    """The proxies, CA bundle and certificate the environment sets for ``url``, read once.

    requests reads them from the environment for every request (a scan of os.environ);
    a download's many Range requests go to one URL and pass this to ``send`` instead.
    """
    settings = session.merge_environment_settings(url, {}, None, None, None)
    return {"proxies": settings["proxies"], "verify": settings["verify"], "cert": settings["cert"]}


def send(
    session: requests.Session, method: str, url: str, env: Optional[Dict[str, Any]] = None, **kwargs: Any
) -> requests.Response:
    """``session.request`` (with ``env``: prepare and send, skipping the environment read),
    with network failures turned into TransportError."""
    started = time.perf_counter()
    try:
        if env is None:
            response = session.request(method, url, **kwargs)
        else:
            timeout, stream = kwargs.pop("timeout", None), kwargs.pop("stream", False)
            prepared = session.prepare_request(requests.Request(method, url, **kwargs))
            response = session.send(prepared, timeout=timeout, stream=stream, allow_redirects=True, **env)
    except requests.RequestException as exc:
        log.debug("%s %s failed after %.0f ms: %s", method, _path(url), _ms(started), _reason(exc))
        raise TransportError("%s %s failed: %s" % (method, _path(url), _reason(exc))) from exc
    if log.isEnabledFor(logging.DEBUG):
        log.debug("%s %s -> %s in %.0f ms%s%s", method, _path(url), response.status_code, _ms(started),
                  " (log_id %s)" % log_id_of(response) if log_id_of(response) else "",
                  " %s" % _text(response.request.headers.get("Range")) if response.request.headers.get("Range") else "")
    return response


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def log_id_of(response: requests.Response) -> Optional[str]:
    for name in LOG_ID_HEADERS:
        value = response.headers.get(name)
        if value:
            return str(value)
    return None


def read_json(response: requests.Response) -> Dict[str, Any]:
    """The JSON body of an API call, or the APIError it carries.

    Success is HTTP 2xx with ``code`` 0 (or no ``code`` at all, as DingTalk answers).
    """
    body = _json_body(response)
    if body is None:
        raise non_json_error(response)
    code = body.get("code", 0)
    if response.status_code >= 400 or code not in (0, "0", None):
        raise error_from_body(body, response.status_code, log_id_of(response))
    return body


def raise_for_error(response: requests.Response) -> None:
    """For binary endpoints: raise the APIError of a 4xx/5xx answer; reads at most 64 KiB."""
    if response.status_code < 400:
        return
    body = _json_body(response)
    response.close()
    if body is None:
        raise non_json_error(response)
    raise error_from_body(body, response.status_code, log_id_of(response))


def error_code_of(response: requests.Response) -> Optional[int]:
    """The API code in a JSON answer, or None (used to spot invalid tokens)."""
    body = _json_body(response)
    if body is None:
        return None
    return parse_code(body.get("code"))


def non_json_error(response: requests.Response) -> APIError:
    """A body that is not the API's JSON (an HTML 502 page from a gateway, say)."""
    ctype = response.headers.get("Content-Type") or "no Content-Type"
    snippet = " ".join(_head(response).decode("utf-8", "replace").split())[:120]
    status = ("%s %s" % (response.status_code, response.reason or "")).strip()
    msg = "HTTP %s with a body that is not the API's JSON (%s)" % (status, ctype)
    if snippet:
        msg += ": %r" % snippet
    return api_error(None, msg, log_id_of(response), response.status_code)


def _json_body(response: requests.Response) -> Optional[Dict[str, Any]]:
    raw = _head(response)
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _head(response: requests.Response) -> bytes:
    """The body, or its first 64 KiB when it is streamed (error pages can be large)."""
    cached = getattr(response, "_feishu_head", None)
    if cached is not None:
        return bytes(cached)
    try:
        data = next(response.iter_content(ERROR_BODY_LIMIT), b"")
    except BODY_ERRORS:  # a broken body still leaves the status
        data = b""
    response._feishu_head = data  # type: ignore[attr-defined]
    return data


def _path(url: str) -> str:
    # The query is dropped: nothing secret travels there today, and errors stay short.
    return url.split("?", 1)[0]


def _reason(exc: BaseException) -> str:
    reason = exc.args[0] if exc.args else exc
    inner = getattr(reason, "reason", None)
    return str(inner or reason) or type(exc).__name__
