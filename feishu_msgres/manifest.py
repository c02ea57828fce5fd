"""An export folder's files: ``manifest.jsonl`` (one typed line per attempt), the JSON-lines
reading and appending that ``messages.jsonl`` shares with it, and ``export.json``.

The formats on disk are fixed: a folder written by an earlier version resumes with this one.
"""
from __future__ import annotations

import datetime
import json
import os
import threading
from typing import Any, Dict, Iterator, Mapping, Optional, Set, Tuple, Union

import attr

from ._exportdir import open_for_append, write_json
from ._files import remove_stale_parts as stale_parts
from .errors import ConfigError, NotFoundError, TooLargeError, UnsupportedMessageError

MANIFEST = "manifest.jsonl"
MESSAGES = "messages.jsonl"
STATE = "export.json"
FILES = "files"
Key = Tuple[str, str, str]  # (message_id, file_key, type)
Code = Union[int, str, None]  # the API's code: a number, a string for DingTalk, None for no API answer


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _opt(value: Any, kind: Any) -> Any:
    return value if isinstance(value, kind) and not isinstance(value, bool) else None


@attr.frozen
class ManifestLine:
    """One attempt at a resource: where it was saved (``saved_path`` … ``sha256``), or why not
    (``error``, ``code``, ``log_id``). ``type`` ``children`` (and ``file_key`` ``""``): the
    forwarded messages of ``message_id`` could not be read."""

    message_id: str
    file_key: str
    type: str
    saved_path: Optional[str] = None  # relative to the export folder, with "/" on every system
    size_bytes: Optional[int] = None
    content_type: Optional[str] = None
    sha256: Optional[str] = None
    error: Optional[str] = None
    code: Code = None
    log_id: Optional[str] = None
    at: Optional[str] = None  # when, ISO 8601 UTC
    permanent: bool = False  # refused for good: a later run does not try again unless asked

    @classmethod
    def failure(cls, key: Key, exc: BaseException) -> "ManifestLine":
        code = getattr(exc, "code", None)
        return cls(*key, error=" ".join(str(exc).split()), code=code if isinstance(code, (int, str)) else None,
                   log_id=getattr(exc, "log_id", None), at=now(), permanent=refused_for_good(exc))

    @property
    def key(self) -> Key:
        return (self.message_id, self.file_key, self.type)

    @property
    def saved(self) -> bool:
        """A file was saved (whether it is still there is ``Manifest.complete``'s question)."""
        return bool(self.saved_path) and not self.error

    def to_dict(self) -> Dict[str, Any]:
        """The line as written, keys in this order: a failure's error fields or a file's."""
        data: Dict[str, Any] = {"message_id": self.message_id, "file_key": self.file_key, "type": self.type}
        if self.error is not None:
            data.update(error=self.error, code=self.code, log_id=self.log_id)
            if self.permanent:
                data["permanent"] = True
        else:
            data.update(saved_path=self.saved_path, size_bytes=self.size_bytes, content_type=self.content_type,
                        sha256=self.sha256)
        data["at"] = self.at
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Optional["ManifestLine"]:
        """A line read back; ``None`` when it names no resource. Unknown keys are ignored."""
        message_id, file_key, kind = data.get("message_id"), data.get("file_key"), data.get("type")
        if not (isinstance(message_id, str) and isinstance(file_key, str) and isinstance(kind, str)):
            return None
        error = data.get("error")
        return cls(
            message_id, file_key, kind,
            saved_path=_opt(data.get("saved_path"), str),
            size_bytes=_opt(data.get("size_bytes"), int),
            content_type=_opt(data.get("content_type"), str),
            sha256=_opt(data.get("sha256"), str),
            error=None if error is None else str(error),
            code=_opt(data.get("code"), (int, str)),
            log_id=_opt(data.get("log_id"), str),
            at=_opt(data.get("at"), str),
            permanent=data.get("permanent") is True and error is not None,
        )

    @classmethod
    def from_json(cls, text: str) -> Optional["ManifestLine"]:
        try:
            data = json.loads(text)
        except ValueError:
            return None
        return cls.from_dict(data) if isinstance(data, dict) else None


class Manifest:
    """``manifest.jsonl``: append-only; for each resource the last line is its state."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.path = os.path.join(folder, MANIFEST)
        self.last: Dict[Key, ManifestLine] = {}
        for data in read_lines(self.path):
            line = ManifestLine.from_dict(data)
            if line is not None:
                self.last[line.key] = line
        # Names that complete files hold, by message folder: never to be given to another file.
        self._taken: Dict[str, Set[str]] = {}
        for key, line in self.last.items():
            if line.saved_path and self.complete(key):
                self._take(line.saved_path)
        self._lock = threading.Lock()
        self._file = open_for_append(self.path)

    def close(self) -> None:
        self._file.close()

    def complete(self, key: Key) -> bool:
        """Done by an earlier run: no error, and the file still there with its size."""
        line = self.last.get(key)
        if line is None or not line.saved or line.saved_path is None:
            return False
        path = os.path.join(self.folder, line.saved_path)
        return os.path.isfile(path) and os.path.getsize(path) == line.size_bytes

    def refused(self, key: Key) -> bool:
        """Refused for good by an earlier run (its last line says so)."""
        line = self.last.get(key)
        return line is not None and line.permanent

    def names_in(self, subfolder: str) -> Set[str]:
        """The names complete files hold in a message's folder (``files/…``, with ``/``)."""
        with self._lock:
            return set(self._taken.get(subfolder, ()))

    def _take(self, saved_path: str) -> None:
        folder, _, name = saved_path.rpartition("/")
        self._taken.setdefault(folder, set()).add(name.lower())

    def record(self, line: ManifestLine) -> None:
        with self._lock:
            self._file.write(line.to_json() + "\n")
            self._file.flush()
            self.last[line.key] = line
            if line.saved and line.saved_path:
                self._take(line.saved_path)


def refused_for_good(exc: BaseException) -> bool:
    """An answer no rerun changes: a type the API does not serve (234043), over its size
    limit (234037), a message or file gone (230110, 234003), an id that cannot be sent. A
    refused permission, a rate limit, the network: a rerun may fix those."""
    return isinstance(exc, (UnsupportedMessageError, TooLargeError, NotFoundError, ConfigError))


def read_lines(path: str) -> Iterator[Dict[str, Any]]:
    """JSON lines; a last line cut short by a kill is skipped."""
    try:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                try:
                    value = json.loads(line)
                except ValueError:
                    continue
                if isinstance(value, dict):
                    yield value
    except FileNotFoundError:
        return


def read_state(folder: str, chat_id: str) -> Dict[str, Any]:
    try:
        with open(os.path.join(folder, STATE), encoding="utf-8") as f:
            state = json.load(f)
    except (FileNotFoundError, ValueError):
        return {}
    if not isinstance(state, dict):
        return {}
    if state.get("chat_id") not in (None, chat_id):
        raise ConfigError("%s holds an export of chat %s, not %s: choose another folder"
                          % (folder, state.get("chat_id"), chat_id))
    return state


def write_state(folder: str, state: Dict[str, Any]) -> None:
    write_json(os.path.join(folder, STATE), state)


def remove_stale_parts(files: str) -> None:
    """Temporary files of a run that was killed (SIGKILL, power): never complete, so gone;
    those a live download holds (another export's, say) stay."""
    for root, _dirs, _names in os.walk(files):
        stale_parts(root)
