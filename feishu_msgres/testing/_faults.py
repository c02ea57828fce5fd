"""Faults as typed records: what an emulator does to a request instead of (or on top of) its
normal answer, and for which requests."""
from __future__ import annotations

from typing import Any, Dict, Iterable, Optional, Tuple, Union

import attr


@attr.frozen
class Actions:
    """What to do to one request. A field left None is a sort of action this record does not
    take; a fault's sorts are its fields that are set, whatever their value (``reset=False``
    and ``cap=0`` are set)."""

    # Answer at once with this status instead of the normal answer ...
    status: Optional[int] = None
    code: Union[int, str, None] = None  # ... with the dialect's error body (Feishu int, DingTalk str)
    message: Optional[str] = None  # the error's msg / message
    headers: Optional[Dict[str, str]] = None  # extra headers on that answer
    body: Optional[bytes] = None  # these bytes as the body (no code: else a gateway's HTML page)
    # The connection.
    hang_up: Optional[bool] = None  # close it without answering
    reset: Optional[bool] = None  # close it with RST, not FIN (hang_up, drop_after)
    # A served body.
    drop_after: Optional[int] = None  # send this many bytes of it, then close
    trickle: Optional[Tuple[float, int]] = None  # (delay, block): block bytes at a time
    ignore_range: Optional[bool] = None  # 200 and the whole body whatever Range asks
    refuse_range: Optional[bool] = None  # 416 to any Range
    cap: Optional[int] = None  # at most this many bytes to a Range request
    limit: Optional[int] = None  # refuse an answer longer than this (Feishu: 234037)
    shift: Optional[int] = None  # declare the range served this many bytes further on

    def taken(self) -> Dict[str, Any]:
        """The sorts of action this record takes, with their values."""
        return {name: value for name, value in attr.asdict(self, recurse=False).items() if value is not None}


@attr.define
class Fault:
    """``actions`` for the next ``times`` requests of a kind (and key), after ``after`` pass.

    ``kind`` and ``key`` None (or empty) match any request."""

    kind: Optional[str]
    key: Optional[str]
    times: Optional[int]  # None: for ever
    after: int  # matching requests to let through first
    actions: Actions

    def take(self, kind: str, key: Optional[str] = None) -> bool:
        """Whether this fault acts on this request; counts it if it matches."""
        if self.times == 0 or (self.kind and self.kind != kind) or (self.key and self.key != key):
            return False
        if self.after > 0:
            self.after -= 1
            return False
        if self.times is not None:
            self.times -= 1
        return True


def merge(faults: Iterable[Fault], kind: str, key: Optional[str] = None) -> Actions:
    """The actions due for this request: each sort of action from the first fault that has it.

    A fault with a sort already taken is passed over without counting this request."""
    merged: Dict[str, Any] = {}
    for fault in faults:
        sorts = fault.actions.taken()
        if not any(name in merged for name in sorts) and fault.take(kind, key):
            merged.update(sorts)
    return Actions(**merged)
