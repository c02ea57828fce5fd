"""What the API returns, as frozen attrs classes built by ``from_api(dict)``.

Parsing is forgiving on purpose: unknown fields are kept in ``raw`` and ignored, unknown
msg_types parse with no resources, and keys may be snake_case or camelCase (gateways differ).
"""
from __future__ import annotations

import datetime as _dt
import os
from collections import defaultdict
from typing import Any, Dict, FrozenSet, Iterator, List, Mapping, Optional, Tuple

import attr

from .content import find_resources, parse_content, plain_text


def _pick(data: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        value = data.get(name)
        if value is not None:
            return value
    return None


def _str(value: Any) -> Optional[str]:
    return None if value is None or value == "" else str(value)


def _time(value: Any) -> Optional[_dt.datetime]:
    """Milliseconds since the epoch (as the API's string) to an aware UTC datetime."""
    try:
        millis = int(value)
    except (TypeError, ValueError):
        return None
    return _dt.datetime.fromtimestamp(millis / 1000.0, tz=_dt.timezone.utc)


def _iso_time(value: Any) -> Optional[_dt.datetime]:
    """``to_dict``'s ISO 8601 string back to an aware datetime (a naive one is taken as UTC)."""
    if not isinstance(value, str):
        return None
    try:
        when = _dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=_dt.timezone.utc)


def _maybe_str(value: Any) -> Optional[str]:
    """``to_dict``'s strings as they are (``_str`` would turn ``""`` into ``None``)."""
    return None if value is None else str(value)


def _mappings(value: Any) -> List[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, (list, tuple)) else []


@attr.frozen
class Sender:
    id: Optional[str]
    id_type: Optional[str]
    sender_type: Optional[str]
    tenant_key: Optional[str]

    @classmethod
    def from_api(cls, data: Any) -> "Sender":
        data = data if isinstance(data, Mapping) else {}
        return cls(
            id=_str(data.get("id")),
            id_type=_str(_pick(data, "id_type", "idType")),
            sender_type=_str(_pick(data, "sender_type", "senderType")),
            tenant_key=_str(_pick(data, "tenant_key", "tenantKey")),
        )

    @classmethod
    def from_dict(cls, data: Any) -> "Sender":
        """The inverse of ``attr.asdict`` (``Message.to_dict``'s ``sender``)."""
        data = data if isinstance(data, Mapping) else {}
        return cls(*(_maybe_str(data.get(a.name)) for a in attr.fields(cls)))


@attr.frozen
class Mention:
    key: Optional[str]
    id: Optional[str]
    id_type: Optional[str]
    name: Optional[str]
    tenant_key: Optional[str]

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> "Mention":
        return cls(
            key=_str(data.get("key")),
            id=_str(data.get("id")),
            id_type=_str(_pick(data, "id_type", "idType")),
            name=_str(data.get("name")),
            tenant_key=_str(_pick(data, "tenant_key", "tenantKey")),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Mention":
        """The inverse of ``attr.asdict`` (one of ``Message.to_dict``'s ``mentions``)."""
        return cls(*(_maybe_str(data.get(a.name)) for a in attr.fields(cls)))


@attr.frozen
class Resource:
    """One downloadable key of a message: pass it to ``Client.download_resource``."""

    message_id: str
    file_key: str
    type: str  # "image" or "file", the resource API's ``type``
    name: Optional[str] = None  # the file name the content gives, if any
    # The merge_forward message this one was forwarded in (the outermost, the one in the
    # chat): the resource API refuses a forwarded message's own id (234043), and reports
    # from the live service say it serves the key under this one's.
    container_id: Optional[str] = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], message_id: str = "") -> Optional["Resource"]:
        """The inverse of ``attr.asdict``; ``None`` without a key and a type to download by.
        A resource that does not name its message belongs to ``message_id``."""
        file_key, kind = data.get("file_key"), data.get("type")
        if not isinstance(file_key, str) or not isinstance(kind, str):
            return None
        owner = data.get("message_id")
        return cls(owner if isinstance(owner, str) else message_id, file_key, kind, _maybe_str(data.get("name")),
                   _maybe_str(data.get("container_id")))


@attr.frozen
class Message:
    message_id: str
    msg_type: Optional[str]
    chat_id: Optional[str]
    root_id: Optional[str]
    parent_id: Optional[str]
    thread_id: Optional[str]
    upper_message_id: Optional[str]
    create_time: Optional[_dt.datetime]
    update_time: Optional[_dt.datetime]
    deleted: bool
    updated: bool
    sender: Sender
    mentions: Tuple[Mention, ...]
    content: Dict[str, Any] = attr.field(eq=False)
    resources: Tuple[Resource, ...]
    children: Tuple["Message", ...] = ()
    raw: Dict[str, Any] = attr.field(factory=dict, eq=False, repr=False)

    @classmethod
    def from_api(cls, item: Mapping[str, Any], children: Tuple["Message", ...] = (),
                 container_id: Optional[str] = None) -> "Message":
        """One item of the API's answer. A recalled or deleted message keeps its content but
        offers no resources: the service refuses them (230110). ``container_id``: the
        merge_forward message it was forwarded in (else its ``upper_message_id``, if any)."""
        message_id = str(item.get("message_id") or "")
        deleted = bool(item.get("deleted"))
        msg_type = _str(item.get("msg_type"))
        body = item.get("body")
        content = parse_content(body.get("content") if isinstance(body, Mapping) else None)
        mentions = item.get("mentions")
        return cls(
            message_id=message_id,
            msg_type=msg_type,
            chat_id=_str(item.get("chat_id")),
            root_id=_str(item.get("root_id")),
            parent_id=_str(item.get("parent_id")),
            thread_id=_str(item.get("thread_id")),
            upper_message_id=_str(item.get("upper_message_id")),
            create_time=_time(item.get("create_time")),
            update_time=_time(item.get("update_time")),
            deleted=deleted,
            updated=bool(item.get("updated")),
            sender=Sender.from_api(item.get("sender")),
            mentions=tuple(
                Mention.from_api(m) for m in (mentions or []) if isinstance(m, Mapping)
            ),
            content=content,
            resources=() if deleted else tuple(
                Resource(message_id, key, kind, name, container_id or _str(item.get("upper_message_id")))
                for key, kind, name in find_resources(msg_type, content)
            ),
            children=children,
            raw=dict(item),
        )

    @classmethod
    def from_items(cls, items: List[Mapping[str, Any]], message_id: Optional[str] = None) -> "Message":
        """The message ``message_id`` (else the first item) with the rest as its merge_forward
        tree (by ``upper_message_id``). The message get document promises the message and
        its children, not their order.

        A child whose upper message is not in the list hangs under the top message.
        """
        items = [i for i in items if isinstance(i, Mapping)]
        if not items:
            raise ValueError("no message in the answer")
        top = next((i for i in items if message_id and i.get("message_id") == message_id), items[0])
        top_id = top.get("message_id")
        known = {i.get("message_id") for i in items}
        under: Dict[Any, List[Mapping[str, Any]]] = defaultdict(list)
        for item in items:
            if item is not top:
                upper = item.get("upper_message_id")
                under[upper if upper in known and upper != item.get("message_id") else top_id].append(item)
        forwarded_in = _str(top_id) if top.get("msg_type") == "merge_forward" else None

        def build(item: Mapping[str, Any], path: FrozenSet[Any]) -> "Message":
            mid = item.get("message_id")
            kids = tuple(build(k, path | {mid}) for k in under.get(mid, []) if k.get("message_id") not in path)
            return cls.from_api(item, kids, forwarded_in if item is not top else None)

        return build(top, frozenset())

    @classmethod
    def from_event(cls, payload: Any) -> "Message":
        """The message of an ``im.message.receive_v1`` event (an ``events.Event``, the plain
        body, or its ``event``), with its resources, so they can be downloaded. ``raw``: the
        event's ``message`` as sent. Parsing: ``feishu_msgres.events.message_item``."""
        from .events import message_item  # only webhooks need it: kept out of ``import feishu_msgres``

        item, raw = message_item(payload)
        return attr.evolve(cls.from_api(item), raw=raw)

    @property
    def text(self) -> Optional[str]:
        """The message as plain text: a text message's text as sent; a post's title and
        paragraphs; a card's title and text; ``[Image]``, ``[File: name]`` … for the other
        types; None for a recalled one (``content.plain_text``)."""
        return plain_text(self.msg_type, self.content, self.deleted)

    def walk(self) -> Iterator["Message"]:
        """This message, then every merge_forward descendant, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    def _repr_html_(self) -> str:
        """A card in Jupyter: sender, time, type, text and resources, forwarded ones nested."""
        import html  # only notebooks need it: kept out of ``import feishu_msgres``

        esc = html.escape
        when = self.create_time.strftime("%Y-%m-%d %H:%M:%S UTC") if self.create_time else ""
        who = self.sender.id or self.sender.sender_type or "unknown sender"
        flags = "".join(" <em>(%s)</em>" % f for f, on in (("recalled", self.deleted), ("edited", self.updated)) if on)
        body = self.text if self.text is not None else (self.content.get("title") or "")
        rows = "".join(
            "<li><code>%s</code> %s%s</li>"
            % (esc(r.file_key), esc(r.type), " &middot; " + esc(r.name) if r.name else "")
            for r in self.resources)
        kids = "".join(child._repr_html_() for child in self.children)
        return (
            '<div style="border:1px solid #ccc;border-radius:6px;padding:6px 10px;margin:4px 0;font-family:sans-serif">'
            '<div style="color:#666;font-size:90%%">%s &middot; %s &middot; <b>%s</b>%s &middot; <code>%s</code></div>'
            '%s%s%s</div>'
        ) % (esc(who), esc(when), esc(self.msg_type or "?"), flags, esc(self.message_id),
             '<div style="white-space:pre-wrap;margin:4px 0">%s</div>' % esc(str(body)) if body else "",
             "<ul style=\"margin:2px 0\">%s</ul>" % rows if rows else "", kids)

    def to_dict(self) -> Dict[str, Any]:
        """Plain JSON-ready data: times as ISO 8601 strings, children and resources as lists."""
        return attr.asdict(self, filter=_shown, value_serializer=_jsonable)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Message":
        """The inverse of ``to_dict`` (a line of an export's ``messages.jsonl``): times back
        to aware datetimes, sender, mentions, resources and children back to their classes.
        Unknown keys are ignored and missing ones left empty; ``raw`` is not in the data, so
        it comes back empty."""
        message_id = str(data.get("message_id") or "")
        content = data.get("content")
        resources = (Resource.from_dict(r, message_id) for r in _mappings(data.get("resources")))
        return cls(
            message_id=message_id,
            msg_type=_maybe_str(data.get("msg_type")),
            chat_id=_maybe_str(data.get("chat_id")),
            root_id=_maybe_str(data.get("root_id")),
            parent_id=_maybe_str(data.get("parent_id")),
            thread_id=_maybe_str(data.get("thread_id")),
            upper_message_id=_maybe_str(data.get("upper_message_id")),
            create_time=_iso_time(data.get("create_time")),
            update_time=_iso_time(data.get("update_time")),
            deleted=bool(data.get("deleted")),
            updated=bool(data.get("updated")),
            sender=Sender.from_dict(data.get("sender")),
            mentions=tuple(Mention.from_dict(m) for m in _mappings(data.get("mentions"))),
            content=dict(content) if isinstance(content, Mapping) else {},
            resources=tuple(r for r in resources if r is not None),
            children=tuple(cls.from_dict(c) for c in _mappings(data.get("children"))),
        )


def _shown(field: "attr.Attribute[Any]", value: Any) -> bool:
    """What ``to_dict`` writes: not ``raw``; a resource's ``container_id`` only when it has
    one (the lines of earlier exports stay as they were)."""
    return field.name != "raw" and not (field.name == "container_id" and value is None)


def _jsonable(_inst: Any, _field: Any, value: Any) -> Any:
    return value.isoformat() if isinstance(value, _dt.datetime) else value


@attr.frozen
class DownloadResult:
    size: int
    content_type: Optional[str]
    filename: Optional[str]  # the server's file name (made safe), None when it sent none
    path: Optional[str]  # where it was saved; None when written to a file object
    sha256: Optional[str] = None  # hex digest, with checksum=True
    # The message id that served it: the merge_forward container's when a forwarded
    # message's own id was refused (None where ids play no part: DingTalk).
    message_id: Optional[str] = None
    skipped: bool = False  # skip_existing found it there whole: nothing was downloaded

    def to_dict(self) -> Dict[str, Any]:
        """The command's JSON line for a saved file (``saved_path`` normalised)."""
        return {
            "saved_path": os.path.normpath(self.path) if self.path else self.path,
            "size_bytes": self.size,
            "content_type": self.content_type,
            "sha256": self.sha256,
            **({"skipped": True} if self.skipped else {}),
        }


@attr.frozen
class ResourceDownload:
    """What became of one resource in ``Client.download_all``: a result or an error."""

    resource: Resource
    result: Optional[DownloadResult] = None
    error: Optional[Exception] = attr.field(default=None, eq=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> Dict[str, Any]:
        """One JSON line of the command's output: the saved file, or the error."""
        data: Dict[str, Any] = {
            "message_id": self.resource.message_id,
            "file_key": self.resource.file_key,
            "type": self.resource.type,
        }
        if self.result is not None:
            data.update(self.result.to_dict())
            if self.result.message_id not in (None, self.resource.message_id):
                data["served_by"] = self.result.message_id  # the merge_forward container
        if self.error is not None:
            data["error"] = str(self.error)
            data["code"] = getattr(self.error, "code", None)
            data["log_id"] = getattr(self.error, "log_id", None)
        return data
