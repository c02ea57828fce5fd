"""The download engine's I/O loop: it opens answers, moves their bytes to the sink, and
follows the decisions of ``download.Plan`` (what to ask, what an answer means, when to
resume or give up). It knows requests' responses; the decisions do not.
"""
from __future__ import annotations

import hashlib
from typing import Any, Callable, Dict, Generator, Iterator, Mapping, NamedTuple, Optional, Tuple

import requests

from ._files import Target
from ._names import choose_name, parse_content_disposition
from .answers import code_of, raise_for_error
from .download import RESTARTS, Break, DownloadSettings, Expect, Plan
from .errors import ResourceChangedError, TooLargeError, TransportError
from .models import DownloadResult
from .platforms import Dialect
from .ratelimit import Gate
from .transport import BODY_ERRORS, iter_body, log

Progress = Callable[[int, Optional[int]], None]
OpenResponse = Callable[[Dict[str, str]], requests.Response]


def offered_name(headers: Mapping[str, str]) -> Optional[str]:
    """The name the server offers (Content-Disposition), not yet made safe."""
    return parse_content_disposition(headers.get("Content-Disposition"))


class Source(NamedTuple):
    """One resource to download, for any platform: ``open(headers)`` sends its GET with those
    headers; ``key`` names it in errors and is the fallback file name; ``ranged``: files go
    in Range requests; ``dialect`` reads its error answers; ``name_of`` picks the name the
    server offers; ``gate`` governs the waits between resumes (and stops them)."""

    open: OpenResponse
    key: str
    ranged: bool
    dialect: Dialect
    settings: DownloadSettings = DownloadSettings()
    gate: Gate = Gate()
    name_of: Callable[[Mapping[str, str]], Optional[str]] = offered_name


class _Counter:
    """Counts, hashes (when asked) and reports the bytes on their way to the sink."""

    def __init__(self, sink: Any, progress: Optional[Progress], checksum: bool) -> None:
        self.sink = sink
        self.total: Optional[int] = None
        self.done = 0
        self.progress = progress
        self.hash = hashlib.sha256() if checksum else None

    def write(self, data: bytes) -> None:
        if self.sink is not None:
            self.sink.write(data)
        if self.hash is not None:
            self.hash.update(data)
        self.done += len(data)
        if self.progress is not None:
            self.progress(self.done, self.total)


class Transfer:
    """One download of ``source`` into ``target`` (None: the bytes go to the caller only)."""

    def __init__(self, source: Source, target: Optional[Target] = None, progress: Optional[Progress] = None,
                 checksum: bool = False) -> None:
        self.source = source
        self.target = target
        self.plan = Plan(source.key, source.ranged, source.settings)
        self.progress = progress
        self.checksum = checksum
        self.content_type: Optional[str] = None
        self.server_name: Optional[str] = None
        self.sink: Any = None
        self.counter = _Counter(None, progress, checksum)
        self._first: Optional[Tuple[requests.Response, Expect]] = None
        self._response: Optional[requests.Response] = None  # the answer being read
        self._reused: Optional[bytearray] = None
        self.complete = False  # every byte delivered
        self.skipped: Optional[str] = None  # the path of a whole file already there (skip_existing)

    @property
    def sha256(self) -> Optional[str]:
        """The hex sha256 of every byte, once all are delivered (with checksum=True)."""
        digest = self.counter.hash
        return digest.hexdigest() if digest is not None and self.complete else None

    def _buffer(self) -> Optional[bytearray]:
        """One buffer read into again and again, for a sink that copies what it is given (a
        file of ours, the standard library's files); bytes given to a caller, or to another
        object that may keep them, get their own."""
        if self.sink is None or not self.sink.copies:
            return None
        if self._reused is None:
            self._reused = bytearray(self.source.settings.chunk_size)
        return self._reused

    @property
    def total(self) -> Optional[int]:
        return self.plan.total

    def open(self) -> "Transfer":
        """Send the first request: after it, the name, type and size are known."""
        if self._first is None:
            self._first = self._first_response()
        return self

    def close(self) -> None:
        """Close the answer in flight (a caller that stops reading early)."""
        if self._response is not None:
            self._response.close()

    def chunks(self) -> Generator[bytes, None, None]:
        """The resource's bytes in order, each written to the sink before it is yielded.

        A resource that changes during the download starts over from byte 0 into a sink that
        can be emptied (a path, a file object that can be rewound), ``RESTARTS`` times at
        most; bytes given to a caller (a stream) cannot be taken back: that is an error."""
        restarts = 0
        while True:
            try:
                yield from self._chunks_once()
                self.complete = True
                return
            except ResourceChangedError:
                if self.target is None or restarts >= RESTARTS or not self._can_start_over():
                    raise
                restarts += 1
                log.debug("%s: the resource changed during the download; starting over", self.plan.key)
                self._start_over()

    def _can_start_over(self) -> bool:
        """A path's file is dropped and made anew (its name and type follow the new version);
        a file object is rewound, if it can be."""
        if self.sink.path is None:
            return bool(self.sink.restart())
        self.sink.discard()
        self.sink = None
        return True

    def _start_over(self) -> None:
        self.close()
        self.plan = Plan(self.source.key, self.source.ranged, self.source.settings)
        self._first = None
        self.counter = _Counter(self.sink, self.progress, self.checksum)

    def _chunks_once(self) -> Generator[bytes, None, None]:
        response, expect = self.open()._first  # type: ignore[misc]
        plan = self.plan
        yield from self._transfer(expect.end, (response, expect))
        while plan.total is not None and not plan.finished():
            try:
                yield from self._transfer(plan.next_end())
            except TooLargeError:
                if not plan.too_large():
                    raise
                log.debug("%s: a range was refused as too large; asking for %d bytes at a time", plan.key, plan.size)
                continue
            plan.range_done()

    def run(self) -> DownloadResult:
        self.open()
        if self.skipped is not None:  # there already, whole (skip_existing): nothing more is read
            self.close()
            return DownloadResult(size=self.plan.total or 0, content_type=self.content_type,
                                  filename=self.server_name, path=self.skipped, skipped=True)
        try:
            for _ in self.chunks():
                pass
            if self.sink is not None:
                self.sink.commit()
        except BaseException:
            if self.sink is not None:
                self.sink.discard()
            raise
        return DownloadResult(
            size=self.plan.offset,
            content_type=self.content_type,
            filename=self.server_name,
            path=self.sink.path if self.sink is not None else None,
            sha256=self.sha256,
        )

    # -- the first answer: size, name, and where to write --------------------------------

    def _first_response(self) -> Tuple[requests.Response, Expect]:
        source, plan = self.source, self.plan
        response = source.open(plan.first_headers())
        code = code_of(response, source.dialect) if response.status_code == 400 else None
        if plan.refuses_range(response.status_code, code):
            response.close()
            response = source.open(plan.first_headers())
        raise_for_error(response, source.dialect)
        self._response = response
        try:
            expect = plan.first_answer(response.status_code, response.headers)
        except BaseException:
            response.close()
            raise
        self._start(response)  # after the answer is read: its size decides a skip_existing
        self.counter.total = plan.total
        return response, expect

    def _start(self, response: requests.Response) -> None:
        self.content_type = response.headers.get("Content-Type")
        name, self.server_name = choose_name(
            self.source.key, self.source.name_of(response.headers), self.content_type)
        if self.target is None or self.sink is not None:  # a sink started over is kept
            return
        self.skipped = self.target.existing(name, self.plan.total)
        if self.skipped is not None:
            return
        try:
            self.sink = self.target.open(name)
        except BaseException:
            response.close()
            raise
        self.counter.sink = self.sink

    # -- moving bytes, resuming after breaks -----------------------------------------------

    def _transfer(self, end: Optional[int],
                  first: Optional[Tuple[requests.Response, Expect]] = None) -> Generator[bytes, None, None]:
        """Get ``[offset, end)`` (``end=None``: to the end), resuming from the last byte."""
        plan, answer = self.plan, first
        while True:
            before = plan.offset
            try:
                if answer is None:
                    answer = self._resume(end)
                response, expect = answer
                answer = None
                if expect.whole:
                    end = plan.total  # the whole body is coming: take all of it
                yield from self._consume(response, expect)
                if end is None or plan.offset >= end:
                    return
                plan.answered_short(before, end)  # whole, but shorter than asked: ask for the rest
            except Break as exc:
                try:
                    wait = plan.on_break(before, exc)
                except TransportError as give_up:
                    raise give_up from exc.__cause__
                log.debug("%s: broke off at byte %d of %s (%s); resuming", plan.key, plan.offset,
                          plan.total or "?", exc)
                self.source.gate.wait(wait)

    def _resume(self, end: Optional[int]) -> Tuple[requests.Response, Expect]:
        source, plan = self.source, self.plan
        try:
            response = source.open(plan.resume_headers(end))
        except TransportError as exc:
            raise Break(str(exc)) from exc
        self._response = response
        try:
            # The transport has retried 408/429/5xx already: what is left is the server's
            # answer, raised with its code, message and log id, as any error.
            raise_for_error(response, source.dialect)
            return response, plan.resume_answer(response.status_code, response.headers, end)
        except BaseException:
            response.close()
            raise

    def _consume(self, response: requests.Response, expect: Expect) -> Iterator[bytes]:
        """Take the body as the plan expects; a read that breaks is a Break."""
        plan, gate = self.plan, self.source.gate
        framed = response.headers.get("Content-Length") is not None
        try:
            for chunk in iter_body(response, self.source.settings.chunk_size, self._buffer()):
                gate.check()  # a stopped job stops between chunks
                data = plan.take(chunk, expect)
                if data:
                    self.counter.write(data)
                    yield data
        except BODY_ERRORS as exc:
            raise Break(_reason(exc)) from exc
        finally:
            response.close()
        plan.body_ended(expect, framed)
        if self.counter.total is None:
            self.counter.total = plan.total


def _reason(exc: BaseException) -> str:
    inner = exc.args[0] if exc.args else exc
    return "%s: %s" % (type(exc).__name__, inner)
