"""Temporary ``.part`` files: their names, the lock a live download holds on its own, and the
removal of those that killed downloads (SIGKILL, a power cut) left behind.

Hidden names in a download folder are only ever this library's: ``safe_filename`` gives no
server a name that starts with a dot. A live download holds an ``flock`` on its ``.part``
(released however its process ends), so only the files of dead ones are removed; on Windows,
which has no such lock, a file still open cannot be removed, which serves the same end.
"""
from __future__ import annotations

import os
import re
import stat
import threading
from typing import Any, Dict, List, Optional

PART = re.compile(r"^\.(?P<stem>.+)\.[0-9a-f]{8}\.part$")
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a part swapped for a FIFO must not hang the check

fcntl: Any
try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

_seen_lock = threading.Lock()
_seen: Dict[str, Dict[str, List[str]]] = {}  # folder -> stem -> parts found at this process's first look


def stem(name: str) -> str:
    """The name's first 200 bytes: with the 15 added, a temporary name stays under 255 bytes."""
    return name.encode("utf-8")[:200].decode("utf-8", "ignore")


def temp_name(name: str) -> str:
    return ".%s.%s.part" % (stem(name), os.urandom(4).hex())


def hold(fd: int) -> None:
    """Mark a new part as a live download's; best effort (some network file systems refuse
    locks: their parts are then cleaned up by nobody but their own download)."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass


def remove_stale(folder: str, name: Optional[str] = None) -> int:
    """Remove the parts of dead downloads in ``folder``, of target ``name`` or of any;
    returns how many. Links, other files and live downloads' parts are left alone."""
    try:
        names = [entry.name for entry in os.scandir(folder)]
    except OSError:
        return 0
    wanted = None if name is None else stem(name)
    return _remove(folder, [n for n in names if _is_part(n, wanted)])


def remove_stale_once(folder: str, name: str) -> int:
    """``remove_stale`` for one target, looking through the folder once per process: a
    folder of 50,000 files is read once, not once per download into it."""
    key = os.path.realpath(folder)
    with _seen_lock:
        if key not in _seen:
            found: Dict[str, List[str]] = {}
            try:
                for entry in os.scandir(folder):
                    match = PART.match(entry.name)
                    if match:
                        found.setdefault(match.group("stem"), []).append(entry.name)
            except OSError:
                pass
            _seen[key] = found
        names = _seen[key].pop(stem(name), [])
    return _remove(folder, names)


def _is_part(name: str, wanted: Optional[str]) -> bool:
    match = PART.match(name)
    return match is not None and (wanted is None or match.group("stem") == wanted)


def _remove(folder: str, names: List[str]) -> int:
    removed = 0
    for name in names:
        path = os.path.join(folder, name)
        if _stale(path):
            try:
                os.unlink(path)
                removed += 1
            except OSError:  # Windows: still open, so still someone's
                pass
    return removed


def _stale(path: str) -> bool:
    """A regular file that no live download holds. (A download holds its part from a moment
    after creating it until it is moved into place; a cleaner that came in that moment would
    make that download fail cleanly at its move, never leave a wrong file.)"""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):  # not a link, a FIFO, a folder
            return False
    except OSError:
        return False
    if fcntl is None:
        return True
    try:
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
