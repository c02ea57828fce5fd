"""The download engine: ranged, resumable, verified, in constant memory.

Files (``type="file"``) start with a small Range probe that tells the total size, then go in
fixed-size ranges; images start with a plain GET. Either way a body that breaks off is
resumed from the last byte received, every Content-Range is checked, and the bytes written
add up to the total before the destination is committed (see ``_files`` for atomicity).
"""
from __future__ import annotations

import hashlib
import random
import time
from typing import Any, Callable, Dict, Generator, Iterator, Optional, Set, Tuple

import attr
import requests

from ._files import Dest, Target
from ._names import choose_filename
from ._ranges import check_content_range, next_range, range_header
from .errors import ConfigError, IntegrityError, TransportError
from .models import DownloadResult
from .transport import BODY_ERRORS, RETRY_STATUSES, error_code_of, log, raise_for_error

Progress = Callable[[int, Optional[int]], None]
OpenResponse = Callable[[Dict[str, str]], requests.Response]

PROBE_SIZE = 128 * 1024  # the first Range request of a file: learns the total
RANGE_SIZE = 8 * 1024 * 1024  # the first range after the probe
MAX_RANGE_SIZE = 64 * 1024 * 1024  # ranges double up to this while none breaks
RESUME_TRIES = 5  # breaks in a row, each bringing under one chunk, before giving up


@attr.frozen
class DownloadSettings:
    """How downloads go; the Client's keywords of the same names set them.

    Ranges start at ``range_size`` and double after each range that arrives without a
    break, up to ``max_range_size``: a healthy connection pays fewer round trips (each costs
    a full RTT), and a break costs nothing either way, since it resumes from the last byte.
    A break sends the size back to ``range_size``. ``max_range_size=range_size`` gives
    fixed ranges.
    """

    probe_size: int = PROBE_SIZE
    range_size: int = RANGE_SIZE
    max_range_size: int = MAX_RANGE_SIZE
    resume_tries: int = RESUME_TRIES
    resume_backoff: float = 0.5  # seconds, doubled per try after the first (immediate) one
    chunk_size: int = 1024 * 1024  # bytes read and written at a time

    def __attrs_post_init__(self) -> None:
        if self.probe_size <= 0 or self.range_size <= 0 or self.chunk_size <= 0:
            raise ConfigError("probe_size, range_size and chunk_size must be positive")
        if self.max_range_size < self.range_size:
            raise ConfigError("max_range_size must be at least range_size")


class _Break(Exception):
    """The body broke off (reset, short read, timeout, transient status): resume."""


class _Counter:
    """Counts, hashes (when asked) and reports the bytes on their way to the sink."""

    def __init__(self, sink: Any, progress: Optional[Progress], checksum: bool) -> None:
        self.sink = sink
        self.total: Optional[int] = None
        self.done = 0
        self.progress = progress
        self.hash = hashlib.sha256() if checksum else None

    def write(self, data: bytes) -> None:
        self.sink.write(data)
        if self.hash is not None:
            self.hash.update(data)
        self.done += len(data)
        if self.progress is not None:
            self.progress(self.done, self.total)


class Transfer:
    """One download. ``open_response(headers)`` sends the GET with those extra headers."""

    def __init__(
        self,
        open_response: OpenResponse,
        file_key: str,
        target: Target,
        ranged: bool,
        settings: DownloadSettings,
        progress: Optional[Progress] = None,
        checksum: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.open_response = open_response
        self.file_key = file_key
        self.target = target
        self.ranged = ranged
        self.settings = settings
        self.progress = progress
        self.checksum = checksum
        self.sleep = sleep
        self.total: Optional[int] = None
        self.content_type: Optional[str] = None
        self.server_name: Optional[str] = None
        self.sink: Any = None
        self.counter: Optional[_Counter] = None
        self.plain_only = False  # the server refused Range: every request is a plain GET
        self._first: Optional[Tuple[requests.Response, Optional[int]]] = None

    @property
    def offset(self) -> int:
        return self.counter.done if self.counter is not None else 0

    def open(self) -> "Transfer":
        """Send the first request: after it, the name, type and size are known."""
        if self._first is None:
            self._first = self._first_response()
        return self

    def chunks(self) -> Generator[bytes, None, None]:
        """The resource's bytes in order, each written to the sink before it is yielded."""
        response, end = self.open()._first  # type: ignore[misc]
        yield from self._transfer(end, response)
        size = self.settings.range_size
        while self.total is not None and self.offset < self.total:
            broke = yield from self._transfer(next_range(self.offset, self.total, size)[1])
            size = self.settings.range_size if broke else min(2 * size, self.settings.max_range_size)

    def run(self) -> DownloadResult:
        try:
            for _ in self.chunks():
                pass
            self.sink.commit()
        except BaseException:
            if self.sink is not None:
                self.sink.discard()
            raise
        assert self.counter is not None
        return DownloadResult(
            size=self.offset,
            content_type=self.content_type,
            filename=self.server_name,
            path=self.sink.path,
            sha256=self.counter.hash.hexdigest() if self.counter.hash is not None else None,
        )

    # -- the first answer: size, name, and where to write --------------------------------

    def _first_response(self) -> Tuple[requests.Response, Optional[int]]:
        probe = self.settings.probe_size
        response = self.open_response({"Range": range_header(0, probe)} if self.ranged else {})
        if self.ranged and _refuses_range(response):
            response.close()
            self.plain_only = True  # resumes, too, must go without Range
            response = self.open_response({})
        raise_for_error(response)
        self._start(response)
        if response.status_code == 206:
            try:
                content_range = check_content_range(
                    response.headers.get("Content-Range"), (0, probe), None, _content_length(response)
                )
                if content_range.total is None:
                    raise IntegrityError("%s: the server's Content-Range gives no total size" % self.file_key)
            except IntegrityError:
                response.close()
                raise
            self._set_total(content_range.total)
            return response, content_range.end
        self._set_total(_content_length(response))
        return response, self.total

    def _start(self, response: requests.Response) -> None:
        self.content_type = response.headers.get("Content-Type")
        name, self.server_name = choose_filename(
            self.file_key, response.headers.get("Content-Disposition"), self.content_type
        )
        try:
            self.sink = self.target.open(name)
        except BaseException:
            response.close()
            raise
        self.counter = _Counter(self.sink, self.progress, self.checksum)

    def _set_total(self, total: Optional[int]) -> None:
        self.total = total
        assert self.counter is not None
        self.counter.total = total

    # -- moving bytes, resuming after breaks -----------------------------------------------

    def _transfer(
        self, end: Optional[int], response: Optional[requests.Response] = None
    ) -> Generator[bytes, None, bool]:
        """Get ``[offset, end)`` (``end=None``: to the end), resuming from the last byte.

        Gives up after ``resume_tries`` breaks in a row that each brought less than one
        chunk: a slow link that keeps making progress goes on, a dead trickle does not.
        Returns whether anything broke.
        """
        tries = 0
        broke = False
        answer = (response, 0, end) if response is not None else None
        while True:
            before = self.offset
            try:
                if answer is None:
                    answer = self._resume_at(self.offset, end)
                response, skip, answer_end = answer
                answer = None
                if response.status_code == 200:
                    end = answer_end = self.total  # the whole body is coming: take all of it
                yield from self._consume(response, answer_end, skip)
                if end is None or self.offset >= end:
                    return broke
                tries = 0  # a shorter range than asked, whole: ask for the rest, no penalty
            except _Break as exc:
                broke = True
                tries = 1 if self.offset - before >= self.settings.chunk_size else tries + 1
                if tries > self.settings.resume_tries:
                    raise TransportError(
                        "%s: the download broke off %d times in a row at byte %d of %s; last: %s"
                        % (self.file_key, tries, self.offset, self.total or "?", exc)
                    ) from exc.__cause__
                log.debug("%s: broke off at byte %d of %s (%s); resuming", self.file_key, self.offset,
                          self.total or "?", exc)
                if tries > 1:  # the first resume goes at once: most breaks are one-offs
                    wait = min(10.0, self.settings.resume_backoff * 2 ** (tries - 2))
                    self.sleep(wait / 2 + random.uniform(0, wait / 2))

    def _resume_at(self, offset: int, end: Optional[int]) -> Tuple[requests.Response, int, Optional[int]]:
        """An answer for ``[offset, end)``: the response, how many leading bytes to skip, and
        where its bytes end (a server may answer a shorter range than asked)."""
        asked = (offset, end or self.total)
        try:
            response = self.open_response({} if self.plain_only else {"Range": range_header(*asked)})
        except TransportError as exc:
            raise _Break(str(exc)) from exc
        if response.status_code in RETRY_STATUSES:  # still failing after the transport's retries
            response.close()
            raise _Break("HTTP %d" % response.status_code)
        raise_for_error(response)  # business errors: at once, never retried
        length = _content_length(response)
        if response.status_code == 206 and not self.plain_only:
            try:
                content_range = check_content_range(response.headers.get("Content-Range"), asked, self.total, length)
            except IntegrityError:
                response.close()
                raise
            return response, 0, content_range.end
        if response.status_code == 200:  # no Range, or Range ignored: read from 0, skip what we have
            if self.total is not None and length is not None and length != self.total:
                response.close()
                raise IntegrityError("%s: the size changed from %d to %d" % (self.file_key, self.total, length))
            return response, offset, self.total
        response.close()
        raise IntegrityError("%s: unexpected HTTP %d to a Range request" % (self.file_key, response.status_code))

    def _consume(self, response: requests.Response, end: Optional[int], skip: int) -> Iterator[bytes]:
        """Write the body up to ``end``; more than declared is an integrity error."""
        counter = self.counter
        assert counter is not None
        framed = response.headers.get("Content-Length") is not None
        try:
            for chunk in response.iter_content(self.settings.chunk_size):
                if skip:
                    if len(chunk) <= skip:
                        skip -= len(chunk)
                        continue
                    chunk, skip = chunk[skip:], 0
                if end is not None and counter.done + len(chunk) > end:
                    raise IntegrityError(
                        "%s: the server sent more than it declared (past byte %d)" % (self.file_key, end)
                    )
                counter.write(chunk)
                yield chunk
        except BODY_ERRORS as exc:
            raise _Break(_reason(exc)) from exc
        finally:
            response.close()
        if end is not None and counter.done < end:
            if framed or skip:  # urllib3 1.26 ends a short Content-Length body quietly
                raise _Break("the body ended at byte %d of %d" % (counter.done, end))
            raise IntegrityError(
                "%s: the server declared bytes up to %d but sent up to %d" % (self.file_key, end, counter.done)
            )
        if end is None and self.total is None:
            self._set_total(counter.done)  # an unsized body: its end is its size


def download(
    open_response: OpenResponse,
    file_key: str,
    dest: Dest,
    ranged: bool,
    settings: DownloadSettings,
    overwrite: bool = False,
    progress: Optional[Progress] = None,
    checksum: bool = False,
    add_extension: bool = False,
    taken: Optional[Set[str]] = None,
) -> DownloadResult:
    """Stream one resource to ``dest`` (a bad dest is refused before any request)."""
    target = Target(dest, overwrite, add_extension, taken)
    return Transfer(open_response, file_key, target, ranged, settings, progress, checksum).run()


def _refuses_range(response: requests.Response) -> bool:
    """416 to the probe, or a 400 that is not an API error: the server cannot do ranges."""
    if response.status_code == 416:
        return True
    return response.status_code == 400 and error_code_of(response) is None


def _content_length(response: requests.Response) -> Optional[int]:
    value = response.headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _reason(exc: BaseException) -> str:
    inner = exc.args[0] if exc.args else exc
    return "%s: %s" % (type(exc).__name__, inner)
