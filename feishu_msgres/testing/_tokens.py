"""The tokens the Feishu emulators issue, held once for the whole process.

Why one registry for the process and not one per emulator: the official SDK caches a
tenant token per app id for the whole process, whatever the domain (lark-oapi
``core/token/manager.py``: ``TokenManager.cache = LocalCache.instance()``, key
``self_tenant_token:{app_id}``, kept until ``expire`` minus 10 minutes), and it never asks
again when a call is refused with 99991663. A test suite that starts one emulator per test
for the same app id would otherwise hand every test after the first a token that its new
emulator never issued. On the real platform a token is not tied to one server either: it
is valid on every server of the service until it expires. So every emulator of a process
accepts a token any of them issued for its own app id. (Giving each emulator its own
default app id was the other way out; it would have changed the credentials the demo, the
command line and users' tests know, and still not modelled the service.)
"""
from __future__ import annotations

import itertools
import threading
import time
from typing import Dict, NamedTuple, Optional

_LOCK = threading.Lock()
_SERIALS = itertools.count(1)
_GRANTS: Dict[str, "Grant"] = {}
_last_serial = 0


class Grant(NamedTuple):
    """What one token stands for: an app (a store app's tenant token also a tenant)."""

    app_id: str
    tenant_key: Optional[str]
    expires: float  # time.time() after which it is refused
    serial: int  # issue order across the process: an emulator expires tokens up to one


def issue(prefix: str, app_id: str, lifetime: float, tenant_key: Optional[str] = None) -> str:
    """A new token (``t-…`` tenant, ``a-…`` app) for ``app_id``, valid ``lifetime`` seconds."""
    global _last_serial
    now = time.time()
    with _LOCK:
        serial = next(_SERIALS)
        _last_serial = serial
        token = "%semulator-%06d" % (prefix, serial)
        _GRANTS[token] = Grant(app_id, tenant_key, now + lifetime, serial)
        if serial % 256 == 0:  # now and then forget the expired ones: a long session issues many
            for old in [t for t, g in _GRANTS.items() if g.expires < now]:
                del _GRANTS[old]
    return token


def grant_of(token: str) -> Optional[Grant]:
    """The grant behind ``token``; None if no emulator of this process issued it."""
    with _LOCK:
        return _GRANTS.get(token)


def last_serial() -> int:
    """The serial of the newest token issued in this process (0 before the first)."""
    with _LOCK:
        return _last_serial
