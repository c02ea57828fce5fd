"""Exporting every attachment of a chat: concurrent, rate-limited, resumable.

On disk, in ``dest_dir``::

    files/2024-03-10_124933_om_xxx/report.pdf   one folder per message (UTC time, id)
    messages.jsonl                              the messages, one JSON object a line
    manifest.jsonl                              one line per download attempt
    export.json                                 what was listed: the chat, the window, the newest time
    index.html                                  the chat to read offline (``viewer``), rewritten each run

A file is only ever at its final name when it is whole (downloads are atomic), and its
manifest line is written after it is, so a run that is killed leaves nothing a later run
takes as complete. A later run skips what the manifest shows complete (the file there, of
the recorded size), retries what failed, and lists only messages newer than the last run's.

The export knows the client only by what it uses (``ExportClient``): this module does not
import ``client``, which imports it.
"""
from __future__ import annotations

import json
import os
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import IO, Any, Callable, Dict, Iterator, List, Optional, Set, Tuple, Union

import attr

from ._exportdir import ExportLock, id_part, make_folder, open_for_append
from .endpoints import Time, epoch_seconds, quote_id
from .errors import ConfigError, FeishuError
from .exportclient import ExportClient, ExportProgress, ExportSummary
from .manifest import (
    FILES,
    MESSAGES,
    Key,
    Manifest,
    ManifestLine,
    now,
    read_lines,
    read_state,
    remove_stale_parts,
    write_state,
)
from .models import Message, Resource
from .ratelimit import RateLimiter
from .viewer import write_pages

__all__ = ["ExportClient", "ExportProgress", "ExportSummary", "Manifest", "ManifestLine", "export_chat"]


def export_chat(
    client: ExportClient,
    chat_id: str,
    dest_dir: Union[str, "os.PathLike[str]"],
    start_time: Time = None,
    end_time: Time = None,
    workers: int = 4,
    max_rate: Optional[int] = None,
    progress: Optional[Callable[[ExportProgress], None]] = None,
    retry_failed: bool = False,
) -> ExportSummary:
    """See ``Client.export_chat``."""
    if workers < 1:
        raise ConfigError("workers must be at least 1")
    if max_rate is not None and max_rate < 1:
        raise ConfigError("max_rate is requests a second, at least 1 (None: the client's limit), not %r" % max_rate)
    quote_id("chat_id", chat_id)
    window = {
        "start_time": None if start_time is None else epoch_seconds(start_time),
        "end_time": None if end_time is None else epoch_seconds(end_time),
    }
    folder = os.fspath(dest_dir)
    os.makedirs(folder, exist_ok=True)
    lock = ExportLock(folder)  # one export at a time in a folder
    try:
        summary = _export(client, chat_id, folder, window, workers, max_rate, progress, retry_failed)
        write_pages(folder)  # index.html: the chat to read offline, all exported so far
        return summary
    finally:
        lock.release()


def _export(client: ExportClient, chat_id: str, folder: str, window: Dict[str, Optional[int]], workers: int,
            max_rate: Optional[int], progress: Optional[Callable[[ExportProgress], None]],
            retry_failed: bool) -> ExportSummary:
    make_folder(folder, FILES)
    state = read_state(folder, chat_id)
    remove_stale_parts(os.path.join(folder, FILES))
    stop = threading.Event()
    # Every request of the export (first attempts, the transport's retries and their waits,
    # resends after a rejected token, resumes) goes through the client's limit, its own
    # max_rate if any, and a stop switch; the client itself, shared with others, is left as it is.
    own = RateLimiter(max_rate, None) if max_rate is not None else None
    view = client.with_gate(client.connection.gate.joined(own, stop=stop))
    run = _Run(view, folder, chat_id, window, state, workers, progress, stop)
    run.retry_failed = retry_failed
    try:
        return run.go()
    finally:
        run.close()


class _Run:
    def __init__(self, client: ExportClient, folder: str, chat_id: str, window: Dict[str, Optional[int]],
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
        self.known: Dict[str, Message] = {}
        self.unread: Set[str] = set()  # ids whose forwarded messages could not be read last time
        for line in read_lines(self.messages_path):
            if isinstance(line.get("message_id"), str):  # the last line of an id wins
                self._know(Message.from_dict(line), line.get("children_error"))
        self.counts = ExportProgress()
        self.lock = threading.Lock()
        self.stop = stop
        self.retry_failed = False  # refusals for good are tried again only when asked

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
                    running.add(pool.submit(self._export_one, message))
            for future in running:
                future.result()
        except BaseException:
            # The gate's switch: workers stop at their next chunk, request or wait (waits,
            # the transport's retry waits too, end at once); each one's temporary file goes with it.
            self.stop.set()
            for future in running:
                future.cancel()
            pool.shutdown(wait=True)
            raise
        pool.shutdown(wait=True)
        c = self.counts
        return ExportSummary(self.folder, c.messages, c.downloaded, c.skipped, c.failed, c.bytes, c.refused)

    # -- what to export --------------------------------------------------------------------

    def _to_export(self, messages_file: IO[str]) -> Iterator[Message]:
        """Known messages with resources still to do, then the newly listed ones."""
        for known in list(self.known.values()):
            if known.message_id in self.unread:  # its forwarded messages could not be read last time
                known = self._remember(*self._with_children(known), messages_file)
            if self._pending(known):
                yield known
        threads: Set[str] = set()
        for opener_id in list(self.state.get("unread_threads") or []):  # could not be read last time
            opener = self.known.get(opener_id)
            if opener is not None and opener.thread_id:
                threads.add(opener.thread_id)
                yield from self._thread(opener, messages_file)
        newest = self.state.get("newest_create_ms")
        start = self.window["start_time"]
        if newest is not None:
            start = max(start or 0, int(newest) // 1000)  # only what came since (inclusive, deduped)
        for message in self.client.iter_messages(self.chat_id, start_time=start, end_time=self.window["end_time"]):
            if message.message_id not in self.known:
                data = self._take(message, messages_file)
                self._note_newest(message)  # chat messages only: a thread's reply may be newer than the window
                if self._pending(data):
                    yield data
            if message.thread_id and message.thread_id not in threads:  # known or not: replies may be new
                threads.add(message.thread_id)
                yield from self._thread(message, messages_file)
        self._write_state()

    def _take(self, message: Message, messages_file: IO[str]) -> Message:
        """A newly listed message, expanded, written down and counted."""
        data = self._remember(*self._expand(message), messages_file)
        with self.lock:
            self.counts.messages += 1
        self._tell()
        return data

    def _thread(self, opener: Message, messages_file: IO[str]) -> Iterator[Message]:
        """The replies of the thread ``opener`` started (a chat lists only its first message),
        as lark-cli expands them; a thread that cannot be read is recorded, and the export
        goes on (the next run reads it again)."""
        unread = set(self.state.get("unread_threads") or [])
        try:
            for reply in self.client.iter_messages(str(opener.thread_id), container_id_type="thread"):
                if reply.message_id == opener.message_id or reply.message_id in self.known:
                    continue
                data = self._take(reply, messages_file)
                if self._pending(data):
                    yield data
        except FeishuError as exc:
            self.manifest.record(ManifestLine.failure((opener.message_id, "", "thread"), exc))
            with self.lock:
                self.counts.failed += 1
            unread.add(opener.message_id)
        else:
            unread.discard(opener.message_id)
        self.state["unread_threads"] = sorted(unread)

    def _expand(self, message: Message) -> Tuple[Message, Optional[str]]:
        """A merge_forward's children come only with the message itself."""
        if message.msg_type != "merge_forward" or message.deleted:
            return message, None
        return self._with_children(message)

    def _with_children(self, message: Message) -> Tuple[Message, Optional[str]]:
        """The message read again, children and all; if that fails, the failure is recorded
        (and counted), and the next run tries again: ``(message, error)``."""
        try:
            return self.client.get_message(message.message_id), None
        except FeishuError as exc:
            line = ManifestLine.failure((message.message_id, "", "children"), exc)
            self.manifest.record(line)
            with self.lock:
                self.counts.failed += 1
            return message, line.error

    def _remember(self, message: Message, children_error: Optional[str], messages_file: IO[str]) -> Message:
        data = message.to_dict()
        if children_error is not None:
            data["children_error"] = children_error
        messages_file.write(_json_line(data))  # the last line of an id wins
        messages_file.flush()
        self._know(message, children_error)
        return message

    def _know(self, message: Message, children_error: Any) -> None:
        self.known[message.message_id] = message
        if children_error:
            self.unread.add(message.message_id)
        else:
            self.unread.discard(message.message_id)

    def _pending(self, message: Message) -> List[Tuple[Message, Resource]]:
        """(message, resource) pairs of this message and its children not yet complete."""
        pending = []
        for msg in message.walk():
            for res in msg.resources:
                if self.manifest.complete(_key(res)):
                    with self.lock:
                        self.counts.skipped += 1
                elif self.manifest.refused(_key(res)) and not self.retry_failed:
                    with self.lock:
                        self.counts.refused += 1
                else:
                    pending.append((msg, res))
        with self.lock:
            self.counts.pending += len(pending)
        self._tell()  # a resumed run's skips show too, not only its downloads
        return pending

    # -- doing it (in the workers) -----------------------------------------------------------

    def _export_one(self, message: Message) -> None:
        by_message: Dict[str, List[Resource]] = {}
        owners: Dict[str, Message] = {}
        for msg, res in self._pending_quietly(message):
            by_message.setdefault(msg.message_id, []).append(res)
            owners[msg.message_id] = msg
        for message_id, resources in by_message.items():
            subfolder = _message_folder(owners[message_id])
            target = make_folder(self.folder, *subfolder.split("/"))  # a real folder inside, never a link
            taken = self.manifest.names_in(subfolder)
            for res in resources:
                self._download(res, target, subfolder, taken)
            if not os.listdir(target):  # every try failed: no empty folder to browse past
                os.rmdir(target)

    def _pending_quietly(self, message: Message) -> List[Tuple[Message, Resource]]:
        return [(msg, res) for msg in message.walk() for res in msg.resources
                if not self.manifest.complete(_key(res))
                and (self.retry_failed or not self.manifest.refused(_key(res)))]

    def _download(self, res: Resource, target: str, subfolder: str, taken: Set[str]) -> None:
        got = [0]

        def report(done: int, total: Optional[int]) -> None:
            with self.lock:
                self.counts.bytes += done - got[0]
            got[0] = done
            self._tell()

        try:
            result = self.client.download_resource(
                res.message_id, res.file_key, res.type, target,
                overwrite=True, progress=report, checksum=True, container_id=res.container_id, _taken=taken,
            )
        except (FeishuError, OSError) as exc:
            line = ManifestLine.failure(_key(res), exc)
            with self.lock:
                if line.permanent:
                    self.counts.refused += 1
                else:
                    self.counts.failed += 1
                self.counts.bytes -= got[0]  # what a failed try received is not kept
        else:
            line = ManifestLine(*_key(res), saved_path="%s/%s" % (subfolder, os.path.basename(result.path or "")),
                                size_bytes=result.size, content_type=result.content_type, sha256=result.sha256,
                                at=now())
            with self.lock:
                self.counts.downloaded += 1
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

    def _note_newest(self, message: Message) -> None:
        if message.create_time is not None:
            millis = int(message.create_time.timestamp() * 1000)
            self.state["newest_create_ms"] = max(self.state.get("newest_create_ms") or 0, millis)

    def _write_state(self) -> None:
        self.state.update(chat_id=self.chat_id, window=self.window)
        write_state(self.folder, self.state)


def _key(res: Resource) -> Key:
    return (res.message_id, res.file_key, res.type)


def _json_line(data: Dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False) + "\n"


def _message_folder(message: Message) -> str:
    """``files/2024-03-10_124933_om_xxx``: sorted by time, unique by id."""
    stamp = "0000-00-00_000000"
    if message.create_time is not None:
        stamp = message.create_time.strftime("%Y-%m-%d_%H%M%S")
    return "%s/%s_%s" % (FILES, stamp, id_part(message.message_id))  # "/" on every system, as in the manifest
