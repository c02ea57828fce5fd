"""What the list endpoints return: a chat of the chat list, and one page of a history.

Parsed as forgivingly as ``models``: unknown fields stay in ``raw``, missing ones are None.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Tuple

import attr

from .models import Message


def _str(value: Any) -> Optional[str]:
    return None if value is None or value == "" else str(value)


@attr.frozen
class Chat:
    """One item of the chat list or of a chat search: the fields both documents give
    (lark-oapi's ``ListChat``; ``chat_status`` as the list document adds it), and
    ``chat_mode`` / ``chat_type`` where an answer carries them (lark-cli's +chat-list shows
    ``chat_mode``); ``raw`` is the item as sent."""

    chat_id: str
    name: Optional[str] = None
    description: Optional[str] = None
    avatar: Optional[str] = None
    owner_id: Optional[str] = None  # none when a bot owns the chat (the list document)
    owner_id_type: Optional[str] = None  # follows user_id_type, open_id by default
    external: Optional[bool] = None  # a chat with people of other tenants
    tenant_key: Optional[str] = None
    chat_status: Optional[str] = None  # normal, dissolved or dissolved_save
    chat_mode: Optional[str] = None  # group, topic or p2p
    chat_type: Optional[str] = None  # private or public
    raw: Dict[str, Any] = attr.field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> "Chat":
        external = item.get("external")
        return cls(
            chat_id=str(item.get("chat_id") or ""),
            name=_str(item.get("name")),
            description=_str(item.get("description")),
            avatar=_str(item.get("avatar")),
            owner_id=_str(item.get("owner_id")),
            owner_id_type=_str(item.get("owner_id_type")),
            external=external if isinstance(external, bool) else None,
            tenant_key=_str(item.get("tenant_key")),
            chat_status=_str(item.get("chat_status")),
            chat_mode=_str(item.get("chat_mode")),
            chat_type=_str(item.get("chat_type")),
            raw=dict(item),
        )

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready: the fields that have a value (``chat_id`` and ``name`` always)."""
        data = attr.asdict(self, filter=lambda a, v: a.name != "raw" and (v is not None or a.name == "name"))
        return data


@attr.frozen
class MessagePage:
    """One page of a history (``Client.list_messages_page``): its messages, and the token
    of the next page (None after the last), to pass as ``page_token`` now or in a later run."""

    messages: Tuple[Message, ...]
    page_token: Optional[str] = None

    @property
    def has_more(self) -> bool:
        return self.page_token is not None
