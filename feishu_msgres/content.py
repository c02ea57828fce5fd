"""Which keys in a message's content can be downloaded, and as which ``type``.

The resource API serves two types: ``image`` (image_key) and ``file`` (file_key of files,
audio and video). Stickers, folders and cards carry keys too, but the API does not serve
them, so they are left out rather than offered and refused.
"""
from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List, Optional, Tuple

# (file_key, type, name)
Found = Tuple[str, str, Optional[str]]


def parse_content(raw: Any) -> Dict[str, Any]:
    """``body.content`` is JSON in a string; anything else (recalled, cards, junk) gives {}."""
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str) or not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def find_resources(msg_type: Optional[str], content: Dict[str, Any]) -> List[Found]:
    """The downloadable keys of one message, in content order, each once."""
    found: List[Found] = []
    if msg_type == "image":
        found += _image(content.get("image_key"))
    elif msg_type in ("file", "audio"):
        found += _file(content.get("file_key"), content.get("file_name"))
    elif msg_type in ("media", "video"):  # "video": sent by the service too; lark-cli reads it as media
        found += _file(content.get("file_key"), content.get("file_name"))
        found += _image(content.get("image_key"))  # the video's cover
    elif msg_type == "post":
        for element in _post_elements(content):
            tag = element.get("tag")
            if tag == "img":
                found += _image(element.get("image_key"))
            elif tag == "media":
                found += _file(element.get("file_key"), element.get("file_name"))
                found += _image(element.get("image_key"))
    unique: List[Found] = []
    seen = set()
    for item in found:
        if item[:2] not in seen:
            seen.add(item[:2])
            unique.append(item)
    return unique


def _image(key: Any) -> List[Found]:
    return [(key, "image", None)] if isinstance(key, str) and key else []


def _file(key: Any, name: Any) -> List[Found]:
    if not (isinstance(key, str) and key):
        return []
    return [(key, "file", name if isinstance(name, str) and name else None)]


def _post_elements(node: Any) -> Iterator[Dict[str, Any]]:
    """Every element with a ``tag`` in a post, whatever its nesting.

    A post comes either as ``{"title", "content": [[...]]}`` or keyed by locale
    (``{"zh_cn": {...}, "en_us": {...}}``); walking the whole tree handles both.
    """
    if isinstance(node, dict):
        if "tag" in node:
            yield node
        for value in node.values():
            if isinstance(value, (dict, list)):
                yield from _post_elements(value)
    elif isinstance(node, list):
        for value in node:
            yield from _post_elements(value)
