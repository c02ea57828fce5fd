"""A user's token that lasts: a user_access_token refreshed with its refresh_token.

Feishu's OAuth token endpoint (``POST /open-apis/authen/v2/oauth/token``, RFC 6749) answers
``grant_type=refresh_token`` with ``access_token``, ``expires_in`` (about two hours),
``refresh_token``, ``refresh_token_expires_in`` and ``scope``; "refresh_token 仅能使用一次 …
原 refresh_token 立即失效": a refresh token is spent by its refresh and the answer's one
replaces it (open.feishu.cn/document/authentication-management/access-token/
refresh-user-access-token; lark-oapi ``channel/auth/device_flow.py`` ``refresh``). So two
refreshers of one pair must never both spend it: within a process a lock, across processes
the shared ``token_store`` (the pair is kept there, re-read before each refresh, and refreshed
under a lock key taken with the store's ``add`` when it has one, as Django's cache does).

Limits: a store without ``add`` gives no lock across processes, only the re-read just before
the refresh (two processes refreshing in the same instant: one of them is refused, re-reads
the store, and takes the other's pair if it was saved by then). A lock held longer than
``LOCK_TIMEOUT`` (a process killed while refreshing) expires with the store's timeout.
"""
from __future__ import annotations

import os
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Mapping, NamedTuple, Optional

from . import endpoints
from .auth import REFRESH_MARGIN, PostJSON, Secret, store_key
from .endpoints import Call
from .errors import APIError, AuthError, ConfigError
from .transport import log

# The refresh answers that mean "this refresh token is no more" (the refresh document's error
# codes): 20037 expired, 20064 revoked, 20073 already used. Only a new sign-in helps then.
REFRESH_REFUSED = {20037: "has expired", 20064: "was revoked", 20073: "was already used"}
LOCK_TIMEOUT = 30.0  # seconds a process waits for another's refresh, and the lock key lives
LOCK_POLL = 0.05
ENV_REFRESH_TOKEN = "FEISHU_USER_REFRESH_TOKEN"
SIGN_IN_AGAIN = ("the user must sign in again (the OAuth authorization code flow, scope offline_access) "
                 "and the new refresh token be given as user_refresh_token / FEISHU_USER_REFRESH_TOKEN")


class UserTokens(NamedTuple):
    """A user's pair as the server issued it; ``expires_at`` and ``refresh_expires_at`` are
    ``time.time()`` values (None: not known). Its repr never shows the tokens."""

    access_token: str
    refresh_token: str
    expires_at: Optional[float]
    refresh_expires_at: Optional[float]
    scope: str = ""

    def __repr__(self) -> str:
        return "UserTokens(access_token='***', refresh_token='***', expires_at=%r, refresh_expires_at=%r, " \
               "scope=%r)" % (self.expires_at, self.refresh_expires_at, self.scope)

    def __str__(self) -> str:
        return self.__repr__()


def read_pair(answer: Dict[str, Any], now: float) -> UserTokens:
    """The pair of a refresh answer (top level, or under ``data`` as older answers nest it)."""
    data = answer["data"] if isinstance(answer.get("data"), dict) else answer
    access, refresh = data.get("access_token"), data.get("refresh_token")
    if not isinstance(access, str) or not access or not isinstance(refresh, str) or not refresh:
        raise APIError(None, "the refresh answer holds no access_token and refresh_token")
    return UserTokens(access, refresh, now + _seconds(data.get("expires_in"), 7200.0),
                      _at(now, data.get("refresh_token_expires_in")), str(data.get("scope") or ""))


def _seconds(value: Any, default: float) -> float:
    try:
        return float(value) if value else default
    except (TypeError, ValueError):
        return default


def _at(now: float, value: Any) -> Optional[float]:
    seconds = _seconds(value, 0.0)
    return now + seconds if seconds else None


class RefreshedUserToken:
    """``get()`` the user's access token, refreshed ``REFRESH_MARGIN`` before it expires and
    after the server rejected it (``invalidate``); one refresh at a time across threads and,
    with a ``token_store``, across processes. Every new pair goes to the store and to
    ``on_tokens(pair)``. ``access_token``: one issued with ``refresh_token``, of unknown
    expiry (used until the server rejects it)."""

    refreshable = True

    def __init__(self, post: PostJSON, call: Callable[[Secret], Call], refresh_token: str, key: str,
                 access_token: Optional[str] = None, store: Any = None,
                 on_tokens: Optional[Callable[[UserTokens], Any]] = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._post = post
        self._call = call
        self.key = key
        self._store = store
        self._on_tokens = on_tokens
        self._clock = clock
        self._lock = threading.Lock()
        self._pair = UserTokens(access_token or "", refresh_token, None if access_token else 0.0, None)
        self._saved_at = 0.0  # when the pair held here was saved to the store (0: never)
        self._rejected: Optional[Secret] = None  # the access token the server last rejected

    def __repr__(self) -> str:
        return "<RefreshedUserToken fresh=%s>" % (self._fresh() is not None)

    @property
    def tokens(self) -> UserTokens:
        """The pair held now (its repr hides the tokens)."""
        return self._pair

    def plan(self) -> List[Call]:
        return [self._call(Secret("***")).masked()]

    def get(self) -> str:
        token = self._fresh()
        if token:
            return token
        with self._lock:
            token = self._fresh()
            if token:
                return token
            with self._store_lock():
                self._from_store()
                return self._fresh() or self._refresh()

    def invalidate(self, token: str) -> None:
        """The server rejected ``token``: refresh on the next ``get`` (unless done already)."""
        with self._lock:
            self._rejected = Secret(token)
            if self._pair.access_token == token:
                self._pair = self._pair._replace(expires_at=0.0)

    def _fresh(self) -> Optional[str]:
        pair = self._pair
        if pair.access_token and (pair.expires_at is None or self._clock() < pair.expires_at - REFRESH_MARGIN):
            return pair.access_token
        return None

    def _refresh(self) -> str:
        """Spend the refresh token held for a new pair. Refused, and the store has a newer
        pair by then (another process refreshed in the same instant, without a lock), that one
        is taken; else it is an AuthError that asks for a new sign-in."""
        try:
            pair = read_pair(self._post(self._call(Secret(self._pair.refresh_token))), self._clock())
        except APIError as exc:
            if exc.code not in REFRESH_REFUSED:
                raise
            saved_at = self._saved_at
            self._from_store()
            if self._saved_at > saved_at:
                log.info("the refresh token was spent by another process; taking its pair")
                return self._fresh() or self._refresh()
            raise AuthError(exc.code, "the refresh token %s: %s" % (REFRESH_REFUSED[exc.code], SIGN_IN_AGAIN),
                            exc.log_id, exc.http_status, method=exc.method, path=exc.path) from None
        self._keep(pair)
        return pair.access_token

    def _keep(self, pair: UserTokens) -> None:
        self._pair = pair
        self._saved_at = self._clock()
        log.info("refreshed the user access token (scope %s)", pair.scope or "-")
        timeout = int(pair.refresh_expires_at - self._saved_at) if pair.refresh_expires_at else None
        self._stored("set", self.key, dict(pair._asdict(), saved_at=self._saved_at), timeout)
        if self._on_tokens is not None:
            try:
                self._on_tokens(pair)
            except Exception as exc:  # the pair is rotated already: the call goes on
                log.warning("on_user_tokens failed (%s); the new refresh token is in the token_store only, "
                            "if there is one", type(exc).__name__)

    def _from_store(self) -> None:
        """Take the stored pair if another process saved it after ours: its refresh token
        is the live one (ours is spent); its access token too, unless it was rejected."""
        cached = self._stored("get", self.key, None)
        if not isinstance(cached, dict) or not isinstance(cached.get("saved_at"), (int, float)):
            return
        if cached["saved_at"] <= self._saved_at or not isinstance(cached.get("refresh_token"), str):
            return
        access, expires_at, refresh_expires_at = cached.get("access_token"), cached.get("expires_at"), \
            cached.get("refresh_expires_at")
        pair = UserTokens(access if isinstance(access, str) else "", cached["refresh_token"],
                          float(expires_at) if isinstance(expires_at, (int, float)) else 0.0,
                          float(refresh_expires_at) if isinstance(refresh_expires_at, (int, float)) else None,
                          str(cached.get("scope") or ""))
        if self._rejected and self._rejected.reveal() == pair.access_token:
            pair = pair._replace(access_token="", expires_at=0.0)
        self._pair, self._saved_at = pair, float(cached["saved_at"])

    @contextmanager
    def _store_lock(self) -> Iterator[None]:
        """The store's lock key, taken with ``add`` (set only if absent) when it has one;
        after ``LOCK_TIMEOUT`` without it, the refresh goes on (warned of)."""
        if self._store is None or getattr(self._store, "add", None) is None:
            yield
            return
        lock_key, mine = self.key + ":lock", uuid.uuid4().hex
        deadline = time.monotonic() + LOCK_TIMEOUT
        try:
            while not self._store.add(lock_key, mine, int(LOCK_TIMEOUT)):
                if time.monotonic() > deadline:
                    log.warning("the token_store lock is still held after %.0f s; refreshing without it",
                                LOCK_TIMEOUT)
                    mine = ""
                    break
                time.sleep(LOCK_POLL)
        except Exception as exc:  # a cache server down: refresh without the lock
            log.warning("token_store.add failed (%s); refreshing without the lock", type(exc).__name__)
            mine = ""
        try:
            yield
        finally:
            if mine and self._stored("get", lock_key, None) == mine:
                self._stored("delete", lock_key)

    def _stored(self, method: str, *args: Any) -> Any:
        """``store.<method>(*args)``; None without a store or when it fails (warned of)."""
        if self._store is None:
            return None
        try:
            return getattr(self._store, method)(*args)
        except Exception as exc:  # a cache server down: never a failed call
            log.warning("token_store.%s failed (%s); going on without it", method, type(exc).__name__)
            return None


def refreshed_user_token(client: Any, app_id: Optional[str], app_secret: Optional[str], refresh_token: str,
                         access_token: Optional[str], store: Any,
                         on_tokens: Optional[Callable[[UserTokens], Any]]) -> RefreshedUserToken:
    """The provider of a ``Client`` given ``user_refresh_token``. Its store key holds the app
    and a hash of the refresh token given: processes started from one sign-in share one chain
    of pairs; another user, or a new sign-in, has its own."""
    if not (app_id and app_secret):
        raise ConfigError("a user_refresh_token is refreshed with the app's credentials: give app_id and "
                          "app_secret (FEISHU_APP_ID, FEISHU_APP_SECRET) too")
    if not client.spec.store_apps:
        raise ConfigError("user tokens are refreshed on feishu and lark only")
    secret = Secret(app_secret)

    def post(call: Call) -> Dict[str, Any]:  # the secrets never follow a redirect
        answer: Dict[str, Any] = client.connection.json(call, redirects=False)
        return answer

    key = store_key("urt", client.base_url, app_id, app_secret + "\n" + refresh_token)
    return RefreshedUserToken(post, lambda token: endpoints.user_token_refresh(app_id, secret, token),
                              refresh_token, key, access_token, store, on_tokens)


def refresh_env(environ: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """``{"user_refresh_token": …}`` when FEISHU_USER_REFRESH_TOKEN is set (and not empty)."""
    value = (os.environ if environ is None else environ).get(ENV_REFRESH_TOKEN)
    return {"user_refresh_token": value} if value else {}
