"""Access tokens: fetched once, cached, shared, refreshed before they expire.

A tenant_access_token lives two hours; Feishu hands out a new one only when the old one has
under 30 minutes left, so refreshing five minutes before expiry always gets a new one.
"""
from __future__ import annotations

import hashlib
import threading
import time
from typing import Any, Callable, Optional, Tuple

import requests

# Refresh this long before the server's expiry: covers clock skew and a slow request.
REFRESH_MARGIN = 300.0


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
    processes sharing it share one token.
    """

    def __init__(
        self,
        fetch: Callable[[], Tuple[str, float]],
        key: str,
        store: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self.key = key
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Optional[str] = None
        self._expires_at = 0.0

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
            self._keep(token, self._clock() + float(lifetime))
            if self._store is not None:
                timeout = max(1, int(lifetime - REFRESH_MARGIN))
                self._store.set(self.key, {"token": token, "expires_at": self._expires_at}, timeout)
            return token

    def invalidate(self, token: str) -> None:
        """Drop ``token`` (the server rejected it), unless another thread already replaced it."""
        with self._lock:
            if self._token == token:
                self._token = None
                self._expires_at = 0.0
            if self._store is not None:
                cached = self._store.get(self.key, None)
                if isinstance(cached, dict) and cached.get("token") == token:
                    delete = getattr(self._store, "delete", None)
                    if delete is not None:
                        delete(self.key)
                    else:
                        self._store.set(self.key, None, 1)

    def _fresh(self) -> Optional[str]:
        if self._token and self._clock() < self._expires_at - REFRESH_MARGIN:
            return self._token
        return None

    def _from_store(self) -> Optional[str]:
        if self._store is None:
            return None
        cached = self._store.get(self.key, None)
        if not isinstance(cached, dict):
            return None
        token, expires_at = cached.get("token"), cached.get("expires_at")
        if not isinstance(token, str) or not isinstance(expires_at, (int, float)):
            return None
        self._keep(token, float(expires_at))
        return self._fresh()

    def _keep(self, token: str, expires_at: float) -> None:
        self._token = token
        self._expires_at = expires_at


class StaticToken:
    """A token given by the caller (a user_access_token): used as is, never refreshed."""

    def __init__(self, token: str) -> None:
        self._token = Secret(token)

    def __repr__(self) -> str:
        return "<StaticToken>"

    def get(self) -> str:
        return self._token.reveal()

    def invalidate(self, token: str) -> None:
        """Nothing to refetch: the caller must bring a new user token."""


class BearerAuth(requests.auth.AuthBase):
    """Puts ``Authorization: Bearer <token>`` on each request, asking the provider every time."""

    def __init__(self, provider: Any, header: str = "Authorization", scheme: str = "Bearer ") -> None:
        self.provider = provider
        self.header = header
        self.scheme = scheme

    def __repr__(self) -> str:
        return "<BearerAuth %s>" % self.header

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.header] = self.scheme + self.provider.get()
        return request

    def with_token(self, token: str) -> "BearerAuth":
        """The same header with this token, fetched already."""
        return BearerAuth(StaticToken(token), self.header, self.scheme)

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
