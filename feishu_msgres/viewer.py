"""An export you can look at: ``index.html`` beside the manifest, read offline from ``file://``.

The page shows the chat's messages in order, with sender and time (UTC), text and rich text,
images inline, files, audio and video linked to the saved files, forwarded messages nested,
recalled messages and refused or failed files marked. A chat with messages in more than one
month (or with many messages) gets one page a month, ``YYYY-MM.html``, and an index.

Everything from the service is untrusted: every string is escaped, links go only to the
export's own saved files (never to a URL from a message: a post's ``javascript:`` link shows
as text), the pages hold no script, and a Content-Security-Policy forbids scripts and
anything from the network. The pages are built from ``messages.jsonl`` and
``manifest.jsonl`` alone, so a rerun of the export rewrites them with all exported so far.

``build_pages`` and ``render_message`` are pure (data in, HTML out); ``write_pages`` reads an
export folder and writes its pages, each to a new file moved into place, never through a link.
"""
from __future__ import annotations

import datetime
import html
import json
import os
import posixpath
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple
from urllib.parse import quote

from ._exportdir import write_text
from .content import post_body
from .manifest import MANIFEST, MESSAGES, STATE, Key, ManifestLine, read_lines
from .models import Message, Resource

_UTC = datetime.timezone.utc
_NEVER = datetime.datetime.min.replace(tzinfo=_UTC)

INDEX = "index.html"
SPLIT_OVER = 1000  # messages: a chat with more (or over more than one month) gets a page a month
# On file:// Chromium does not take the page's own folder as 'self': images and media come from file:.
CSP = ("default-src 'none'; img-src 'self' file: data:; media-src 'self' file:; style-src 'unsafe-inline'; "
       "base-uri 'none'; form-action 'none'")
STYLE = """
body{font-family:system-ui,sans-serif;max-width:860px;margin:1em auto;padding:0 1em;color:#1f2329}
nav a{margin-right:.8em}
.msg{border-bottom:1px solid #e5e6eb;padding:.5em 0}
.meta{color:#646a73;font-size:90%}
.who{font-weight:600;color:#1f2329}
.body{white-space:pre-wrap;overflow-wrap:anywhere;margin:.3em 0}
.forwarded{border-left:3px solid #bbbfc4;margin:.4em 0 .4em .4em;padding-left:.8em}
.mark{display:inline-block;border-radius:3px;padding:0 .3em;font-size:85%;background:#fff3e8;color:#b24d00}
.recalled .body{color:#8f959e;font-style:italic}
img{max-width:100%;max-height:480px;display:block;margin:.3em 0}
video{max-width:100%;max-height:480px}
.href,code{font-family:monospace;color:#646a73}
"""


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


class _Lookup:
    """What a message's resources became (the manifest's last line for each), and which
    merge_forwards' children could not be read."""

    def __init__(self, lines: Mapping[Key, ManifestLine], children_errors: Optional[Mapping[str, str]] = None):
        self.lines = lines
        self.children_errors = children_errors or {}


def safe_path(saved_path: Optional[str]) -> Optional[str]:
    """A manifest's ``saved_path`` as a relative link, or None if it would leave ``files/``."""
    if not saved_path or "\\" in saved_path or saved_path.startswith("/"):
        return None
    parts = saved_path.split("/")
    if parts[0] != "files" or len(parts) < 2 or any(p in ("", ".", "..") for p in parts):
        return None
    return quote(posixpath.join(*parts), safe="/")


def _stamp(message: Message) -> str:
    if message.create_time is None:
        return '<span class="time">no time</span>'
    when = message.create_time.astimezone(_UTC)
    return '<time datetime="%s">%s</time>' % (esc(when.isoformat()), esc(when.strftime("%Y-%m-%dT%H:%M:%SZ")))


def render_resource(res: Resource, lookup: _Lookup) -> str:
    """One file of a message: inline image, audio, video, a link; or why it is not there."""
    line = lookup.lines.get((res.message_id, res.file_key, res.type))
    label = res.name or res.file_key
    if line is None:
        return '<div class="res"><span class="mark">not downloaded yet</span> %s</div>' % esc(label)
    href = safe_path(line.saved_path) if line.saved else None
    if href is None:
        kind = "refused" if line.permanent else "failed"
        code = "" if line.code is None else " (code %s)" % esc(line.code)
        return '<div class="res %s"><span class="mark">%s%s</span> %s: %s</div>' % (
            kind, kind, code, esc(label), esc(line.error or "no saved file"))
    content_type = (line.content_type or "").lower()
    name = esc(posixpath.basename(line.saved_path or "") or label)
    size = "" if line.size_bytes is None else " (%d bytes)" % line.size_bytes
    link = '<a href="%s">%s</a>%s' % (href, name, esc(size))
    if res.type == "image" or content_type.startswith("image/"):
        return '<div class="res"><img src="%s" alt="%s"></div>' % (href, name)
    if content_type.startswith("audio/"):
        return '<div class="res"><audio controls preload="none" src="%s"></audio> %s</div>' % (href, link)
    if content_type.startswith("video/"):
        return '<div class="res"><video controls preload="none" src="%s"></video><br>%s</div>' % (href, link)
    return '<div class="res">%s</div>' % link


def _element(element: Mapping[str, Any], by_key: Dict[str, Resource], lookup: _Lookup, placed: Set[str]) -> str:
    """One inline element of a post: text, a link shown as text (never followed), a mention,
    an image or video in place."""
    tag, text = element.get("tag"), element.get("text")
    text = text if isinstance(text, str) else ""
    if tag == "a":
        href = element.get("href")
        shown = esc(text or href or "")
        return '<u>%s</u> <span class="href">[%s]</span>' % (shown, esc(href)) if href and text else shown
    if tag == "at":
        return esc("@" + str(element.get("user_name") or element.get("user_id") or ""))
    if tag == "emotion":
        return esc(":%s:" % element.get("emoji_type")) if element.get("emoji_type") else ""
    if tag in ("img", "media"):
        key = element.get("file_key") if tag == "media" else element.get("image_key")
        res = by_key.get(key) if isinstance(key, str) else None
        if res is None:
            return "[Image]" if tag == "img" else "[Video]"
        placed.add(res.file_key)
        return "</div>%s<div class=\"body\">" % render_resource(res, lookup)
    if tag == "code_block":
        return "<code>%s</code>" % esc(text)
    if tag in ("button", "hr", "select_static", "overflow"):
        return ""
    return esc(text)


def _post(message: Message, lookup: _Lookup, placed: Set[str]) -> str:
    body = post_body(message.content)
    by_key = {r.file_key: r for r in message.resources}
    out = []
    if isinstance(body.get("title"), str) and body["title"]:
        out.append("<h3>%s</h3>" % esc(body["title"]))
    blocks = body.get("content")
    for paragraph in blocks if isinstance(blocks, list) else []:
        elements = paragraph if isinstance(paragraph, list) else [paragraph]
        inner = "".join(_element(e, by_key, lookup, placed) for e in elements if isinstance(e, dict))
        out.append('<div class="body">%s</div>' % inner)
    return "".join(out).replace('<div class="body"></div>', "")


def _text(message: Message) -> str:
    text = message.text
    if text is None:
        return ""
    for mention in message.mentions:  # "@_user_1" as the name it stands for
        if mention.key and mention.name:
            text = text.replace(mention.key, "@" + mention.name)
    return '<div class="body">%s</div>' % esc(text)


def render_message(message: Message, lookup: _Lookup) -> str:
    """One message as an ``<article>``: who, when, what, its files, its forwarded messages."""
    who = message.sender.id or message.sender.sender_type or "unknown sender"
    marks = []
    if message.deleted:
        marks.append('<span class="mark">recalled</span>')
    if message.updated:
        marks.append('<span class="mark">edited</span>')
    if message.parent_id:
        marks.append('<span class="reply">reply to <code>%s</code></span>' % esc(message.parent_id))
    head = '<div class="meta"><span class="who">%s</span> %s <code>%s</code> %s</div>' % (
        esc(who), _stamp(message), esc(message.msg_type or "?"), " ".join(marks))
    placed: Set[str] = set()
    if message.deleted:
        body = '<div class="body">This message was recalled.</div>'
    elif message.msg_type == "post":
        body = _post(message, lookup, placed)
    else:
        body = _text(message)
    files = "".join(render_resource(r, lookup) for r in message.resources if r.file_key not in placed)
    kids = "".join(render_message(child, lookup) for child in message.children)
    error = lookup.children_errors.get(message.message_id)
    if error:
        kids += '<div class="res"><span class="mark">forwarded messages not read</span> %s</div>' % esc(error)
    if kids:
        kids = '<div class="forwarded">%s</div>' % kids
    cls = "msg recalled" if message.deleted else "msg"
    return '<article class="%s" id="m-%s">%s%s%s%s</article>\n' % (
        cls, esc(message.message_id), head, body, files, kids)


def month_of(message: Message) -> str:
    return message.create_time.astimezone(_UTC).strftime("%Y-%m") if message.create_time else "undated"


def page(title: str, body: str) -> str:
    """A whole page: no script, nothing from the network (the CSP says so too)."""
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">\n'
        '<meta http-equiv="Content-Security-Policy" content="%s">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<title>%s</title>\n<style>%s</style></head>\n<body>\n%s</body></html>\n'
    ) % (esc(CSP), esc(title), STYLE, body)


def _months(messages: List[Message]) -> List[Tuple[str, List[Message]]]:
    by_month: Dict[str, List[Message]] = {}
    for message in messages:
        by_month.setdefault(month_of(message), []).append(message)
    return sorted(by_month.items())


def build_pages(messages: List[Message], lines: Mapping[Key, ManifestLine], title: str = "Chat export",
                children_errors: Optional[Mapping[str, str]] = None,
                split_over: int = SPLIT_OVER) -> Dict[str, str]:
    """File name to HTML: ``index.html``, and a ``YYYY-MM.html`` a month when the chat spans
    more than one month or has more than ``split_over`` messages. Messages in time order."""
    lookup = _Lookup(lines, children_errors)
    ordered = sorted(messages, key=lambda m: (m.create_time is None, m.create_time or _NEVER, m.message_id))
    months = _months(ordered)
    heading = "<h1>%s</h1>\n<p>%d messages, %d files saved. Times are UTC.</p>\n" % (
        esc(title), len(ordered), sum(1 for line in lines.values() if line.saved))
    if len(months) <= 1 and len(ordered) <= split_over:
        nav = "<nav>%s</nav>\n" % "".join('<a href="#%s">%s</a>' % (esc(m), esc(m)) for m, _ in months)
        sections = "".join('<h2 id="%s">%s</h2>\n%s' % (esc(m), esc(m), "".join(render_message(x, lookup) for x in ms))
                           for m, ms in months)
        return {INDEX: page(title, heading + nav + (sections or "<p>No messages yet.</p>\n"))}
    pages = {}
    names = [m for m, _ in months]
    for i, (month, ms) in enumerate(months):
        links = ['<a href="%s">index</a>' % INDEX]
        if i > 0:
            links.append('<a href="%s.html">&larr; %s</a>' % (quote(names[i - 1]), esc(names[i - 1])))
        if i + 1 < len(names):
            links.append('<a href="%s.html">%s &rarr;</a>' % (quote(names[i + 1]), esc(names[i + 1])))
        nav = "<nav>%s</nav>\n" % "".join(links)
        body = "<h1>%s &middot; %s</h1>\n%s%s%s" % (esc(title), esc(month), nav,
                                                    "".join(render_message(m, lookup) for m in ms), nav)
        pages[month + ".html"] = page("%s %s" % (title, month), body)
    rows = "".join('<li><a href="%s.html">%s</a> (%d messages)</li>\n' % (quote(m), esc(m), len(ms))
                   for m, ms in months)
    pages[INDEX] = page(title, heading + "<ul>\n%s</ul>\n" % rows)
    return pages


def load(folder: str) -> Tuple[List[Message], Dict[Key, ManifestLine], Dict[str, str], str]:
    """An export folder's messages (the last line of an id wins), the manifest's last line
    for each resource, the merge_forwards whose children could not be read, and a title."""
    messages: Dict[str, Message] = {}
    children_errors: Dict[str, str] = {}
    for data in read_lines(os.path.join(folder, MESSAGES)):
        if isinstance(data.get("message_id"), str):
            messages[data["message_id"]] = Message.from_dict(data)
            children_errors.pop(data["message_id"], None)
            if data.get("children_error"):
                children_errors[data["message_id"]] = str(data["children_error"])
    lines: Dict[Key, ManifestLine] = {}
    for data in read_lines(os.path.join(folder, MANIFEST)):
        line = ManifestLine.from_dict(data)
        if line is not None:
            lines[line.key] = line
    try:
        with open(os.path.join(folder, STATE), encoding="utf-8") as f:
            state = json.load(f)
        chat = state.get("chat_id") if isinstance(state, dict) else None
    except (OSError, ValueError):
        chat = None
    title = "Chat %s" % chat if chat else "Chat export"
    return list(messages.values()), lines, children_errors, title


def write_pages(folder: str, split_over: int = SPLIT_OVER) -> str:
    """Write (or rewrite) the export folder's pages from what it holds; the index's path."""
    messages, lines, children_errors, title = load(folder)
    for name, text in build_pages(messages, lines, title, children_errors, split_over).items():
        write_text(os.path.join(folder, name), text)
    return os.path.join(folder, INDEX)


