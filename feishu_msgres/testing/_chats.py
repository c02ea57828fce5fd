"""The chats the emulator knows, and the two endpoints that list them.

"获取用户或机器人所在的群列表" (GET /open-apis/im/v1/chats, open.feishu.cn/document/server-docs/
im-v1/chat/list) lists the groups the token's bot or user is in, never p2p chats, paged
(page_size up to 100, default 20); "搜索对用户或机器人可见的群列表" (GET /open-apis/im/v1/chats/
search, …/im-v1/chat/search) finds, by keyword, chats visible to it: its own and public ones.
Both answer ``{"items": [ListChat…], "page_token", "has_more"}`` (lark-oapi's
ListChatResponseBody, SearchChatResponseBody) with the fields of lark-oapi's ``ListChat``
(chat_id, avatar, name, description, owner_id, owner_id_type, external, tenant_key) and the
list document's chat_status; ``owner_id`` follows ``user_id_type`` and is absent when a bot
owns the chat ("群主为机器人时无返回值").

A chat is known when ``add_chat`` adds it or when a message names it (its name is then its
id). A chat added with ``member=False`` is one the app is not in: left out of the list,
found by a search only if public, and its messages and files refused as the documents
refuse them (seed 001: 230002 "The bot can not be outside the group."; seed 000: 234004
"App not in chat.").
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from ._users import USER_ID_TYPES, Directory

CHATS_PATH = "/open-apis/im/v1/chats"
CHAT_SEARCH_PATH = "/open-apis/im/v1/chats/search"
MAX_PAGE = 100  # both documents: page_size at most 100
DEFAULT_PAGE = 20  # both documents: 20 when not given
# The avatar of the chat get document's answer example: what a chat without its own shows.
DEFAULT_AVATAR = ("https://p3-lark-file.byteimg.com/img/lark-avatar-staging/"
                  "default-avatar_44ae0ca3-e140-494b-956f-78091e348435~100x100.jpg")
# The group API's error codes (the chat documents' "错误码" tables): 232001 for a bad
# parameter, 232015 for a user_id_type it does not take.
INVALID_PARAM = "Your request contains an invalid request parameter."
BAD_ID_TYPE = "Your request specifies a member_id_type which is NOT supported."


def new_chat(chat_id: str, name: Optional[str] = None, description: str = "", owner_id: Optional[str] = None,
             external: bool = False, chat_status: str = "normal", chat_mode: str = "group",
             chat_type: str = "private", member: bool = True, tenant_key: str = "tk_emulator") -> Dict[str, Any]:
    """A chat as stored: what the answers show, and whether the app is in it."""
    if chat_mode not in ("group", "topic", "p2p") or chat_type not in ("private", "public"):
        raise ValueError("chat_mode is group, topic or p2p; chat_type private or public")
    return {"chat_id": chat_id, "name": chat_id if name is None else name, "description": description,
            "owner_id": owner_id, "external": external, "chat_status": chat_status, "chat_mode": chat_mode,
            "chat_type": chat_type, "member": member, "tenant_key": tenant_key}


def known_chats(chats: Dict[str, Dict[str, Any]], messages: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Every chat, added ones first in the order added, then those only messages name."""
    found = list(chats.values())
    seen = set(chats)
    for item in messages.values():
        chat_id = item.get("chat_id")
        if isinstance(chat_id, str) and chat_id and chat_id not in seen:
            seen.add(chat_id)
            found.append(new_chat(chat_id))
    return found


def outside(chats: Dict[str, Dict[str, Any]], chat_id: Any) -> bool:
    """Whether the app is not in ``chat_id`` (added with ``member=False``)."""
    chat = chats.get(chat_id) if isinstance(chat_id, str) else None
    return chat is not None and not chat["member"]


def answer_chats(handler: Any, kind: str, query: Dict[str, str]) -> None:
    """The chat list (``kind`` "chats") or search ("chat_search") on ``handler``'s wire."""
    emu = handler.emulator
    id_type = query.get("user_id_type", "open_id")
    if id_type not in USER_ID_TYPES:
        handler._error(400, 232015, BAD_ID_TYPE)
        return
    try:
        page_size = int(query.get("page_size", str(DEFAULT_PAGE)))
        offset = int(query.get("page_token", "ct_0")[3:])
    except ValueError:
        page_size = offset = -1
    if not 1 <= page_size <= MAX_PAGE or offset < 0:
        handler._error(400, 232001, INVALID_PARAM)
        return
    with emu._lock:
        chats = known_chats(emu._chats, emu._messages)
    if kind == "chats":  # the list: groups the app is in, never p2p chats (the list document)
        chats = [c for c in chats if c["member"] and c["chat_mode"] != "p2p"]
    else:  # the search: its own chats and public ones whose name holds the keyword; none for an empty one
        words = query.get("query", "").strip().casefold()
        chats = [c for c in chats if words and words in c["name"].casefold() and c["chat_mode"] != "p2p"
                 and (c["member"] or c["chat_type"] == "public")]
    page = [shown(c, id_type, emu.users) for c in chats[offset:offset + page_size]]
    more = offset + page_size < len(chats)
    token = "ct_%d" % (offset + page_size) if more else ""
    data: Dict[str, Any] = {"items": page, "has_more": more, "page_token": token}
    handler._json(200, {"code": 0, "msg": "success", "data": data})


def shown(chat: Dict[str, Any], id_type: str, users: Directory) -> Dict[str, Any]:
    """One item of an answer: ListChat's fields, the owner's id as ``user_id_type`` asks."""
    item = {"chat_id": chat["chat_id"], "avatar": DEFAULT_AVATAR, "name": chat["name"],
            "description": chat["description"], "external": chat["external"], "tenant_key": chat["tenant_key"],
            "chat_status": chat["chat_status"]}
    if chat["owner_id"]:  # absent when a bot owns the chat
        item.update(owner_id=users.ids(chat["owner_id"])[id_type], owner_id_type=id_type)
    return item
