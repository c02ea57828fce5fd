"""Which keys in a message's content can be downloaded, and as which ``type``.

The resource API serves two types: ``image`` (image_key) and ``file`` (file_key of files,
audio and video). Stickers, folders and cards carry keys too, but the API does not serve
them, so they are left out rather than offered and refused.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

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


# -- plain text ------------------------------------------------------------------------------
#
# What a message says, as plain text, for each msg_type of the receive-content document
# ("接收消息内容结构"), read as lark-cli's convert_lib reads it (shortcuts/im/convert_lib:
# content_convert.go lists the converters; text.go the post, card.go the card, media.go and
# misc.go the rest). lark-cli writes Markdown and XML-ish tags for agents; these are plain
# lines for people and grep: the words kept, the markup left out, a short bracketed
# placeholder where a message is an attachment or a card of another app.

# Posts come keyed by locale or not (``_post_elements``); lark-cli's unwrapPostLocale order.
_LOCALES = ("zh_cn", "en_us", "ja_jp")


def plain_text(msg_type: Optional[str], content: Dict[str, Any], deleted: bool = False) -> Optional[str]:
    """The message as plain text, None for a recalled one (seed 001: its content is gone).

    A text message's ``text`` as sent (``@_user_1`` keys and all: ``Message.text`` has always
    been that); a post's title and paragraphs; a card's title and text elements; other types
    a short placeholder (``[Image]``, ``[File: a.pdf]``), as lark-cli's converters write them.
    """
    if deleted:
        return None
    if msg_type == "merge_forward":  # its content is a fixed sentence; the children say the rest
        return "[Merged and forwarded messages]"
    convert = _CONVERTERS.get(msg_type or "")
    if convert is None:  # text, a red packet's greeting, and any type not known here
        text = content.get("text")
        if isinstance(text, str):
            return text
        return "[%s]" % msg_type if content and msg_type not in ("text", None) else None
    return (convert(content) or None) if content else None


def _post_text(content: Dict[str, Any]) -> str:
    """Title, then one line per paragraph (text.go's postConverter)."""
    body = post_body(content)
    lines = [body["title"]] if isinstance(body.get("title"), str) and body["title"] else []
    blocks = body.get("content")
    for paragraph in blocks if isinstance(blocks, list) else []:
        elements = paragraph if isinstance(paragraph, list) else [paragraph]
        lines.append("".join(_element_text(e) for e in elements if isinstance(e, dict)))
    return "\n".join(lines).strip()


def post_body(content: Dict[str, Any]) -> Dict[str, Any]:
    if "content" in content or "title" in content:
        return content
    for locale in _LOCALES + tuple(sorted(content)):
        value = content.get(locale)
        if isinstance(value, dict):
            return value
    return {}


def _element_text(element: Dict[str, Any]) -> str:
    """One inline element of a post or of a card row (text.go's renderPostElem, as plain text)."""
    tag, text = element.get("tag"), element.get("text")
    text = text if isinstance(text, str) else ""
    if tag == "a":
        href = element.get("href")
        return text or (href if isinstance(href, str) else "")
    if tag == "at":
        name, who = element.get("user_name"), element.get("user_id")
        if who in ("@_all", "all"):
            return "@all"
        return "@" + str(name or who or "")
    if tag == "emotion":
        emoji = element.get("emoji_type")
        return ":%s:" % emoji if emoji else ""
    if tag == "img":
        return "[Image]"
    if tag == "media":
        return "[Video]"
    if tag == "code_block":
        return "\n" + text + "\n" if text else ""
    if tag in ("button", "hr", "select_static", "overflow"):
        return ""  # controls and rules: no words a reader needs
    return text


def _card_text(content: Dict[str, Any]) -> str:
    """The card as message get returns it (seed 001: not the JSON it was sent as; a title
    and rows of elements), or a card JSON of the older shape (header.title, elements):
    card.go's convertLegacyCard. Buttons and other controls are left out."""
    lines: List[str] = []
    title = content.get("title")
    header = content.get("header")
    if not title and isinstance(header, dict) and isinstance(header.get("title"), dict):
        title = header["title"].get("content")
    if isinstance(title, str) and title:
        lines.append(title)
    _card_rows(content.get("elements"), lines)
    return "\n".join(line for line in lines if line.strip()) or "[Card]"


def _card_rows(elements: Any, lines: List[str]) -> None:
    for row in elements if isinstance(elements, list) else []:
        if isinstance(row, list):  # a row of inline elements, as message get returns them
            lines.append("".join(_element_text(e) for e in row if isinstance(e, dict)).strip())
        elif isinstance(row, dict):  # a block of a card JSON (div, markdown, column_set …)
            inner = row.get("text")
            if isinstance(inner, dict) and isinstance(inner.get("content"), str):
                lines.append(inner["content"])
            elif isinstance(row.get("content"), str):
                lines.append(row["content"])
            elif row.get("tag") not in ("button", "action", "hr", "img"):
                lines.append(_element_text(row))
            for key in ("elements", "columns", "actions"):
                _card_rows(row.get(key), lines)


def _named(label: str, key: str) -> Callable[[Dict[str, Any]], str]:
    """``[Label: value]`` with the content's ``key``, ``[Label]`` without one (media.go, misc.go)."""
    def convert(content: Dict[str, Any]) -> str:
        value = content.get(key)
        return "[%s: %s]" % (label, value) if isinstance(value, str) and value else "[%s]" % label
    return convert


def _audio_text(content: Dict[str, Any]) -> str:
    millis = content.get("duration")
    if isinstance(millis, (int, float)) and not isinstance(millis, bool) and millis > 0:
        return "[Voice: %ds]" % round(millis / 1000.0)
    return "[Voice]"


def _system_text(content: Dict[str, Any]) -> str:
    """The template with its names filled in (misc.go's systemConverter)."""
    template = content.get("template")
    if not isinstance(template, str) or not template:
        return "[System message]"
    for key in ("from_user", "to_chatters"):
        names = content.get(key)
        names = [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
        template = template.replace("{%s}" % key, ", ".join(names))
    divider = content.get("divider_text")
    divider = divider.get("text") if isinstance(divider, dict) else None
    template = template.replace("{divider_text}", divider if isinstance(divider, str) else "")
    return " ".join(template.split())


def _vote_text(content: Dict[str, Any]) -> str:
    topic = content.get("topic")
    options = content.get("options")
    lines = [topic] if isinstance(topic, str) and topic else ["[Vote]"]
    lines += ["• " + o for o in (options if isinstance(options, list) else []) if isinstance(o, str) and o]
    if content.get("status") not in (None, 0):  # misc.go: status 0 is open
        lines.append("(Closed)")
    return "\n".join(lines)


def _todo_text(content: Dict[str, Any]) -> str:
    summary = content.get("summary")
    if not isinstance(summary, dict):
        return "[Todo]"
    text = _post_text({"title": summary.get("title"), "content": summary.get("content")})
    return text or "[Todo]"


_CONVERTERS: Dict[str, Callable[[Dict[str, Any]], str]] = {
    "post": _post_text,
    "interactive": _card_text,
    "image": lambda c: "[Image]",
    "file": _named("File", "file_name"),
    "audio": _audio_text,
    "media": _named("Video", "file_name"),
    "video": _named("Video", "file_name"),
    "sticker": lambda c: "[Sticker]",
    "share_chat": _named("Chat card", "chat_id"),
    "share_user": _named("User card", "user_id"),
    "location": _named("Location", "name"),
    "folder": _named("Folder", "file_name"),
    "share_calendar_event": _named("Calendar event", "summary"),
    "calendar": _named("Calendar invitation", "summary"),
    "general_calendar": _named("Calendar", "summary"),
    "video_chat": _named("Video call", "topic"),
    "system": _system_text,
    "vote": _vote_text,
    "todo": _todo_text,
}
