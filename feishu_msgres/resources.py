"""A resource held by the caller rather than saved: streamed chunk by chunk, or in memory.

``ResourceStream`` is for passing bytes on without holding them (a Django
``StreamingHttpResponse``); ``ResourceData`` is for small ones, bytes that a notebook shows.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, Optional

from .download import Transfer

# What a notebook can show inline.
_INLINE = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/svg+xml")


class ResourceStream:
    """The bytes of one resource as an iterator of chunks, resumed after breaks like any
    download. ``content_type``, ``filename`` (the server's, made safe) and ``size`` are
    known as soon as it exists; iterate it once, or ``close()`` it if you stop early."""

    def __init__(self, transfer: Transfer) -> None:
        self._transfer = transfer.open()
        self._chunks = transfer.chunks()
        self.content_type: Optional[str] = transfer.content_type
        self.filename: Optional[str] = transfer.server_name
        self.size: Optional[int] = transfer.total

    def __repr__(self) -> str:
        return "<ResourceStream %s %s, %s bytes>" % (self.filename or self._transfer.file_key,
                                                     self.content_type, self.size)

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        """Stop: the response in flight is closed (a WSGI server calls this too)."""
        self._chunks.close()
        first = self._transfer._first
        if first is not None:
            first[0].close()

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
