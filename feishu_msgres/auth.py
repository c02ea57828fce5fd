"""Access tokens: one provider per token flow, and one ``requests`` auth that owns
"token rejected -> drop it -> fetch a new one -> resend once" for every platform.

A tenant_access_token lives two hours; Feishu hands out a new one only when the old one has
under 30 minutes left, so refreshing five minutes before expiry always gets a new one.
Providers share one small interface: ``get()`` a token, ``invalidate(token)`` one the server
refused, ``refreshable`` (a user's token is not), ``plan()`` the token request, for dry runs.
"""
from __future__ import annotations

import hashlib
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import requests

from .answers import code_of, is_json_call
from .endpoints import Call
from .errors import APIError, Code
from .platforms import Dialect
from .transport import RETRY_STATUSES, GatedAdapter, current_gate, log, retry_wait

# "Try again" answers (99991400 on HTTP 400, 234019): resent this many times at most, after
# the wait the answer asks for, else 0.5 s, 1 s, 2 s.
RETRY_LATER_TRIES = 3
RETRY_LATER_BACKOFF = 0.5

# Refresh this long before the server's expiry: covers clock skew and a slow request.
REFRESH_MARGIN = 300.0
Fetch = Callable[[], Tuple[str, float]]  # -> (token, lifetime in seconds)
PostJSON = Callable[[Call], Dict[str, Any]]  # sends a token request, returns its answer


class Secret:
    """A string that never shows itself in a repr, a traceback's locals or a debugger."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def reveal(self) -> str:
        return self._value


class TokenManager:
    """Caches one token; one fetch at a time across threads; optional shared ``token_store``.

    ``fetch`` returns ``(token, lifetime_seconds)``. ``store`` has the shape of Django's cache
    (``get(key, default=None)``, ``set(key, value, timeout)``, optionally ``delete(key)``), so
    processes sharing it share one token. After the server rejects a token, a stored one is
    taken only if it was fetched after that rejection (one fetched before may be dead by the
    same revocation); a store that fails is warned of and done without.
    """

    refreshable = True

    def __init__(self, fetch: Fetch, key: str, store: Any = None, clock: Callable[[], float] = time.time) -> None:
        self._fetch = fetch
        self.key = key
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Optional[str] = None
        self._expires_at = 0.0
        self._rejected_at = 0.0  # when the server last rejected a token of ours

    def __repr__(self) -> str:
        return "<TokenManager cached=%s>" % (self._token is not None)

    def get(self) -> str:
        token = self._fresh()
        if token:
            return token
        with self._lock:
            token = self._fresh() or self._from_store()
            if token:
                return token
            token, lifetime = self._fetch()
            now = self._clock()
            self._keep(token, now + float(lifetime))
            timeout = max(1, int(lifetime - REFRESH_MARGIN))
            self._stored("set", self.key, {"token": token, "expires_at": self._expires_at, "fetched_at": now},
                         timeout)
            return token

    def invalidate(self, token: str) -> None:
        """Drop ``token`` (the server rejected it), unless another thread already replaced it."""
        with self._lock:
            self._rejected_at = self._clock()
            if self._token == token:
                self._token = None
                self._expires_at = 0.0
            cached = self._stored("get", self.key, None)
            if isinstance(cached, dict) and cached.get("token") == token:
                if getattr(self._store, "delete", None) is not None:
                    self._stored("delete", self.key)
                else:
                    self._stored("set", self.key, None, 1)

    def _fresh(self) -> Optional[str]:
        if self._token and self._clock() < self._expires_at - REFRESH_MARGIN:
            return self._token
        return None

    def _from_store(self) -> Optional[str]:
        cached = self._stored("get", self.key, None)
        if not isinstance(cached, dict):
            return None
        token, expires_at = cached.get("token"), cached.get("expires_at")
        if not isinstance(token, str) or not isinstance(expires_at, (int, float)):
            return None
        fetched_at = cached.get("fetched_at")
        if self._rejected_at and not (isinstance(fetched_at, (int, float)) and fetched_at > self._rejected_at):
            return None  # fetched before the rejection: perhaps dead by the same revocation
        self._keep(token, float(expires_at))
        return self._fresh()

    def _stored(self, method: str, *args: Any) -> Any:
        """``store.<method>(*args)``; None without a store, and when it fails (warned of: the
        token is then fetched and kept here, as without a store)."""
        if self._store is None:
            return None
        try:
            return getattr(self._store, method)(*args)
        except Exception as exc:  # a cache server down, a full disk: never a failed call
            log.warning("token_store.%s failed (%s: %s); going on without it", method, type(exc).__name__, exc)
            return None

    def _keep(self, token: str, expires_at: float) -> None:
        self._token = token
        self._expires_at = expires_at


class StaticToken:
    """A token given by the caller (a user_access_token): used as is, never refreshed."""

    refreshable = False

    def __init__(self, token: str) -> None:
        self._token = Secret(token)

    def __repr__(self) -> str:
        return "<StaticToken>"

    def get(self) -> str:
        return self._token.reveal()

    def invalidate(self, token: str) -> None:
        """Nothing to refetch: the caller must bring a new user token."""

    def plan(self) -> List[Call]:
        return []


class FetchedToken(TokenManager):
    """A token fetched by one request (``call``) whose answer holds it in ``field``.

    ``nested``: the answer nests it under ``data`` (BOSS Hi). ``lifetime_field`` names the
    lifetime (``expire`` for Feishu, ``expireIn`` for DingTalk).
    """

    def __init__(self, post: PostJSON, call: Callable[[], Call], field: str, key: str, store: Any = None,
                 nested: bool = False, lifetime_field: str = "expire") -> None:
        super().__init__(self._fetch_once, key, store)
        self._post = post
        self._call = call
        self.field = field
        self.nested = nested
        self.lifetime_field = lifetime_field

    def plan(self) -> List[Call]:
        return [self._call().masked()]

    def _fetch_once(self) -> Tuple[str, float]:
        return read_token(self._post(self._call()), self.field, self.nested, self.lifetime_field)


def read_token(answer: Dict[str, Any], field: str, nested: bool = False,
               lifetime_field: str = "expire") -> Tuple[str, float]:
    """``(token, lifetime)`` from a token answer; an answer without it is an APIError."""
    if nested and isinstance(answer.get("data"), dict):
        answer = answer["data"]
    token = answer.get(field)
    if not isinstance(token, str) or not token:
        raise APIError(None, "the token answer holds no %s" % field)
    try:
        lifetime = float(answer.get(lifetime_field) or 7200)
    except (TypeError, ValueError):
        lifetime = 7200.0
    return token, lifetime


class StoreAppToken(FetchedToken):
    """A store (ISV) app's tenant token: an app_access_token from the pushed app_ticket, then
    the tenant's token for it; each cached under its own key. An app token the server calls
    invalid is dropped and the tenant token asked for once more with a new one."""

    def __init__(self, post: PostJSON, app_token: FetchedToken, call: Callable[[str], Call],
                 dialect: Dialect, key: str, store: Any = None) -> None:
        super().__init__(post, lambda: call(app_token.get()), "tenant_access_token", key, store)
        self.app_token = app_token
        self._dialect = dialect
        self._tenant_call = call

    def plan(self) -> List[Call]:
        return self.app_token.plan() + [self._tenant_call("***").masked()]

    def _fetch_once(self) -> Tuple[str, float]:
        used = self.app_token.get()
        try:
            return read_token(self._post(self._tenant_call(used)), self.field)
        except APIError as exc:
            if not self._dialect.app_token_rejected(exc.code):
                raise
            self.app_token.invalidate(used)  # the app token went stale: once more with a new one
            return read_token(self._post(self._tenant_call(self.app_token.get())), self.field)


class TokenAuth(requests.auth.AuthBase):
    """Puts the token on each request, and reads each answer's code: a token the server calls
    invalid is dropped, a new one fetched and the request resent once; a code that says "try
    again" (the dialect's ``retry_later_codes``, whatever the HTTP status) is resent after a
    wait, ``RETRY_LATER_TRIES`` times at most. requests' ``HTTPDigestAuth.handle_401`` is the
    model: the auth owns the resend, the client does not know."""

    def __init__(self, provider: Any, dialect: Dialect, header: str = "Authorization",
                 scheme: str = "Bearer ") -> None:
        self.provider = provider
        self.dialect = dialect
        self.header = header
        self.scheme = scheme

    def __repr__(self) -> str:
        return "<TokenAuth %s>" % self.header

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.header] = self.scheme + self.provider.get()
        if self.provider.refreshable or self.dialect.retry_later_codes:
            request.register_hook("response", self._on_answer)  # type: ignore[no-untyped-call]
        return request

    def _on_answer(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        code = self._code(response, kwargs)
        if self.provider.refreshable and self.dialect.token_rejected(response.status_code, code):
            used = self.token_of(response.request)
            log.debug("%s: the token was rejected; fetching a new one and sending once more",
                      response.request.method)
            if used:
                self.provider.invalidate(used)
            return self._resend(response, kwargs)
        for attempt in range(RETRY_LATER_TRIES):
            if not self.dialect.retry_later(code) or response.status_code in RETRY_STATUSES:
                break  # (the transport has retried those statuses already)
            wait = retry_wait(response, default=RETRY_LATER_BACKOFF * 2 ** attempt)
            log.debug("%s: code %s says try again; again in %.1f s", response.request.method, code, wait)
            current_gate().wait(wait)
            response = self._resend(response, kwargs)
            code = self._code(response, kwargs)
        return response

    def _code(self, response: requests.Response, kwargs: Dict[str, Any]) -> Code:
        """The API code of an answer; None for a streamed success that is not an API call's
        JSON: that is the resource itself, and reading into it would take its bytes."""
        if not kwargs.get("stream"):
            _ = response.content  # read now, as requests would next (a caller's own request)
        elif response.status_code < 400 and not is_json_call(response):
            return None
        return code_of(response, self.dialect)

    def _resend(self, response: requests.Response, kwargs: Dict[str, Any]) -> requests.Response:
        """The request of ``response`` once more, with the provider's token as it is now."""
        response.close()
        again = response.request.copy()
        again.headers[self.header] = self.scheme + self.provider.get()
        if not isinstance(response.connection, GatedAdapter):
            current_gate().acquire()  # a session of the caller's own: the resend takes a slot here
        resent: requests.Response = response.connection.send(again, **kwargs)
        resent.history = response.history + [response]
        resent.request = again
        return resent

    def token_of(self, request: requests.PreparedRequest) -> Optional[str]:
        """The token a sent request carried (to invalidate exactly that one)."""
        value = request.headers.get(self.header)
        if value is None:
            return None
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        return text[len(self.scheme):] if text.startswith(self.scheme) else text


def store_key(kind: str, base_url: str, app_id: str, secret: str) -> str:
    """Cache key: base URL + app id + a hash of the secret (a new secret means a new key)."""
    digest = hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]
    return "feishu_msgres:%s:%s:%s:%s" % (kind, base_url, app_id, digest)

