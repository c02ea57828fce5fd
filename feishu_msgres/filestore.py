"""A ``token_store`` in one JSON file, for scripts and cron runs that have no cache server.

A user's refresh token serves once: a run that refreshes must leave the new pair where the
next run finds it, or that run starts from a spent token and must sign in again. The file
holds the pairs (and tenant tokens) by key, is only ever readable by its owner (0600, in a
0700 folder), is replaced whole (a new file moved over it, never written through a link),
and is locked while read-modify-written, so processes sharing it see each other's tokens.
The shape is Django's cache: ``get(key, default)``, ``set(key, value, timeout)``,
``add(key, value, timeout)`` (only if absent: the refresh lock), ``delete(key)``.
"""
from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional

from ._exportdir import write_text

fcntl: Any
try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process at a time, as documented
    fcntl = None

ENV_TOKEN_FILE = "FEISHU_TOKEN_FILE"


def default_path(environ: Optional[Dict[str, str]] = None) -> str:
    """``$FEISHU_TOKEN_FILE``, else ``$XDG_STATE_HOME/feishu-msgres/tokens.json`` (by default
    under ``~/.local/state``)."""
    env = os.environ if environ is None else environ
    if env.get(ENV_TOKEN_FILE):
        return env[ENV_TOKEN_FILE]
    state = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, "feishu-msgres", "tokens.json")


class FileTokenStore:
    """Tokens by key in the JSON file at ``path`` (see the module)."""

    def __init__(self, path: str, clock: Any = time.time) -> None:
        self.path = path
        self._clock = clock

    def __repr__(self) -> str:
        return "<FileTokenStore %s>" % self.path  # the path only: never what it holds

    def get(self, key: str, default: Any = None) -> Any:
        with self._locked() as entries:
            entry = entries.get(key)
        return entry["value"] if entry is not None else default

    def set(self, key: str, value: Any, timeout: Optional[float] = None) -> None:
        with self._locked(write=True) as entries:
            entries[key] = self._entry(value, timeout)

    def add(self, key: str, value: Any, timeout: Optional[float] = None) -> bool:
        with self._locked(write=True) as entries:
            if key in entries:
                return False
            entries[key] = self._entry(value, timeout)
            return True

    def delete(self, key: str) -> None:
        with self._locked(write=True) as entries:
            entries.pop(key, None)

    def _entry(self, value: Any, timeout: Optional[float]) -> Dict[str, Any]:
        return {"value": value, "expires": None if timeout is None else self._clock() + float(timeout)}

    @contextmanager
    def _locked(self, write: bool = False) -> Iterator[Dict[str, Dict[str, Any]]]:
        """The live entries, under the file's lock (a lock file beside it: the data file is
        replaced whole, so it cannot carry the lock); written back if ``write``."""
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, mode=0o700, exist_ok=True)
        fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            entries = self._read()
            yield entries
            if write:
                self._write(entries)
        finally:
            os.close(fd)  # the lock goes with it

    def _read(self) -> Dict[str, Dict[str, Any]]:
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
        except (FileNotFoundError, ValueError):  # none yet, or cut short: start afresh
            return {}
        now = self._clock()
        return {k: v for k, v in data.items() if isinstance(v, dict) and "value" in v
                and (v.get("expires") is None or v["expires"] > now)} if isinstance(data, dict) else {}

    def _write(self, entries: Dict[str, Dict[str, Any]]) -> None:
        write_text(self.path, json.dumps(entries), mode=0o600)  # the export's safe writer, owner-only
