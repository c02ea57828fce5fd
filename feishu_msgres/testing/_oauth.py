"""The emulator's OAuth token endpoint: user token pairs, refreshed and rotated.

``POST /open-apis/authen/v2/oauth/token`` with ``grant_type=refresh_token``, ``client_id``,
``client_secret`` and ``refresh_token`` answers a new ``access_token`` (valid the emulator's
``token_lifetime``), ``expires_in``, a new ``refresh_token``, ``refresh_token_expires_in``,
``token_type`` and ``scope`` ("刷新 user_access_token", open.feishu.cn/document/
authentication-management/access-token/refresh-user-access-token). A refresh token serves
once: "原 refresh_token 立即失效"; used again it is refused with 20073, expired with 20037.
Refresh tokens are held for the process, as the access tokens are (see ``_tokens``).
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from typing import Any, Dict, NamedTuple

from ._tokens import issue

OAUTH_TOKEN_PATH = "/open-apis/authen/v2/oauth/token"
REFRESH_LIFETIME = 30 * 24 * 3600  # "refresh_token … 有效期（30 天左右）" (the v1 OIDC document)
DEFAULT_SCOPE = "im:message:readonly offline_access"
_LOCK = threading.Lock()
_SERIALS = itertools.count(1)
_REFRESH: Dict[str, "RefreshGrant"] = {}


class RefreshGrant(NamedTuple):
    app_id: str
    scope: str
    expires: float
    used: bool = False


def issue_pair(app_id: str, lifetime: float, scope: str = DEFAULT_SCOPE,
               refresh_lifetime: float = REFRESH_LIFETIME) -> Dict[str, Any]:
    """A new pair for ``app_id``, as the token endpoint answers it (``code`` 0)."""
    access = issue("u-", app_id, lifetime)
    with _LOCK:
        refresh = "ur-emulator-%06d" % next(_SERIALS)
        _REFRESH[refresh] = RefreshGrant(app_id, scope, time.time() + refresh_lifetime)
    return {"code": 0, "access_token": access, "expires_in": int(lifetime), "refresh_token": refresh,
            "refresh_token_expires_in": int(refresh_lifetime), "token_type": "Bearer", "scope": scope}


def spend(refresh_token: str, app_id: str) -> Any:
    """The grant of ``refresh_token``, marked used; or the refusal code and error."""
    with _LOCK:
        grant = _REFRESH.get(refresh_token)
        if grant is None or grant.app_id != app_id:
            return 20026, "the refresh_token is invalid"
        if grant.used:
            return 20073, "the refresh_token has been used"
        if grant.expires < time.time():
            return 20037, "the refresh_token has expired"
        _REFRESH[refresh_token] = grant._replace(used=True)
        return grant


def answer_oauth(handler: Any, raw_body: bytes) -> None:
    """Answer one request of the token endpoint (``handler``: the emulator's handler)."""
    emu = handler.emulator
    try:
        body = json.loads(raw_body.decode("utf-8"))
    except ValueError:
        body = {}
    if not isinstance(body, dict) or body.get("grant_type") != "refresh_token":
        return _refuse(handler, 20024, "unsupported_grant_type", "the emulator serves grant_type refresh_token")
    if body.get("client_id") != emu.app_id or body.get("client_secret") != emu.app_secret:
        return _refuse(handler, 20002, "invalid_client", "client_id or client_secret is wrong")
    grant = spend(str(body.get("refresh_token")), emu.app_id)
    if not isinstance(grant, RefreshGrant):
        return _refuse(handler, grant[0], "invalid_grant", grant[1])
    handler._json(200, issue_pair(emu.app_id, emu.token_lifetime, grant.scope))


def _refuse(handler: Any, code: int, error: str, description: str) -> None:
    # RFC 6749 §5.2 errors, with the platform's code beside them
    handler._json(400, {"code": code, "error": error, "error_description": description})
