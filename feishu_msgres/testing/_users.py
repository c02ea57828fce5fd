"""The people behind the ids, and a stored message as one caller sees it.

Seed 001 ("查询参数" user_id_type; "响应体" sender.id_type and mentions.id): a user has three
ids, open_id (per app), union_id (per developer) and user_id (per tenant); the caller picks
which one answers carry with ``user_id_type``, open_id by default. A sender that is an app
keeps its app_id whatever is asked; a mentioned bot keeps its app_id too.
"""
from __future__ import annotations

import hashlib
import threading
from typing import Any, Dict, Optional

USER_ID_TYPES = ("open_id", "union_id", "user_id")  # seed 001: the values user_id_type takes


def derived_ids(open_id: str) -> Dict[str, str]:
    """The three ids of a user known only by open_id: union_id and user_id made up from it,
    the same each time (``on_`` and 32 hex digits as union ids look; 8 for a user id)."""
    digest = hashlib.sha256(open_id.encode("utf-8")).hexdigest()
    return {"open_id": open_id, "union_id": "on_" + digest[:32], "user_id": digest[32:40]}


class Directory:
    """open_id -> that user's three ids: the ones given, the rest derived."""

    def __init__(self) -> None:
        self._users: Dict[str, Dict[str, str]] = {}
        self._lock = threading.Lock()

    def add(self, open_id: str, union_id: Optional[str] = None, user_id: Optional[str] = None) -> Dict[str, str]:
        ids = derived_ids(open_id)
        ids.update({k: v for k, v in (("union_id", union_id), ("user_id", user_id)) if v})
        with self._lock:
            self._users[open_id] = ids
        return dict(ids)

    def ids(self, open_id: str) -> Dict[str, str]:
        with self._lock:
            known = self._users.get(open_id)
        return dict(known) if known else derived_ids(open_id)


def as_seen(item: Dict[str, Any], user_id_type: str, directory: Directory, mentions: bool = True) -> Dict[str, Any]:
    """``item`` with the sender's (and, with ``mentions``, each mentioned user's) open_id
    replaced by the id ``user_id_type`` asks for, and that type as its id_type; the stored
    item is left as it is. Ids stored as anything but open_id (app_id) are kept."""
    if user_id_type == "open_id":
        return item
    seen = dict(item)
    sender = item.get("sender")
    if isinstance(sender, dict):
        seen["sender"] = _person(sender, user_id_type, directory)
    if mentions and isinstance(item.get("mentions"), list):
        seen["mentions"] = [_person(m, user_id_type, directory) if isinstance(m, dict) else m
                            for m in item["mentions"]]
    return seen


def _person(who: Dict[str, Any], user_id_type: str, directory: Directory) -> Dict[str, Any]:
    if who.get("id_type") != "open_id" or not isinstance(who.get("id"), str):
        return who
    return dict(who, id=directory.ids(who["id"])[user_id_type], id_type=user_id_type)
