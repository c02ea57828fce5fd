"""The ``--data`` file of ``feishu-msgres emulator``: chats, messages and their files, as JSON.

::

    {
      "chats": [{"chat_id": "oc_team", "name": "Team", "description": "", "owner_id": "ou_1",
                 "external": false, "public": false, "member": true}],
      "messages": [
        {"chat_id": "oc_team", "msg_type": "text", "content": {"text": "hello"}},
        {"chat_id": "oc_team", "msg_type": "file",
         "resources": [{"file_key": "file_1", "path": "files/report.pdf"}]},
        {"chat_id": "oc_team", "msg_type": "merge_forward",
         "children": [{"msg_type": "image", "resources": [{"file_key": "img_1", "path": "cat.png"}]}]}
      ],
      "realistic_chats": [{"chat_id": "oc_busy", "n": 150, "seed": 0}]
    }

A message takes ``msg_type`` and ``content`` (an object, as the receive-content document has
it, or a string), and may name ``message_id``, ``chat_id`` (default: the first chat's, else
``oc_emulator``), ``sender_id``, ``create_time`` (epoch milliseconds or ISO 8601; default one
minute after the message before, from 2024-06-01T00:00:00Z), ``root_id``, ``parent_id``,
``thread_id``, ``deleted``, ``resources`` and ``children`` (the messages a merge_forward
holds). A resource's bytes come from ``path`` (relative to the JSON file) or ``text``
(UTF-8); ``type`` is ``image`` for ``img_`` keys and ``file`` otherwise unless given;
``content_type`` is guessed from the name. A file or image message without ``content`` gets
the content its first resource implies. Unknown keys are refused, so a typo is not silently
ignored.
"""
from __future__ import annotations

import datetime
import json
import mimetypes
import os
from typing import Any, Dict, List, Mapping, Optional, Set

START_MS = 1717200000000  # 2024-06-01T00:00:00Z: where a file's messages start, a minute apart
_TOP = {"chats", "messages", "realistic_chats"}
_CHAT = {"chat_id", "name", "description", "owner_id", "external", "public", "member", "chat_status"}
_MESSAGE = {"message_id", "chat_id", "msg_type", "content", "sender_id", "create_time", "root_id", "parent_id",
            "thread_id", "deleted", "resources", "children"}
_RESOURCE = {"file_key", "type", "path", "text", "content_type", "filename"}
_REALISTIC = {"chat_id", "n", "seed"}


class DataError(ValueError):
    """What is wrong with a data file, in one line that names the place."""


class Data:
    """A data file read and checked: its parts, each resource's bytes already loaded."""

    def __init__(self, path: str, chats: List[Dict[str, Any]], messages: List[Dict[str, Any]],
                 realistic: List[Dict[str, Any]]) -> None:
        self.path, self.chats, self.messages, self.realistic = path, chats, messages, realistic


def load(path: str) -> Data:
    """Read ``path``; a ``DataError`` says what is wrong and where."""
    try:
        with open(path, "rb") as handle:
            top = json.loads(handle.read().decode("utf-8"))
    except OSError as exc:
        raise DataError("cannot read %s: %s" % (path, exc.strerror or exc)) from None
    except ValueError as exc:  # JSON, or UTF-8
        raise DataError("%s is not JSON: %s" % (path, exc)) from None
    base = os.path.dirname(os.path.abspath(path))
    _check(path, top, _TOP)
    chats = [_chat("%s: chats[%d]" % (path, i), c) for i, c in enumerate(_list(path, top, "chats"))]
    default_chat = chats[0]["chat_id"] if chats else "oc_emulator"
    clock = [START_MS]
    messages = [_message("%s: messages[%d]" % (path, i), m, base, default_chat, clock)
                for i, m in enumerate(_list(path, top, "messages"))]
    realistic = [_realistic("%s: realistic_chats[%d]" % (path, i), r)
                 for i, r in enumerate(_list(path, top, "realistic_chats"))]
    if not (chats or messages or realistic):
        raise DataError("%s holds no chats, messages or realistic_chats" % path)
    return Data(path, chats, messages, realistic)


def fill(emu: Any, data: Data) -> None:
    """Put ``data`` into the emulator ``emu``."""
    for chat in data.chats:
        emu.add_chat(**chat)
    for message in data.messages:
        _add(emu, message, None)
    for spec in data.realistic:
        emu.add_realistic_chat(spec["chat_id"], spec["n"], spec["seed"])


def _add(emu: Any, message: Dict[str, Any], upper: Optional[str]) -> None:
    fields = {k: v for k, v in message.items() if k not in ("resources", "children", "msg_type", "content")}
    message_id = emu.add_message(message["msg_type"], message["content"], upper_message_id=upper, **fields)
    resources, children = message["resources"], message["children"]
    for res in resources:
        emu.add_resource(message_id, res["file_key"], res["data"], type=res["type"],
                         content_type=res["content_type"], filename=res["filename"])
    for child in children:
        _add(emu, child, message_id)


# -- checks --------------------------------------------------------------------------------


def _check(where: str, value: Any, allowed: Set[str]) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise DataError("%s: an object {...} is expected" % where)
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise DataError("%s: unknown key(s) %s (known: %s)" % (where, ", ".join(unknown), ", ".join(sorted(allowed))))
    return value


def _list(where: str, value: Mapping[str, Any], key: str) -> List[Any]:
    items = value.get(key, [])
    if not isinstance(items, list):
        raise DataError("%s: %s must be a list [...]" % (where, key))
    return items


def _text(where: str, value: Mapping[str, Any], key: str, default: Optional[str] = None) -> Optional[str]:
    found = value.get(key, default)
    if found is not None and (not isinstance(found, str) or not found):
        raise DataError("%s: %s must be a non-empty string" % (where, key))
    return found


def _flag(where: str, value: Mapping[str, Any], key: str, default: bool) -> bool:
    found = value.get(key, default)
    if not isinstance(found, bool):
        raise DataError("%s: %s must be true or false" % (where, key))
    return found


def _chat(where: str, value: Any) -> Dict[str, Any]:
    value = _check(where, value, _CHAT)
    if _text(where, value, "chat_id") is None:
        raise DataError("%s: chat_id is required" % where)
    description = value.get("description", "")
    if not isinstance(description, str):
        raise DataError("%s: description must be a string" % where)
    return {"chat_id": value["chat_id"], "name": _text(where, value, "name"), "description": description,
            "owner_id": _text(where, value, "owner_id"), "external": _flag(where, value, "external", False),
            "chat_type": "public" if _flag(where, value, "public", False) else "private",
            "member": _flag(where, value, "member", True),
            "chat_status": _text(where, value, "chat_status", "normal")}


def _message(where: str, value: Any, base: str, chat_id: str, clock: List[int]) -> Dict[str, Any]:
    value = _check(where, value, _MESSAGE)
    msg_type = _text(where, value, "msg_type")
    if msg_type is None:
        raise DataError("%s: msg_type is required (text, post, image, file …)" % where)
    resources = [_resource("%s.resources[%d]" % (where, i), r, base)
                 for i, r in enumerate(_list(where, value, "resources"))]
    content = value.get("content")
    if content is None:
        content = _implied_content(where, msg_type, resources)
    if not isinstance(content, (dict, str)):
        raise DataError("%s: content must be an object or a string" % where)
    clock[0] = _millis(where, value.get("create_time"), clock[0] + 60000)
    message: Dict[str, Any] = {"msg_type": msg_type, "content": content, "resources": resources,
                               "chat_id": _text(where, value, "chat_id", chat_id), "create_time": clock[0],
                               "deleted": _flag(where, value, "deleted", False)}
    for key in ("message_id", "sender_id", "root_id", "parent_id", "thread_id"):
        if _text(where, value, key) is not None:
            message[key] = value[key]
    message["children"] = [_message("%s.children[%d]" % (where, i), c, base, message["chat_id"], clock)
                           for i, c in enumerate(_list(where, value, "children"))]
    return message


def _implied_content(where: str, msg_type: str, resources: List[Dict[str, Any]]) -> Dict[str, Any]:
    """What an image or file message says, from its first resource (the receive-content
    document: image_key; file_key and file_name)."""
    if not resources or msg_type not in ("image", "file", "audio", "media"):
        raise DataError("%s: content is required" % where)
    first = resources[0]
    if msg_type == "image":
        return {"image_key": first["file_key"]}
    return {"file_key": first["file_key"], "file_name": first["filename"] or first["file_key"]}


def _millis(where: str, value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        try:
            when = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:  # without an offset: UTC, so that a file means the same on every machine
            when = when if when.tzinfo else when.replace(tzinfo=datetime.timezone.utc)
            return int(when.timestamp() * 1000)
    raise DataError("%s: create_time must be epoch milliseconds or ISO 8601, not %r" % (where, value))


def _resource(where: str, value: Any, base: str) -> Dict[str, Any]:
    value = _check(where, value, _RESOURCE)
    key = _text(where, value, "file_key")
    if key is None:
        raise DataError("%s: file_key is required" % where)
    kind = _text(where, value, "type", "image" if key.startswith("img_") else "file")
    if kind not in ("image", "file"):
        raise DataError("%s: type is image or file, not %r" % (where, kind))
    path, text = value.get("path"), value.get("text")
    if (path is None) == (text is None):
        raise DataError("%s: give \"path\" (a file, relative to the JSON file) or \"text\", one of them" % where)
    if path is not None:
        data = _read(where, os.path.join(base, str(path)))
    elif isinstance(text, str):
        data = text.encode("utf-8")
    else:
        raise DataError("%s: text must be a string" % where)
    name = _text(where, value, "filename", os.path.basename(str(path)) if path and kind == "file" else None)
    guessed = mimetypes.guess_type(name or str(path or ""))[0]
    default_type = guessed or ("text/plain; charset=utf-8" if text is not None else "application/octet-stream")
    return {"file_key": key, "type": kind, "data": data, "filename": name,
            "content_type": _text(where, value, "content_type", default_type)}


def _read(where: str, path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise DataError("%s: cannot read %s: %s" % (where, path, exc.strerror or exc)) from None


def _realistic(where: str, value: Any) -> Dict[str, Any]:
    value = _check(where, value, _REALISTIC)
    n, seed = value.get("n", 150), value.get("seed", 0)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 5000 or not isinstance(seed, int):
        raise DataError("%s: n is a whole number from 1 to 5000, seed a whole number" % where)
    return {"chat_id": _text(where, value, "chat_id", "oc_realistic"), "n": n, "seed": seed}
