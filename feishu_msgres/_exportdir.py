"""The export folder: the only place an export writes, creates or deletes anything, and the
lock that keeps a second export out of it while one runs.

What is in the folder may have been planted (a symbolic link at a message folder's
predictable name, at ``messages.jsonl``); what comes from the service may be hostile (an id
holding ``/../``). So the export's own files are opened without following links, its
folders are made one level at a time and must be real folders, and names from ids are
checked before they become paths.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from typing import IO, Any, Dict

from .errors import ConfigError

LOCK = "export.lock"
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)
# What a message id may show as in a folder name; any other id is named by its hash.
_PLAIN_ID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")

fcntl: Any
msvcrt: Any
try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None
try:
    import msvcrt
except ImportError:
    msvcrt = None


class ExportLock:
    """Held while an export runs: a second export into the same folder is refused at once
    (it would remove the first one's temporary files and interleave its manifest)."""

    def __init__(self, folder: str) -> None:
        self.fd = _open(os.path.join(folder, LOCK), os.O_RDWR | os.O_CREAT)
        try:
            if fcntl is not None:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            elif msvcrt is not None:  # pragma: no cover - Windows
                msvcrt.locking(self.fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            os.close(self.fd)
            raise ConfigError("another export is writing into %s: wait for it to end, or choose another folder"
                              % folder) from None

    def release(self) -> None:
        os.close(self.fd)  # the lock goes with the descriptor


def id_part(message_id: str) -> str:
    """A message id as a part of a folder name: as it is when it is a plain id, else a hash
    (an id from the service is not trusted to stay inside the folder)."""
    if _PLAIN_ID.match(message_id):
        return message_id
    return "id-" + hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def make_folder(folder: str, *parts: str) -> str:
    """``folder/parts…``, each level made if missing and checked to be a real folder, not a
    link to somewhere else."""
    path = folder
    for part in parts:
        if part in ("", ".", "..") or "/" in part or os.sep in part:
            raise ConfigError("%r cannot name a folder inside the export" % part)
        path = os.path.join(path, part)
        try:
            os.mkdir(path)
        except FileExistsError:
            pass
        mode = os.lstat(path).st_mode
        if not stat.S_ISDIR(mode):
            raise ConfigError("%s is %s, not a folder: the export writes only inside %s"
                              % (path, "a link" if stat.S_ISLNK(mode) else "a file", folder))
    return path


def open_for_append(path: str) -> IO[str]:
    """Open a JSON-lines file of the export to add to it, never through a link; a last line
    cut short by a kill is ended first, so that it cannot swallow the next line written."""
    fd = _open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
    cut = False
    if os.fstat(fd).st_size > 0:
        with os.fdopen(os.dup(fd), "rb") as existing:
            existing.seek(-1, os.SEEK_END)
            cut = existing.read(1) != b"\n"
    out = os.fdopen(fd, "a", encoding="utf-8")  # O_APPEND: every write goes to the end
    if cut:
        out.write("\n")
    return out


def write_json(path: str, data: Dict[str, Any]) -> None:
    """``data`` as JSON in place of ``path`` (``write_text``)."""
    write_text(path, json.dumps(data, indent=2))


def write_text(path: str, text: str, mode: int = 0o666) -> None:
    """``text`` in place of ``path``, whole or not at all: written to a new file (never one
    found there, nor through a link; ``mode`` before the umask) and moved over it."""
    temp = "%s.%s.tmp" % (path, os.urandom(4).hex())
    fd = _open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def _open(path: str, flags: int, mode: int = 0o666) -> int:
    try:
        fd = os.open(path, flags | _O_NOFOLLOW | _O_BINARY, mode)
    except OSError as exc:
        if os.path.islink(path):
            raise ConfigError("%s is a link: the export writes only inside its folder, never through one"
                              % path) from None
        raise exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ConfigError("%s is not a regular file: the export will not write to it" % path)
    return fd
