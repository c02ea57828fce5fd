"""The Django recipe's webhook, event_view, run by Django's own test client: url_verification
(plain and encrypted), a received message whose resources then download from the emulator,
and the refusals (a wrong token or signature, not JSON, no cryptography).

Run by the tox envs django-oldest (Django 1.11 on Python 3.7) and django-newest.
"""
import base64
import hashlib
import io
import json
import logging
import os
import sys

import pytest
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.test import Client as Browser
from django.test import override_settings

# Django's settings can be configured once per process: test_recipe does it (and starts
# the emulator); this module borrows both, whichever module pytest imports first.
from test_recipe import EMULATOR

from feishu_msgres.contrib.django import _reset_for_tests, client_from_settings, event_view

TOKEN = "v-token-do-not-print"
KEY = "encrypt-key-do-not-print"
CRYPTOGRAPHY = ("cryptography", "cryptography.hazmat.primitives.ciphers", "cryptography.hazmat.primitives.padding")
received = []  # (message, event) handed to on_message
others = []  # events handed to on_event


def on_message(message, event):
    received.append((message, event))


try:
    from django.urls import path as _path

    def route(url, view):
        return _path(url, view)
except ImportError:  # Django 1.11
    from django.conf.urls import url as _url

    def route(url, view):
        return _url("^%s$" % url, view)

urlpatterns = [
    route("feishu/events", event_view(on_message, others.append)),
    route("feishu/messages-only", event_view(on_message)),
]


def settings_with(**extra):
    conf = {"APP_ID": EMULATOR.app_id, "APP_SECRET": EMULATOR.app_secret, "BASE_URL": EMULATOR.url}
    conf.update(extra)
    return override_settings(ROOT_URLCONF=__name__, FEISHU_MSGRES=conf)


@pytest.fixture(autouse=True)
def site():
    _reset_for_tests()
    caches["default"].clear()
    del received[:], others[:]
    with settings_with(VERIFICATION_TOKEN=TOKEN):
        yield
    _reset_for_tests()


def receive(message_type, content, message_id, token=TOKEN):
    """An im.message.receive_v1 body as the receive document shows it."""
    return {
        "schema": "2.0",
        "header": {"event_id": "ev-" + message_id, "event_type": "im.message.receive_v1",
                   "create_time": "1608725989000", "token": token, "app_id": EMULATOR.app_id, "tenant_key": "tk"},
        "event": {
            "sender": {"sender_id": {"open_id": "ou_sender", "union_id": "on_sender"}, "sender_type": "user",
                       "tenant_key": "tk"},
            "message": {"message_id": message_id, "create_time": "1609073151345", "chat_id": "oc_emulator",
                        "chat_type": "p2p", "message_type": message_type, "content": json.dumps(content)},
        },
    }


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


def signed(body, key=KEY, timestamp="1700000000", nonce="n0nce"):
    """The request's signature headers, as Django's META names them."""
    digest = hashlib.sha256((timestamp + nonce + key).encode() + body).hexdigest()
    return {"HTTP_X_LARK_REQUEST_TIMESTAMP": timestamp, "HTTP_X_LARK_REQUEST_NONCE": nonce,
            "HTTP_X_LARK_SIGNATURE": digest}


def post(body, url="/feishu/events", **meta):
    body = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Browser().post(url, data=body, content_type="application/json", **meta)


def no_secret_in(response, records=()):
    text = response.content.decode("utf-8", "replace") + "".join(r.getMessage() for r in records)
    return TOKEN not in text and KEY not in text


# -- url_verification ---------------------------------------------------------------------------


def test_url_verification_answers_the_challenge():
    response = post({"challenge": "ajls384kdjx98XX", "token": TOKEN, "type": "url_verification"})
    assert response.status_code == 200
    assert json.loads(response.content.decode()) == {"challenge": "ajls384kdjx98XX"}
    assert received == [] and others == []


def test_an_encrypted_url_verification_answers_the_challenge():
    body = json.dumps({"encrypt": encrypt(json.dumps(
        {"challenge": "c-2", "token": TOKEN, "type": "url_verification"}).encode())}).encode()
    with settings_with(VERIFICATION_TOKEN=TOKEN, ENCRYPT_KEY=KEY):
        response = post(body)  # unsigned: the SDK checks no signature on a url_verification
    assert response.status_code == 200
    assert json.loads(response.content.decode()) == {"challenge": "c-2"}


def test_the_view_needs_no_csrf_token():
    with override_settings(MIDDLEWARE=["django.middleware.csrf.CsrfViewMiddleware"]):
        response = Browser(enforce_csrf_checks=True).post(
            "/feishu/events", data=json.dumps({"challenge": "c", "token": TOKEN, "type": "url_verification"}),
            content_type="application/json")
    assert response.status_code == 200


def test_only_post():
    assert Browser().get("/feishu/events").status_code == 405


# -- a received message -------------------------------------------------------------------------


@pytest.mark.parametrize("message_type, content, key, kind, data", [
    ("image", {"image_key": "img_evt"}, "img_evt", "image", b"\x89PNG event image"),
    ("file", {"file_key": "file_evt", "file_name": "report.pdf"}, "file_evt", "file", b"%PDF " * 5000),
])
def test_a_received_message_reaches_the_handler_and_its_resource_downloads(message_type, content, key, kind, data):
    mid = EMULATOR.add_message(message_type, content)
    EMULATOR.add_resource(mid, key, data, type=kind)
    response = post(receive(message_type, content, mid))
    assert response.status_code == 200 and json.loads(response.content.decode()) == {"msg": "success"}
    [(message, event)] = received
    assert message.message_id == mid and message.sender.id == "ou_sender" and event.event_id == "ev-" + mid
    [res] = message.resources
    assert (res.message_id, res.file_key, res.type) == (mid, key, kind)
    sink = io.BytesIO()
    client_from_settings().download_resource(res.message_id, res.file_key, res.type, sink)
    assert sink.getvalue() == data


def test_an_encrypted_signed_message_reaches_the_handler():
    mid = EMULATOR.add_message("image", {"image_key": "img_enc"})
    body = json.dumps({"encrypt": encrypt(json.dumps(receive("image", {"image_key": "img_enc"}, mid)).encode())})
    body = body.encode()
    with settings_with(VERIFICATION_TOKEN=TOKEN, ENCRYPT_KEY=KEY):
        assert post(body, **signed(body)).status_code == 200
    [(message, _)] = received
    assert message.resources[0].file_key == "img_enc"


def test_other_events_are_acknowledged_and_passed_on_or_ignored():
    payload = {"schema": "2.0", "header": {"event_id": "ev-x", "event_type": "im.chat.member.bot.added_v1",
                                           "token": TOKEN}, "event": {"chat_id": "oc_1"}}
    assert post(payload).status_code == 200
    assert [e.event_type for e in others] == ["im.chat.member.bot.added_v1"] and received == []
    assert post(payload, url="/feishu/messages-only").status_code == 200
    assert len(others) == 1 and received == []


def test_a_handlers_error_is_not_swallowed():
    """A 500 in production, so Feishu sends the event again; Django's test client re-raises."""
    def broken(message, event):
        raise RuntimeError("handler failed")

    with pytest.raises(RuntimeError):
        event_view(broken)(_request(receive("text", {"text": "hi"}, "om_x")))


def _request(payload):
    from django.test import RequestFactory

    return RequestFactory().post("/", data=json.dumps(payload), content_type="application/json")


# -- refusals -----------------------------------------------------------------------------------


def test_a_wrong_token_is_403_without_details(caplog):
    caplog.set_level(logging.INFO)
    for payload in (receive("text", {"text": "hi"}, "om_1", token="wrong"),
                    {"challenge": "c", "token": "wrong", "type": "url_verification"}):
        response = post(payload)
        assert response.status_code == 403 and response.content == b""
    assert received == [] and no_secret_in(response, caplog.records)
    assert any("verification token" in r.getMessage() for r in caplog.records)


def test_a_wrong_or_missing_signature_is_403(caplog):
    caplog.set_level(logging.INFO)
    body = json.dumps(receive("text", {"text": "hi"}, "om_1")).encode()
    with settings_with(VERIFICATION_TOKEN=TOKEN, ENCRYPT_KEY=KEY):
        for meta in (signed(body, key="other"), signed(body + b" "), {}):
            response = post(body, **meta)
            assert response.status_code == 403 and response.content == b""
        assert post(body, **signed(body)).status_code == 200
    assert len(received) == 1 and no_secret_in(response, caplog.records)


def test_bad_json_is_400():
    assert post(b"{not json").status_code == 400
    assert post(b"[]").status_code == 400
    assert received == []


def test_without_cryptography_an_encrypted_event_is_a_clear_error(monkeypatch, caplog):
    for name in CRYPTOGRAPHY:
        monkeypatch.setitem(sys.modules, name, None)  # makes importing it fail
    with settings_with(VERIFICATION_TOKEN=TOKEN, ENCRYPT_KEY=KEY):
        response = post({"encrypt": "abcd"})
    assert response.status_code == 500
    assert any('pip install "cryptography>=3.1"' in r.getMessage() for r in caplog.records)
    assert no_secret_in(response, caplog.records)


def test_without_a_token_or_a_key_the_view_refuses_to_run():
    with settings_with():
        with pytest.raises(ImproperlyConfigured):
            post({"challenge": "c", "token": "t", "type": "url_verification"})
