"""Exporting every attachment of a chat: concurrent, rate-limited, resumable.

On disk, in ``dest_dir``::

    files/2024-03-10_124933_om_xxx/report.pdf   one folder per message (UTC time, id)
    messages.jsonl                              the messages, one JSON object a line
    manifest.jsonl                              one line per download attempt
    export.json                                 what was listed: the chat, the window, the newest time

A file is only ever at its final name when it is whole (downloads are atomic), and its
manifest line is written after it is, so a run that is killed leaves nothing a later run
takes as complete. A later run skips what the manifest shows complete (the file there, of
the recorded size), retries what failed, and lists only messages newer than the last run's.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Optional, Set, Tuple, Union

import attr

from .errors import ConfigError, FeishuError
from .ratelimit import AllOf, RateLimiter, stop_with

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client
    from .models import Message

MANIFEST = "manifest.jsonl"
MESSAGES = "messages.jsonl"
STATE = "export.json"
FILES = "files"
_PART = re.compile(r"^\..+\.[0-9a-f]{8}\.part$")  # AtomicFile's temporary names
Key = Tuple[str, str, str]  # (message_id, file_key, type)
Time = Union[None, int, float, datetime.datetime]


@attr.s(auto_attribs=True)
class ExportProgress:
    """Counters of a running export, handed to ``progress`` after every change."""

    messages: int = 0  # messages listed in this run
    downloaded: int = 0
    skipped: int = 0  # complete from an earlier run
    failed: int = 0
    bytes: int = 0  # bytes received in this run
    pending: int = 0  # resources still to try


@attr.frozen
class ExportSummary:
    dest_dir: str
    messages: int
    downloaded: int
    skipped: int
    failed: int
    bytes: int

    @property
    def ok(self) -> bool:
        return self.failed == 0


class _Stop(Exception):
    """Raised inside a worker's download when the export is being interrupted."""


class Manifest:
    """``manifest.jsonl``: append-only; for each resource the last line is its state."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.path = os.path.join(folder, MANIFEST)
        self.last: Dict[Key, Dict[str, Any]] = {}
        for line in _read_lines(self.path):
            key = (line.get("message_id"), line.get("file_key"), line.get("type"))
            if all(isinstance(k, str) for k in key):
                self.last[key] = line  # type: ignore[index]
        # Names that complete files hold, by message folder: never to be given to another file.
        self._taken: Dict[str, Set[str]] = {}
        for key in self.last:
            if self.complete(key):
                self._take(self.last[key]["saved_path"])
        self._lock = threading.Lock()
        self._file = open_for_append(self.path)

    def close(self) -> None:
        self._file.close()

    def complete(self, key: Key) -> bool:
        """Done by an earlier run: no error, and the file still there with its size."""
        line = self.last.get(key)
        if not line or line.get("error") or not line.get("saved_path"):
            return False
        path = os.path.join(self.folder, line["saved_path"])
        return os.path.isfile(path) and os.path.getsize(path) == line.get("size_bytes")

    def names_in(self, subfolder: str) -> Set[str]:
        """The names complete files hold in a message's folder (``files/…``, with ``/``)."""
        with self._lock:
            return set(self._taken.get(subfolder, ()))

    def _take(self, saved_path: str) -> None:
        folder, _, name = saved_path.rpartition("/")
        self._taken.setdefault(folder, set()).add(name.lower())

    def record(self, line: Dict[str, Any]) -> None:
        key = (line["message_id"], line["file_key"], line["type"])
        with self._lock:
            self._file.write(json.dumps(line, ensure_ascii=False) + "\n")
            self._file.flush()
            self.last[key] = line
            if line.get("saved_path") and not line.get("error"):
                self._take(line["saved_path"])


def export_chat(
    client: "Client",
    chat_id: str,
    dest_dir: Union[str, "os.PathLike[str]"],
    start_time: Time = None,
    end_time: Time = None,
    workers: int = 4,
    max_rate: Optional[int] = None,
    progress: Optional[Callable[[ExportProgress], None]] = None,
) -> ExportSummary:
    """See ``Client.export_chat``."""
    if workers < 1:
        raise ConfigError("workers must be at least 1")
    from .client import epoch_seconds, quote_id

    quote_id("chat_id", chat_id)
    window = {
        "start_time": None if start_time is None else epoch_seconds(start_time),
        "end_time": None if end_time is None else epoch_seconds(end_time),
    }
    folder = os.fspath(dest_dir)
    os.makedirs(os.path.join(folder, FILES), exist_ok=True)
    state = _read_state(folder, chat_id)
    _remove_stale_parts(os.path.join(folder, FILES))
    stop = threading.Event()
    # The export's requests go through the client's limit, its own max_rate if any, and a
    # stop switch; the client itself, shared with others, is left as it is.
    own = RateLimiter(max_rate, None) if max_rate is not None else None
    limited = client._limited(AllOf(own, client.rate_limiter, stop=stop))
    run = _Run(limited, folder, chat_id, window, state, workers, progress, stop)
    try:
        return run.go()
    finally:
        run.close()


class _Run:
    def __init__(self, client: "Client", folder: str, chat_id: str, window: Dict[str, Optional[int]],
                 state: Dict[str, Any], workers: int, progress: Optional[Callable[[ExportProgress], None]],
                 stop: threading.Event) -> None:
        self.client = client
        self.folder = folder
        self.chat_id = chat_id
        self.window = window
        if state.get("window") != window:  # another window: what was newest there says nothing here
            state = {}
        self.state = state
        self.workers = workers
        self.report = progress
        self.manifest = Manifest(folder)
        self.messages_path = os.path.join(folder, MESSAGES)
        self.known: Dict[str, Dict[str, Any]] = {}
        for line in _read_lines(self.messages_path):
            if isinstance(line.get("message_id"), str):
                self.known[line["message_id"]] = line
        self.counts = ExportProgress()
        self.lock = threading.Lock()
        self.stop = stop

    def close(self) -> None:
        self.manifest.close()

    def go(self) -> ExportSummary:
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="feishu-msgres-export")
        running: Set["Future[None]"] = set()
        try:
            with open_for_append(self.messages_path) as messages:
                for message in self._to_export(messages):
                    while len(running) >= 2 * self.workers:  # a bounded queue: memory stays flat
                        done, running = wait(running, return_when=FIRST_COMPLETED)
                        for future in done:
                            future.result()
                    running.add(pool.submit(self._export_message, message))
            for future in running:
                future.result()
        except BaseException:
            # Workers stop at their next chunk, request or wait (waits end at once); each
            # one's temporary file goes with it.
            self.stop.set()
            for future in running:
                future.cancel()
            pool.shutdown(wait=True)
            raise
        pool.shutdown(wait=True)
        c = self.counts
        return ExportSummary(self.folder, c.messages, c.downloaded, c.skipped, c.failed, c.bytes)

    # -- what to export --------------------------------------------------------------------

    def _to_export(self, messages_file: Any) -> Iterator[Dict[str, Any]]:
        """Known messages with resources still to do, then the newly listed ones."""
        for known in list(self.known.values()):
            if known.get("children_error"):  # its forwarded messages could not be read last time
                known = self._remember(self._expand_known(known), messages_file)
            if self._pending(known):
                yield known
        newest = self.state.get("newest_create_ms")
        start = self.window["start_time"]
        if newest is not None:
            start = max(start or 0, int(newest) // 1000)  # only what came since (inclusive, deduped)
        for message in self.client.iter_messages(self.chat_id, start_time=start, end_time=self.window["end_time"]):
            if message.message_id in self.known:
                continue
            data = self._remember(self._expand(message), messages_file)
            self._note_newest(message)
            with self.lock:
                self.counts.messages += 1
            self._tell()
            if self._pending(data):
                yield data
        self._write_state()

    def _expand(self, message: "Message") -> Dict[str, Any]:
        """A merge_forward's children come only with the message itself."""
        data = message.to_dict()
        if message.msg_type != "merge_forward" or message.deleted:
            return data
        return self._with_children(data)

    def _expand_known(self, known: Dict[str, Any]) -> Dict[str, Any]:
        return self._with_children({k: v for k, v in known.items() if k != "children_error"})

    def _with_children(self, data: Dict[str, Any]) -> Dict[str, Any]:
        """The message read again, children and all; if that fails, the failure is recorded
        (and counted), and the next run tries again."""
        try:
            return self.client.get_message(data["message_id"]).to_dict()
        except FeishuError as exc:
            error = " ".join(str(exc).split())
            self.manifest.record({"message_id": data["message_id"], "file_key": "", "type": "children",
                                  "error": error, "code": getattr(exc, "code", None),
                                  "log_id": getattr(exc, "log_id", None), "at": _now()})
            with self.lock:
                self.counts.failed += 1
            return dict(data, children_error=error)

    def _remember(self, data: Dict[str, Any], messages_file: Any) -> Dict[str, Any]:
        messages_file.write(json.dumps(data, ensure_ascii=False) + "\n")  # the last line of an id wins
        messages_file.flush()
        self.known[data["message_id"]] = data
        return data

    def _pending(self, message: Dict[str, Any]) -> List[Tuple[Dict[str, Any], Dict[str, Any]]]:
        """(message, resource) pairs of this message and its children not yet complete."""
        pending = []
        for msg in _walk(message):
            for res in msg.get("resources") or []:
                key = (res["message_id"], res["file_key"], res["type"])
                if self.manifest.complete(key):
                    with self.lock:
                        self.counts.skipped += 1
                else:
                    pending.append((msg, res))
        with self.lock:
            self.counts.pending += len(pending)
        return pending

    # -- doing it (in the workers) -----------------------------------------------------------

    def _export_message(self, message: Dict[str, Any]) -> None:
        stop_with(self.stop)  # this worker's waits end when the export stops
        try:
            self._export_one(message)
        finally:
            stop_with(None)

    def _export_one(self, message: Dict[str, Any]) -> None:
        by_message: Dict[str, List[Dict[str, Any]]] = {}
        owners: Dict[str, Dict[str, Any]] = {}
        for msg, res in self._pending_quietly(message):
            by_message.setdefault(msg["message_id"], []).append(res)
            owners[msg["message_id"]] = msg
        for message_id, resources in by_message.items():
            subfolder = _message_folder(owners[message_id])
            target = os.path.join(self.folder, *subfolder.split("/"))
            os.makedirs(target, exist_ok=True)
            taken = self.manifest.names_in(subfolder)
            for res in resources:
                self._download(res, target, subfolder, taken)
            if not os.listdir(target):  # every try failed: no empty folder to browse past
                os.rmdir(target)

    def _pending_quietly(self, message: Dict[str, Any]) -> List[Tuple[Dict[str, Any], Dict[str, Any]]]:
        return [(msg, res) for msg in _walk(message) for res in msg.get("resources") or []
                if not self.manifest.complete((res["message_id"], res["file_key"], res["type"]))]

    def _download(self, res: Dict[str, Any], target: str, subfolder: str, taken: Set[str]) -> None:
        got = [0]

        def report(done: int, total: Optional[int]) -> None:
            if self.stop.is_set():
                raise _Stop()
            with self.lock:
                self.counts.bytes += done - got[0]
            got[0] = done
            self._tell()

        line: Dict[str, Any] = {"message_id": res["message_id"], "file_key": res["file_key"], "type": res["type"]}
        try:
            result = self.client.download_resource(
                res["message_id"], res["file_key"], res["type"], target,
                overwrite=True, progress=report, checksum=True, _taken=taken,
            )
        except (FeishuError, OSError) as exc:
            line.update(error=" ".join(str(exc).split()), code=getattr(exc, "code", None),
                        log_id=getattr(exc, "log_id", None))
            with self.lock:
                self.counts.failed += 1
                self.counts.bytes -= got[0]  # what a failed try received is not kept
        else:
            line.update(saved_path="%s/%s" % (subfolder, os.path.basename(result.path or "")),
                        size_bytes=result.size, content_type=result.content_type, sha256=result.sha256)
            with self.lock:
                self.counts.downloaded += 1
        line["at"] = _now()
        self.manifest.record(line)
        with self.lock:
            self.counts.pending -= 1
        self._tell()

    # -- bookkeeping ---------------------------------------------------------------------------

    def _tell(self) -> None:
        if self.report is not None:
            with self.lock:
                snapshot = attr.evolve(self.counts)
            self.report(snapshot)

    def _note_newest(self, message: "Message") -> None:
        if message.create_time is not None:
            millis = int(message.create_time.timestamp() * 1000)
            self.state["newest_create_ms"] = max(self.state.get("newest_create_ms") or 0, millis)

    def _write_state(self) -> None:
        self.state.update(chat_id=self.chat_id, window=self.window)
        path = os.path.join(self.folder, STATE)
        with open(path + ".tmp", "w", encoding="utf-8") as out:
            json.dump(self.state, out, indent=2)
        os.replace(path + ".tmp", path)


def _walk(message: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
    yield message
    for child in message.get("children") or []:
        yield from _walk(child)


def _message_folder(message: Dict[str, Any]) -> str:
    """``files/2024-03-10_124933_om_xxx``: sorted by time, unique by id."""
    stamp = "0000-00-00_000000"
    created = message.get("create_time")
    if created:
        try:
            stamp = datetime.datetime.fromisoformat(created).strftime("%Y-%m-%d_%H%M%S")
        except ValueError:
            pass
    return "%s/%s_%s" % (FILES, stamp, message["message_id"])  # "/" on every system, as in the manifest


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def open_for_append(path: str) -> Any:
    """Open a JSON-lines file to add to it; a last line cut short by a kill is ended first,
    so that it cannot swallow the next line written."""
    out = open(path, "a", encoding="utf-8")
    if out.tell() > 0:
        with open(path, "rb") as existing:
            existing.seek(-1, os.SEEK_END)
            if existing.read(1) != b"\n":
                out.write("\n")
    return out


def _read_lines(path: str) -> Iterator[Dict[str, Any]]:
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


def _read_state(folder: str, chat_id: str) -> Dict[str, Any]:
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


def _remove_stale_parts(files: str) -> None:
    """Temporary files of a run that was killed (SIGKILL, power): never complete, so gone."""
    for root, _dirs, names in os.walk(files):
        for name in names:
            if _PART.match(name):
                try:
                    os.unlink(os.path.join(root, name))
                except OSError:
                    pass
