"""HTTP Range math and Content-Range checks (pure functions, no I/O).

Ranges here are half-open ``[start, end)`` like Python slices; the wire format
(``bytes=0-131071``, ``bytes 0-131071/1000000``) is inclusive, and only these functions
convert between the two.
"""
from __future__ import annotations

import re
from typing import Optional, Tuple

from .errors import IntegrityError

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*$", re.IGNORECASE)


class ContentRange:
    """A parsed ``Content-Range``: ``[start, end)`` of ``total`` (None when ``*``)."""

    __slots__ = ("start", "end", "total")

    def __init__(self, start: Optional[int], end: Optional[int], total: Optional[int]) -> None:
        self.start = start
        self.end = end
        self.total = total

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ContentRange) and (self.start, self.end, self.total) == (
            other.start,
            other.end,
            other.total,
        )

    def __repr__(self) -> str:
        return "ContentRange(%r, %r, %r)" % (self.start, self.end, self.total)

    @property
    def length(self) -> int:
        return (self.end or 0) - (self.start or 0)


def range_header(start: int, end: Optional[int] = None) -> str:
    """``Range`` for ``[start, end)``; ``end=None`` asks for everything from ``start``."""
    if start < 0 or (end is not None and end <= start):
        raise ValueError("empty or negative range [%r, %r)" % (start, end))
    return "bytes=%d-%s" % (start, "" if end is None else end - 1)


def parse_content_range(value: Optional[str]) -> Optional[ContentRange]:
    """``bytes 0-99/1000`` → ContentRange(0, 100, 1000); ``bytes */1000`` → (None, None, 1000).

    None for anything malformed, including a last byte before the first or past the total.
    """
    if not value:
        return None
    match = _CONTENT_RANGE.match(value)
    if not match:
        return None
    first, last, total_text = match.groups()
    total = None if total_text == "*" else int(total_text)
    if first is None:
        return None if total is None else ContentRange(None, None, total)
    start, end = int(first), int(last) + 1
    if end <= start or (total is not None and end > total):
        return None
    return ContentRange(start, end, total)


def next_range(offset: int, total: int, size: int) -> Tuple[int, int]:
    """The next ``[start, end)`` to ask for: ``size`` bytes from ``offset``, not past ``total``."""
    if size <= 0:
        raise ValueError("range size must be positive, got %r" % size)
    if not 0 <= offset < total:
        raise ValueError("offset %r is outside [0, %r)" % (offset, total))
    return offset, min(offset + size, total)


def check_content_range(
    header: Optional[str],
    asked: Tuple[int, Optional[int]],
    known_total: Optional[int],
    content_length: Optional[int],
) -> ContentRange:
    """The Content-Range of a 206 answer to ``asked``, or IntegrityError saying what is wrong.

    It must start at the offset asked, end inside the range asked, carry the same total as
    every earlier answer, and agree with Content-Length when there is one.
    """
    parsed = parse_content_range(header)
    start, end = asked
    if parsed is None or parsed.start is None or parsed.end is None:
        raise IntegrityError("a 206 answer with an unusable Content-Range: %r" % (header,))
    if parsed.start != start:
        raise IntegrityError("asked for bytes from %d, got Content-Range %r" % (start, header))
    if end is not None and parsed.end > end:
        raise IntegrityError("asked for bytes up to %d, got Content-Range %r" % (end - 1, header))
    if known_total is not None and parsed.total is not None and parsed.total != known_total:
        raise IntegrityError("the total changed from %d to %d (Content-Range %r)" % (known_total, parsed.total, header))
    if content_length is not None and content_length != parsed.length:
        raise IntegrityError(
            "Content-Length %d disagrees with Content-Range %r (%d bytes)" % (content_length, header, parsed.length)
        )
    return parsed
