"""The one download front both clients share: a resource saved (to a path, a folder or a
file object), streamed chunk by chunk, iterated, or read into memory.

``ResourceStream`` is for passing bytes on without holding them (a Django
``StreamingHttpResponse``); ``ResourceData`` is for small ones, bytes that a notebook shows.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, Optional, Set

from ._files import Dest, Target
from .download import READ_LIMIT
from .errors import TooLargeError
from .models import DownloadResult
from .transfer import Progress, Source, Transfer

# What a notebook can show inline.
_INLINE = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml")


def save(source: Source, dest: Dest, *, overwrite: bool = False, progress: Optional[Progress] = None,
         checksum: bool = False, add_extension: bool = False, taken: Optional[Set[str]] = None,
         skip_existing: bool = False) -> DownloadResult:
    """Stream ``source`` to ``dest`` (a bad dest is refused before any request).

    ``add_extension``: a path without an extension gets the server's. ``taken``: names a
    batch already used in that folder (the next gets `` (2)``). ``skip_existing``: a file
    already there with the name and size the first answer gives is kept, and nothing more
    is read (``result.skipped``); one of another size is left to ``overwrite``.
    """
    target = Target(dest, overwrite, add_extension, taken, skip_existing)
    return Transfer(source, target, progress, checksum).run()


def open_stream(source: Source, *, progress: Optional[Progress] = None, checksum: bool = False) -> "ResourceStream":
    """The resource as a ``ResourceStream``; its first request is sent now."""
    return ResourceStream(Transfer(source, None, progress, checksum))


def iter_bytes(source: Source) -> Iterator[bytes]:
    """The resource's bytes, chunk by chunk (``open_stream`` without the headers)."""
    with open_stream(source) as stream:
        yield from stream


def read_bytes(source: Source, *, max_bytes: int = READ_LIMIT) -> "ResourceData":
    """A small resource in memory. Over ``max_bytes``: ``TooLargeError``, with nothing read
    past the first answer when the server said its size."""
    with open_stream(source) as stream:
        if stream.size is not None and stream.size > max_bytes:
            raise TooLargeError(None, "%s is %d bytes, over max_bytes=%d: download it to a file instead"
                                % (source.key, stream.size, max_bytes))
        data = bytearray()
        for chunk in stream:
            data += chunk
            if len(data) > max_bytes:
                raise TooLargeError(None, "%s is over max_bytes=%d: download it to a file instead"
                                    % (source.key, max_bytes))
        return ResourceData(bytes(data), stream.content_type, stream.filename)


class ResourceStream:
    """The bytes of one resource as an iterator of chunks, resumed after breaks like any
    download. ``content_type``, ``filename`` (the server's, made safe) and ``size`` are
    known as soon as it exists; iterate it once, or ``close()`` it if you stop early.
    ``sha256``: with ``checksum=True``, the hex digest of every byte once all are read."""

    def __init__(self, transfer: Transfer) -> None:
        self._transfer = transfer.open()
        self._chunks = transfer.chunks()
        self.content_type: Optional[str] = transfer.content_type
        self.filename: Optional[str] = transfer.server_name
        self.size: Optional[int] = transfer.total

    def __repr__(self) -> str:
        return "<ResourceStream %s %s, %s bytes>" % (self.filename or self._transfer.source.key,
                                                     self.content_type, self.size)

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    @property
    def sha256(self) -> Optional[str]:
        """None before the last byte is read, and without ``checksum=True``."""
        return self._transfer.sha256

    def close(self) -> None:
        """Stop: the response in flight is closed (a WSGI server calls this too)."""
        self._chunks.close()
        self._transfer.close()

    def __enter__(self) -> "ResourceStream":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class ResourceData(bytes):
    """A resource's bytes, with what the server said about them; shows itself in Jupyter."""

    content_type: Optional[str]
    filename: Optional[str]

    def __new__(cls, data: bytes, content_type: Optional[str] = None,
                filename: Optional[str] = None) -> "ResourceData":
        self = super().__new__(cls, data)
        self.content_type = content_type
        self.filename = filename
        return self

    def __repr__(self) -> str:
        return "<ResourceData %s %s, %d bytes>" % (self.filename or "", self.content_type, len(self))

    @property
    def mime_type(self) -> str:
        return (self.content_type or "application/octet-stream").split(";", 1)[0].strip().lower()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, Any]:
        bundle: Dict[str, Any] = {"text/plain": repr(self)}
        if self.mime_type in _INLINE:
            bundle[self.mime_type] = self.decode("utf-8") if self.mime_type == "image/svg+xml" else bytes(self)
        return bundle
