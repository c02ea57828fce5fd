"""Event subscriptions: read what Feishu / Lark POSTs to a webhook, check that it came from
the app, and give ``Message.from_event`` the message of an ``im.message.receive_v1`` event.

Standard library only. ``cryptography`` (the ``events`` extra) is imported when an encrypted
body arrives, and only then: apps without an encrypt key never need it.

Followed: the event documents (receive message, https://open.feishu.cn/document/uAjLw4CM/
ukTMukTMukTM/reference/im-v1/message/events/receive, mirrored at apifox.com/apidoc/docs-site/
532425/doc-1945610; request URL and decryption: https://open.feishu.cn/document/uAjLw4CM/
ukTMukTMukTM/event-subscription-guide/event-subscription-configure-/request-url-configuration-case,
mirrored at feishu.apifox.cn/doc-7518470 and doc-7518435; signature: doc-7518486) and the
official SDK lark-oapi 1.7.5
(``lark_oapi/event/dispatcher_handler.py``, ``lark_oapi/core/utils/decryptor.py``,
``lark_oapi/event/context.py``, ``lark_oapi/api/im/v1/model/event_message.py``).

Feishu sends an event again when the answer is not a 200 within 3 s (after 15 s, 5 min, 1 h
and 6 h, says the event subscription document): deduplicating by ``Event.event_id`` (the
older schema's ``uuid``) is the caller's concern.
"""
from __future__ import annotations

import base64
import binascii
import datetime as _dt
import hashlib
import hmac
import importlib
import json
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import attr

from .errors import ConfigError, FeishuError

__all__ = [
    "MESSAGE_EVENTS",
    "URL_VERIFICATION",
    "DecryptionUnavailableError",
    "Event",
    "EventError",
    "EventRejectedError",
    "decrypt",
    "message_item",
    "read_event",
    "verify_signature",
]

# Feishu and Lark name it im.message.receive_v1; BOSS Hi's document names the same event,
# with the same body, im.message.receive (histatic.zhipin.com/front/bosshi-mp-docs/service/
# message/event/message.html).
MESSAGE_EVENTS = frozenset({"im.message.receive_v1", "im.message.receive"})
URL_VERIFICATION = "url_verification"  # lark_oapi/core/const.py URL_VERIFICATION

# The signature's headers (lark_oapi/core/const.py LARK_REQUEST_*).
TIMESTAMP_HEADER = "X-Lark-Request-Timestamp"
NONCE_HEADER = "X-Lark-Request-Nonce"
SIGNATURE_HEADER = "X-Lark-Signature"

# The package is on no index: name what to install, whatever way it was installed.
_EXTRA_HINT = 'pip install "cryptography>=3.1" (the events extra: pip install ".[events]" in a clone)'
Body = Union[bytes, str, Mapping[str, Any]]


class EventError(FeishuError, ValueError):
    """The body is not an event: not JSON, not an object, or not the event asked for."""


class EventRejectedError(FeishuError):
    """The event did not prove it came from the app: its verification token, its signature
    or its encryption did not match. The message never says what was expected."""


class DecryptionUnavailableError(FeishuError, ImportError):
    """An encrypted event arrived and ``cryptography`` is not installed."""


class _Hidden(str):
    """A secret whose repr never shows it: error reports (Django's lists every frame's local
    variables) print reprs, and the token and the encrypt key are locals here."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'<hidden>'"


@attr.frozen
class Event:
    """One event as read from a webhook's body (decrypted and checked by ``read_event``).

    ``event_type``: ``header.event_type`` (schema 2.0), ``event.type`` (the older schema) or
    ``"url_verification"``. ``event``: the event's own data. ``payload``: the whole plain
    body, kept out of the repr because it holds the verification token.
    """

    event_type: Optional[str]
    event_id: Optional[str]  # header.event_id, or the older schema's uuid: deduplicate by it
    schema: Optional[str] = None  # "2.0"; None for the older schema and url_verification
    create_time: Optional[_dt.datetime] = None
    app_id: Optional[str] = None
    tenant_key: Optional[str] = None
    challenge: Optional[str] = None  # url_verification's, to be answered as it came
    event: Dict[str, Any] = attr.field(factory=dict, eq=False)
    payload: Dict[str, Any] = attr.field(factory=dict, eq=False, repr=False)

    @property
    def is_url_verification(self) -> bool:
        return self.event_type == URL_VERIFICATION

    @property
    def is_message(self) -> bool:
        """A received message: ``Message.from_event(event)`` reads it."""
        return self.event_type in MESSAGE_EVENTS

    def answer(self) -> Dict[str, Any]:
        """The JSON to answer with: ``{"challenge": ...}`` to a url_verification (the request
        URL document: the value as it came, within 1 s), else what the SDK answers."""
        if self.is_url_verification:
            return {"challenge": self.challenge}
        return {"msg": "success"}  # lark_oapi/event/dispatcher_handler.py, EventDispatcherHandler.do

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> "Event":
        """A plain (decrypted) body. Schema 2.0 has ``schema`` and ``header``; the older one
        ``uuid``, ``token`` and ``type`` at the top and the type in ``event.type``; a
        url_verification ``challenge``, ``token`` and ``type`` (lark_oapi/event/context.py)."""
        data = dict(payload)
        event = data.get("event")
        event = dict(event) if isinstance(event, Mapping) else {}
        header = data.get("header")
        if data.get("schema") and isinstance(header, Mapping):
            return cls(_str(header.get("event_type")), _str(header.get("event_id")), _str(data.get("schema")),
                       _millis(header.get("create_time")), _str(header.get("app_id")),
                       _str(header.get("tenant_key")), None, event, data)
        if data.get("type") == URL_VERIFICATION:
            return cls(URL_VERIFICATION, None, challenge=_str(data.get("challenge")), payload=data)
        return cls(_str(event.get("type")), _str(data.get("uuid")), None, _seconds(data.get("ts")),
                   _str(event.get("app_id")), _str(event.get("tenant_key")), None, event, data)


def read_event(body: Body, *, verification_token: Optional[str] = None, encrypt_key: Optional[str] = None,
               headers: Optional[Mapping[str, str]] = None) -> Event:
    """The event in a webhook's body (the raw bytes, a str, or parsed JSON).

    - ``{"encrypt": ...}`` is decrypted with ``encrypt_key``.
    - With ``encrypt_key`` and ``headers``, the signature must match; it is checked before
      anything is decrypted. Only a url_verification may come unsigned: the dispatcher
      checks no signature on it. ``headers``: the request's, in any case.
    - With ``verification_token``, the token (``header.token``, or ``token`` at the top of
      the older schema and url_verification) must match; a signed event may lack one.

    Raises ``EventError`` (not an event: answer 400), ``EventRejectedError`` (answer 403),
    ``DecryptionUnavailableError`` (install the extra) and ``ConfigError`` (an encrypted
    event and no key).
    """
    key = _Hidden(encrypt_key) if encrypt_key else None
    data = _load(body)
    signed = False
    if key is not None and headers is not None and _header(headers, SIGNATURE_HEADER) is not None:
        if isinstance(body, Mapping):
            raise ConfigError("the signature covers the raw body: pass the request's bytes, not parsed JSON")
        verify_signature(_bytes(body), headers, key)
        signed = True
    if "encrypt" in data:
        if key is None:
            raise ConfigError("an encrypted event arrived and no encrypt key is set")
        data = _decrypted_payload(data.get("encrypt"), key)
    event = Event.from_payload(data)
    if key is not None and headers is not None and not signed and not event.is_url_verification:
        raise EventRejectedError("the event is not signed (no %s header)" % SIGNATURE_HEADER)
    if verification_token:
        _check_token(data, _Hidden(verification_token), signed)
    return event


def verify_signature(body: bytes, headers: Mapping[str, str], encrypt_key: str) -> None:
    """``X-Lark-Signature`` must be sha256(timestamp + nonce + encrypt key + body), hex: the
    callback document (feishu.apifox.cn/doc-7518486) and lark_oapi's ``_verify_sign``;
    compared in constant time (the SDK compares with ``!=``)."""
    timestamp = _header(headers, TIMESTAMP_HEADER) or ""
    nonce = _header(headers, NONCE_HEADER) or ""
    signature = _header(headers, SIGNATURE_HEADER) or ""
    expected = hashlib.sha256((timestamp + nonce + encrypt_key).encode("utf-8") + body).hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        raise EventRejectedError("the event's signature does not match")


def decrypt(encrypt: str, encrypt_key: str) -> bytes:
    """An ``encrypt`` field's plaintext: AES-256-CBC under sha256(encrypt key), the IV the
    first 16 bytes of the base64-decoded data, PKCS7 padding (the event documents'
    decryption steps; lark_oapi/core/utils/decryptor.py ``AESCipher``).

    Raises ``ValueError`` for data that does not decrypt (bad base64, length or padding:
    most often the wrong key) and ``DecryptionUnavailableError`` without ``cryptography``.
    """
    ciphers, padding = _cryptography()
    try:
        data = base64.b64decode(encrypt, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the encrypted event is not base64") from None
    # The SDK's checks: an IV and at least one block, whole blocks only.
    if len(data) < 32 or len(data) % 16:
        raise ValueError("the encrypted event is not whole AES blocks")
    decryptor = ciphers.Cipher(ciphers.algorithms.AES(hashlib.sha256(encrypt_key.encode("utf-8")).digest()),
                               ciphers.modes.CBC(data[:16])).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    padded = decryptor.update(data[16:]) + decryptor.finalize()
    return bytes(unpadder.update(padded) + unpadder.finalize())


def message_item(payload: Any) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """For ``Message.from_event``: an im.message.receive_v1 event's message in the shape of
    the message get API's item (what ``Message.from_api`` reads), and the message as sent.

    ``payload``: an ``Event``, the whole plain body, or its ``event``. The event names the
    type ``message_type`` and puts ``content`` at the top; its mentions and sender carry
    every id as an object (open_id, union_id, user_id), the API one id and its type.
    """
    event = _event_data(payload)
    message, sender = event.get("message"), event.get("sender")
    if not isinstance(message, Mapping):
        raise EventError("the event has no message")
    raw = dict(message)
    item = dict(raw)
    item["msg_type"] = _str(message.get("message_type") or message.get("msg_type"))
    item["body"] = {"content": message.get("content")}
    sender = sender if isinstance(sender, Mapping) else {}
    sender_id, id_type = _one_id(sender.get("sender_id"), sender.get("id_type"))
    item["sender"] = {"id": sender_id, "id_type": id_type, "sender_type": sender.get("sender_type"),
                      "tenant_key": sender.get("tenant_key")}
    mentions = message.get("mentions")
    item["mentions"] = [_mention(m) for m in mentions or [] if isinstance(m, Mapping)]
    return item, raw


def _event_data(payload: Any) -> Mapping[str, Any]:
    """The event's own data, whatever ``message_item`` was given."""
    if isinstance(payload, Event):
        if not payload.is_message:
            raise EventError("not a received message: %s" % payload.event_type)
        return payload.event
    if not isinstance(payload, Mapping):
        raise EventError("an event is a dict, not %s" % type(payload).__name__)
    if "encrypt" in payload:
        raise EventError("the event is encrypted: read it with feishu_msgres.events.read_event first")
    event = payload.get("event")
    if not isinstance(event, Mapping):
        return payload  # the event's data itself
    header = payload.get("header")
    kind = header.get("event_type") if isinstance(header, Mapping) else None
    if kind is not None and kind not in MESSAGE_EVENTS:
        raise EventError("not a received message: %s" % kind)
    return event


def _one_id(ids: Any, id_type: Any = None) -> Tuple[Optional[str], Optional[str]]:
    """The open_id, as the message get API gives (its mentions' ``id_type`` is open_id only),
    else whichever other id is there. An id already a string keeps its type."""
    if isinstance(ids, str):
        return _str(ids), _str(id_type)
    if isinstance(ids, Mapping):
        for kind in ("open_id", "union_id", "user_id"):
            value = _str(ids.get(kind))
            if value is not None:
                return value, kind
    return None, None


def _mention(data: Mapping[str, Any]) -> Dict[str, Any]:
    mention_id, id_type = _one_id(data.get("id"), data.get("id_type"))
    return {"key": data.get("key"), "id": mention_id, "id_type": id_type, "name": data.get("name"),
            "tenant_key": data.get("tenant_key")}


def _check_token(data: Mapping[str, Any], expected: str, signed: bool) -> None:
    """Schema 2.0 carries the token in ``header.token``, the older schema and url_verification
    at the top (lark_oapi ``EventDispatcherHandler.do``). Like the SDK, a signed event may
    lack it; a token that is there must match, compared in constant time."""
    header = data.get("header")
    token = header.get("token") if data.get("schema") and isinstance(header, Mapping) else data.get("token")
    if token is None and signed:
        return
    if not isinstance(token, str) or not hmac.compare_digest(token.encode("utf-8"), expected.encode("utf-8")):
        raise EventRejectedError("the event's verification token does not match")


def _decrypted_payload(encrypt: Any, key: str) -> Dict[str, Any]:
    """Whatever goes wrong past this point reads the same (403): telling bad padding from a
    bad token would let anyone decrypt a captured event, one guessed byte at a time."""
    if not isinstance(encrypt, str):
        raise EventRejectedError("the encrypted event could not be decrypted")
    try:
        return _load(decrypt(encrypt, key))
    except (ValueError, EventError):
        raise EventRejectedError("the encrypted event could not be decrypted (is the encrypt key right?)") from None


def _cryptography() -> Tuple[Any, Any]:
    """Imported by name: the package does not depend on it, and the typing checks run
    without it."""
    try:
        ciphers = importlib.import_module("cryptography.hazmat.primitives.ciphers")
        padding = importlib.import_module("cryptography.hazmat.primitives.padding")
    except ImportError:
        raise DecryptionUnavailableError(
            "an encrypted event arrived and decrypting it needs the cryptography package: %s" % _EXTRA_HINT
        ) from None
    return ciphers, padding


def _load(body: Body) -> Dict[str, Any]:
    if isinstance(body, Mapping):
        return dict(body)
    try:
        value = json.loads(_bytes(body).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise EventError("the event is not JSON") from None
    if not isinstance(value, dict):
        raise EventError("the event is not a JSON object")
    return value


def _bytes(body: Union[bytes, str]) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def _header(headers: Mapping[str, str], name: str) -> Optional[str]:
    """HTTP header names are case-insensitive; a plain dict's keys are not."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _str(value: Any) -> Optional[str]:
    return None if value is None or value == "" else str(value)


def _millis(value: Any) -> Optional[_dt.datetime]:
    """Schema 2.0's create_time: milliseconds since the epoch, as a string."""
    try:
        return _dt.datetime.fromtimestamp(int(value) / 1000.0, tz=_dt.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _seconds(value: Any) -> Optional[_dt.datetime]:
    """The older schema's ``ts``: seconds since the epoch, as a string with a fraction."""
    try:
        return _dt.datetime.fromtimestamp(float(value), tz=_dt.timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
