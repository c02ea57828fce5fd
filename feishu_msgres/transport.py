"""The HTTP layer: one pooled session, retries in a urllib3 ``Retry`` on its adapter, and a
``Gate`` (rate limits, stop switch) that every attempt passes. The only module that knows
urllib3: others take ``Retry`` and ``BODY_ERRORS`` from here.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any, Dict, Iterator, Optional, Tuple, Union
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import __version__
from .errors import TransportError
from .ratelimit import Gate

__all__ = ["BODY_ERRORS", "RETRY_STATUSES", "FeishuRetry", "GatedAdapter", "Retry", "current_gate",
           "environment_for", "iter_body", "log", "log_id_of", "make_retry", "make_session", "retry_wait", "send"]

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
MAX_WAIT = 60.0  # the longest a server may make one retry wait

OPEN = Gate()  # no limit, no stop: for requests sent without a gate
# The gate of the request in flight, held by the thread that sends it: requests passes no
# per-request value to its adapter, nor urllib3 to its Retry, and both run in that thread.
# Whatever that request sends on the way (a token fetch inside its auth, a resend after a
# rejected token, a redirect, a retry) goes through the same gate.
_in_flight = threading.local()


def current_gate() -> Gate:
    """The gate of the request this thread is sending (``OPEN`` outside one)."""
    gate = getattr(_in_flight, "gate", None)
    return gate if gate is not None else OPEN


class FeishuRetry(Retry):
    """urllib3's Retry that obeys Feishu's ``x-ogw-ratelimit-reset``, caps any wait, and
    takes every wait and every further attempt through the gate of the request in flight.

    Feishu throttles with HTTP 429 and ``x-ogw-ratelimit-reset: <seconds>`` rather than
    ``Retry-After``. A server asking for a longer wait than ``max_wait`` gets at most that,
    so a cron job never sleeps for an hour on one header. Backoff gets jitter so that many
    workers that failed together do not come back together.
    """

    max_wait = MAX_WAIT

    def sleep_for_retry(self, response: Any = None) -> bool:
        wait = self.get_retry_after(response) if response is not None else None
        if not wait:
            return False
        current_gate().wait(wait)
        return True

    def _sleep_backoff(self) -> None:
        current_gate().wait(self.get_backoff_time())

    def sleep(self, response: Any = None) -> None:
        super().sleep(response)
        current_gate().acquire()  # a retry is a request: it takes a slot too

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


class GatedAdapter(HTTPAdapter):
    """An HTTPAdapter whose every send (first attempts, resends, redirects) takes a slot of
    the gate in flight; the Retry takes the attempts urllib3 makes itself through it too."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        gate = current_gate()
        gate.acquire()
        response = super().send(request, *args, **kwargs)
        if response.status_code == 429:
            # Still throttled after the retries: hold every thread of this gate back a while.
            gate.pause(retry_wait(response, default=1.0))
        return response


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


# Credentials in headers of their own, which requests does not know to drop on a redirect to
# another host (it drops ``Authorization`` only): DingTalk's token.
CREDENTIAL_HEADERS = ("x-acs-dingtalk-access-token",)


class GuardedSession(requests.Session):
    """A session that drops every credential header, not only ``Authorization``, when a
    redirect leaves the host (requests' own rule, ``should_strip_auth``)."""

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        if self.should_strip_auth(response.request.url, prepared_request.url):  # type: ignore[no-untyped-call]
            for name in CREDENTIAL_HEADERS:
                prepared_request.headers.pop(name, None)
        super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]


def make_session(retries: Union[int, Retry, None] = 3, pool_maxsize: int = 10) -> requests.Session:
    """A session with the retry policy mounted for http and https."""
    if retries is None:
        retries = 0
    retry = retries if isinstance(retries, Retry) else make_retry(total=retries)
    session = GuardedSession()
    adapter = GatedAdapter(max_retries=retry, pool_connections=4, pool_maxsize=pool_maxsize)
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


# Keywords of ``send`` that belong to sending, not to the request (as ``Session.request``).
_SEND_KEYWORDS = ("proxies", "verify", "cert")


def send(session: requests.Session, method: str, url: str, *, gate: Optional[Gate] = None,
         env: Optional[Dict[str, Any]] = None, timeout: Any = None, stream: bool = False,
         allow_redirects: bool = True, **kwargs: Any) -> requests.Response:
    """One request through ``gate``, with network failures turned into TransportError.

    A request sent while another is in flight in this thread (a token fetch inside its auth)
    goes through that one's gate. ``env``: the environment's settings for this URL, read
    once (``environment_for``). A session of the caller's own, without our adapter, takes
    each send of ours through the gate; its own adapter's retries are its own.
    """
    outer = getattr(_in_flight, "gate", None)
    gate = outer if outer is not None else (gate if gate is not None else OPEN)
    gate.check()  # a stopped job sends nothing more, not even a token request
    started = time.perf_counter()
    own = {k: kwargs.pop(k) for k in _SEND_KEYWORDS if k in kwargs}
    _in_flight.gate = gate
    try:
        prepared = session.prepare_request(requests.Request(method, url, **kwargs))
        settings: Dict[str, Any] = env if env is not None and not own else {
            k: v for k, v in session.merge_environment_settings(
                prepared.url, own.get("proxies") or {}, stream, own.get("verify"), own.get("cert")).items()
            if k != "stream"}
        if not isinstance(session.get_adapter(url), GatedAdapter):
            gate.acquire()
        # A session of the caller's own would carry a credential header of ours to any host.
        guarded = isinstance(session, GuardedSession) or not any(h in prepared.headers for h in CREDENTIAL_HEADERS)
        response = session.send(prepared, timeout=timeout, stream=stream,
                                 allow_redirects=allow_redirects and guarded, **settings)
    except requests.RequestException as exc:
        log.debug("%s %s failed after %.0f ms: %s", method, _path(url), _ms(started), _reason(exc))
        raise TransportError("%s %s failed: %s" % (method, _path(url), _reason(exc))) from exc
    finally:
        _in_flight.gate = outer
    if response.is_redirect and allow_redirects and not guarded:
        raise redirect_refused(response, "a session of your own would carry the credentials along")
    if log.isEnabledFor(logging.DEBUG):
        wanted = response.request.headers.get("Range")
        log.debug("%s %s -> %s in %.0f ms%s%s", method, _path(url), response.status_code, _ms(started),
                  " (log_id %s)" % log_id_of(response) if log_id_of(response) else "",
                  " %s" % _text(wanted) if wanted else "")
    return response


# Without read1 (urllib3 1.26 to 2.2), what a read gathers is lost to a break: read little.
FALLBACK_READ = 64 * 1024


def iter_body(response: requests.Response, size: int, buffer: Optional[bytearray] = None) -> Iterator[Any]:
    """The body as it arrives, at most ``size`` bytes a piece, decoded as ``iter_content``
    decodes it. Each piece is what one read brought, so a link that drops keeps every byte it
    delivered (``read(size)`` gathers ``size`` bytes first, and a break loses them all).

    With ``buffer``, a plain body (a length, no encoding) is read into it, again and again:
    the pieces are memoryviews of it, good until the next one. A fresh 1 MiB object for each
    read costs its page faults; the reused buffer saves about a fifth of a download's time.
    Else urllib3's ``read1``; where urllib3 has no ``read1`` (before 2.3), pieces of 64 KiB
    bound the loss to a break."""
    raw = response.raw
    if not isinstance(raw, urllib3.response.HTTPResponse):
        yield from response.iter_content(min(size, FALLBACK_READ))
        return
    decode = response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
    plain = _plain_body(raw) if buffer is not None and not decode else None
    if plain is not None and buffer is not None:
        yield from _read_into(raw, plain[0], plain[1], memoryview(buffer)[:size])
        return
    read1 = getattr(raw, "read1", None)
    if read1 is None:
        yield from response.iter_content(min(size, FALLBACK_READ))
        return
    while True:  # identity bodies skip the decoder and its buffer: one copy of every byte fewer
        data = read1(size, decode_content=decode)
        if not data:
            return
        yield data


def _plain_body(raw: Any) -> Optional[Tuple[Any, int]]:
    """``(socket file, bytes to read)`` of a body http.client frames by its length alone and
    has not read from yet (urllib3 1.26 and 2.x keep http.client's response as ``_fp``)."""
    inner = getattr(raw, "_fp", None)
    sock_file = getattr(inner, "fp", None)
    length = getattr(inner, "length", None)
    if getattr(inner, "chunked", True) or not isinstance(length, int) or length <= 0:
        return None
    already: Any = getattr(raw, "_fp_bytes_read", 0)
    if not hasattr(sock_file, "readinto1") or already:
        return None
    return sock_file, length


def _read_into(raw: Any, sock_file: Any, length: int, view: memoryview) -> Iterator[memoryview]:
    left = length
    while left > 0:
        try:
            got = sock_file.readinto1(view[:min(len(view), left)])  # one read: nothing held back
        except OSError as exc:  # a socket's error, as urllib3 would raise it
            raise urllib3.exceptions.ProtocolError("Connection broken: %r" % (exc,), exc) from exc
        if not got:
            return  # closed early: the caller sees a short body
        left -= got
        yield view[:got]
    # All read, as http.client would have: its response closed, the connection back to the pool.
    raw._fp.close()
    raw.release_conn()


def log_id_of(response: requests.Response) -> Optional[str]:
    for name in LOG_ID_HEADERS:
        value = response.headers.get(name)
        if value:
            return str(value)
    return None


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def redirect_refused(response: requests.Response, why: str) -> TransportError:
    """The error for a redirect not followed (the answer is closed)."""
    response.close()
    request = response.request
    return TransportError("%s %s answered HTTP %d, a redirect to %s: not followed (%s)" % (
        request.method, _path(request.url or ""), response.status_code,
        _host(response.headers.get("Location", ""), request.url or ""), why))


def _host(location: str, base: str) -> str:
    """Where a redirect points, its host only (a Location may carry a signed query)."""
    target = urlsplit(urljoin(base, location))
    return "%s://%s" % (target.scheme, target.netloc) if target.netloc else "?"


def _path(url: str) -> str:
    """The URL without its query: nothing secret travels there today, and errors stay short."""
    return url.split("?", 1)[0]


def _reason(exc: BaseException) -> str:
    reason = exc.args[0] if exc.args else exc
    inner = getattr(reason, "reason", None)
    return str(inner or reason) or type(exc).__name__
