"""What an export asks of a client, and what it reports: the types ``export`` works with."""
from __future__ import annotations

import sys
from typing import Callable, Iterator, Optional, Set

import attr

from .endpoints import Time
from .models import DownloadResult, Message
from .ratelimit import Gate

if sys.version_info >= (3, 8):
    from typing import Protocol
else:  # pragma: no cover - Python 3.7: the protocols only type, so a plain base does
    Protocol = object

class _HasGate(Protocol):
    @property
    def gate(self) -> Gate: ...


class ExportClient(Protocol):
    """What an export asks of a client (``feishu_msgres.Client`` has it all)."""

    @property
    def connection(self) -> _HasGate: ...

    def with_gate(self, gate: Gate) -> "ExportClient": ...

    def iter_messages(self, container_id: str, start_time: Time = None, end_time: Time = None, *,
                      container_id_type: str = "chat") -> Iterator[Message]:
        ...

    def get_message(self, message_id: str) -> Message: ...

    def download_resource(self, message_id: str, file_key: str, type: str, dest: str, *, overwrite: bool,
                          progress: Optional[Callable[[int, Optional[int]], None]], checksum: bool,
                          container_id: Optional[str], _taken: Optional[Set[str]]) -> DownloadResult: ...


@attr.s(auto_attribs=True)
class ExportProgress:
    """Counters of a running export, handed to ``progress`` after every change."""

    messages: int = 0  # messages listed in this run
    downloaded: int = 0
    skipped: int = 0  # complete from an earlier run
    failed: int = 0  # what a rerun may still fix
    bytes: int = 0  # bytes received in this run
    pending: int = 0  # resources still to try
    refused: int = 0  # refused for good by the service (234043, 234037, 230110 …): not retried


@attr.frozen
class ExportSummary:
    dest_dir: str
    messages: int
    downloaded: int
    skipped: int
    failed: int
    bytes: int
    refused: int = 0  # refused for good (recorded; tried again only with retry_failed)

    @property
    def ok(self) -> bool:
        """Nothing a rerun could still fix is left (refusals for good do not count)."""
        return self.failed == 0
