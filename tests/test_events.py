"""feishu_msgres.events and Message.from_event, without Django: parsing, decryption, the
token and the signature, url_verification, and the resources of every message type."""
import base64
import datetime as dt
import hashlib
import io
import json
import os
import sys

import pytest

from feishu_msgres import Message
from feishu_msgres.errors import ConfigError
from feishu_msgres.events import (
    DecryptionUnavailableError,
    Event,
    EventError,
    EventRejectedError,
    decrypt,
    message_item,
    read_event,
    verify_signature,
)

TOKEN = "v-token-do-not-print"
KEY = "encrypt-key-do-not-print"
CRYPTOGRAPHY = ("cryptography", "cryptography.hazmat.primitives.ciphers", "cryptography.hazmat.primitives.padding")


def receive(message_type, content, mentions=None, token=TOKEN, message_id="om_evt1", **message):
    """An im.message.receive_v1 body as the receive document shows it (schema 2.0)."""
    body = {
        "message_id": message_id,
        "root_id": "om_root",
        "parent_id": "om_parent",
        "create_time": "1609073151345",
        "update_time": "1609073151345",
        "chat_id": "oc_chat",
        "thread_id": "omt_thread",
        "chat_type": "group",
        "message_type": message_type,
        "content": json.dumps(content, ensure_ascii=False),
        "mentions": mentions or [],
        "user_agent": "Mozilla/5.0",
    }
    body.update(message)
    return {
        "schema": "2.0",
        "header": {"event_id": "5e3702a84e847582be8db7fb73283c02", "event_type": "im.message.receive_v1",
                   "create_time": "1608725989000", "token": token, "app_id": "cli_app", "tenant_key": "tk_t"},
        "event": {
            "sender": {"sender_id": {"union_id": "on_u", "user_id": "u_1", "open_id": "ou_sender"},
                       "sender_type": "user", "tenant_key": "tk_t"},
            "message": body,
        },
    }


def raw(payload):
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def signed_headers(body, key=KEY, timestamp="1700000000", nonce="n0nce"):
    """X-Lark-Signature as the callback document and lark_oapi's _verify_sign compute it."""
    digest = hashlib.sha256((timestamp + nonce + key).encode("utf-8") + body).hexdigest()
    return {"X-Lark-Request-Timestamp": timestamp, "X-Lark-Request-Nonce": nonce, "X-Lark-Signature": digest}


def encrypt(plain, key=KEY):
    """What Feishu sends with an encrypt key: base64(iv + AES-256-CBC(sha256(key), PKCS7))."""
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    padder = padding.PKCS7(128).padder()
    data = padder.update(plain) + padder.finalize()
    iv = os.urandom(16)
    encryptor = Cipher(algorithms.AES(hashlib.sha256(key.encode()).digest()), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(data) + encryptor.finalize()).decode("ascii")


# -- parsing ------------------------------------------------------------------------------


def test_a_schema_2_event_is_read_with_its_header():
    event = read_event(raw(receive("text", {"text": "hi"})), verification_token=TOKEN)
    assert event.event_type == "im.message.receive_v1" and event.is_message
    assert event.event_id == "5e3702a84e847582be8db7fb73283c02"
    assert event.schema == "2.0" and event.app_id == "cli_app" and event.tenant_key == "tk_t"
    assert event.create_time == dt.datetime(2020, 12, 23, 12, 19, 49, tzinfo=dt.timezone.utc)
    assert event.event["message"]["message_id"] == "om_evt1"
    assert event.answer() == {"msg": "success"}
    assert TOKEN not in repr(event)  # the payload holds it: kept out of the repr


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe", b"[1, 2]", "\"a string\""])
def test_what_is_not_a_json_object_is_not_an_event(body):
    with pytest.raises(EventError):
        read_event(body, verification_token=TOKEN)


def test_a_dict_or_a_str_is_read_as_well():
    payload = receive("text", {"text": "hi"})
    assert read_event(payload, verification_token=TOKEN) == read_event(json.dumps(payload), verification_token=TOKEN)


def test_the_older_schema_takes_its_type_from_the_event_and_its_id_from_uuid():
    payload = {"uuid": "u-1", "token": TOKEN, "ts": "1502199207.7171419", "type": "event_callback",
               "event": {"type": "message", "app_id": "cli_app", "tenant_key": "tk_t"}}
    event = read_event(raw(payload), verification_token=TOKEN)
    assert (event.event_type, event.event_id, event.schema, event.app_id) == ("message", "u-1", None, "cli_app")
    assert event.create_time is not None and event.create_time.year == 2017
    assert not event.is_message
    with pytest.raises(EventRejectedError):
        read_event(raw(dict(payload, token="other")), verification_token=TOKEN)


# -- url_verification and the token ------------------------------------------------------------


def test_url_verification_is_answered_with_its_challenge():
    body = raw({"challenge": "ajls384kdjx98XX", "token": TOKEN, "type": "url_verification"})
    event = read_event(body, verification_token=TOKEN)
    assert event.is_url_verification and not event.is_message
    assert event.answer() == {"challenge": "ajls384kdjx98XX"}


@pytest.mark.parametrize("token", ["wrong", "", None, 12])
def test_a_wrong_or_missing_token_is_rejected_without_saying_the_right_one(token):
    for payload in (receive("text", {"text": "hi"}, token=token),
                    {"challenge": "c", "token": token, "type": "url_verification"}):
        with pytest.raises(EventRejectedError) as info:
            read_event(raw(payload), verification_token=TOKEN)
        assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)


def test_without_a_token_to_check_nothing_is_checked():
    assert read_event(raw(receive("text", {"text": "hi"}, token="any"))).is_message


# -- the signature ------------------------------------------------------------------------------


def test_a_signed_event_passes_and_a_wrong_signature_does_not():
    body = raw(receive("text", {"text": "hi"}))
    headers = signed_headers(body)
    assert read_event(body, verification_token=TOKEN, encrypt_key=KEY, headers=headers).is_message
    lower = {k.lower(): v for k, v in headers.items()}  # header names are case-insensitive
    assert read_event(body, verification_token=TOKEN, encrypt_key=KEY, headers=lower).is_message
    for bad in (signed_headers(body, key="other"), dict(headers, **{"X-Lark-Request-Nonce": "other"}),
                signed_headers(body + b" ")):
        with pytest.raises(EventRejectedError) as info:
            read_event(body, verification_token=TOKEN, encrypt_key=KEY, headers=bad)
        assert KEY not in str(info.value)


def test_with_an_encrypt_key_and_headers_an_unsigned_event_is_rejected_but_url_verification_is_not():
    with pytest.raises(EventRejectedError):
        read_event(raw(receive("text", {"text": "hi"})), verification_token=TOKEN, encrypt_key=KEY, headers={})
    challenge = raw({"challenge": "c", "token": TOKEN, "type": "url_verification"})
    assert read_event(challenge, verification_token=TOKEN, encrypt_key=KEY, headers={}).is_url_verification


def test_a_signed_event_may_lack_the_token_as_in_the_sdk():
    body = raw(receive("text", {"text": "hi"}, token=None))
    assert read_event(body, verification_token=TOKEN, encrypt_key=KEY, headers=signed_headers(body)).is_message
    with pytest.raises(EventRejectedError):  # unsigned, it may not
        read_event(body, verification_token=TOKEN, encrypt_key=KEY)


def test_the_signature_needs_the_raw_body():
    payload = receive("text", {"text": "hi"})
    with pytest.raises(ConfigError):
        read_event(payload, encrypt_key=KEY, headers=signed_headers(raw(payload)))


def test_verify_signature_alone():
    verify_signature(b"{}", signed_headers(b"{}"), KEY)
    with pytest.raises(EventRejectedError):
        verify_signature(b"{}", {}, KEY)


# -- decryption ---------------------------------------------------------------------------------


def test_the_documented_vector_decrypts():
    """The request URL document's example: "test key" and this text give "hello world"."""
    pytest.importorskip("cryptography")
    assert decrypt("P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=", "test key") == b"hello world"


def test_an_encrypted_event_is_decrypted_checked_and_read():
    body = raw({"encrypt": encrypt(raw(receive("image", {"image_key": "img_1"})))})
    event = read_event(body, verification_token=TOKEN, encrypt_key=KEY, headers=signed_headers(body))
    assert event.is_message and Message.from_event(event).resources[0].file_key == "img_1"
    wrong_token = raw({"encrypt": encrypt(raw(receive("text", {"text": "hi"}, token="wrong")))})
    with pytest.raises(EventRejectedError):
        read_event(wrong_token, verification_token=TOKEN, encrypt_key=KEY, headers=signed_headers(wrong_token))


def test_an_encrypted_url_verification_is_answered():
    body = raw({"encrypt": encrypt(raw({"challenge": "c-1", "token": TOKEN, "type": "url_verification"}))})
    event = read_event(body, verification_token=TOKEN, encrypt_key=KEY, headers={})
    assert event.answer() == {"challenge": "c-1"}


@pytest.mark.parametrize("ciphertext", ["not base64!", base64.b64encode(b"short").decode(), 17,
                                        base64.b64encode(bytes(range(48))).decode()])
def test_what_does_not_decrypt_is_rejected_like_a_wrong_key(ciphertext):
    """One answer for every failure: a padding error told apart from a token error is an
    oracle that decrypts captured events."""
    pytest.importorskip("cryptography")
    with pytest.raises(EventRejectedError) as info:
        read_event(raw({"encrypt": ciphertext}), verification_token=TOKEN, encrypt_key=KEY)
    assert KEY not in str(info.value)


def test_the_wrong_key_is_rejected():
    body = raw({"encrypt": encrypt(b'{"type": "url_verification", "challenge": "c"}', key="other key")})
    with pytest.raises(EventRejectedError):
        read_event(body, verification_token=TOKEN, encrypt_key=KEY)


def test_an_encrypted_event_without_a_key_is_a_configuration_error():
    with pytest.raises(ConfigError):
        read_event(raw({"encrypt": "abc"}), verification_token=TOKEN)


def test_without_cryptography_the_error_names_the_extra(monkeypatch):
    for name in CRYPTOGRAPHY:
        monkeypatch.setitem(sys.modules, name, None)  # makes importing it fail
    with pytest.raises(DecryptionUnavailableError) as info:
        read_event(raw({"encrypt": "abc"}), verification_token=TOKEN, encrypt_key=KEY)
    assert 'pip install "cryptography>=3.1"' in str(info.value) and '".[events]"' in str(info.value)
    assert isinstance(info.value, ImportError) and KEY not in str(info.value)


# -- Message.from_event -------------------------------------------------------------------------


def test_from_event_maps_the_event_onto_a_message():
    mentions = [{"key": "@_user_1", "id": {"union_id": "on_m", "user_id": "u_m", "open_id": "ou_m"},
                 "name": "Tom", "tenant_key": "tk_t"},
                {"key": "@_user_2", "id": {"union_id": "on_only"}, "name": "Ann", "tenant_key": "tk_t"}]
    payload = receive("text", {"text": "@_user_1 @_user_2 hi"}, mentions=mentions)
    message = Message.from_event(payload)
    assert message.message_id == "om_evt1" and message.msg_type == "text" and message.text.endswith("hi")
    assert (message.chat_id, message.root_id, message.parent_id, message.thread_id) == (
        "oc_chat", "om_root", "om_parent", "omt_thread")
    assert message.create_time == dt.datetime(2020, 12, 27, 12, 45, 51, 345000, tzinfo=dt.timezone.utc)
    assert message.update_time == message.create_time and not message.deleted and not message.updated
    assert (message.sender.id, message.sender.id_type, message.sender.sender_type, message.sender.tenant_key) == (
        "ou_sender", "open_id", "user", "tk_t")
    assert [(m.key, m.id, m.id_type, m.name) for m in message.mentions] == [
        ("@_user_1", "ou_m", "open_id", "Tom"), ("@_user_2", "on_only", "union_id", "Ann")]
    assert message.raw == payload["event"]["message"]  # the message as sent
    assert message.resources == () and message.children == ()
    event = read_event(raw(payload), verification_token=TOKEN)
    assert Message.from_event(payload["event"]) == Message.from_event(event) == message


def test_an_id_that_is_already_a_string_keeps_its_type():
    item, _ = message_item({"sender": {"sender_id": "ou_x", "id_type": "open_id"},
                            "message": {"message_id": "om_1", "message_type": "text", "content": "{}",
                                        "mentions": [{"key": "@_user_1", "id": "ou_y", "id_type": "open_id"}]}})
    assert item["sender"]["id"] == "ou_x" and item["mentions"][0]["id"] == "ou_y"


@pytest.mark.parametrize("payload", [
    None, [1], {"encrypt": "abc"}, {"event": {"sender": {}}},
    dict(receive("text", {}), header={"event_type": "im.chat.disbanded_v1"}),
])
def test_from_event_refuses_what_is_not_a_received_message(payload):
    with pytest.raises(EventError):
        Message.from_event(payload)


def test_from_event_refuses_an_event_of_another_type():
    event = Event("im.chat.disbanded_v1", "e-1", "2.0")
    with pytest.raises(EventError):
        Message.from_event(event)


POST = {"title": "t", "content": [[{"tag": "text", "text": "see"}, {"tag": "img", "image_key": "img_p1"}],
                                  [{"tag": "img", "image_key": "img_p2"}, {"tag": "at", "user_id": "@_user_1"}]]}


@pytest.mark.parametrize("message_type, content, expected", [
    ("image", {"image_key": "img_1"}, [("img_1", "image", None)]),
    ("file", {"file_key": "file_1", "file_name": "a.pdf"}, [("file_1", "file", "a.pdf")]),
    ("audio", {"file_key": "file_a", "duration": 2000}, [("file_a", "file", None)]),
    ("media", {"file_key": "file_m", "image_key": "img_c", "file_name": "v.mp4", "duration": 3000},
     [("file_m", "file", "v.mp4"), ("img_c", "image", None)]),
    ("post", POST, [("img_p1", "image", None), ("img_p2", "image", None)]),
    ("post", {"zh_cn": POST}, [("img_p1", "image", None), ("img_p2", "image", None)]),
    ("sticker", {"file_key": "file_sticker"}, []),
    ("text", {"text": "hi"}, []),
    ("interactive", {"elements": []}, []),
])
def test_every_message_type_offers_its_resources(message_type, content, expected):
    message = Message.from_event(receive(message_type, content))
    assert [(r.file_key, r.type, r.name) for r in message.resources] == expected
    assert all(r.message_id == "om_evt1" and r.container_id is None for r in message.resources)


def test_a_received_messages_resources_download(emu, emu_client):
    """What the event names, the resource API serves under the message's id."""
    mid = emu.add_message("media", {"file_key": "file_m", "image_key": "img_c", "file_name": "v.mp4"})
    emu.add_resource(mid, "file_m", b"video bytes" * 1000, content_type="video/mp4")
    emu.add_resource(mid, "img_c", b"\x89PNG cover", type="image", content_type="image/png")
    message = Message.from_event(receive("media", {"file_key": "file_m", "image_key": "img_c",
                                                   "file_name": "v.mp4"}, message_id=mid))
    got = {}
    for res in message.resources:
        sink = io.BytesIO()
        emu_client.download_resource(res.message_id, res.file_key, res.type, sink)
        got[res.file_key] = sink.getvalue()
    assert got == {"file_m": b"video bytes" * 1000, "img_c": b"\x89PNG cover"}
