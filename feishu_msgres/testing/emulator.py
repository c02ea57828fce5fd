"""A Feishu Open Platform emulator: a real HTTP server on loopback, for tests and the demo.

It speaks the endpoints this library uses (tenant token, message get, message resource get
with Range) with the API's error codes, and injects the faults real networks and servers
produce. Standard library only; runs in a background thread on a free port.
"""
from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Optional

from ._base import Request
from ._faults import Actions
from ._feishu import FeishuService
from ._tokens import last_serial

__all__ = ["FeishuEmulator", "Request"]


class FeishuEmulator(FeishuService):
    """``with FeishuEmulator() as emu: client = emu.client()``.

    Add messages with ``add_message`` (a chat full of real ones with ``add_realistic_chat``),
    chats with ``add_chat``, their bytes with ``add_resource`` and a sender's three ids with
    ``add_user``; inject faults with ``fail``, ``rate_limit``, ``drop_after``, ``ignore_range``,
    ``wrong_content_range``, ``trickle`` and ``expire_tokens`` (each for ``times`` requests,
    after letting ``after`` matching ones through); read what arrived in ``requests``.
    """

    thread_name = "feishu-emulator"

    def client(self, **kwargs: Any) -> Any:
        """A ``feishu_msgres.Client`` for this emulator (app credentials unless overridden)."""
        from ..client import Client

        if "user_access_token" not in kwargs:
            kwargs.setdefault("app_id", self.app_id)
            kwargs.setdefault("app_secret", self.app_secret)
        kwargs.setdefault("platform", self.dialect)
        return Client(base_url=self.url, **kwargs)

    # -- content --------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return "%s_emu%06d" % (prefix, self._counter)

    def add_message(
        self,
        msg_type: str,
        content: Any,
        *,
        message_id: Optional[str] = None,
        chat_id: str = "oc_emulator",
        sender_id: str = "ou_emulator_sender",
        upper_message_id: Optional[str] = None,
        deleted: bool = False,
        create_time: Optional[int] = None,
        **fields: Any,
    ) -> str:
        """Store a message; ``content`` is a dict (serialised as the API does) or a string.

        A message with ``upper_message_id`` is a merge_forward child: it is returned with
        its upper message and refused by the resource endpoint (234043), as Feishu does.
        """
        message_id = message_id or self._next_id("om")
        millis = str(create_time if create_time is not None else int(time.time() * 1000))
        item: Dict[str, Any] = {
            "message_id": message_id,
            "msg_type": msg_type,
            "create_time": millis,
            "update_time": millis,
            "deleted": deleted,
            "updated": False,
            "chat_id": chat_id,
            "sender": {"id": sender_id, "id_type": "open_id", "sender_type": "user", "tenant_key": "tk_emulator"},
            "body": {"content": content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)},
            "mentions": [],
        }
        if upper_message_id:
            item["upper_message_id"] = upper_message_id
            self._children.setdefault(upper_message_id, []).append(message_id)
        if deleted:
            item["body"] = {"content": ""}
        item.update(fields)
        self._messages[message_id] = item
        return message_id

    def add_resource(
        self,
        message_id: str,
        file_key: str,
        data: bytes,
        *,
        type: str = "file",
        content_type: str = "application/octet-stream",
        filename: Optional[str] = None,
        etag: Optional[str] = None,
        last_modified: Optional[str] = None,
    ) -> None:
        """The bytes ``GET …/resources/file_key?type=type`` serves for that message.

        ``etag`` (``'"v1"'``) and ``last_modified`` (an HTTP date) are sent as validators, and
        ``If-Range`` is honoured against them (RFC 9110 13.1.5). The seeds do not say whether
        Feishu sends validators, so none are sent unless given."""
        self._resources[(message_id, file_key)] = {
            "data": data,
            "type": type,
            "content_type": content_type,
            "filename": filename,
            "validators": {k: v for k, v in (("ETag", etag), ("Last-Modified", last_modified)) if v},
        }

    def replace_resource(self, message_id: str, file_key: str, data: bytes, etag: Optional[str] = None,
                         last_modified: Optional[str] = None, content_type: Optional[str] = None,
                         filename: Optional[str] = None) -> None:
        """Swap a resource's bytes (and validators) for new ones, as if re-uploaded; its type
        stays, its content type and name too unless given: a download under way sees the new
        version from its next request."""
        old = self._resources[(message_id, file_key)]
        self.add_resource(message_id, file_key, data, type=old["type"],
                          content_type=content_type or old["content_type"], filename=filename or old["filename"],
                          etag=etag, last_modified=last_modified)

    def add_user(self, open_id: str, *, union_id: Optional[str] = None,
                 user_id: Optional[str] = None) -> Dict[str, str]:
        """A user's three ids (seed 001: open_id, union_id, user_id); ids not given are made
        up from the open_id, as they are for any sender never added. Answers carry the one
        ``user_id_type`` asks for, open_id by default."""
        return self.users.add(open_id, union_id, user_id)

    def add_chat(self, chat_id: str, name: Optional[str] = None, *, description: str = "",
                 owner_id: Optional[str] = None, external: bool = False, chat_status: str = "normal",
                 chat_mode: str = "group", chat_type: str = "private", member: bool = True) -> str:
        """A chat the chat list and search show (``_chats`` cites the documents): its name
        (else its id), an owner's open_id (None: a bot owns it), ``chat_type="public"`` to be
        found by a search from outside, ``member=False`` for one the app is not in: not
        listed, and its messages and files refused (230002, 234004). A chat only a message
        names is listed too, under its id. ``chat_mode="p2p"``: never listed."""
        from ._chats import new_chat

        chat = new_chat(chat_id, name, description, owner_id, external, chat_status, chat_mode, chat_type, member)
        with self._lock:
            self._chats[chat_id] = chat
        return chat_id

    def add_realistic_chat(self, chat_id: str = "oc_realistic", n: int = 150, seed: int = 0,
                           start_ms: int = 1700000000000) -> List[str]:
        """Fill ``chat_id`` with ``n`` top-level messages of a busy team chat, the same for the
        same ``seed``: long posts in many scripts, every message type, merge_forwards with
        children, mentions, app senders, a recalled message, and the bytes of every image,
        file, audio and video (named in many scripts). Returns the top-level ids in order."""
        from ._realistic import fill_chat

        return fill_chat(self, chat_id, n, seed, start_ms)

    # -- faults ---------------------------------------------------------------------------

    def fail(
        self,
        kind: Optional[str] = None,
        status: int = 503,
        times: Optional[int] = 1,
        code: Optional[int] = None,
        msg: str = "emulated failure",
        headers: Optional[Dict[str, str]] = None,
        body: Optional[bytes] = None,
        key: Optional[str] = None,
        after: int = 0,
    ) -> None:
        """Answer the next ``times`` requests of ``kind`` (token, message, resource; None:
        any) with ``status``; with ``code`` the body is the API's JSON error, with ``body``
        those bytes, else a small HTML page (as a gateway sends)."""
        self._add_fault(kind, key, times, after,
                        Actions(status=status, code=code, message=msg, headers=headers or {}, body=body))

    def rate_limit(self, kind: Optional[str] = None, times: int = 1, reset: float = 1, after: int = 0) -> None:
        """HTTP 429, code 99991400 and ``x-ogw-ratelimit-reset: reset``, as Feishu throttles."""
        self.fail(kind, 429, times, 99991400, "request trigger frequency limit",
                  headers={"x-ogw-ratelimit-reset": str(reset)}, after=after)

    def drop_after(self, file_key: Optional[str], nbytes: int, times: Optional[int] = 1, reset: bool = False,
                   after: int = 0) -> None:
        """Send headers and ``nbytes`` of the body, then close (``reset``: RST, not FIN)."""
        self._add_fault("resource", file_key, times, after, Actions(drop_after=nbytes, reset=reset))

    def disconnect(self, kind: Optional[str] = None, times: Optional[int] = 1, reset: bool = False,
                   after: int = 0) -> None:
        """Close the connection without answering (``reset``: RST, not FIN)."""
        self._add_fault(kind, None, times, after, Actions(hang_up=True, reset=reset))

    def ignore_range(self, file_key: Optional[str] = None, times: Optional[int] = None, after: int = 0) -> None:
        """Answer 200 with the whole body whatever Range asks (as some proxies do)."""
        self._add_fault("resource", file_key, times, after, Actions(ignore_range=True))

    def refuse_range(self, file_key: Optional[str] = None, times: Optional[int] = None, after: int = 0) -> None:
        """Answer 416 to any Range request (a server that cannot do ranges at all)."""
        self._add_fault("resource", file_key, times, after, Actions(refuse_range=True))

    def cap_ranges(self, size: int, file_key: Optional[str] = None, times: Optional[int] = None,
                   after: int = 0) -> None:
        """Answer at most ``size`` bytes to a Range request, as some CDNs do (a valid 206)."""
        self._add_fault("resource", file_key, times, after, Actions(cap=size))

    def refuse_larger_than(self, size: int, file_key: Optional[str] = None, times: Optional[int] = None,
                           after: int = 0) -> None:
        """Refuse any answer longer than ``size`` bytes with 400 / 234037, as Feishu refuses
        resources over 100 MB (seed 000) and a gateway with a smaller cap refuses ranges."""
        self._add_fault("resource", file_key, times, after, Actions(limit=size))

    def wrong_content_range(self, file_key: Optional[str] = None, times: Optional[int] = 1, shift: int = 1,
                            after: int = 0) -> None:
        """Serve the asked range but declare it ``shift`` bytes further on (a broken server)."""
        self._add_fault("resource", file_key, times, after, Actions(shift=shift))

    def trickle(self, file_key: Optional[str] = None, delay: float = 0.05, block: int = 1024,
                times: Optional[int] = None, after: int = 0) -> None:
        """Send the body ``block`` bytes at a time with ``delay`` seconds between them."""
        self._add_fault("resource", file_key, times, after, Actions(trickle=(delay, block)))

    def expire_tokens(self) -> None:
        """Every token issued so far becomes invalid here (code 99991663 on its next use).

        Tokens are shared by the emulators of a process (see ``_tokens``); expiring them is
        this emulator's own view, so another test's emulator is not disturbed."""
        with self._lock:
            self._expired_through = last_serial()
