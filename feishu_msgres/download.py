"""The download engine's decisions, apart from any I/O: what to ask for next and what an
answer means (google-resumable-media's ``_download.py`` is the model). ``transfer.py`` moves
the bytes and follows these decisions; each one here is tested without a socket.

Files (``ranged``) start with a small Range probe that tells the total size, then go in
ranges; images start with a plain GET. A body that breaks off is resumed from the last byte
received, every Content-Range is checked, and the bytes taken add up to the total.
"""
from __future__ import annotations

import random
from typing import Dict, Mapping, Optional, Tuple

import attr

from ._ranges import check_content_range, next_range, range_header
from .errors import ConfigError, IntegrityError, ResourceChangedError, TransportError

PROBE_SIZE = 128 * 1024  # the first Range request of a file: learns the total (seed 002)
RANGE_SIZE = 8 * 1024 * 1024  # every range after the probe (seed 002: "8 MB per subsequent request")
MIN_RANGE_SIZE = 128 * 1024  # the smallest range asked for when the server refuses larger ones
RESUME_TRIES = 5  # breaks in a row, each bringing under one chunk, before giving up
TINY_ANSWERS = 8  # whole answers in a row far shorter than asked, before ranges are given up
RESTARTS = 3  # times a download starts over from byte 0 because the resource changed
VALIDATORS = ("ETag", "Last-Modified")
READ_LIMIT = 20 * 1024 * 1024  # the most read_resource holds in memory by default


@attr.frozen
class DownloadSettings:
    """How downloads go; the Client's keywords of the same names set them.

    Every range is ``range_size`` (8 MiB, as seed 002 asks). ``max_range_size`` above it is
    an explicit option: ranges then double after each range that arrives without a break,
    up to it, and a break sends the size back to ``range_size``. A server that refuses a
    range as too large (234037, HTTP 413) gets ranges half as long from then on, down to
    ``min_range_size``; only a refusal at that size is an error.
    """

    probe_size: int = PROBE_SIZE
    range_size: int = RANGE_SIZE
    max_range_size: Optional[int] = None  # None: range_size, fixed ranges
    min_range_size: int = MIN_RANGE_SIZE
    resume_tries: int = RESUME_TRIES
    resume_backoff: float = 0.5  # seconds, doubled per try after the first (immediate) one
    chunk_size: int = 1024 * 1024  # bytes read and written at a time

    def __attrs_post_init__(self) -> None:
        if min(self.probe_size, self.range_size, self.chunk_size, self.min_range_size) <= 0:
            raise ConfigError("probe_size, range_size, min_range_size and chunk_size must be positive")
        if self.largest < self.range_size:
            raise ConfigError("max_range_size must be at least range_size")
        if self.resume_tries < 0 or self.resume_backoff < 0:
            raise ConfigError("resume_tries and resume_backoff cannot be negative")

    @property
    def largest(self) -> int:
        """The longest range ever asked for."""
        return self.range_size if self.max_range_size is None else self.max_range_size


class Break(Exception):
    """The body broke off (reset, short read, timeout): resume."""


class Expect:
    """What to take from one answer's body: skip its first ``skip`` bytes (a 200 to a
    resume starts at 0), take bytes up to ``end`` (None: to the end). ``whole``: the answer
    is the whole resource, so the range asked for grows to the total."""

    __slots__ = ("skip", "end", "whole")

    def __init__(self, skip: int, end: Optional[int], whole: bool = False) -> None:
        self.skip = skip
        self.end = end
        self.whole = whole

    def __repr__(self) -> str:
        return "Expect(skip=%r, end=%r, whole=%r)" % (self.skip, self.end, self.whole)


class Plan:
    """The state of one download and every decision about it."""

    def __init__(self, key: str, ranged: bool, settings: DownloadSettings) -> None:
        self.key = key
        self.ranged = ranged
        self.settings = settings
        self.total: Optional[int] = None
        self.offset = 0  # bytes taken so far
        self.plain_only = False  # the server refused Range: every request is a plain GET
        self.size = settings.range_size  # of the next range
        self.ceiling = settings.largest  # lowered for good when the server refuses a range as too large
        self.tries = 0  # breaks in a row that each brought less than one chunk
        self.tiny = 0  # whole answers in a row that each brought a sliver of what was asked
        self.validators: Dict[str, str] = {}  # the first answer's ETag and Last-Modified
        self.broke = False  # something broke in the current range

    # -- what to ask ---------------------------------------------------------------------

    def first_headers(self) -> Dict[str, str]:
        """Identity encoding always (byte offsets must be the file's); a probe for files."""
        headers = {"Accept-Encoding": "identity"}
        if self.ranged and not self.plain_only:
            headers["Range"] = range_header(0, self.settings.probe_size)
        return headers

    def resume_headers(self, end: Optional[int]) -> Dict[str, str]:
        """For ``[offset, end)`` (None: to the total)."""
        headers = {"Accept-Encoding": "identity"}
        if not self.plain_only:
            headers["Range"] = range_header(self.offset, end or self.total)
            if_range = self.if_range()
            if if_range:  # a changed resource then answers 200, whole, not a range of the new one
                headers["If-Range"] = if_range
        return headers

    def deciding(self) -> Optional[Tuple[str, str]]:
        """The validator that tells versions apart: the ETag when there is one, else
        Last-Modified (nodes of one service may disagree on dates, never on a content tag)."""
        for name in VALIDATORS:
            if self.validators.get(name):
                return name, self.validators[name]
        return None

    def if_range(self) -> Optional[str]:
        """The deciding validator for If-Range; none for a weak ETag (RFC 9110 13.1.5: weak
        tags are not sent, and a date not when there is a tag)."""
        deciding = self.deciding()
        if deciding is None or deciding[1].startswith("W/"):
            return None
        return deciding[1]

    def finished(self) -> bool:
        return self.total is not None and self.offset >= self.total

    def next_end(self) -> int:
        """Start the next range: where it ends. Ranges double while nothing breaks."""
        assert self.total is not None
        self.broke = False
        self.tries = 0  # breaks count against the range they happen in, not the download
        return next_range(self.offset, self.total, self.size)[1]

    def range_done(self) -> None:
        """A range arrived: the next is as long (fixed ranges), or twice as long up to
        ``max_range_size``; back to ``range_size`` after a break; never over the ceiling."""
        grown = self.settings.range_size if self.broke else 2 * self.size
        self.size = min(grown, self.settings.largest, self.ceiling)

    def too_large(self) -> bool:
        """The server refused the last range as too large: whether to go on with ranges half
        as long (for good), or give up, the ranges being ``min_range_size`` already."""
        floor = min(self.settings.min_range_size, self.size)
        if self.plain_only or self.size <= floor:
            return False
        self.ceiling = self.size = max(floor, self.size // 2)
        return True

    # -- what an answer means --------------------------------------------------------------

    def refuses_range(self, status: int, api_code: object) -> bool:
        """416 to the probe, or a 400 that is not an API error: the server cannot do ranges,
        so this and every later request goes without Range."""
        if not self.ranged or self.plain_only:
            return False
        if status == 416 or (status == 400 and api_code is None):
            self.plain_only = True
            return True
        return False

    def first_answer(self, status: int, headers: Mapping[str, str]) -> Expect:
        """The first answer (errors raised already): it tells the total and the validators."""
        self.validators = {name: headers[name] for name in VALIDATORS if headers.get(name)}
        length = content_length(headers)
        if status == 206:
            content_range = check_content_range(
                headers.get("Content-Range"), (0, self.settings.probe_size), None, length)
            if content_range.total is None:
                raise IntegrityError("%s: the server's Content-Range gives no total size" % self.key)
            self.total = content_range.total
            return Expect(0, content_range.end)
        self.total = length
        return Expect(0, length, whole=True)

    def resume_answer(self, status: int, headers: Mapping[str, str], end: Optional[int]) -> Expect:
        """An answer to ``resume_headers(end)`` (errors raised already)."""
        self.check_same(headers, whole=status == 200)
        asked = (self.offset, end or self.total)
        length = content_length(headers)
        if status == 206 and not self.plain_only:
            content_range = check_content_range(headers.get("Content-Range"), asked, self.total, length)
            return Expect(0, content_range.end)
        if status == 200:  # no Range, or Range ignored: read from 0, skip what we have
            if self.total is not None and length is not None and length != self.total:
                raise IntegrityError("%s: the size changed from %d to %d" % (self.key, self.total, length))
            return Expect(self.offset, self.total, whole=True)
        raise IntegrityError("%s: unexpected HTTP %d to a Range request" % (self.key, status))

    def check_same(self, headers: Mapping[str, str], whole: bool = False) -> None:
        """ResourceChangedError when an answer belongs to another version than the first: its
        deciding validator differs (a server that ignores If-Range says so in its 206), or it
        is a 200 to If-Range without the same validator (a server that honours If-Range
        answers 200 when the version changed; only the same validator shows Range was merely
        ignored)."""
        deciding = self.deciding()
        if deciding is None:
            return
        name, first = deciding
        now = headers.get(name)
        if now == first or (now is None and not (whole and self.if_range())):
            return
        raise ResourceChangedError("%s: the resource changed during the download (%s %s, now %s)"
                                   % (self.key, name, first, now or "none"))

    # -- the body ------------------------------------------------------------------------------

    def take(self, chunk: bytes, expect: Expect) -> bytes:
        """The part of ``chunk`` that is new; more than declared is an integrity error."""
        if expect.skip:
            if len(chunk) <= expect.skip:
                expect.skip -= len(chunk)
                return b""
            chunk, expect.skip = chunk[expect.skip:], 0
        if expect.end is not None and self.offset + len(chunk) > expect.end:
            raise IntegrityError("%s: the server sent more than it declared (past byte %d)" % (self.key, expect.end))
        self.offset += len(chunk)
        return chunk

    def body_ended(self, expect: Expect, framed: bool) -> None:
        """The body ended: short of what it declared is a break when the length was framed
        (urllib3 1.26 ends a short Content-Length body quietly), else a lie."""
        if expect.end is not None and self.offset < expect.end:
            if framed or expect.skip:
                raise Break("the body ended at byte %d of %d" % (self.offset, expect.end))
            raise IntegrityError(
                "%s: the server declared bytes up to %d but sent up to %d" % (self.key, expect.end, self.offset))
        if expect.end is None and self.total is None:
            self.total = self.offset  # an unsized body: its end is its size

    # -- breaks --------------------------------------------------------------------------------

    def answered_short(self, before: int, end: int) -> None:
        """An answer came whole but shorter than ``[before, end)``: ask for the rest, with no
        break counted. Answers that stay tiny (under an eighth of what was asked and under
        ``min_range_size``, ``TINY_ANSWERS`` times in a row) give ranges up for one plain GET
        of the rest: a server that answers every range with a few KiB would otherwise take
        thousands of requests (a whole minute's quota) for a few MB."""
        self.tries = 0
        got, asked = self.offset - before, end - before
        tiny = got * 8 < asked and got < self.settings.min_range_size
        self.tiny = self.tiny + 1 if tiny else 0
        if self.tiny >= TINY_ANSWERS:
            self.plain_only = True

    def on_break(self, before: int, reason: Break) -> float:
        """Seconds to wait before resuming after a break at ``offset`` (from ``before``), or
        TransportError after ``resume_tries`` breaks in a row that each brought less than a
        chunk: a slow link that keeps making progress goes on, a dead trickle does not."""
        self.broke = True
        self.tries = 1 if self.offset - before >= self.settings.chunk_size else self.tries + 1
        if self.tries > self.settings.resume_tries:
            raise TransportError("%s: the download broke off %d times in a row at byte %d of %s; last: %s"
                                 % (self.key, self.tries, self.offset, self.total or "?", reason))
        if self.tries == 1:
            return 0.0  # the first resume goes at once: most breaks are one-offs
        wait = min(10.0, self.settings.resume_backoff * 2.0 ** (self.tries - 2))
        return wait / 2 + random.uniform(0, wait / 2)


def content_length(headers: Mapping[str, str]) -> Optional[int]:
    value = headers.get("Content-Length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
